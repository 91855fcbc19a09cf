/* The allocator hook, status texts and the thread-local last-error message.
 * Nothing here knows about tensors beyond byte counts. */
#include <stdio.h>
#include <stdlib.h>
#include "tensor_impl.h"

static void *default_alloc(void *ud, size_t size, size_t align)
{
    (void)ud;
    if (size == 0)
        size = 1;
    /* aligned_alloc wants a size that is a multiple of the alignment. */
    size_t rounded = (size + align - 1) / align * align;
    if (rounded < size)
        return NULL;
    return aligned_alloc(align, rounded);
}

static void default_free(void *ud, void *p, size_t size)
{
    (void)ud;
    (void)size;
    free(p);
}

static lg_allocator g_alloc = {default_alloc, default_free, NULL};

void lg_set_allocator(const lg_allocator *a)
{
    if (a && a->alloc && a->free)
        g_alloc = *a;
    else
        g_alloc = (lg_allocator){default_alloc, default_free, NULL};
}

void *lg_malloc(size_t size) { return g_alloc.alloc(g_alloc.ud, size, LG_ALIGN); }

void lg_free(void *p, size_t size)
{
    if (p)
        g_alloc.free(g_alloc.ud, p, size);
}

const char *lg_status_str(lg_status s)
{
    switch (s) {
    case LG_OK: return "ok";
    case LG_ERR_ARG: return "invalid argument";
    case LG_ERR_SHAPE: return "shape mismatch";
    case LG_ERR_DTYPE: return "dtype mismatch";
    case LG_ERR_OOM: return "out of memory";
    case LG_ERR_NOT_SPD: return "matrix not positive definite";
    case LG_ERR_SINGULAR: return "matrix singular";
    case LG_ERR_NUMERIC: return "numerical error";
    case LG_ERR_IO: return "I/O error";
    case LG_ERR_FORMAT: return "bad file format";
    case LG_ERR_UNSUPPORTED: return "unsupported";
    case LG_ERR_DEVICE: return "device mismatch";
    case LG_ERR_STATE: return "invalid state";
    case LG_ERR_NO_CONVERGE: return "did not converge";
    }
    return "unknown status";
}

static _Thread_local char t_errmsg[256];
static _Thread_local lg_status t_status = LG_OK;

lg_status lg_set_error(lg_status s, const char *fmt, ...)
{
    t_status = s;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t_errmsg, sizeof t_errmsg, fmt, ap);
    va_end(ap);
    return s;
}

const char *lg_last_errmsg(void) { return t_errmsg; }
lg_status lg_last_status(void) { return t_status; }

size_t lg_dtype_size(lg_dtype dt)
{
    switch (dt) {
    case LG_F32: return sizeof(float);
    case LG_F64: return sizeof(double);
    case LG_I32: return sizeof(int32_t);
    case LG_I64: return sizeof(int64_t);
    case LG_DTYPE_INVALID: break;
    }
    return 0;
}

const char *lg_dtype_name(lg_dtype dt)
{
    switch (dt) {
    case LG_F32: return "f32";
    case LG_F64: return "f64";
    case LG_I32: return "i32";
    case LG_I64: return "i64";
    case LG_DTYPE_INVALID: break;
    }
    return "invalid";
}

int lg_dtype_is_float(lg_dtype dt) { return dt == LG_F32 || dt == LG_F64; }
