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

void lg_cpu_gather(lg_dtype dt, const lg_index_geom *ig, const void *idx, const void *x,
                   void *y)
{
    size_t es = lg_dtype_size(dt);
    const char *src = x;
    char *dst = y;
    if (!ig->per_element) {
        /* whole rows of `inner` elements: one memcpy each */
        size_t row = (size_t)ig->inner * es;
        LG_PARALLEL_IF(ig->outer * ig->k * ig->inner > LG_OMP_MIN,
            for (int64_t q = 0; q < ig->outer * ig->k; q++) {
                int64_t o = q / ig->k, j = q % ig->k;
                int64_t i = lg_load_int(idx, ig->itype, j);
                memcpy(dst + (size_t)q * row, src + (size_t)(o * ig->n + i) * row, row);
            });
        return;
    }
    for (int64_t o = 0; o < ig->outer; o++)
        for (int64_t j = 0; j < ig->k; j++)
            for (int64_t c = 0; c < ig->inner; c++) {
                int64_t i = index_at(ig, idx, o, j, c);
                memcpy(dst + (size_t)((o * ig->k + j) * ig->inner + c) * es,
                       src + (size_t)((o * ig->n + i) * ig->inner + c) * es, es);
            }
}

/* Serial over k so that repeated indices add in a fixed order (the same bits at any
 * thread count); rows of different o never collide, so those run in parallel. */
#define SCATTER(T)                                                                       \
    do {                                                                                 \
        const T *src = x;                                                                \
        T *dst = y;                                                                      \
        LG_PARALLEL_IF(ig->outer > 1 && ig->outer * ig->k * ig->inner > LG_OMP_MIN,      \
            for (int64_t o = 0; o < ig->outer; o++)                                      \
                for (int64_t j = 0; j < ig->k; j++)                                      \
                    for (int64_t c = 0; c < ig->inner; c++) {                            \
                        int64_t i = index_at(ig, idx, o, j, c);                          \
                        dst[(o * ig->n + i) * ig->inner + c] +=                          \
                            src[(o * ig->k + j) * ig->inner + c];                        \
                    });                                                                  \
    } while (0)

void lg_cpu_scatter_add(lg_dtype dt, const lg_index_geom *ig, const void *idx,
                        const void *x, void *y)
{
    if (dt == LG_F32)
        SCATTER(float);
    else
        SCATTER(double);
}
