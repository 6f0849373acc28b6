"""Python multiprocessing baselines for `wasmpool bench` (package internal/bench).

The Go harness writes this file to a temporary directory and runs

    python3 baseline.py BENCH [options]

once per benchmark; it prints one JSON object on stdout:

    {"python": "3.11.7",
     "results": [{"name": "roundtrip/unpinned", "unit": "us",
                  "median": 233.9, "samples": [...]}, ...]}

Each benchmark mirrors the Go side in measure.go: keep the two in step. The
IPC benchmarks (queue-pingpong, pipe-pingpong, sem-pingpong, queue-oneway,
lock-uncontended) measure multiprocessing's own primitives, the floor under
any pool built on them. It is
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
import zlib
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import resource_tracker, shared_memory


def echo(b):
    return b


def double(x):
    return 2 * x


def signal_ready(q):
    q.put(os.getpid())


def is_prime(n):
    """modules/primes/trial IsPrime, line for line."""
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


def bench_scaling(a):
    """For each worker count N: primes below n in a.ranges ranges with a
    fork Pool(N) (seconds per run), Pool(N).map(double, range(map_items))
    and, with chunk1_items, Pool(N).map(double, range(chunk1_items), 1)
    (items per second per run)."""
    ranges = split(a.n, a.ranges)
    items = a.map_items
    out = []
    count = None
    for w in [int(x) for x in a.workers.split(",")]:
        times, rates, chunk1 = [], [], []
        with mp.get_context("fork").Pool(w) as pool:
            pool.map(count_primes, [(0, 1000)] * w)
            for _ in range(a.runs):
                t0 = time.perf_counter()
                c = sum(pool.map(count_primes, ranges))
                times.append(time.perf_counter() - t0)
                if count is not None and c != count:
                    raise SystemExit(f"baseline.py: Pool({w}) counted {c} primes, Pool(1) {count}")
                count = c
            for _ in range(a.runs):
                t0 = time.perf_counter()
                res = pool.map(double, range(items))
                rates.append(items / (time.perf_counter() - t0))
                if len(res) != items or res[-1] != 2 * (items - 1):
                    raise SystemExit("baseline.py: map gave wrong results")
            for _ in range(a.runs if a.chunk1_items else 0):
                t0 = time.perf_counter()
                res = pool.map(double, range(a.chunk1_items), 1)
                chunk1.append(a.chunk1_items / (time.perf_counter() - t0))
                if len(res) != a.chunk1_items or res[-1] != 2 * (a.chunk1_items - 1):
                    raise SystemExit("baseline.py: map gave wrong results")
        out.append(result(f"scaling/primes/{w}", "s", times, count=count))
        out.append(result(f"scaling/map/{w}", "items/s", rates, items=items))
        if chunk1:
            out.append(result(f"scaling/map-chunk1/{w}", "items/s", chunk1, items=a.chunk1_items))
    return out


# Cross-process IPC: the primitives one would build a pool on, each measured
# on its own. A ping-pong runs between this process (the pinger) and one
# forked child (the ponger), in the placements of bench_roundtrip; -n is
# round trips per run, 0 meaning IPC_DEFAULT_N.

IPC_DEFAULT_N = {
    "queue-pingpong": 2000,
    "pipe-pingpong": 2000,
    "sem-pingpong": 2000,
    "queue-oneway": 200_000,
    "lock-uncontended": 1_000_000,
}


def ipc_n(a):
    return a.n or IPC_DEFAULT_N[a.bench]


def ipc_cpus(a):
    """--cpus as a list; empty: the CPUs this process may run on."""
    cpus = [int(c) for c in a.cpus.split(",") if c]
    return cpus or sorted(os.sched_getaffinity(0))


def queue_pong(inq, outq):
    while (m := inq.get()) is not None:
        outq.put(m)


def pipe_pong(conn):
    while m := conn.recv_bytes():
        conn.send_bytes(m)


def sem_pong(ping, pong, stop):
    while True:
        ping.acquire()
        if stop.value:
            return
        pong.release()


class QueuePingPong:
    """mp.Queue each way; 8 bytes there and back."""

    def __init__(self, ctx):
        self.there, self.back = ctx.Queue(), ctx.Queue()
        self.msg = bytes(8)

    def child(self, ctx):
        return ctx.Process(target=queue_pong, args=(self.there, self.back), daemon=True)

    def ping(self):
        self.there.put(self.msg)
        if len(self.back.get()) != 8:
            raise SystemExit("baseline.py: queue-pingpong: wrong reply")

    def stop(self):
        self.there.put(None)

    def close(self):
        for q in (self.there, self.back):
            q.close()
            q.join_thread()


class PipePingPong:
    """mp.Pipe() (duplex), send_bytes/recv_bytes of 8 bytes there and back."""

    def __init__(self, ctx):
        self.conn, self.child_conn = ctx.Pipe()
        self.msg = bytes(8)

    def child(self, ctx):
        return ctx.Process(target=pipe_pong, args=(self.child_conn,), daemon=True)

    def ping(self):
        self.conn.send_bytes(self.msg)
        if len(self.conn.recv_bytes()) != 8:
            raise SystemExit("baseline.py: pipe-pingpong: wrong reply")

    def stop(self):
        self.conn.send_bytes(b"")

    def close(self):
        self.conn.close()
        self.child_conn.close()


class SemPingPong:
    """Two mp.Semaphore(0): this process releases ping and acquires pong,
    the child the other way round."""

    def __init__(self, ctx):
        self.ping_sem, self.pong_sem = ctx.Semaphore(0), ctx.Semaphore(0)
        self.flag = ctx.RawValue("b", 0)

    def child(self, ctx):
        return ctx.Process(target=sem_pong, args=(self.ping_sem, self.pong_sem, self.flag), daemon=True)

    def ping(self):
        self.ping_sem.release()
        self.pong_sem.acquire()

    def stop(self):
        self.flag.value = 1
        self.ping_sem.release()

    def close(self):
        pass


def pingpong(a, kind):
    """Round trips between this process and a fork child over kind's
    channel, per placement in --variants; per run the mean per round trip
    in microseconds. Results "<bench>/<variant>"."""
    ctx = mp.get_context("fork")
    cpus = ipc_cpus(a)
    n = ipc_n(a)
    out = []
    for variant in a.variants.split(","):
        parent, workers = placement(variant, cpus)
        orig = os.sched_getaffinity(0)
        samples = []
        ch = proc = None
        try:
            if workers:
                pin_process(os.getpid(), workers)  # the child is forked on these
            ch = kind(ctx)
            proc = ch.child(ctx)
            proc.start()
            for _ in range(100):
                ch.ping()
            if parent:
                pin_process(os.getpid(), parent)
                if os.sched_getaffinity(proc.pid) != workers:
                    raise SystemExit(f"baseline.py: child {proc.pid} not on CPUs {workers}")
            for _ in range(a.runs):
                t0 = time.perf_counter()
                for _ in range(n):
                    ch.ping()
                samples.append((time.perf_counter() - t0) / n * 1e6)
        finally:
            if proc is not None:
                if proc.is_alive():
                    ch.stop()
                proc.join(5)
                if proc.is_alive():
                    proc.terminate()
                    proc.join()
            if ch is not None:
                ch.close()
            pin_process(os.getpid(), orig)
        out.append(result(f"{a.bench}/{variant}", "us", samples, items=n))
    return out


def bench_queue_pingpong(a):
    return pingpong(a, QueuePingPong)


def bench_pipe_pingpong(a):
    return pingpong(a, PipePingPong)


def bench_sem_pingpong(a):
    return pingpong(a, SemPingPong)


def oneway_produce(ctl, q, size, consumers):
    """Per run: receives a count on ctl, puts that many size-byte messages,
    then one b"" (end of run) per consumer; None ends it."""
    msg = bytes(size)
    while (k := ctl.recv()) is not None:
        for _ in range(k):
            q.put(msg)
        for _ in range(consumers):
            q.put(b"")


def oneway_consume(ctl, q, done, producers):
    """Per run (a True on ctl; None ends it): gets messages until it has
    seen one end of run per producer, then reports how many it got. The
    consumers take all producers x consumers ends of run between them, and
    each producer's follow all its messages, so once every consumer has
    reported, every message has been got."""
    while ctl.recv():
        got = ends = 0
        while ends < producers:
            if q.get():
                got += 1
            else:
                ends += 1
        done.put(got)


def oneway_run(prod, cons, done, n):
    """One run: n messages split between the producers; seconds from the
    start signal until every consumer has reported."""
    k = len(prod)
    t0 = time.perf_counter()
    for c in cons:
        c.send(True)
    for i, c in enumerate(prod):
        c.send(n * (i + 1) // k - n * i // k)
    got = sum(done.get() for _ in cons)
    elapsed = time.perf_counter() - t0
    if got != n:
        raise SystemExit(f"baseline.py: queue-oneway: consumers got {got} messages, want {n}")
    return elapsed


def bench_queue_oneway(a):
    """P producers put --size-byte (64) bytes into one mp.Queue, C consumers get
    them, all fork children (unpinned); per run messages per second, from
    telling the producers to start until every consumer has seen its end of
    run. One result "queue-oneway/PxC" per --shapes entry."""
    ctx = mp.get_context("fork")
    n = ipc_n(a)
    out = []
    for shape in a.shapes.split(","):
        try:
            nprod, ncons = (int(x) for x in shape.split("x"))
        except ValueError:
            raise SystemExit(f"baseline.py: bad shape {shape!r}, want PxC") from None
        if nprod < 1 or ncons < 1 or a.size < 1:
            raise SystemExit(f"baseline.py: bad shape {shape!r} or size {a.size}")
        q, done = ctx.Queue(), ctx.SimpleQueue()
        prod, cons, procs = [], [], []
        try:
            for target, ctls, args, k in ((oneway_produce, prod, (q, a.size, ncons), nprod),
                                          (oneway_consume, cons, (q, done, nprod), ncons)):
                for _ in range(k):
                    r, w = ctx.Pipe(duplex=False)
                    ctls.append(w)
                    procs.append(ctx.Process(target=target, args=(r, *args), daemon=True))
            for p in procs:
                p.start()
            oneway_run(prod, cons, done, min(n, 2000))  # warm-up
            samples = [n / oneway_run(prod, cons, done, n) for _ in range(a.runs)]
        finally:
            for c in prod + cons:
                try:
                    c.send(None)
                except OSError:
                    pass
            for p in procs:
                p.join(5)
                if p.is_alive():
                    p.terminate()
                    p.join()
            q.close()
            q.join_thread()
        out.append(result(f"queue-oneway/{shape}", "items/s", samples,
                          items=n, producers=nprod, consumers=ncons, bytes=a.size))
    return out


def bench_lock_uncontended(a):
    """A fork-context mp.Lock, acquire() then release() in this process,
    nobody else holding it; per run nanoseconds per pair."""
    lock = mp.get_context("fork").Lock()
    n = ipc_n(a)
    for _ in range(1000):
        lock.acquire()
        lock.release()
    samples = []
    for _ in range(a.runs):
        t0 = time.perf_counter()
        for _ in range(n):
            lock.acquire()
            lock.release()
        samples.append((time.perf_counter() - t0) / n * 1e9)
    return [result("lock-uncontended", "ns", samples, items=n)]


def attach(name):
    """SharedMemory(name) without the resource tracker's claim on it: an
    attaching process registers the name as if it owned it (CPython
    gh-82300), and the tracker then warns and unlinks at exit. The common
    workaround, costing one more message to the tracker."""
    s = shared_memory.SharedMemory(name=name)
    resource_tracker.unregister(s._name, "shared_memory")
    return s


def seg_child(role, name, size, rounds, conn):
    """Attaches to segment name and writes it from a bytes object, or reads
    it with zlib.crc32, rounds times; sends the best seconds."""
    shm = attach(name)
    data = bytes(range(256)) * (size // 256) if role == "write" else None
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        if role == "write":
            shm.buf[:size] = data
        else:
            zlib.crc32(shm.buf[:size])
        best = min(best, time.perf_counter() - t0)
    conn.send(best)
    shm.close()


def bench_segment_rw(a):
    """A --size-byte SharedMemory: one fork child writes it, then another
    reads it with a checksum; GB/s of the best of 3 rounds in each, per run.
    Results "segment-rw/write" and "segment-rw/read"."""
    ctx = mp.get_context("fork")
    shm = shared_memory.SharedMemory(create=True, size=a.size)
    out = {"write": [], "read": []}
    try:
        for _ in range(a.runs):
            for role in ("write", "read"):
                r, w = ctx.Pipe(duplex=False)
                p = ctx.Process(target=seg_child, args=(role, shm.name, a.size, 3, w))
                p.start()
                secs = r.recv()
                p.join()
                out[role].append(a.size / secs / 1e9)
    finally:
        shm.close()
        shm.unlink()
    return [result(f"segment-rw/{k}", "GB/s", v, bytes=a.size) for k, v in out.items()]


def seg_attacher(conn):
    """Per name received: attaches, writes a byte, closes, answers."""
    while (name := conn.recv()) is not None:
        s = attach(name)
        s.buf[0] = 1
        s.close()
        conn.send(True)


def bench_segment_create(a):
    """The parent creates a 4 KiB SharedMemory, a fork child attaches to it
    by name and writes a byte, the parent unlinks it; per run microseconds
    per cycle."""
    ctx = mp.get_context("fork")
    here, there = ctx.Pipe()
    p = ctx.Process(target=seg_attacher, args=(there,), daemon=True)
    p.start()
    n = ipc_n(a)
    samples = []
    try:
        for run in range(a.runs + 1):
            t0 = time.perf_counter()
            for _ in range(n):
                shm = shared_memory.SharedMemory(create=True, size=4096)
                here.send(shm.name)
                here.recv()
                shm.close()
                shm.unlink()
            if run > 0:  # the first run warms up
                samples.append((time.perf_counter() - t0) / n * 1e6)
    finally:
        here.send(None)
        p.join()
    return [result("segment-create", "us", samples, items=n)]


def value_adder(v, n, conn):
    t0 = time.perf_counter()
    for _ in range(n):
        with v.get_lock():
            v.value += 1
    conn.send(time.perf_counter() - t0)


def bench_atomic_add(a):
    """Two fork children each add 1 to one mp.Value('q') under its lock, n
    times; per run microseconds per add (the mean of the two)."""
    ctx = mp.get_context("fork")
    n = ipc_n(a)
    samples = []
    for _ in range(a.runs):
        v = ctx.Value("q", 0)
        pipes = [ctx.Pipe(duplex=False) for _ in range(2)]
        procs = [ctx.Process(target=value_adder, args=(v, n, w)) for _, w in pipes]
        for p in procs:
            p.start()
        secs = [r.recv() for r, _ in pipes]
        for p in procs:
            p.join()
        if v.value != 2 * n:
            raise SystemExit(f"baseline.py: atomic-add: counter {v.value}, want {2 * n}")
        samples.append(sum(secs) / 2 / n * 1e6)
    return [result("atomic-add", "us", samples, items=n)]


BENCHMARKS = {
    "version": lambda a: [],
    "roundtrip": bench_roundtrip,
    "map": bench_map,
    "ready": bench_ready,
    "primes": bench_primes,
    "queue-pingpong": bench_queue_pingpong,
    "queue-oneway": bench_queue_oneway,
    "pipe-pingpong": bench_pipe_pingpong,
    "sem-pingpong": bench_sem_pingpong,
    "lock-uncontended": bench_lock_uncontended,
    "segment-rw": bench_segment_rw,
    "segment-create": bench_segment_create,
    "atomic-add": bench_atomic_add,
    "scaling": bench_scaling,
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("bench", choices=sorted(BENCHMARKS))
    ap.add_argument("--runs", type=int, default=9, help="runs per measurement (median reported)")
    ap.add_argument("-n", type=int, default=0,
                    help="calls, items or prime limit; IPC benchmarks: round trips, messages or "
                         "lock pairs per run, 0 = their default")
    ap.add_argument("--chunksize", type=int, default=0, help="map: 0 = Python's default")
    ap.add_argument("--cpus", default="", help="roundtrip, *-pingpong: CPUs to pin to, comma-separated "
                                              "(*-pingpong: empty = this process's CPUs)")
    ap.add_argument("--variants", default="unpinned", help="roundtrip, *-pingpong: unpinned,1cpu,2cpu")
    ap.add_argument("--shapes", default="1x1,2x2", help="queue-oneway: producers x consumers, comma-separated")
    ap.add_argument("--size", type=int, default=64, help="queue-oneway: message bytes; segment-rw: segment bytes")
    ap.add_argument("--methods", default="fork,forkserver,spawn", help="ready: start methods")
    ap.add_argument("--ranges", type=int, default=64, help="primes: how many ranges")
    ap.add_argument("--workers", default="1,2", help="scaling: worker counts, comma-separated")
    ap.add_argument("--map-items", type=int, default=1_000_000, help="scaling: items per map")
    ap.add_argument("--chunk1-items", type=int, default=0, help="scaling: items per map with chunksize 1 (0: none)")
    a = ap.parse_args()
    results = BENCHMARKS[a.bench](a)
    json.dump({"python": platform.python_version(), "results": results}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
