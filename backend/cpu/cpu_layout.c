/* CPU copy kernels that move elements without computing on them: blocks of rows and
 * axis permutations. OpenMP above LG_OMP_MIN elements. */
#include <string.h>
#include "cpu_impl.h"

void lg_cpu_copy_rows(lg_dtype dt, int64_t rows, int64_t cols, const void *src,
                      int64_t src_ld, void *dst, int64_t dst_ld)
{
    size_t es = lg_dtype_size(dt);
    const char *s = src;
    char *d = dst;
    LG_PARALLEL_IF(rows * cols > LG_OMP_MIN,
        for (int64_t r = 0; r < rows; r++)
            memcpy(d + (size_t)(r * dst_ld) * es, s + (size_t)(r * src_ld) * es, (size_t)cols * es);
    );
}

void lg_cpu_permute(lg_dtype dt, int ndim, const int64_t *xshape, const int *perm,
                    const void *x, void *y)
{
    int64_t xstride[LG_MAX_DIMS], yshape[LG_MAX_DIMS], src_stride[LG_MAX_DIMS];
    int64_t n = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        xstride[i] = n;
        n *= xshape[i];
    }
    for (int i = 0; i < ndim; i++) {
        yshape[i] = xshape[perm[i]];
        src_stride[i] = xstride[perm[i]];
    }
    size_t es = lg_dtype_size(dt);
    LG_PARALLEL_IF(n > LG_OMP_MIN,
        for (int64_t i = 0; i < n; i++) {
            int64_t rem = i, off = 0;
            for (int d = ndim - 1; d >= 0; d--) {
                off += (rem % yshape[d]) * src_stride[d];
                rem /= yshape[d];
            }
            memcpy((char *)y + (size_t)i * es, (const char *)x + (size_t)off * es, es
    );
    });
}
