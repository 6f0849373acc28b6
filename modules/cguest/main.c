/*
 * cguest: an example wasmpool guest in C, built with Debian's clang
 * (internal/wasmbuild runs, from the repository root):
 *
 *   clang --target=wasm32-wasi -O2 -matomics -mbulk-memory -mexec-model=reactor \
 *         -I guest/c -o modules/cguest.wasm modules/cguest/main.c
 *
 *   upper                      task: its input in upper case
 *   produce(queue, id, n)      process: puts "id:0" .. "id:n-1" into the queue
 *   pipe-pong(conn, n)         process: n times, receives a message and sends
 *                              it back (the Go pipe-pong of modules/ipc)
 *   sem-pong(ping, pong, n)    process: n times, acquires ping, releases pong
 *   count(segment, n[, start]) process: maps the segment into its memory,
 *                              waits for the event start when given (at most
 *                              a minute), adds 1 to its first int64 n times
 *                              with a wasm atomic instruction (no host call),
 *                              prints the nanoseconds per add
 */
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#include "wasmpool.h"

static int upper(const uint8_t *in, uint32_t n, wp_out *out) {
	for (uint32_t i = 0; i < n; i++) {
		uint8_t c = in[i];
		if (c >= 'a' && c <= 'z')
			c -= 'a' - 'A';
		if (wp_out_write(out, &c, 1) != 0)
			return WP_STATUS_ERROR;
	}
	return WP_STATUS_OK;
}

/* number parses a decimal argument; -1 if it is not one. */
static long number(wp_bytes b) {
	long v = 0;
	if (b.len == 0 || b.len > 9)
		return -1;
	for (uint32_t i = 0; i < b.len; i++) {
		if (b.ptr[i] < '0' || b.ptr[i] > '9')
			return -1;
		v = v * 10 + (b.ptr[i] - '0');
	}
	return v;
}

static int produce(uint32_t argc, const wp_bytes *argv) {
	uint32_t q;
	long n = argc == 3 ? number(argv[2]) : -1;
	if (n < 0 || argv[1].len > 64 || wp_object_ref(WP_QUEUE, argv[0].ptr, argv[0].len, &q) != WP_OK)
		return 2;
	char msg[96];
	for (long i = 0; i < n; i++) {
		int len = snprintf(msg, sizeof msg, "%.*s:%ld", (int)argv[1].len, (const char *)argv[1].ptr, i);
		if (wp_queue_put(q, msg, (uint32_t)len, WP_FOREVER) != WP_OK)
			return 3;
	}
	return 0;
}

static int count(uint32_t argc, const wp_bytes *argv) {
	uint32_t seg, start = 0;
	long n = argc == 2 || argc == 3 ? number(argv[1]) : -1;
	if (n < 0 || wp_segment_open((const char *)argv[0].ptr, argv[0].len, &seg) != WP_OK)
		return 2;
	if (argc == 3 && wp_object_ref(WP_EVENT, argv[2].ptr, argv[2].len, &start) != WP_OK)
		return 2;
	uint8_t info[12];
	if (wp_segment_info(seg, info, 0, 0) != WP_OK)
		return 3;
	uint32_t size = wp_le32(info); /* segments here are far below 4 GiB */
	void *window = aligned_alloc(WP_SEGMENT_PAGE, size); /* never freed */
	if (!window || wp_segment_map(seg, window) != WP_OK)
		return 4;
	_Atomic int64_t *word = (_Atomic int64_t *)window;
	if (start && wp_event_wait(start, 60000000000LL) != WP_OK)
		return 6;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < n; i++)
		atomic_fetch_add(word, 1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (n > 0)
		printf("%lld ns/add\n", ((t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec)) / n);
	fflush(stdout);
	return wp_segment_close(seg) == WP_OK ? 0 : 5;
}

static int pipe_pong(uint32_t argc, const wp_bytes *argv) {
	uint32_t end;
	long n = argc == 2 ? number(argv[1]) : -1;
	if (n < 0 || wp_object_ref(WP_PIPE, argv[0].ptr, argv[0].len, &end) != WP_OK)
		return 2;
	static uint8_t buf[1 << 16];
	for (long i = 0; i < n; i++) {
		uint32_t len;
		if (wp_pipe_recv(end, buf, sizeof buf, WP_FOREVER, &len) != WP_OK)
			return 3;
		int32_t e = wp_pipe_send(end, buf, len, WP_FOREVER);
		if (e != WP_OK && !(e == WP_EPIPE && i == n - 1)) /* the peer may be done */
			return 4;
	}
	return 0;
}

static int sem_pong(uint32_t argc, const wp_bytes *argv) {
	uint32_t ping, pong;
	long n = argc == 3 ? number(argv[2]) : -1;
	if (n < 0 || wp_object_ref(WP_SEMAPHORE, argv[0].ptr, argv[0].len, &ping) != WP_OK ||
	    wp_object_ref(WP_SEMAPHORE, argv[1].ptr, argv[1].len, &pong) != WP_OK)
		return 2;
	for (long i = 0; i < n; i++)
		if (wp_sem_acquire(ping, WP_FOREVER) != WP_OK || wp_sem_release(pong, 1) != WP_OK)
			return 3;
	return 0;
}

static const wp_function functions[] = {
	{"upper", WP_TASK, .task = upper},
	{"produce", WP_PROCESS, .process = produce},
	{"count", WP_PROCESS, .process = count},
	{"pipe-pong", WP_PROCESS, .process = pipe_pong},
	{"sem-pong", WP_PROCESS, .process = sem_pong},
};

WASMPOOL_MAIN(functions)
