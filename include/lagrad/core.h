/* lagrad core: status codes, dtypes, the allocator hook and thread control.
 * Everything else in the public API builds on these few names. */
#ifndef LAGRAD_CORE_H
#define LAGRAD_CORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
/* The library is built with hidden visibility: what this header declares is its ABI. */
#pragma GCC visibility push(default)

#define LAGRAD_VERSION_MAJOR 0
#define LAGRAD_VERSION_MINOR 4
#define LAGRAD_VERSION_PATCH 0

/* Every fallible call returns one of these. LG_OK is 0; errors are negative. */
typedef enum lg_status {
    LG_OK = 0,
    LG_ERR_ARG = -1,         /* NULL pointer, bad axis, bad scalar argument */
    LG_ERR_SHAPE = -2,       /* shapes do not fit the operation */
    LG_ERR_DTYPE = -3,       /* wrong or mixed dtypes */
    LG_ERR_OOM = -4,         /* the allocator returned NULL */
    LG_ERR_NOT_SPD = -5,     /* matrix not symmetric positive definite */
    LG_ERR_SINGULAR = -6,    /* matrix exactly singular */
    LG_ERR_NUMERIC = -7,     /* NaN/Inf, or a gradient check that failed */
    LG_ERR_IO = -8,          /* read/write failure */
    LG_ERR_FORMAT = -9,      /* corrupt or unexpected file contents */
    LG_ERR_UNSUPPORTED = -10,/* valid request that lagrad does not implement */
    LG_ERR_DEVICE = -11,     /* tensors on different devices */
    LG_ERR_STATE = -12,      /* call out of order: use after reset, no tape */
    LG_ERR_NO_CONVERGE = -13 /* an iterative routine did not converge */
} lg_status;

/* Static text for a status, never NULL ("unknown status" for other values). */
const char *lg_status_str(lg_status s);

/* The status and message of the last error reported by a call that has no graph to hold
 * it: constructors that return a pointer (tensor creation, layers, stores) and calls on
 * files. Thread-local: each thread sees its own. A successful call does not clear them, so
 * read them right after the call that returned NULL or an error. LG_OK and "" when none. */
lg_status lg_last_status(void);
const char *lg_last_errmsg(void);

/* Element types. f32 and f64 carry gradients; i32 and i64 hold labels, token ids and
 * indices, never require grad, and every op that needs floats refuses them by name
 * ("lg_exp: input 0 is i64; need f32 or f64"). */
typedef enum lg_dtype {
    LG_DTYPE_INVALID = -1, /* what lg_tensor_dtype(NULL) returns */
    LG_F32 = 0,
    LG_F64 = 1,
    LG_I32 = 2,
    LG_I64 = 3
} lg_dtype;

/* Size in bytes of one element; 0 for an invalid dtype. */
size_t lg_dtype_size(lg_dtype dt);
/* "f32", "f64", "i32", "i64", or "invalid". */
const char *lg_dtype_name(lg_dtype dt);
/* True for LG_F32 and LG_F64. */
int lg_dtype_is_float(lg_dtype dt);

/* Thread safety. Separate objects in separate threads are safe: each thread may own its
 * graphs, parameter stores, optimizers and tensors and use them at the same time as other
 * threads use theirs (tests/test_thread_safety.c trains four models at once and gets the
 * bits one thread gets). One object must not be used by two threads at once: a graph, a
 * store, an optimizer, or a tensor that one of them writes (a leaf that requires grad is
 * written by backward, into its .grad). Per thread: lg_last_status and lg_last_errmsg,
 * OpenMP's thread count (lg_set_num_threads). Process-wide: the allocator hook (install it
 * before starting threads) and OpenBLAS's thread count. */

/* Allocator hook. All of lagrad's heap memory goes through it, except the copy buffers of
 * its f32 GEMM on AVX-512 processors (about 1 MB per thread that runs a product, allocated
 * once with aligned_alloc and kept until the thread ends, as OpenBLAS keeps its own).
 * alloc(ud, size, align) returns memory aligned to `align` (a power of two, at most 64)
 * or NULL; free(ud, p, size) receives the size that was asked for (p may be NULL).
 * Install before creating any object: memory must be freed by the hook that allocated it. */
typedef struct lg_allocator {
    void *(*alloc)(void *ud, size_t size, size_t align);
    void (*free)(void *ud, void *p, size_t size);
    void *ud;
} lg_allocator;

/* Installs `a` (copied), or restores the default (aligned_alloc/free) when a is NULL. */
void lg_set_allocator(const lg_allocator *a);

/* Threads. lagrad links the OpenMP build of OpenBLAS so that its OpenMP loops and
 * BLAS share one thread pool. Sets OpenBLAS's thread count, which is process-wide, and
 * OpenMP's, which is per thread: it holds for the calling thread (and the OpenMP teams it
 * starts); a thread made with pthread_create starts from OMP_NUM_THREADS (or the number
 * of cores), so call this in every thread that runs lagrad ops with a chosen count.
 * Errors (nothing changes): n < 1, or n above OpenBLAS's build limit (64 in Debian's
 * build), which it would otherwise clamp silently (LG_ERR_ARG, naming the limit). */
lg_status lg_set_num_threads(int n);
/* The calling thread's OpenMP thread count (what lg_set_num_threads set in this thread). */
int lg_get_num_threads(void);

/* The default thread count. A program that never calls lg_set_num_threads, run without
 * OMP_NUM_THREADS, gets an adaptive default: every core while the cores are free, one
 * thread while another process competes for them. lg_graph_reset (once per step, acting at
 * most every 0.25 s) reads how long the thread that calls it waited for a CPU (Linux's
 * /proc/thread-self/schedstat); waiting over 10% of the time at several threads (measured
 * over the first 5 ms of the run, at least one step, then every 0.25 s), lagrad goes to 1
 * thread, and it tries every core again for 5 ms after 2 s (then 4, 8, at most 16 s while
 * they stay busy). Why: libgomp's waiting threads spin, so on a 2-core machine an MLP at 2
 * threads beside one busy process ran about 10x slower than at 1 thread, and
 * OMP_WAIT_POLICY=PASSIVE, which avoids that, also loses most of the 2-thread gain on free
 * cores; both policies are fixed before lagrad runs, the thread count is not (README
 * "Threads", BENCHMARKS.md). The count changes the last bits of GEMM results (README
 * "Determinism"): for bit-reproducible runs choose one. Only the first thread that resets
 * a graph steers; other threads keep OpenMP's default. lg_set_num_threads or
 * OMP_NUM_THREADS turn it off for good; without schedstat OpenMP's default stays.
 * Returns 1 while the adaptive default is on (or may still start), 0 once it is off. */
int lg_threads_adaptive(void);

/* Which threading OpenBLAS was built with: "openmp", "pthreads" or "serial".
 * Anything but "openmp" oversubscribes the cores when both run (see README). */
const char *lg_blas_threading(void);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
