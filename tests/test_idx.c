/* IDX loader and dataset tests: raw and gzip round trips, every rejection path with its
 * code and message, lying headers that must not drive allocations (checked with a counting
 * allocator), out-of-memory at every allocation, seeded shuffling, mini-batch copies, and
 * the real Fashion-MNIST files when Debian's dataset-fashion-mnist is installed. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include "test_util.h"
#include "test_alloc.h"
#include "test_tmp.h"
#include "lagrad/data.h"

static int setup(void **state)
{
    (void)state;
    return tmp_dir_make("idx");
}

/* ---- writing test files ---- */

/* An IDX image in a malloc'd buffer: magic 00 00 type ndim, big-endian dims, then `len`
 * bytes of data (which need not match the dims). */
static uint8_t *make_idx(int type, int ndim, const uint32_t *dims, const uint8_t *data,
                         size_t len, size_t *total)
{
    *total = 4 + 4 * (size_t)ndim + len;
    uint8_t *b = malloc(*total ? *total : 1);
    assert_non_null(b);
    b[0] = 0;
    b[1] = 0;
    b[2] = (uint8_t)type;
    b[3] = (uint8_t)ndim;
    for (int i = 0; i < ndim; i++) {
        b[4 + 4 * i] = (uint8_t)(dims[i] >> 24);
        b[5 + 4 * i] = (uint8_t)(dims[i] >> 16);
        b[6 + 4 * i] = (uint8_t)(dims[i] >> 8);
        b[7 + 4 * i] = (uint8_t)dims[i];
    }
    if (len)
        memcpy(b + 4 + 4 * ndim, data, len);
    return b;
}

static void write_raw(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static void write_gz(const char *path, const void *b, size_t n)
{
    gzFile f = gzopen(path, "wb6");
    assert_non_null(f);
    if (n)
        assert_int_equal(gzwrite(f, b, (unsigned)n), (int)n);
    assert_int_equal(gzclose(f), Z_OK);
}

/* The bytes of a file (malloc'd). */
static uint8_t *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(*n ? *n : 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, *n, f), *n);
    fclose(f);
    return b;
}

/* Writes an IDX file (gzip when gz) of `ndim` dims with data[i] = (i * 7 + 3) % 256. */
static const char *write_idx(const char *name, bool gz, int ndim, const uint32_t *dims)
{
    size_t n = 1, total;
    for (int i = 0; i < ndim; i++)
        n *= dims[i];
    uint8_t *data = malloc(n);
    assert_non_null(data);
    for (size_t i = 0; i < n; i++)
        data[i] = (uint8_t)((i * 7 + 3) % 256);
    uint8_t *b = make_idx(0x08, ndim, dims, data, n, &total);
    const char *p = tpath(name);
    if (gz)
        write_gz(p, b, total);
    else
        write_raw(p, b, total);
    free(b);
    free(data);
    return p;
}

/* Loads path expecting status want; on error checks the message names the function and
 * the file and contains `part`. */
static void expect_load(const char *path, lg_status want, const char *part)
{
    lg_idx *x = (lg_idx *)&x; /* must be reset to NULL on error */
    lg_status s = lg_idx_load(path, &x);
    if (s != want)
        print_error("%s: got %s (%s), want %s\n", path, lg_status_str(s), lg_last_errmsg(),
                    lg_status_str(want));
    assert_int_equal(s, want);
    assert_null(x);
    const char *m = lg_last_errmsg();
    if (!strstr(m, "lg_idx_load") || !strstr(m, path) || (part && !strstr(m, part))) {
        print_error("message \"%s\" lacks \"%s\" or the file\n", m, part ? part : "");
        fail();
    }
}

/* ---- round trips ---- */

static void check_idx(const lg_idx *x, int ndim, const uint32_t *dims)
{
    assert_non_null(x);
    assert_int_equal(x->ndim, ndim);
    size_t n = 1;
    for (int i = 0; i < ndim; i++) {
        assert_int_equal(x->dims[i], dims[i]);
        n *= dims[i];
    }
    for (int i = ndim; i < LG_IDX_MAX_DIMS; i++)
        assert_int_equal(x->dims[i], 0);
    assert_int_equal(x->bytes, n);
    for (size_t i = 0; i < n; i++)
        if (x->data[i] != (uint8_t)((i * 7 + 3) % 256)) {
            print_error("byte %zu is %d\n", i, x->data[i]);
            fail();
        }
}

static void test_idx_load_round_trips_raw_and_gzip(void **state)
{
    (void)state;
    static const uint32_t shapes[4][4] = {{17}, {3, 5}, {4, 7, 9}, {2, 3, 4, 5}};
    for (int nd = 1; nd <= 4; nd++)
        for (int gz = 0; gz < 2; gz++) {
            const char *p = write_idx(gz ? "rt.idx.gz" : "rt.idx", gz, nd, shapes[nd - 1]);
            lg_idx *x = NULL;
            assert_int_equal(lg_idx_load(p, &x), LG_OK);
            check_idx(x, nd, shapes[nd - 1]);
            lg_idx_free(x);
        }
}

/* Data past the loader's 64 KiB read chunk and 1 MiB first buffer: the gzip path grows
 * its buffer, the raw path reads in several chunks. */
static void test_idx_load_reads_data_larger_than_its_buffers(void **state)
{
    (void)state;
    const uint32_t dims[3] = {1100, 31, 33}; /* 1,125,300 bytes */
    for (int gz = 0; gz < 2; gz++) {
        const char *p = write_idx(gz ? "big.idx.gz" : "big.idx", gz, 3, dims);
        lg_idx *x = NULL;
        assert_int_equal(lg_idx_load(p, &x), LG_OK);
        check_idx(x, 3, dims);
        lg_idx_free(x);
    }
}

/* gunzip reads concatenated members as one stream; so does the loader. */
static void test_idx_load_reads_concatenated_gzip_members(void **state)
{
    (void)state;
    const uint32_t dims[2] = {6, 50};
    const char *whole = write_idx("cat.idx", false, 2, dims);
    size_t n;
    uint8_t *b = slurp(whole, &n);
    const char *a = tpath("cat-a.gz"), *c = tpath("cat-b.gz");
    write_gz(a, b, 100);
    write_gz(c, b + 100, n - 100);
    size_t na, nc;
    uint8_t *ba = slurp(a, &na), *bc = slurp(c, &nc);
    uint8_t *both = malloc(na + nc);
    assert_non_null(both);
    memcpy(both, ba, na);
    memcpy(both + na, bc, nc);
    const char *p = tpath("cat.idx.gz");
    write_raw(p, both, na + nc);
    lg_idx *x = NULL;
    assert_int_equal(lg_idx_load(p, &x), LG_OK);
    check_idx(x, 2, dims);
    lg_idx_free(x);
    /* Cut inside the second member: the count in the message spans both. */
    write_raw(p, both, na + 10);
    expect_load(p, LG_ERR_FORMAT, "gzip stream truncated after 100 decompressed bytes");
    free(b);
    free(ba);
    free(bc);
    free(both);
}

/* ---- rejections ---- */

/* Writes `len` bytes of a header and data both raw and gzip'd and expects both rejected. */
static void expect_both(const char *name, const uint8_t *b, size_t len, lg_status want,
                        const char *part)
{
    char gzname[64];
    snprintf(gzname, sizeof gzname, "%s.gz", name);
    const char *p = tpath(name);
    write_raw(p, b, len);
    expect_load(p, want, part);
    p = tpath(gzname);
    write_gz(p, b, len);
    expect_load(p, want, part);
}

static void test_idx_load_rejects_bad_magic(void **state)
{
    (void)state;
    const uint32_t dims[1] = {4};
    const uint8_t data[4] = {1, 2, 3, 4};
    size_t n;
    uint8_t *b = make_idx(0x08, 1, dims, data, 4, &n);
    b[0] = 0x12; /* not 00 00 */
    expect_both("magic.idx", b, n, LG_ERR_FORMAT, "bad magic 0x12000801");
    b[0] = 0;
    b[2] = 0x0A; /* no such IDX type */
    expect_both("magic2.idx", b, n, LG_ERR_FORMAT, "bad magic 0x00000a01");
    free(b);
    const uint8_t pk[8] = {'P', 'K', 3, 4, 0, 0, 0, 0}; /* a zip file, say */
    expect_both("zip.idx", pk, sizeof pk, LG_ERR_FORMAT, "bad magic");
}

static void test_idx_load_rejects_unsupported_types(void **state)
{
    (void)state;
    const uint32_t dims[1] = {2};
    const uint8_t data[8] = {0};
    const int types[5] = {0x09, 0x0B, 0x0C, 0x0D, 0x0E};
    const char *names[5] = {"signed byte", "int16", "int32", "float32", "float64"};
    for (int i = 0; i < 5; i++) {
        size_t n;
        uint8_t *b = make_idx(types[i], 1, dims, data, 8, &n);
        char part[64];
        snprintf(part, sizeof part, "0x%02X (%s) is not supported", types[i], names[i]);
        expect_both("type.idx", b, n, LG_ERR_UNSUPPORTED, part);
        free(b);
    }
}

static void test_idx_load_rejects_ndim_outside_1_to_4(void **state)
{
    (void)state;
    const uint32_t dims[5] = {1, 1, 1, 1, 1};
    const uint8_t data[1] = {9};
    size_t n;
    uint8_t *b = make_idx(0x08, 0, dims, data, 1, &n);
    expect_both("nd0.idx", b, n, LG_ERR_FORMAT, "0 dimensions in the magic (want 1 to 4)");
    free(b);
    b = make_idx(0x08, 5, dims, data, 1, &n);
    expect_both("nd5.idx", b, n, LG_ERR_FORMAT, "5 dimensions in the magic (want 1 to 4)");
    free(b);
}

static void test_idx_load_rejects_zero_and_huge_dimensions(void **state)
{
    (void)state;
    const uint32_t zero[2] = {3, 0}, neg[2] = {0x80000000u, 1};
    size_t n;
    uint8_t *b = make_idx(0x08, 2, zero, NULL, 0, &n);
    expect_both("zero.idx", b, n, LG_ERR_FORMAT, "dimension 1 is 0 (want 1 to 2147483647)");
    free(b);
    b = make_idx(0x08, 2, neg, NULL, 0, &n);
    expect_both("neg.idx", b, n, LG_ERR_FORMAT, "dimension 0 is 2147483648");
    free(b);
}

static void test_idx_load_rejects_truncated_header(void **state)
{
    (void)state;
    const uint32_t dims[3] = {2, 3, 4};
    size_t n;
    uint8_t *b = make_idx(0x08, 3, dims, NULL, 0, &n);
    expect_both("empty.idx", b, 0, LG_ERR_FORMAT, "0 bytes");
    expect_both("short.idx", b, 3, LG_ERR_FORMAT, "3 bytes");
    expect_both("hdr.idx", b, 10, LG_ERR_FORMAT,
                "header truncated: 3 dimensions need 16 header bytes, the file has 10");
    free(b);
}

static void test_idx_load_rejects_data_shorter_or_longer_than_header(void **state)
{
    (void)state;
    const uint32_t dims[3] = {2, 3, 4};
    uint8_t data[30] = {0};
    size_t n;
    uint8_t *b = make_idx(0x08, 3, dims, data, 20, &n);
    const char *p = tpath("trunc.idx");
    write_raw(p, b, n);
    expect_load(p, LG_ERR_FORMAT, "header says 2x3x4 = 24 bytes, file has 20 after the "
                                  "16-byte header");
    p = tpath("trunc.idx.gz");
    write_gz(p, b, n);
    expect_load(p, LG_ERR_FORMAT, "header says 2x3x4 = 24 bytes, the gzip data has 20");
    free(b);
    b = make_idx(0x08, 3, dims, data, 30, &n);
    p = tpath("long.idx");
    write_raw(p, b, n);
    expect_load(p, LG_ERR_FORMAT, "header says 2x3x4 = 24 bytes, file has 30");
    p = tpath("long.idx.gz");
    write_gz(p, b, n);
    expect_load(p, LG_ERR_FORMAT, "header says 2x3x4 = 24 bytes, the gzip data has more");
    free(b);
}

/* ---- lying headers and the allocator ---- */

/* A header claiming 1000x1000x1000 bytes (under the 2^31 cap) over 100 bytes of data: the
 * raw file is refused on its length before any data buffer; the gzip one reads into a
 * buffer that stays at the 1 MiB first size. Nothing stays allocated. */
static void test_idx_load_lying_header_does_not_drive_allocation(void **state)
{
    (void)state;
    const uint32_t dims[3] = {1000, 1000, 1000};
    uint8_t data[100] = {0};
    size_t n;
    uint8_t *b = make_idx(0x08, 3, dims, data, sizeof data, &n);
    const char *raw = tpath("liar.idx"), *gz = tpath("liar.idx.gz");
    write_raw(raw, b, n);
    write_gz(gz, b, n);
    free(b);
    counter c = {0};
    lg_allocator al = counter_allocator(&c);
    lg_set_allocator(&al);
    expect_load(raw, LG_ERR_FORMAT, "header says 1000x1000x1000 = 1000000000 bytes, file "
                                    "has 100");
    assert_int_equal(c.live, 0);
    assert_true(c.largest <= 64 * 1024);
    c = (counter){0};
    expect_load(gz, LG_ERR_FORMAT, "header says 1000x1000x1000 = 1000000000 bytes, the gzip "
                                   "data has 100");
    assert_int_equal(c.live, 0);
    assert_true(c.largest <= 64 * 1024);
    /* the first data buffer, the 64 KiB read chunk and zlib's state and 32 KiB window */
    assert_true(c.peak_bytes <= 64 * 1024 + 64 * 1024 + 64 * 1024);
    lg_set_allocator(NULL);
}

/* A header whose product passes LG_IDX_MAX_BYTES (here 65536 x 65536 = 2^32, and the
 * 2^31-1 x 2^31-1 x ... that would overflow 64 bits) is refused before any data buffer. */
static void test_idx_load_refuses_headers_over_the_size_cap(void **state)
{
    (void)state;
    const uint32_t big[2] = {65536, 65536};
    const uint32_t huge[4] = {0x7fffffffu, 0x7fffffffu, 0x7fffffffu, 0x7fffffffu};
    const uint32_t edge[2] = {32768, 65537}; /* 2^31 + 32768: one row over */
    counter c = {0};
    lg_allocator al = counter_allocator(&c);
    size_t n;
    uint8_t *b = make_idx(0x08, 2, big, NULL, 0, &n);
    lg_set_allocator(&al);
    expect_both("cap.idx", b, n, LG_ERR_FORMAT,
                "header says 65536x65536, more than the 2147483648-byte limit");
    free(b);
    b = make_idx(0x08, 4, huge, NULL, 0, &n);
    expect_both("cap4.idx", b, n, LG_ERR_FORMAT, "more than the 2147483648-byte limit");
    free(b);
    b = make_idx(0x08, 2, edge, NULL, 0, &n);
    expect_both("edge.idx", b, n, LG_ERR_FORMAT, "more than the 2147483648-byte limit");
    free(b);
    assert_int_equal(c.live, 0);
    assert_true(c.largest <= 64 * 1024);
    lg_set_allocator(NULL);
}

/* ---- damaged gzip streams ---- */

static void test_idx_load_rejects_truncated_or_corrupt_gzip(void **state)
{
    (void)state;
    const uint32_t dims[2] = {64, 64};
    const char *good = write_idx("good.idx.gz", true, 2, dims);
    size_t n;
    uint8_t *b = slurp(good, &n);
    assert_true(n > 40);
    /* Cut inside the deflate data, and just before the 8-byte CRC/length trailer. */
    const size_t cuts[3] = {n / 2, n - 8, n - 3};
    for (int i = 0; i < 3; i++) {
        const char *p = tpath("cut.idx.gz");
        write_raw(p, b, cuts[i]);
        expect_load(p, LG_ERR_FORMAT, "gzip stream truncated after");
    }
    /* A wrong CRC-32 in the trailer. */
    uint8_t *bad = malloc(n);
    assert_non_null(bad);
    memcpy(bad, b, n);
    bad[n - 8] ^= 0xff;
    const char *p = tpath("crc.idx.gz");
    write_raw(p, bad, n);
    expect_load(p, LG_ERR_FORMAT, "corrupt gzip stream");
    /* Garbage in the deflate data: either zlib says so or the CRC does. */
    memcpy(bad, b, n);
    for (size_t i = 12; i < n - 8; i += 3)
        bad[i] ^= 0x5a;
    write_raw(p, bad, n);
    expect_load(p, LG_ERR_FORMAT, NULL);
    /* Trailing bytes that are not another gzip member. */
    uint8_t *tail = malloc(n + 4);
    assert_non_null(tail);
    memcpy(tail, b, n);
    memcpy(tail + n, "junk", 4);
    write_raw(p, tail, n + 4);
    expect_load(p, LG_ERR_FORMAT, "corrupt gzip stream");
    /* Only the gzip magic. */
    write_raw(p, b, 2);
    expect_load(p, LG_ERR_FORMAT, "gzip stream truncated after 0");
    free(tail);
    free(bad);
    free(b);
}

/* ---- I/O and argument errors ---- */

static void test_idx_load_reports_io_and_argument_errors(void **state)
{
    (void)state;
    expect_load(tpath("no-such-file.idx"), LG_ERR_IO, "cannot open");
    char sub[300];
    snprintf(sub, sizeof sub, "%s/adir", g_dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    expect_load(sub, LG_ERR_IO, "is a directory");
    lg_idx *x = (lg_idx *)&x;
    assert_int_equal(lg_idx_load(NULL, &x), LG_ERR_ARG);
    assert_null(x);
    assert_non_null(strstr(lg_last_errmsg(), "lg_idx_load: path is NULL"));
    assert_int_equal(lg_idx_load("x", NULL), LG_ERR_ARG);
    assert_non_null(strstr(lg_last_errmsg(), "lg_idx_load: out is NULL"));
    lg_idx_free(NULL);
}

/* Every allocation failure gives LG_ERR_OOM and leaks nothing, raw and gzip. */
static void test_idx_load_survives_every_allocation_failure(void **state)
{
    (void)state;
    const uint32_t dims[2] = {5, 7}, ldims[1] = {5};
    const char *paths[4] = {write_idx("oom.idx", false, 2, dims),
                            write_idx("oom.idx.gz", true, 2, dims),
                            write_idx("oom-l.idx", false, 1, ldims),
                            write_idx("oom-l.idx.gz", true, 1, ldims)};
    counter c = {0};
    lg_allocator al = counter_allocator(&c);
    lg_set_allocator(&al);
    for (int i = 0; i < 2; i++) {
        c = (counter){0};
        lg_dataset d;
        assert_int_equal(lg_dataset_load(paths[i], paths[i + 2], &d), LG_OK);
        lg_dataset_free(&d);
        long calls = c.calls;
        assert_int_equal(c.live, 0);
        assert_true(calls >= 4);
        for (long k = 1; k <= calls; k++) {
            c = (counter){.fail_at = k};
            assert_int_equal(lg_dataset_load(paths[i], paths[i + 2], &d), LG_ERR_OOM);
            assert_null(d.images);
            assert_int_equal(c.live, 0);
        }
    }
    lg_set_allocator(NULL);
}

/* ---- datasets ---- */

static void write_labels(const char *path, int n, int mod)
{
    uint8_t *y = malloc((size_t)n);
    assert_non_null(y);
    for (int i = 0; i < n; i++)
        y[i] = (uint8_t)(i % mod);
    const uint32_t dims[1] = {(uint32_t)n};
    size_t total;
    uint8_t *b = make_idx(0x08, 1, dims, y, (size_t)n, &total);
    write_raw(path, b, total);
    free(b);
    free(y);
}

static void test_dataset_load_scales_pixels_and_reads_labels(void **state)
{
    (void)state;
    const uint32_t dims[3] = {6, 4, 5};
    const char *xi = write_idx("ds-x.idx.gz", true, 3, dims);
    const char *yi = tpath("ds-y.idx");
    write_labels(yi, 6, 4);
    lg_dataset d;
    assert_int_equal(lg_dataset_load(xi, yi, &d), LG_OK);
    assert_int_equal(d.n, 6);
    assert_int_equal(d.features, 20);
    assert_int_equal(d.sample_ndim, 2);
    assert_int_equal(d.sample_shape[0], 4);
    assert_int_equal(d.sample_shape[1], 5);
    assert_int_equal(d.num_classes, 4);
    assert_int_equal(lg_tensor_dtype(d.images), LG_F32);
    assert_int_equal(lg_tensor_ndim(d.images), 2);
    assert_int_equal(lg_tensor_shape(d.images)[0], 6);
    assert_int_equal(lg_tensor_shape(d.images)[1], 20);
    const float *px = lg_tensor_cdata(d.images);
    for (int i = 0; i < 120; i++)
        tu_assert_near(px[i], ((i * 7 + 3) % 256) / 255.0, 1e-7);
    assert_int_equal(lg_tensor_dtype(d.labels), LG_I32);
    assert_int_equal(lg_tensor_numel(d.labels), 6);
    const int32_t *dl = lg_tensor_cdata(d.labels);
    for (int i = 0; i < 6; i++)
        assert_int_equal(dl[i], i % 4);
    lg_dataset_free(&d);
    assert_null(d.images);
    lg_dataset_free(&d); /* zeroed: a second free is harmless */
    lg_dataset_free(NULL);
}

static void test_dataset_load_rejects_count_mismatch(void **state)
{
    (void)state;
    const uint32_t dims[3] = {6, 2, 2};
    const char *xi = write_idx("mm-x.idx", false, 3, dims);
    const char *yi = tpath("mm-y.idx");
    write_labels(yi, 5, 3);
    lg_dataset d;
    assert_int_equal(lg_dataset_load(xi, yi, &d), LG_ERR_FORMAT);
    assert_null(d.images);
    char want[600];
    snprintf(want, sizeof want, "lg_dataset_load: %s has 5 labels, %s has 6 images", yi, xi);
    assert_string_equal(lg_last_errmsg(), want);
    /* Labels must be 1-D: an images file given as labels. */
    assert_int_equal(lg_dataset_load(xi, xi, &d), LG_ERR_FORMAT);
    assert_non_null(strstr(lg_last_errmsg(), "labels have 3 dimensions, want 1"));
    /* The same checks on lg_idx values in memory. */
    lg_idx *x = NULL, *y = NULL;
    assert_int_equal(lg_idx_load(xi, &x), LG_OK);
    assert_int_equal(lg_idx_load(yi, &y), LG_OK);
    assert_int_equal(lg_dataset_from_idx(x, y, &d), LG_ERR_FORMAT);
    assert_string_equal(lg_last_errmsg(), "lg_dataset_from_idx: 5 labels for 6 images");
    assert_int_equal(lg_dataset_from_idx(x, x, &d), LG_ERR_FORMAT);
    assert_int_equal(lg_dataset_from_idx(NULL, y, &d), LG_ERR_ARG);
    assert_int_equal(lg_dataset_from_idx(x, NULL, &d), LG_ERR_ARG);
    assert_int_equal(lg_dataset_from_idx(x, y, NULL), LG_ERR_ARG);
    lg_idx blank = {0};
    assert_int_equal(lg_dataset_from_idx(&blank, y, &d), LG_ERR_ARG);
    assert_string_equal(lg_last_errmsg(), "lg_dataset_from_idx: images is not a valid lg_idx "
                                          "(see lg_idx_load)");
    lg_idx lying = *y;
    lying.dims[0] = 1000; /* bytes no longer the product of dims */
    assert_int_equal(lg_dataset_from_idx(x, &lying, &d), LG_ERR_ARG);
    lg_idx_free(x);
    lg_idx_free(y);
    /* Errors from the files themselves pass through. */
    assert_int_equal(lg_dataset_load(tpath("none-x"), yi, &d), LG_ERR_IO);
    assert_int_equal(lg_dataset_load(xi, tpath("none-y"), &d), LG_ERR_IO);
    assert_int_equal(lg_dataset_load(NULL, yi, &d), LG_ERR_ARG);
    assert_int_equal(lg_dataset_load(xi, NULL, &d), LG_ERR_ARG);
    assert_int_equal(lg_dataset_load(xi, yi, NULL), LG_ERR_ARG);
}

static void test_dataset_load_mnist_finds_plain_and_gz_names(void **state)
{
    (void)state;
    const uint32_t dims[3] = {3, 2, 2};
    write_idx("train-images-idx3-ubyte", false, 3, dims);
    write_idx("t10k-images-idx3-ubyte.gz", true, 3, dims);
    const char *lp = tpath("train-labels-idx1-ubyte");
    write_labels(lp, 3, 2);
    size_t n;
    uint8_t *b = slurp(lp, &n);
    write_gz(tpath("t10k-labels-idx1-ubyte.gz"), b, n);
    free(b);
    lg_dataset d;
    assert_int_equal(lg_dataset_load_mnist(g_dir, "train", &d), LG_OK);
    assert_int_equal(d.n, 3);
    lg_dataset_free(&d);
    assert_int_equal(lg_dataset_load_mnist(g_dir, "t10k", &d), LG_OK);
    assert_int_equal(d.n, 3);
    assert_int_equal(d.num_classes, 2);
    lg_dataset_free(&d);
    char empty[300];
    snprintf(empty, sizeof empty, "%s/empty", g_dir);
    assert_int_equal(mkdir(empty, 0700), 0);
    assert_int_equal(lg_dataset_load_mnist(empty, "train", &d), LG_ERR_IO);
    char want[600];
    snprintf(want, sizeof want, "lg_dataset_load_mnist: %s: no train-images-idx3-ubyte or "
             "train-images-idx3-ubyte.gz there", empty);
    assert_string_equal(lg_last_errmsg(), want);
    assert_int_equal(lg_dataset_load_mnist(g_dir, "test", &d), LG_ERR_ARG);
    assert_non_null(strstr(lg_last_errmsg(), "split \"test\""));
    assert_int_equal(lg_dataset_load_mnist(NULL, "train", &d), LG_ERR_ARG);
    assert_int_equal(lg_dataset_load_mnist(g_dir, NULL, &d), LG_ERR_ARG);
    assert_int_equal(lg_dataset_load_mnist(g_dir, "train", NULL), LG_ERR_ARG);
}

/* A small dataset held in memory: sample i has features (i*f + j) / 255 and label i % 10. */
static lg_dataset make_dataset(int n, int f)
{
    uint8_t *x = malloc((size_t)n * f), *y = malloc((size_t)n);
    assert_non_null(x);
    assert_non_null(y);
    for (int i = 0; i < n * f; i++)
        x[i] = (uint8_t)(i % 256);
    for (int i = 0; i < n; i++)
        y[i] = (uint8_t)(i % 10);
    lg_idx xi = {2, {n, f}, (size_t)n * f, x}, yi = {1, {n}, (size_t)n, y};
    lg_dataset d;
    assert_int_equal(lg_dataset_from_idx(&xi, &yi, &d), LG_OK);
    free(x);
    free(y);
    return d;
}

static void test_dataset_normalize_gives_zero_mean_unit_std(void **state)
{
    (void)state;
    lg_dataset d = make_dataset(40, 9);
    double mean, std;
    assert_int_equal(lg_dataset_mean_std(&d, &mean, &std), LG_OK);
    /* Bytes are 0..255 repeating over 360 values: a hand sum. */
    double s = 0, sq = 0;
    for (int i = 0; i < 360; i++)
        s += (i % 256) / 255.0;
    for (int i = 0; i < 360; i++)
        sq += ((i % 256) / 255.0 - s / 360) * ((i % 256) / 255.0 - s / 360);
    tu_assert_near(mean, s / 360, 1e-7);
    tu_assert_near(std, sqrt(sq / 360), 1e-7);
    assert_int_equal(lg_dataset_normalize(&d, mean, std), LG_OK);
    double m2, s2;
    assert_int_equal(lg_dataset_mean_std(&d, &m2, &s2), LG_OK);
    tu_assert_near(m2, 0.0, 1e-6);
    tu_assert_near(s2, 1.0, 1e-6);
    assert_int_equal(lg_dataset_normalize(&d, 0.5, 0.0), LG_ERR_ARG);
    assert_non_null(strstr(lg_last_errmsg(), "lg_dataset_normalize: mean 0.5, std 0"));
    assert_int_equal(lg_dataset_normalize(&d, 0.5, -1.0), LG_ERR_ARG);
    assert_int_equal(lg_dataset_normalize(&d, NAN, 1.0), LG_ERR_ARG);
    assert_int_equal(lg_dataset_normalize(&d, 0.0, INFINITY), LG_ERR_ARG);
    assert_int_equal(lg_dataset_normalize(NULL, 0.0, 1.0), LG_ERR_ARG);
    assert_int_equal(lg_dataset_mean_std(NULL, &mean, &std), LG_ERR_ARG);
    assert_int_equal(lg_dataset_mean_std(&d, NULL, &std), LG_ERR_ARG);
    assert_int_equal(lg_dataset_mean_std(&d, &mean, NULL), LG_ERR_ARG);
    lg_dataset_free(&d);
    assert_int_equal(lg_dataset_mean_std(&d, &mean, &std), LG_ERR_ARG);
}

/* ---- shuffling ---- */

static void test_data_shuffle_is_a_seeded_permutation(void **state)
{
    (void)state;
    enum { N = 1000 };
    int64_t a[N], b[N], c[N];
    lg_rng r;
    lg_rng_init(&r, 42);
    assert_int_equal(lg_data_shuffle(a, N, &r), LG_OK);
    assert_int_equal(r.counter, N - 1);
    int seen[N] = {0};
    for (int i = 0; i < N; i++) {
        assert_true(a[i] >= 0 && a[i] < N);
        seen[a[i]]++;
    }
    for (int i = 0; i < N; i++)
        assert_int_equal(seen[i], 1);
    int fixed = 0;
    for (int i = 0; i < N; i++)
        fixed += a[i] == i;
    assert_true(fixed < 10); /* a shuffle, not the identity (expected 1 fixed point) */
    lg_rng_init(&r, 42);
    memset(b, 0x7f, sizeof b); /* the result does not depend on what perm held */
    assert_int_equal(lg_data_shuffle(b, N, &r), LG_OK);
    assert_memory_equal(a, b, sizeof a);
    lg_rng_init(&r, 43);
    assert_int_equal(lg_data_shuffle(c, N, &r), LG_OK);
    assert_memory_not_equal(a, c, sizeof a);
    /* The next epoch (counter moved on) gives another order. */
    lg_rng_init(&r, 42);
    assert_int_equal(lg_data_shuffle(b, N, &r), LG_OK);
    assert_int_equal(lg_data_shuffle(b, N, &r), LG_OK);
    assert_memory_not_equal(a, b, sizeof a);

    /* Each of the 6 orders of 3 elements appears about equally often. */
    int counts[6] = {0};
    lg_rng_init(&r, 7);
    for (int t = 0; t < 6000; t++) {
        int64_t p[3];
        assert_int_equal(lg_data_shuffle(p, 3, &r), LG_OK);
        counts[p[0] * 2 + (p[1] > p[2])]++;
    }
    for (int k = 0; k < 6; k++)
        assert_true(counts[k] > 850 && counts[k] < 1150);

    assert_int_equal(lg_data_shuffle(NULL, 0, &r), LG_OK);
    assert_int_equal(lg_data_shuffle(a, 1, &r), LG_OK);
    assert_int_equal(a[0], 0);
    assert_int_equal(lg_data_shuffle(NULL, 3, &r), LG_ERR_ARG);
    assert_int_equal(lg_data_shuffle(a, 3, NULL), LG_ERR_ARG);
    assert_int_equal(lg_data_shuffle(a, -1, &r), LG_ERR_ARG);
    assert_non_null(strstr(lg_last_errmsg(), "lg_data_shuffle: n < 0"));
}

/* ---- mini-batches ---- */

static void test_dataset_batch_copies_permuted_rows_without_allocating(void **state)
{
    (void)state;
    enum { N = 23, F = 6, B = 5 };
    lg_dataset d = make_dataset(N, F);
    assert_int_equal(lg_data_num_batches(N, B), 5);
    assert_int_equal(lg_data_num_batches(20, 5), 4);
    assert_int_equal(lg_data_num_batches(0, 5), 0);
    assert_int_equal(lg_data_num_batches(5, 0), 0);
    int64_t perm[N];
    lg_rng r;
    lg_rng_init(&r, 1);
    assert_int_equal(lg_data_shuffle(perm, N, &r), LG_OK);
    lg_tensor *x = lg_tensor_new(LG_F32, 2, (int64_t[]){B, F});
    lg_tensor *tail = lg_tensor_new(LG_F64, 3, (int64_t[]){N % B, 2, 3});
    int32_t y[B];
    lg_tensor *yb = lg_tensor_wrap(LG_I32, 1, (int64_t[]){B}, y);
    lg_tensor *ytail = lg_tensor_wrap(LG_I32, 1, (int64_t[]){N % B}, y);
    counter c = {0};
    lg_allocator al = counter_allocator(&c);
    const float *src = lg_tensor_cdata(d.images);
    for (int64_t b = 0; b < lg_data_num_batches(N, B); b++) {
        lg_tensor *t = b < N / B ? x : tail;
        lg_set_allocator(&al);
        assert_int_equal(lg_dataset_batch(&d, perm, B, b, t, b < N / B ? yb : ytail), LG_OK);
        lg_set_allocator(NULL);
        int64_t rows = lg_tensor_shape(t)[0];
        for (int64_t i = 0; i < rows; i++) {
            int64_t k = perm[b * B + i];
            assert_int_equal(y[i], k % 10);
            for (int j = 0; j < F; j++)
                assert_true(lg_tensor_item(t, i * F + j) == (double)src[k * F + j]);
        }
    }
    assert_int_equal(c.calls, 0);
    /* NULL perm: in order; NULL y: no labels. */
    assert_int_equal(lg_dataset_batch(&d, NULL, B, 1, x, NULL), LG_OK);
    for (int j = 0; j < B * F; j++)
        assert_true(lg_tensor_item(x, j) == (double)src[B * F + j]);

    /* Errors. */
    assert_int_equal(lg_dataset_batch(&d, perm, B, 4, x, yb), LG_ERR_SHAPE); /* tail is 3 */
    assert_non_null(strstr(lg_last_errmsg(), "lg_dataset_batch: x is (5,6), batch 4 needs "
                                             "(3, ...) with 6 features per row"));
    lg_tensor *wrong = lg_tensor_new(LG_F32, 2, (int64_t[]){B, F + 1});
    assert_int_equal(lg_dataset_batch(&d, perm, B, 0, wrong, yb), LG_ERR_SHAPE);
    assert_int_equal(lg_dataset_batch(&d, perm, B, 5, x, yb), LG_ERR_ARG);
    assert_non_null(strstr(lg_last_errmsg(), "batch 5 of 5"));
    assert_int_equal(lg_dataset_batch(&d, perm, B, -1, x, yb), LG_ERR_ARG);
    assert_int_equal(lg_dataset_batch(&d, perm, 0, 0, x, yb), LG_ERR_ARG);
    assert_int_equal(lg_dataset_batch(NULL, perm, B, 0, x, yb), LG_ERR_ARG);
    assert_int_equal(lg_dataset_batch(&d, perm, B, 0, NULL, yb), LG_ERR_ARG);
    int64_t badperm[N];
    memcpy(badperm, perm, sizeof perm);
    badperm[7] = N;
    assert_int_equal(lg_dataset_batch(&d, badperm, B, 1, x, yb), LG_ERR_ARG);
    assert_non_null(strstr(lg_last_errmsg(), "perm[7] = 23, outside [0, 23)"));
    /* labels: a y of the wrong length or dtype is refused, i64 labels are filled */
    assert_int_equal(lg_dataset_batch(&d, perm, B, 0, x, ytail), LG_ERR_SHAPE);
    assert_non_null(strstr(lg_last_errmsg(), "y is (3), batch 0 needs (5)"));
    lg_tensor *yf = lg_tensor_new(LG_F32, 1, (int64_t[]){B});
    assert_int_equal(lg_dataset_batch(&d, perm, B, 0, x, yf), LG_ERR_DTYPE);
    lg_tensor *y64 = lg_tensor_new(LG_I64, 1, (int64_t[]){B});
    assert_int_equal(lg_dataset_batch(&d, perm, B, 0, x, y64), LG_OK);
    for (int i = 0; i < B; i++)
        assert_true(((const int64_t *)lg_tensor_cdata(y64))[i] == perm[i] % 10);
    lg_tensor *tv[6] = {wrong, x, tail, yb, ytail, yf};
    for (int i = 0; i < 6; i++)
        lg_tensor_free(tv[i]);
    lg_tensor_free(y64);
    lg_dataset_free(&d);
}

/* ---- the real Fashion-MNIST files (Debian's dataset-fashion-mnist) ---- */

#define FASHION_DIR "/usr/share/datasets/fashion-mnist"

static void test_dataset_loads_real_fashion_mnist(void **state)
{
    (void)state;
    if (access(FASHION_DIR "/train-images-idx3-ubyte.gz", R_OK) != 0) {
        print_message("skipped: " FASHION_DIR " not installed "
                      "(scripts/fetch-fashion-mnist.sh)\n");
        skip();
    }
    lg_idx *x = NULL;
    assert_int_equal(lg_idx_load(FASHION_DIR "/train-images-idx3-ubyte.gz", &x), LG_OK);
    assert_int_equal(x->ndim, 3);
    assert_int_equal(x->dims[0], 60000);
    assert_int_equal(x->dims[1], 28);
    assert_int_equal(x->dims[2], 28);
    lg_idx_free(x);
    const char *splits[2] = {"train", "t10k"};
    const int64_t counts[2] = {60000, 10000};
    for (int s = 0; s < 2; s++) {
        lg_dataset d;
        assert_int_equal(lg_dataset_load_mnist(FASHION_DIR, splits[s], &d), LG_OK);
        assert_int_equal(d.n, counts[s]);
        assert_int_equal(d.features, 784);
        assert_int_equal(d.num_classes, 10);
        int per_class[10] = {0};
        const int32_t *dl = lg_tensor_cdata(d.labels);
        for (int64_t i = 0; i < d.n; i++) {
            assert_true(dl[i] >= 0 && dl[i] < 10);
            per_class[dl[i]]++;
        }
        for (int k = 0; k < 10; k++) /* Fashion-MNIST is balanced */
            assert_int_equal(per_class[k], counts[s] / 10);
        double mean, std;
        assert_int_equal(lg_dataset_mean_std(&d, &mean, &std), LG_OK);
        /* The published training-set statistics: mean 0.2860, std 0.3530. */
        if (s == 0) {
            tu_assert_near(mean, 0.2860, 5e-4);
            tu_assert_near(std, 0.3530, 5e-4);
        }
        lg_dataset_free(&d);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idx_load_round_trips_raw_and_gzip),
        cmocka_unit_test(test_idx_load_reads_data_larger_than_its_buffers),
        cmocka_unit_test(test_idx_load_reads_concatenated_gzip_members),
        cmocka_unit_test(test_idx_load_rejects_bad_magic),
        cmocka_unit_test(test_idx_load_rejects_unsupported_types),
        cmocka_unit_test(test_idx_load_rejects_ndim_outside_1_to_4),
        cmocka_unit_test(test_idx_load_rejects_zero_and_huge_dimensions),
        cmocka_unit_test(test_idx_load_rejects_truncated_header),
        cmocka_unit_test(test_idx_load_rejects_data_shorter_or_longer_than_header),
        cmocka_unit_test(test_idx_load_lying_header_does_not_drive_allocation),
        cmocka_unit_test(test_idx_load_refuses_headers_over_the_size_cap),
        cmocka_unit_test(test_idx_load_rejects_truncated_or_corrupt_gzip),
        cmocka_unit_test(test_idx_load_reports_io_and_argument_errors),
        cmocka_unit_test(test_idx_load_survives_every_allocation_failure),
        cmocka_unit_test(test_dataset_load_scales_pixels_and_reads_labels),
        cmocka_unit_test(test_dataset_load_rejects_count_mismatch),
        cmocka_unit_test(test_dataset_load_mnist_finds_plain_and_gz_names),
        cmocka_unit_test(test_dataset_normalize_gives_zero_mean_unit_std),
        cmocka_unit_test(test_data_shuffle_is_a_seeded_permutation),
        cmocka_unit_test(test_dataset_batch_copies_permuted_rows_without_allocating),
        cmocka_unit_test(test_dataset_loads_real_fashion_mnist),
    };
    return cmocka_run_group_tests(tests, setup, tmp_teardown);
}
