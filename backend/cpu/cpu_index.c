/* CPU gather and scatter-add along one axis (index_select, embedding, torch.gather and
 * their adjoints). Indices arrive checked; the kernels only move and add. */
#include <string.h>
#include "cpu_impl.h"

/* The index for output position (o, j, c): shared indices ignore o and c. */
static inline int64_t index_at(const lg_index_geom *ig, const void *idx, int64_t o,
                               int64_t j, int64_t c)
{
    int64_t q = ig->per_element ? (o * ig->k + j) * ig->inner + c : j;
    return lg_load_int(idx, ig->itype, q);
}

typedef struct index_args {
    const lg_index_geom *ig;
    const void *idx;
    const void *x;
    void *y;
    size_t row; /* bytes of one gathered row (shared indices) */
} index_args;

/* Shared indices: whole rows of `inner` elements, one memcpy each, q = o * k + j. */
static void gather_rows(int64_t lo, int64_t hi, void *ctx)
{
    const index_args *a = ctx;
    const lg_index_geom *ig = a->ig;
    const char *src = a->x;
    char *dst = a->y;
    for (int64_t q = lo; q < hi; q++) {
        int64_t o = q / ig->k, j = q % ig->k;
        int64_t i = lg_load_int(a->idx, ig->itype, j);
        memcpy(dst + (size_t)q * a->row, src + (size_t)(o * ig->n + i) * a->row, a->row);
    }
}

void lg_cpu_gather(lg_dtype dt, const lg_index_geom *ig, const void *idx, const void *x,
                   void *y)
{
    size_t es = lg_dtype_size(dt);
    if (!ig->per_element) {
        index_args a = {ig, idx, x, y, (size_t)ig->inner * es};
        lg_cpu_parallel_range(ig->outer * ig->k, ig->outer * ig->k * ig->inner > LG_OMP_MIN,
                              gather_rows, &a);
        return;
    }
    const char *src = x;
    char *dst = y;
    for (int64_t o = 0; o < ig->outer; o++)
        for (int64_t j = 0; j < ig->k; j++)
            for (int64_t c = 0; c < ig->inner; c++) {
                int64_t i = index_at(ig, idx, o, j, c);
                memcpy(dst + (size_t)((o * ig->k + j) * ig->inner + c) * es,
                       src + (size_t)((o * ig->n + i) * ig->inner + c) * es, es);
            }
}

#define LG_CPU_KERNELS "cpu_index.inc"
#include "cpu_each_type.h"

void lg_cpu_scatter_add(lg_dtype dt, const lg_index_geom *ig, const void *idx,
                        const void *x, void *y)
{
    index_args a = {ig, idx, x, y, 0};
    /* Serial over k so that repeated indices add in a fixed order (the same bits at any
     * thread count); rows of different o never collide, so those run in parallel. */
    lg_cpu_parallel_range(ig->outer, ig->outer > 1 && ig->outer * ig->k * ig->inner > LG_OMP_MIN,
                          dt == LG_F32 ? scatter_add_f32 : scatter_add_f64, &a);
}
