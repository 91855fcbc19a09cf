/* Data augmentation on mini-batches: random translations. */
#include <string.h>
#include "lagrad/data.h"
#include "../tensor/tensor_impl.h"

/* Copies the h x w image src into dst shifted by (dy, dx), fill where nothing lands.
 * Row by row, so the inner work is one memcpy per row. */
#define DEFINE_SHIFT(T, name)                                                            \
    static void name(T *dst, const T *src, int64_t h, int64_t w, int64_t dy, int64_t dx, \
                     T fill)                                                             \
    {                                                                                    \
        int64_t x0 = dx > 0 ? dx : 0, x1 = dx < 0 ? w + dx : w; /* columns that land */ \
        for (int64_t y = 0; y < h; y++) {                                                \
            T *row = dst + y * w;                                                        \
            int64_t sy = y - dy;                                                         \
            if (sy < 0 || sy >= h) {                                                     \
                for (int64_t x = 0; x < w; x++)                                          \
                    row[x] = fill;                                                       \
                continue;                                                                \
            }                                                                            \
            for (int64_t x = 0; x < x0; x++)                                             \
                row[x] = fill;                                                           \
            memcpy(row + x0, src + sy * w + (x0 - dx), sizeof(T) * (size_t)(x1 - x0));   \
            for (int64_t x = x1; x < w; x++)                                             \
                row[x] = fill;                                                           \
        }                                                                                \
    }
DEFINE_SHIFT(float, shift_f32)
DEFINE_SHIFT(double, shift_f64)

/* Largest image the on-stack copy of one image holds (64x64). */
#define SHIFT_MAX_PIXELS 4096

lg_status lg_data_random_shift(lg_tensor *x, int64_t height, int64_t width, int max_shift,
                               double fill, lg_rng *r)
{
    if (!x || !r)
        return lg_set_error(LG_ERR_ARG, "lg_data_random_shift: %s is NULL", x ? "rng" : "x");
    if (height < 1 || width < 1)
        return lg_set_error(LG_ERR_ARG, "lg_data_random_shift: image size %lldx%lld",
                            (long long)height, (long long)width);
    /* bounded before multiplying, so height * width cannot overflow */
    if (height > SHIFT_MAX_PIXELS || width > SHIFT_MAX_PIXELS / height)
        return lg_set_error(LG_ERR_UNSUPPORTED, "lg_data_random_shift: %lldx%lld images exceed "
                            "%d pixels", (long long)height, (long long)width, SHIFT_MAX_PIXELS);
    int64_t px = height * width;
    if (x->numel % px != 0)
        return lg_set_error(LG_ERR_ARG, "lg_data_random_shift: tensor %s does not hold whole "
                            "%lldx%lld images", lg_tshape(x).s, (long long)height,
                            (long long)width);
    if (max_shift < 0 || max_shift >= height || max_shift >= width)
        return lg_set_error(LG_ERR_ARG, "lg_data_random_shift: max_shift %d outside [0, %lld) "
                            "for %lldx%lld images", max_shift,
                            (long long)(height < width ? height : width), (long long)height,
                            (long long)width);
    double src[SHIFT_MAX_PIXELS]; /* a copy of one image, f32 or f64 */
    int64_t span = 2 * (int64_t)max_shift + 1;
    for (int64_t i = 0; i < x->numel / px; i++) {
        int64_t dy = (int64_t)(lg_rng_uniform(r) * (double)span) - max_shift;
        int64_t dx = (int64_t)(lg_rng_uniform(r) * (double)span) - max_shift;
        dy = dy > max_shift ? max_shift : dy; /* uniform() < 1, but guard the rounding */
        dx = dx > max_shift ? max_shift : dx;
        if (x->dtype == LG_F32) {
            float *img = (float *)x->data + i * px;
            memcpy(src, img, sizeof(float) * (size_t)px);
            shift_f32(img, (const float *)src, height, width, dy, dx, (float)fill);
        } else {
            double *img = (double *)x->data + i * px;
            memcpy(src, img, sizeof(double) * (size_t)px);
            shift_f64(img, src, height, width, dy, dx, fill);
        }
    }
    return LG_OK;
}
