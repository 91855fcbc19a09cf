/* lagrad extension API: the few entry points that modules built beside the library (the
 * MPI module lagrad_dist, a user's own kernels) share with it, so their memory goes
 * through the same allocator hook and their errors reach the same lg_last_status() and
 * lg_last_errmsg(). Not part of the umbrella lagrad.h: include it on purpose. */
#ifndef LAGRAD_EXTENSION_H
#define LAGRAD_EXTENSION_H

#include <stdarg.h>
#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif
/* The library is built with hidden visibility: what this header declares is its ABI. */
#pragma GCC visibility push(default)

/* size bytes, 64-byte aligned, from the allocator installed with lg_set_allocator; NULL
 * when it fails (size 0 may also give NULL). Free with lg_free and the same size. */
void *lg_malloc(size_t size);
/* Returns memory from lg_malloc; p may be NULL. size must be the size asked for. */
void lg_free(void *p, size_t size);

/* Records status s and a printf-style message as this thread's last error (read back by
 * lg_last_status and lg_last_errmsg; the message is cut at 255 bytes). Returns s, so a
 * function can `return lg_set_error(LG_ERR_ARG, "my_fn: x is NULL");`. */
lg_status lg_set_error(lg_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
