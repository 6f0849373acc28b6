/*
 * wasmpool.h: the wasmpool guest ABI, version 1, for C (and any language
 * that can include a C header), written from abi/SPEC.md.
 *
 * Build a guest as a WASI reactor with Debian's clang:
 *
 *   clang --target=wasm32-wasi -O2 -mexec-model=reactor -I guest/c \
 *         -o guest.wasm guest.c
 *
 * Define your functions and a table, then expand WASMPOOL_MAIN once:
 *
 *   static int upper(const uint8_t *in, uint32_t n, wp_out *out) {...}
 *   static const wp_function functions[] = {
 *       {"upper", WP_TASK, .task = upper},
 *   };
 *   WASMPOOL_MAIN(functions)
 *
 * WASMPOOL_MAIN defines the exports wasmpool_abi and wasmpool_call: it
 * answers describe calls from the table, runs a task once per item of a
 * batch and a process once, and builds the List and Results layouts. What
 * the Go SDK adds on top (CBOR typed tasks, zero-copy queue views, windows
 * it allocates for segments, typed errors) is yours to write; every host
 * function is declared below with the contract of SPEC.md.
 */
#ifndef WASMPOOL_H
#define WASMPOOL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WASMPOOL_ABI_VERSION 1

/* Errno values: every host function returns one; 0 is success. */
enum {
	WP_OK = 0, WP_EINVAL = 1, WP_EFAULT = 2, WP_ENOENT = 3, WP_EMSGSIZE = 4,
	WP_ENOSYS = 5, WP_EBADF = 6, WP_EAGAIN = 7, WP_ETIMEDOUT = 8, WP_EPIPE = 9,
	WP_EOWNERDEAD = 10, WP_EPERM = 11, WP_EOVERFLOW = 12, WP_EBROKEN = 13,
	WP_ECANCELED = 14, WP_EIO = 15, WP_EBUSY = 16, WP_EEXIST = 17, WP_ENOSPC = 18,
};

/* Call kinds (wasmpool_call's first argument), function kinds, statuses. */
enum { WP_CALL_DESCRIBE = 0, WP_CALL_BATCH = 1, WP_CALL_PROCESS = 2 };
enum { WP_TASK = 1, WP_PROCESS = 2, WP_TYPED_TASK = 3 };
enum { WP_STATUS_OK = 0, WP_STATUS_ERROR = 1, WP_STATUS_INVALID_INPUT = 2 };
enum { WP_LOG_DEBUG = 0, WP_LOG_INFO = 1, WP_LOG_WARN = 2, WP_LOG_ERROR = 3 };

/* Object kinds, object_create flags, the size of a Ref and of a spec. */
enum {
	WP_QUEUE = 1, WP_PIPE = 2, WP_LOCK = 3, WP_RLOCK = 4, WP_SEMAPHORE = 5,
	WP_EVENT = 6, WP_CONDITION = 7, WP_BARRIER = 8,
};
enum { WP_FLAG_JOINABLE = 1, WP_FLAG_DUPLEX = 2, WP_FLAG_BOUNDED = 4 };
#define WP_REF_SIZE 16
#define WP_SEGMENT_PAGE 65536

/* Timeouts are nanoseconds: negative waits without limit, 0 never blocks. */
#define WP_FOREVER ((int64_t)-1)

typedef struct {
	uint32_t flags, max_messages, ring, max_message, value, bound, parties;
} wp_object_spec; /* 28 bytes, the layout object_create reads */

#define WP_IMPORT(name) __attribute__((import_module("wasmpool"), import_name(name)))

/* Calls (SPEC.md "A call"). */
WP_IMPORT("call_input") int32_t wp_call_input(uint8_t *name, uint8_t *input);
WP_IMPORT("call_output") int32_t wp_call_output(const void *ptr, uint32_t len);
WP_IMPORT("log") int32_t wp_log(int32_t level, const void *ptr, uint32_t len);

/* Shared objects. Handles are local to this instance; 0 is never one. */
WP_IMPORT("object_create") int32_t wp_object_create(int32_t kind, const wp_object_spec *spec, uint32_t spec_len,
	const char *name, uint32_t name_len, uint32_t *handle);
WP_IMPORT("object_open") int32_t wp_object_open(int32_t kind, const char *name, uint32_t name_len, uint32_t *handle);
WP_IMPORT("object_ref") int32_t wp_object_ref(int32_t kind, const void *ref, uint32_t ref_len, uint32_t *handle);
WP_IMPORT("object_close") int32_t wp_object_close(uint32_t handle);
WP_IMPORT("queue_put") int32_t wp_queue_put(uint32_t q, const void *msg, uint32_t len, int64_t timeout);
WP_IMPORT("queue_put_batch") int32_t wp_queue_put_batch(uint32_t q, const void *list, uint32_t len, int64_t timeout, uint32_t *put);
WP_IMPORT("queue_get") int32_t wp_queue_get(uint32_t q, void *buf, uint32_t cap, int64_t timeout, uint32_t *len);
WP_IMPORT("queue_get_batch") int32_t wp_queue_get_batch(uint32_t q, void *buf, uint32_t cap, uint32_t max, int64_t timeout, uint32_t *n);
WP_IMPORT("queue_info") int32_t wp_queue_info(uint32_t q, uint32_t info[6]);
WP_IMPORT("queue_close") int32_t wp_queue_close(uint32_t q);
WP_IMPORT("queue_task_done") int32_t wp_queue_task_done(uint32_t q);
WP_IMPORT("queue_join") int32_t wp_queue_join(uint32_t q, int64_t timeout);
WP_IMPORT("pipe_send") int32_t wp_pipe_send(uint32_t end, const void *msg, uint32_t len, int64_t timeout);
WP_IMPORT("pipe_recv") int32_t wp_pipe_recv(uint32_t end, void *buf, uint32_t cap, int64_t timeout, uint32_t *len);
WP_IMPORT("pipe_poll") int32_t wp_pipe_poll(uint32_t end, int64_t timeout);
WP_IMPORT("lock_acquire") int32_t wp_lock_acquire(uint32_t lock, int64_t timeout);
WP_IMPORT("lock_release") int32_t wp_lock_release(uint32_t lock);
WP_IMPORT("sem_acquire") int32_t wp_sem_acquire(uint32_t sem, int64_t timeout);
WP_IMPORT("sem_release") int32_t wp_sem_release(uint32_t sem, uint32_t n);
WP_IMPORT("sem_value") int32_t wp_sem_value(uint32_t sem, uint32_t *value);
WP_IMPORT("event_set") int32_t wp_event_set(uint32_t ev);
WP_IMPORT("event_clear") int32_t wp_event_clear(uint32_t ev);
WP_IMPORT("event_wait") int32_t wp_event_wait(uint32_t ev, int64_t timeout);
WP_IMPORT("event_is_set") int32_t wp_event_is_set(uint32_t ev, uint32_t *set);
WP_IMPORT("cond_wait") int32_t wp_cond_wait(uint32_t cond, int64_t timeout);
WP_IMPORT("cond_notify") int32_t wp_cond_notify(uint32_t cond, int32_t n);
WP_IMPORT("barrier_wait") int32_t wp_barrier_wait(uint32_t b, int64_t timeout, uint32_t *index);
WP_IMPORT("barrier_abort") int32_t wp_barrier_abort(uint32_t b);
WP_IMPORT("barrier_reset") int32_t wp_barrier_reset(uint32_t b);

/* Shared-memory segments. A window for segment_map must start at a
 * multiple of WP_SEGMENT_PAGE and be memory you never use otherwise:
 * aligned_alloc(WP_SEGMENT_PAGE, size) that you never free. info receives
 * the size (u64) and the name's length (u32). */
WP_IMPORT("segment_create") int32_t wp_segment_create(const char *name, uint32_t name_len, int64_t size, uint32_t *handle);
WP_IMPORT("segment_open") int32_t wp_segment_open(const char *name, uint32_t name_len, uint32_t *handle);
WP_IMPORT("segment_info") int32_t wp_segment_info(uint32_t seg, void *info12, char *name, uint32_t name_cap);
WP_IMPORT("segment_map") int32_t wp_segment_map(uint32_t seg, void *window);
WP_IMPORT("segment_unmap") int32_t wp_segment_unmap(uint32_t seg);
WP_IMPORT("segment_read") int32_t wp_segment_read(uint32_t seg, int64_t off, void *dst, uint32_t len);
WP_IMPORT("segment_write") int32_t wp_segment_write(uint32_t seg, int64_t off, const void *src, uint32_t len);
WP_IMPORT("segment_close") int32_t wp_segment_close(uint32_t seg);
WP_IMPORT("segment_unlink") int32_t wp_segment_unlink(uint32_t seg);

/* Atomics through the host, for compilers without wasm atomics. With
 * clang, C11 <stdatomic.h> on a window is atomic across processes too
 * (build with -matomics -mbulk-memory). width is 32 or 64. */
WP_IMPORT("atomic_load") int32_t wp_atomic_load(void *addr, uint32_t width, uint64_t *out);
WP_IMPORT("atomic_store") int32_t wp_atomic_store(void *addr, uint32_t width, uint64_t value);
WP_IMPORT("atomic_add") int32_t wp_atomic_add(void *addr, uint32_t width, uint64_t delta, uint64_t *out);
WP_IMPORT("atomic_cas") int32_t wp_atomic_cas(void *addr, uint32_t width, uint64_t old, uint64_t new_, uint64_t *out);
WP_IMPORT("atomic_wait") int32_t wp_atomic_wait(void *addr, uint64_t expected, int64_t timeout);
WP_IMPORT("atomic_notify") int32_t wp_atomic_notify(void *addr, int32_t count, uint32_t *woken);

/* ---- Layouts and the call dispatcher ---- */

typedef struct {
	const uint8_t *ptr;
	uint32_t len;
} wp_bytes;

/* wp_out is a growable buffer a function writes its output or error to. */
typedef struct {
	uint8_t *ptr;
	uint32_t len, cap;
} wp_out;

/* wp_out_write appends n bytes; it returns 0, or -1 out of memory. */
static inline int wp_out_write(wp_out *o, const void *p, uint32_t n) {
	uint64_t need = (uint64_t)o->len + n;
	if (need > 0x7fffffff)
		return -1;
	if (need > o->cap) {
		uint64_t cap = o->cap ? o->cap : 64;
		while (cap < need)
			cap *= 2;
		uint8_t *q = (uint8_t *)realloc(o->ptr, (size_t)cap);
		if (!q)
			return -1;
		o->ptr = q, o->cap = (uint32_t)cap;
	}
	memcpy(o->ptr + o->len, p, n);
	o->len += n;
	return 0;
}

static inline int wp_out_str(wp_out *o, const char *s) { return wp_out_write(o, s, (uint32_t)strlen(s)); }

static inline uint32_t wp_le32(const uint8_t *p) {
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline int wp_out_u32(wp_out *o, uint32_t v) {
	uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
	return wp_out_write(o, b, 4);
}

/* wp_list_next reads the next item of a List at *p (with *left bytes left)
 * into item; it returns 0, or -1 if the List is malformed. */
static inline int wp_list_next(const uint8_t **p, uint32_t *left, wp_bytes *item) {
	if (*left < 4)
		return -1;
	uint32_t n = wp_le32(*p);
	if (n > *left - 4)
		return -1;
	item->ptr = *p + 4, item->len = n;
	*p += 4 + n, *left -= 4 + n;
	return 0;
}

/* A task returns WP_STATUS_OK with its output in out, or WP_STATUS_ERROR
 * with a message there. A process returns 0 for success; anything else
 * ends it with exit code 1 and the message "exit status N" (call exit(n)
 * for exit code n). argv holds its arguments (a pool object's Ref, as
 * bytes, is one). */
typedef int (*wp_task_fn)(const uint8_t *in, uint32_t len, wp_out *out);
typedef int (*wp_process_fn)(uint32_t argc, const wp_bytes *argv);

typedef struct {
	const char *name;
	int kind; /* WP_TASK or WP_PROCESS */
	wp_task_fn task;
	wp_process_fn process;
} wp_function;

static inline int32_t wp_dispatch(const wp_function *fns, uint32_t nfns, int32_t kind, uint32_t name_len, uint32_t input_len) {
	if (kind != WP_CALL_DESCRIBE && kind != WP_CALL_BATCH && kind != WP_CALL_PROCESS)
		return WP_ENOSYS;
	if ((uint64_t)name_len + input_len > 0x7fffffff)
		return WP_EMSGSIZE;
	uint8_t *buf = (uint8_t *)malloc((size_t)name_len + input_len + 1);
	if (!buf)
		return WP_EMSGSIZE; /* no room for the input */
	int32_t e = wp_call_input(buf, buf + name_len);
	wp_out out = {0}, res = {0};
	int bad = 0; /* a wp_out_write failed: out of memory */
	if (e != WP_OK)
		goto done;
	if (kind == WP_CALL_DESCRIBE) {
		bad |= wp_out_u32(&out, nfns);
		for (uint32_t i = 0; i < nfns; i++) {
			uint8_t k = (uint8_t)fns[i].kind;
			bad |= wp_out_u32(&out, 1 + (uint32_t)strlen(fns[i].name)) | wp_out_write(&out, &k, 1) | wp_out_str(&out, fns[i].name);
		}
		e = bad ? WP_EMSGSIZE : wp_call_output(out.ptr, out.len);
		goto done;
	}
	const wp_function *fn = 0;
	for (uint32_t i = 0; i < nfns; i++)
		if (strlen(fns[i].name) == name_len && memcmp(fns[i].name, buf, name_len) == 0)
			fn = &fns[i];
	if (!fn) {
		e = WP_ENOENT;
		goto done;
	}
	const uint8_t *p = buf + name_len;
	uint32_t left = input_len;
	if (left < 4) {
		e = WP_EINVAL;
		goto done;
	}
	uint32_t count = wp_le32(p);
	p += 4, left -= 4;
	if (count > left / 4) { /* every item takes at least its length word */
		e = WP_EINVAL;
		goto done;
	}
	if (kind == WP_CALL_BATCH && fn->kind == WP_TASK) {
		wp_out_u32(&res, count);
		for (uint32_t i = 0; i < count; i++) {
			wp_bytes item;
			if (wp_list_next(&p, &left, &item) != 0) {
				e = WP_EINVAL;
				goto done;
			}
			out.len = 0;
			uint8_t status = (uint8_t)fn->task(item.ptr, item.len, &out);
			bad |= wp_out_write(&res, &status, 1) | wp_out_u32(&res, out.len) | wp_out_write(&res, out.ptr, out.len);
		}
	} else if (kind == WP_CALL_PROCESS && fn->kind == WP_PROCESS) {
		wp_bytes *argv = (wp_bytes *)calloc(count ? count : 1, sizeof(wp_bytes));
		for (uint32_t i = 0; argv && i < count; i++) {
			if (wp_list_next(&p, &left, &argv[i]) != 0) {
				free(argv);
				e = WP_EINVAL;
				goto done;
			}
		}
		int status = argv ? fn->process(count, argv) : 1;
		free(argv);
		uint8_t st = status == 0 ? WP_STATUS_OK : WP_STATUS_ERROR;
		char msg[32];
		uint32_t n = 0;
		if (status != 0)
			n = (uint32_t)snprintf(msg, sizeof msg, "exit status %d", status);
		bad |= wp_out_u32(&res, 1) | wp_out_write(&res, &st, 1) | wp_out_u32(&res, n) | wp_out_write(&res, msg, n);
	} else {
		e = WP_EINVAL; /* a task called as a process, or the other way */
		goto done;
	}
	e = bad ? WP_EMSGSIZE : wp_call_output(res.ptr, res.len);
done:
	free(out.ptr);
	free(res.ptr);
	free(buf);
	return e;
}

#define WASMPOOL_MAIN(table)                                                                        \
	__attribute__((export_name("wasmpool_abi"))) int32_t wasmpool_abi(void) { return WASMPOOL_ABI_VERSION; } \
	__attribute__((export_name("wasmpool_call"))) int32_t wasmpool_call(int32_t kind, uint32_t name_len, uint32_t input_len) { \
		return wp_dispatch(table, sizeof(table) / sizeof(table[0]), kind, name_len, input_len);          \
	}

#endif
