/* lg_data_random_shift: every image moves rigidly by one offset within the bound, vacated
 * pixels get the fill, all offsets occur, a seed repeats, and bad arguments are errors. */
#include <stdlib.h>
#include <string.h>
#include "test_util.h"
#include "lagrad/data.h"

enum { ROWS = 64, H = 5, W = 7 };

/* Pixel (y, x) of image i holds 1000 i + 10 y + x: each value names its source. */
static lg_tensor *numbered(lg_dtype dt)
{
    int64_t shape[2] = {ROWS, H * W};
    lg_tensor *t = lg_tensor_new(dt, 2, shape);
    assert_non_null(t);
    for (int i = 0; i < ROWS; i++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                assert_int_equal(lg_tensor_set(t, (int64_t[]){i, y * W + x},
                                               1000.0 * i + 10 * y + x), LG_OK);
    return t;
}

/* Checks image i is image i moved by one (dy, dx) with |dy|, |dx| <= s and fill elsewhere;
 * returns the offset as an index into a (2s+1)^2 table. */
static int check_rigid_shift(const lg_tensor *t, int i, int s, double fill)
{
    int dy = 99, dx = 99;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            double v = lg_tensor_item(t, (int64_t)i * H * W + y * W + x);
            if (v == fill)
                continue;
            int src = (int)v - 1000 * i, sy = src / 10, sx = src % 10;
            assert_true(src >= 0 && sy < H && sx < W);
            if (dy == 99) {
                dy = y - sy;
                dx = x - sx;
            }
            assert_int_equal(y - sy, dy); /* one rigid offset for the whole image */
            assert_int_equal(x - sx, dx);
        }
    assert_true(dy != 99); /* s < H, W: something always lands */
    assert_true(abs(dy) <= s && abs(dx) <= s);
    /* every pixel whose source lies inside the image got it (not the fill) */
    int landed = (H - abs(dy)) * (W - abs(dx)), found = 0;
    for (int k = 0; k < H * W; k++)
        found += lg_tensor_item(t, (int64_t)i * H * W + k) != fill;
    assert_int_equal(found, landed);
    return (dy + s) * (2 * s + 1) + (dx + s);
}

static void test_random_shift_moves_each_image_rigidly_within_the_bound(void **state)
{
    (void)state;
    for (int d = 0; d < 2; d++) {
        lg_tensor *t = numbered(d ? LG_F64 : LG_F32);
        lg_rng r;
        lg_rng_init(&r, 5);
        assert_int_equal(lg_data_random_shift(t, H, W, 2, -0.5, &r), LG_OK);
        assert_int_equal(r.counter, 2 * ROWS); /* two draws per image, as documented */
        int seen[25] = {0}, distinct = 0;
        for (int i = 0; i < ROWS; i++)
            seen[check_rigid_shift(t, i, 2, -0.5)]++;
        for (int k = 0; k < 25; k++)
            distinct += seen[k] > 0;
        assert_true(distinct >= 18); /* 64 draws over 25 offsets: most occur */
        lg_tensor_free(t);
    }
}

static void test_random_shift_repeats_with_a_seed_and_zero_is_identity(void **state)
{
    (void)state;
    lg_tensor *a = numbered(LG_F32), *b = numbered(LG_F32), *c = numbered(LG_F32);
    lg_rng ra, rb, rc;
    lg_rng_init(&ra, 9);
    lg_rng_init(&rb, 9);
    lg_rng_init(&rc, 9);
    assert_int_equal(lg_data_random_shift(a, H, W, 1, 0, &ra), LG_OK);
    assert_int_equal(lg_data_random_shift(b, H, W, 1, 0, &rb), LG_OK);
    assert_memory_equal(lg_tensor_cdata(a), lg_tensor_cdata(b), sizeof(float) * ROWS * H * W);
    lg_tensor *orig = numbered(LG_F32);
    assert_int_equal(lg_data_random_shift(c, H, W, 0, 0, &rc), LG_OK);
    assert_memory_equal(lg_tensor_cdata(c), lg_tensor_cdata(orig), sizeof(float) * ROWS * H * W);
    lg_tensor_free(a);
    lg_tensor_free(b);
    lg_tensor_free(c);
    lg_tensor_free(orig);
}

static void test_random_shift_rejects_bad_arguments(void **state)
{
    (void)state;
    lg_tensor *t = numbered(LG_F32);
    lg_rng r;
    lg_rng_init(&r, 1);
    assert_int_equal(lg_data_random_shift(NULL, H, W, 1, 0, &r), LG_ERR_ARG);
    assert_int_equal(lg_data_random_shift(t, H, W, 1, 0, NULL), LG_ERR_ARG);
    assert_int_equal(lg_data_random_shift(t, 0, W, 1, 0, &r), LG_ERR_ARG);
    assert_int_equal(lg_data_random_shift(t, 3, W, 1, 0, &r), LG_ERR_ARG); /* 2240 % 21 */
    assert_non_null(strstr(lg_last_errmsg(), "(64,35)"));
    assert_int_equal(lg_data_random_shift(t, H, W, H, 0, &r), LG_ERR_ARG);
    assert_non_null(strstr(lg_last_errmsg(), "max_shift 5"));
    assert_int_equal(lg_data_random_shift(t, H, W, -1, 0, &r), LG_ERR_ARG);
    /* sizes whose product overflows, and images past the 64x64 limit */
    assert_int_equal(lg_data_random_shift(t, 1LL << 32, 1LL << 32, 1, 0, &r),
                     LG_ERR_UNSUPPORTED);
    assert_int_equal(lg_data_random_shift(t, 65, 65, 1, 0, &r), LG_ERR_UNSUPPORTED);
    assert_non_null(strstr(lg_last_errmsg(), "65x65"));
    assert_int_equal(r.counter, 0); /* nothing drawn on error */
    lg_tensor_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_shift_moves_each_image_rigidly_within_the_bound),
        cmocka_unit_test(test_random_shift_repeats_with_a_seed_and_zero_is_identity),
        cmocka_unit_test(test_random_shift_rejects_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
