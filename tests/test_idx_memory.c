/* Issue 14, item 8: the memory a gzip IDX stream costs, measured through the allocator
 * hook. A 512 MiB image set in a 522 KB gzip peaked at 2.63 GB in lg_dataset_load (5x);
 * lg_idx_load itself held the data 1.5x while its buffer doubled. Now the stream is
 * inflated twice (count, then fill a buffer of the final size): lg_idx_load peaks at the
 * data plus a few hundred KiB, and lg_dataset_load at the f32 images (4 bytes a pixel)
 * plus the bytes while it converts them. */
#define _POSIX_C_SOURCE 200809L
#include <zlib.h>
#include "test_util.h"
#include "test_alloc.h"
#include "test_tmp.h"
#include "lagrad/data.h"

static int setup(void **state)
{
    (void)state;
    return tmp_dir_make("idxmem");
}

/* An IDX file of n images of rows x cols bytes (a pattern), gzip-compressed. */
static void write_gz_images(const char *path, uint32_t n, uint32_t rows, uint32_t cols)
{
    gzFile f = gzopen(path, "wb1");
    assert_non_null(f);
    unsigned char h[16] = {0, 0, 8, 3};
    uint32_t d[3] = {n, rows, cols};
    for (int i = 0; i < 3; i++)
        for (int b = 0; b < 4; b++)
            h[4 + 4 * i + b] = (unsigned char)(d[i] >> (24 - 8 * b));
    assert_int_equal(gzwrite(f, h, 16), 16);
    static unsigned char row[1 << 16];
    for (size_t i = 0; i < sizeof row; i++)
        row[i] = (unsigned char)(i * 7 % 251);
    size_t total = (size_t)n * rows * cols;
    while (total) {
        unsigned k = total < sizeof row ? (unsigned)total : (unsigned)sizeof row;
        assert_int_equal(gzwrite(f, row, k), (int)k);
        total -= k;
    }
    assert_int_equal(gzclose(f), Z_OK);
}

static void write_gz_labels(const char *path, uint32_t n)
{
    gzFile f = gzopen(path, "wb1");
    assert_non_null(f);
    unsigned char h[8] = {0, 0, 8, 1, (unsigned char)(n >> 24), (unsigned char)(n >> 16),
                          (unsigned char)(n >> 8), (unsigned char)n};
    assert_int_equal(gzwrite(f, h, 8), 8);
    for (uint32_t i = 0; i < n; i++) {
        unsigned char y = (unsigned char)(i % 10);
        assert_int_equal(gzwrite(f, &y, 1), 1);
    }
    assert_int_equal(gzclose(f), Z_OK);
}

static void test_gzip_idx_load_peaks_at_its_data(void **state)
{
    (void)state;
    const uint32_t n = 1024, rows = 256, cols = 256; /* 64 MiB decompressed */
    const size_t bytes = (size_t)n * rows * cols;
    char images[300], labels[300];
    snprintf(images, sizeof images, "%s", tpath("images.gz"));
    snprintf(labels, sizeof labels, "%s", tpath("labels.gz"));
    write_gz_images(images, n, rows, cols);
    write_gz_labels(labels, n);

    counter c = {0};
    lg_allocator al = counter_allocator(&c);
    lg_set_allocator(&al);
    lg_idx *x = NULL;
    assert_int_equal(lg_idx_load(images, &x), LG_OK);
    assert_int_equal(x->bytes, bytes);
    assert_int_equal(x->data[12345], (unsigned char)(12345 % 65536 * 7 % 251));
    size_t idx_peak = c.peak_bytes;
    lg_idx_free(x);
    assert_int_equal(c.live, 0);

    c = (counter){0};
    lg_dataset d;
    assert_int_equal(lg_dataset_load(images, labels, &d), LG_OK);
    size_t ds_peak = c.peak_bytes;
    lg_dataset_free(&d);
    assert_int_equal(c.live, 0);
    lg_set_allocator(NULL);

    print_message("    %zu decompressed bytes: lg_idx_load peak %.3fx, lg_dataset_load peak "
                  "%.3fx\n", bytes, (double)idx_peak / (double)bytes,
                  (double)ds_peak / (double)bytes);
    assert_true(idx_peak <= bytes + ((size_t)1 << 20));   /* the data and < 1 MiB */
    assert_true(ds_peak <= 5 * bytes + ((size_t)1 << 20)); /* f32 images + the bytes */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gzip_idx_load_peaks_at_its_data),
    };
    return cmocka_run_group_tests(tests, setup, tmp_teardown);
}
