/* lagrad backends: which kernels a graph runs on, and where tensor data lives. Every graph
 * has a backend ("cpu", OpenBLAS and OpenMP, the default; "reference", plain loops, the
 * oracle the others are checked against); every tensor has a device. Ops never copy
 * between devices behind the caller's back: a tensor on another device than its graph's
 * backend is LG_ERR_DEVICE. The CPU and reference backends both keep data in host memory. */
#ifndef LAGRAD_BACKEND_H
#define LAGRAD_BACKEND_H

#include "graph.h"

#ifdef __cplusplus
extern "C" {
#endif
/* The library is built with hidden visibility: what this header declares is its ABI. */
#pragma GCC visibility push(default)

/* Where a tensor's data lives. */
typedef enum lg_device {
    LG_DEVICE_HOST = 0, /* ordinary memory: lg_tensor_data is a pointer into it */
    LG_DEVICE_CUDA = 1  /* reserved for a CUDA backend (none is built yet) */
} lg_device;

typedef struct lg_backend lg_backend;

/* The backend named "cpu" or "reference" (others when built in), or NULL with
 * lg_last_status() LG_ERR_ARG naming the ones there are. */
const lg_backend *lg_backend_get(const char *name);
/* The process's default: the one named by the environment variable LAGRAD_BACKEND when it
 * is set to a known name, else "cpu" (an unknown name also gives "cpu"). Read at each
 * call, so each lg_graph_new sees the current setting. */
const lg_backend *lg_backend_default(void);
/* Its name, and the device its tensors live on ("invalid"/LG_DEVICE_HOST for NULL). */
const char *lg_backend_name(const lg_backend *b);
lg_device lg_backend_device(const lg_backend *b);

/* A new empty graph whose ops run on backend b (NULL: lg_backend_default()). lg_graph_new
 * is lg_graph_new_on(NULL). NULL when out of memory. */
lg_graph *lg_graph_new_on(const lg_backend *b);
/* The backend a graph runs on (NULL for NULL). */
const lg_backend *lg_graph_backend(const lg_graph *g);

/* The device of t's data (LG_DEVICE_HOST for NULL, with lg_last_status() LG_ERR_ARG).
 * Caller-owned tensors are made in host memory; a graph's tensors on its backend's device.
 * lg_tensor_data and lg_tensor_cdata return NULL, with LG_ERR_DEVICE, for a tensor that is
 * not in host memory: read it with lg_tensor_read. */
lg_device lg_tensor_device(const lg_tensor *t);

/* Copies t's numel elements, row-major, into the host buffer dst of `bytes` bytes (at
 * least numel * lg_dtype_size), whatever t's device. Errors: NULL t or dst (LG_ERR_ARG),
 * dst too small (LG_ERR_SHAPE, with both sizes). */
lg_status lg_tensor_read(const lg_tensor *t, void *dst, size_t bytes);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
