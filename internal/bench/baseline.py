"""Python multiprocessing baselines for `wasmpool bench` (package internal/bench).

The Go harness writes this file to a temporary directory and runs

    python3 baseline.py BENCH [options]

once per benchmark; it prints one JSON object on stdout:

    {"python": "3.11.7",
     "results": [{"name": "roundtrip/unpinned", "unit": "us",
                  "median": 233.9, "samples": [...]}, ...]}

Each benchmark mirrors the Go side in measure.go: keep the two in step. It is
a file, not `python3 -c`, because the spawn and forkserver start methods
re-import __main__ in every child.
"""

import argparse
import json
import multiprocessing as mp
import os
import platform
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor


def echo(b):
    return b


def double(x):
    return 2 * x


def signal_ready(q):
    q.put(os.getpid())


def is_prime(n):
    """modules/primes/main.go isPrime, line for line."""
    if n < 2:
        return False
    if n < 4:
        return True
    if n % 2 == 0 or n % 3 == 0:
        return False
    i = 5
    while i * i <= n:
        if n % i == 0 or n % (i + 2) == 0:
            return False
        i += 6
    return True


def count_primes(r):
    lo, hi = r
    n = 0
    for x in range(lo, hi):
        if is_prime(x):
            n += 1
    return n


def split(limit, k):
    """[0, limit) in k ranges, the same split as the Go side."""
    return [(limit * i // k, limit * (i + 1) // k) for i in range(k)]


def result(name, unit, samples, **extra):
    r = {"name": name, "unit": unit, "median": statistics.median(samples), "samples": samples}
    r.update(extra)
    return r


def pin_process(pid, cpus):
    """Sets the affinity of every thread of process pid, repeating until a
    pass finds no thread it has not set (threads made meanwhile)."""
    done = set()
    while True:
        fresh = [int(t) for t in os.listdir(f"/proc/{pid}/task") if int(t) not in done]
        if not fresh:
            return
        for tid in fresh:
            try:
                os.sched_setaffinity(tid, cpus)
            except ProcessLookupError:
                pass
            done.add(tid)


def placement(variant, cpus):
    """(parent CPUs, worker CPUs) of a roundtrip variant; None = unpinned."""
    if variant == "unpinned":
        return None, None
    if variant == "1cpu":
        return {cpus[0]}, {cpus[0]}
    if variant == "2cpu":
        return {cpus[0]}, {cpus[1]}
    raise SystemExit(f"baseline.py: unknown variant {variant!r}")


def bench_roundtrip(a):
    """ProcessPoolExecutor(max_workers=1, fork): submit(echo, 8 bytes).result();
    per run the mean per call in microseconds."""
    cpus = [int(c) for c in a.cpus.split(",") if c]
    payload = bytes(8)
    out = []
    for variant in a.variants.split(","):
        parent, workers = placement(variant, cpus)
        orig = os.sched_getaffinity(0)
        samples = []
        try:
            if workers:
                pin_process(os.getpid(), workers)  # the worker is forked on these
            with ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("fork")) as ex:
                for _ in range(100):
                    ex.submit(echo, payload).result()
                if parent:
                    pin_process(os.getpid(), parent)
                    for pid in ex._processes:
                        if os.sched_getaffinity(pid) != workers:
                            raise SystemExit(f"baseline.py: worker {pid} not on CPUs {workers}")
                for _ in range(a.runs):
                    t0 = time.perf_counter()
                    for _ in range(a.n):
                        ex.submit(echo, payload).result()
                    samples.append((time.perf_counter() - t0) / a.n * 1e6)
        finally:
            pin_process(os.getpid(), orig)
        out.append(result("roundtrip/" + variant, "us", samples))
    return out


def bench_map(a):
    """fork Pool(2).map(double, range(n)) with the given chunksize (0 =
    Python's default); per run items per second."""
    chunksize = a.chunksize or None
    samples = []
    with mp.get_context("fork").Pool(2) as pool:
        pool.map(double, range(1000))
        for _ in range(a.runs):
            t0 = time.perf_counter()
            res = pool.map(double, range(a.n), chunksize)
            samples.append(a.n / (time.perf_counter() - t0))
            if len(res) != a.n or res[-1] != 2 * (a.n - 1):
                raise SystemExit("baseline.py: map gave wrong results")
    name = "map" if not a.chunksize else f"map-chunk{a.chunksize}"
    return [result(name, "items/s", samples, items=a.n)]


def ready_once(ctx):
    """Milliseconds from Pool(2) to both workers having run their
    initializer; the close is not timed."""
    q = ctx.SimpleQueue()
    t0 = time.perf_counter()
    pool = ctx.Pool(2, initializer=signal_ready, initargs=(q,))
    q.get()
    q.get()
    elapsed = time.perf_counter() - t0
    pool.terminate()
    pool.join()
    q.close()
    return elapsed * 1e3


def bench_ready(a):
    out = []
    for method in a.methods.split(","):
        ctx = mp.get_context(method)
        ready_once(ctx)  # untimed: starts the forkserver, warms file caches
        samples = [ready_once(ctx) for _ in range(a.runs)]
        out.append(result("ready/" + method, "ms", samples))
    return out


def bench_primes(a):
    """Primes below n in a.ranges ranges: in this process, then with a fork
    Pool(2) (default chunksize); per run seconds."""
    ranges = split(a.n, a.ranges)
    one, two = [], []
    count = None
    for _ in range(a.runs):
        t0 = time.perf_counter()
        c = sum(count_primes(r) for r in ranges)
        one.append(time.perf_counter() - t0)
        count = c
    with mp.get_context("fork").Pool(2) as pool:
        pool.map(count_primes, [(0, 1000)] * 2)
        for _ in range(a.runs):
            t0 = time.perf_counter()
            c = sum(pool.map(count_primes, ranges))
            two.append(time.perf_counter() - t0)
            if c != count:
                raise SystemExit(f"baseline.py: Pool(2) counted {c} primes, one process {count}")
    speedup = statistics.median(one) / statistics.median(two)
    return [
        result("primes/1", "s", one, count=count),
        result("primes/2", "s", two, count=count),
        result("primes/speedup", "x", [speedup]),
    ]


BENCHMARKS = {
    "version": lambda a: [],
    "roundtrip": bench_roundtrip,
    "map": bench_map,
    "ready": bench_ready,
    "primes": bench_primes,
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("bench", choices=sorted(BENCHMARKS))
    ap.add_argument("--runs", type=int, default=9, help="runs per measurement (median reported)")
    ap.add_argument("-n", type=int, default=0, help="calls, items or prime limit")
    ap.add_argument("--chunksize", type=int, default=0, help="map: 0 = Python's default")
    ap.add_argument("--cpus", default="", help="roundtrip: CPUs to pin to, comma-separated")
    ap.add_argument("--variants", default="unpinned", help="roundtrip: unpinned,1cpu,2cpu")
    ap.add_argument("--methods", default="fork,forkserver,spawn", help="ready: start methods")
    ap.add_argument("--ranges", type=int, default=64, help="primes: how many ranges")
    a = ap.parse_args()
    results = BENCHMARKS[a.bench](a)
    json.dump({"python": platform.python_version(), "results": results}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
