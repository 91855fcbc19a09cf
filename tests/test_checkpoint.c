/* Checkpoint tests: bit-exact round trips, prefix (adapter) saves, mismatch messages, every
 * kind of hostile header written byte by byte, the data checksum, and interop with a
 * json + numpy safetensors reader/writer (tests/safetensors_interop.py; skipped without
 * /usr/bin/python3 and numpy). Saves killed mid-write are in test_checkpoint_crash.c. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include "test_util.h"
#include "test_alloc.h"
#include "test_tmp.h"
#include "lagrad/checkpoint.h"

static int setup(void **state)
{
    (void)state;
    return tmp_dir_make("ckpt");
}


/* Element i of the test pattern: one IEEE division, special values first. The same
 * formula is in safetensors_interop.py, so both sides agree to the bit. */
static double pattern(int64_t i, int salt, lg_dtype dt)
{
    const double special[5] = {-0.0, INFINITY, -INFINITY, NAN, dt == LG_F32 ? 1e-45 : 5e-324};
    if (i < 5)
        return special[i];
    return (double)((i * 7919 + salt * 104729) % 1000 - 500) / 37.0;
}

static void fill(lg_tensor *t, int salt)
{
    lg_dtype dt = lg_tensor_dtype(t);
    for (int64_t i = 0; i < lg_tensor_numel(t); i++) {
        if (dt == LG_F32)
            ((float *)lg_tensor_data(t))[i] = (float)pattern(i, salt, dt);
        else
            ((double *)lg_tensor_data(t))[i] = pattern(i, salt, dt);
    }
}

static void assert_filled(const lg_tensor *t, int salt)
{
    lg_tensor *want = lg_tensor_copy(t);
    assert_non_null(want);
    fill(want, salt);
    size_t bytes = (size_t)lg_tensor_numel(t) * lg_dtype_size(lg_tensor_dtype(t));
    if (bytes)
        assert_memory_equal(lg_tensor_cdata(t), lg_tensor_cdata(want), bytes);
    lg_tensor_free(want);
}

static bool all_zero(const lg_tensor *t)
{
    for (int64_t i = 0; i < lg_tensor_numel(t); i++)
        if (lg_tensor_item(t, i) != 0)
            return false;
    return true;
}

typedef struct pdef {
    const char *name;
    lg_dtype dt;
    int ndim;
    int64_t shape[3];
} pdef;

/* A two-layer model with an f64 part, a scalar and an empty tensor. */
static const pdef k_model[] = {
    {"fc1.weight", LG_F32, 2, {3, 4}}, {"fc1.bias", LG_F32, 1, {3}},
    {"fc2.weight", LG_F64, 2, {2, 3}}, {"scalar", LG_F64, 0, {0}},
    {"empty", LG_F32, 2, {0, 5}},
};
enum { N_MODEL = sizeof k_model / sizeof k_model[0] };

/* A store with the n parameters of defs, filled with the pattern (salt = index + 1) when
 * `filled`, zero otherwise. */
static lg_params *make_store(const pdef *defs, int n, bool filled)
{
    lg_params *p = lg_params_new();
    assert_non_null(p);
    for (int i = 0; i < n; i++)
        assert_non_null(lg_params_add(p, defs[i].name, defs[i].dt, defs[i].ndim, defs[i].shape));
    for (int i = 0; filled && i < n; i++)
        fill(lg_params_at(p, i), i + 1);
    return p;
}

static void write_bytes(const char *path, const void *buf, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* A file with header length `len` (little-endian), the header text, then `data` zero
 * bytes. */
static void craft_len(const char *path, uint64_t len, const char *header, size_t data)
{
    size_t h = strlen(header);
    unsigned char *buf = calloc(8 + h + data + 1, 1);
    assert_non_null(buf);
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)(len >> (8 * i));
    memcpy(buf + 8, header, h);
    write_bytes(path, buf, 8 + h + data);
    free(buf);
}

static void craft(const char *path, const char *header, size_t data)
{
    craft_len(path, strlen(header), header, data);
}

/* zlib's CRC-32 of the data section of the checkpoint at path, as 8 hex digits. */
static const char *file_data_crc(const char *path)
{
    static char hex[9];
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    unsigned char le[8];
    assert_int_equal(fread(le, 1, 8, f), 8);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = n << 8 | le[i];
    assert_int_equal(fseek(f, (long)(8 + n), SEEK_SET), 0);
    uLong crc = crc32(0L, Z_NULL, 0);
    unsigned char buf[4096];
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, f)) > 0)
        crc = crc32(crc, buf, (uInt)k);
    fclose(f);
    snprintf(hex, sizeof hex, "%08lx", (unsigned long)crc);
    return hex;
}

static void assert_msg_has(const char *part)
{
    if (!strstr(lg_last_errmsg(), part)) {
        print_error("message \"%s\" lacks \"%s\"\n", lg_last_errmsg(), part);
        fail();
    }
}

/* ---- round trips ---- */

static void test_checkpoint_round_trip_is_bit_exact(void **state)
{
    (void)state;
    lg_params *a = make_store(k_model, N_MODEL, true), *b = make_store(k_model, N_MODEL, false);
    const char *path = tpath("model.safetensors");
    const char *meta[] = {"epoch", "3", "note", "a \"quoted\"\nline"};
    assert_int_equal(lg_checkpoint_save(a, path, NULL, meta, 2), LG_OK);
    assert_int_equal(tmp_count_files(".tmp."), 0);
    assert_int_equal(lg_checkpoint_load(b, path, NULL, true), LG_OK);
    for (int i = 0; i < N_MODEL; i++)
        assert_filled(lg_params_at(b, i), i + 1);

    lg_checkpoint *c;
    assert_int_equal(lg_checkpoint_open(path, &c), LG_OK);
    assert_int_equal(lg_checkpoint_count(c), N_MODEL);
    for (int i = 0; i < N_MODEL; i++) {
        lg_checkpoint_tensor t;
        assert_int_equal(lg_checkpoint_info(c, i, &t), LG_OK);
        assert_string_equal(t.name, k_model[i].name);
        assert_string_equal(t.dtype_name, k_model[i].dt == LG_F32 ? "F32" : "F64");
        assert_true(t.supported);
        assert_int_equal(t.dtype, k_model[i].dt);
        assert_int_equal(t.ndim, k_model[i].ndim);
        for (int d = 0; d < t.ndim; d++)
            assert_int_equal(t.shape[d], k_model[i].shape[d]);
        assert_int_equal(t.nbytes, (size_t)t.numel * lg_dtype_size(t.dtype));
        assert_int_equal(lg_checkpoint_find(c, t.name), i);
    }
    assert_int_equal(lg_checkpoint_find(c, "nope"), -1);
    assert_int_equal(lg_checkpoint_metadata_count(c), 3); /* and the checksum */
    assert_string_equal(lg_checkpoint_metadata_get(c, "epoch"), "3");
    assert_string_equal(lg_checkpoint_metadata_get(c, "note"), "a \"quoted\"\nline");
    assert_null(lg_checkpoint_metadata_get(c, "missing"));
    const char *k, *v;
    assert_int_equal(lg_checkpoint_metadata_at(c, 1, &k, &v), LG_OK);
    assert_string_equal(k, "note");
    assert_int_equal(lg_checkpoint_metadata_at(c, 2, &k, &v), LG_OK);
    assert_string_equal(k, LG_CHECKPOINT_CRC_KEY);
    char crc[9];
    snprintf(crc, sizeof crc, "%s", v);

    /* the lower-level reader fills a caller tensor */
    lg_tensor *w = lg_tensor_new(LG_F64, 2, (int64_t[]){2, 3});
    assert_int_equal(lg_checkpoint_read(c, "fc2.weight", w), LG_OK);
    assert_filled(w, 3);
    lg_tensor_free(w);
    lg_checkpoint_close(c);
    lg_checkpoint_close(NULL);

    /* the header length is a multiple of 8 and the file is exactly header + data */
    FILE *f = fopen(path, "rb");
    unsigned char le[8];
    assert_int_equal(fread(le, 1, 8, f), 8);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = n << 8 | le[i];
    assert_int_equal(n % 8, 0);
    assert_int_equal((uint64_t)size, 8 + n + 12 * 4 + 3 * 4 + 6 * 8 + 8);
    /* the checksum is zlib's CRC-32 of those data bytes, recomputed here from the file */
    assert_string_equal(crc, file_data_crc(path));
    lg_params_free(a);
    lg_params_free(b);
}

static void test_checkpoint_save_overwrites_and_empty_store_round_trips(void **state)
{
    (void)state;
    const char *path = tpath("over.safetensors");
    lg_params *a = make_store(k_model, N_MODEL, true), *e = lg_params_new();
    assert_int_equal(lg_checkpoint_save(a, path, NULL, NULL, 0), LG_OK);
    assert_int_equal(lg_checkpoint_save(e, path, NULL, NULL, 0), LG_OK);
    lg_checkpoint *c;
    assert_int_equal(lg_checkpoint_open(path, &c), LG_OK);
    assert_int_equal(lg_checkpoint_count(c), 0);
    assert_int_equal(lg_checkpoint_metadata_count(c), 1);
    /* no data: the CRC-32 of zero bytes */
    assert_string_equal(lg_checkpoint_metadata_get(c, LG_CHECKPOINT_CRC_KEY), "00000000");
    lg_checkpoint_close(c);
    assert_int_equal(lg_checkpoint_load(e, path, NULL, true), LG_OK);
    lg_params_free(a);
    lg_params_free(e);
}

static void test_checkpoint_prefix_saves_and_loads_only_the_adapter(void **state)
{
    (void)state;
    static const pdef lora[] = {
        {"base.weight", LG_F32, 2, {4, 3}}, {"lora.A", LG_F32, 2, {2, 3}},
        {"lora.B", LG_F32, 2, {4, 2}},
    };
    lg_params *a = make_store(lora, 3, true), *b = make_store(lora, 3, false);
    const char *path = tpath("adapter.safetensors");
    assert_int_equal(lg_checkpoint_save(a, path, "lora.", NULL, 0), LG_OK);
    lg_checkpoint *c;
    assert_int_equal(lg_checkpoint_open(path, &c), LG_OK);
    assert_int_equal(lg_checkpoint_count(c), 2);
    assert_int_equal(lg_checkpoint_find(c, "base.weight"), -1);
    lg_checkpoint_close(c);

    assert_int_equal(lg_checkpoint_load(b, path, "lora.", true), LG_OK);
    assert_true(all_zero(lg_params_get(b, "base.weight")));
    assert_filled(lg_params_get(b, "lora.A"), 2);
    assert_filled(lg_params_get(b, "lora.B"), 3);

    /* a full load needs the base too */
    assert_int_equal(lg_checkpoint_load(b, path, NULL, false), LG_ERR_FORMAT);
    assert_msg_has("base.weight");
    /* a full file loads into the adapter alone; strict only looks under the prefix */
    const char *full = tpath("full.safetensors");
    assert_int_equal(lg_checkpoint_save(a, full, "", NULL, 0), LG_OK);
    lg_params *only = make_store(lora + 1, 2, false);
    assert_int_equal(lg_checkpoint_load(only, full, "lora.", true), LG_OK);
    assert_filled(lg_params_get(only, "lora.B"), 3);
    assert_int_equal(lg_checkpoint_load(only, full, NULL, true), LG_ERR_FORMAT);
    assert_msg_has("'base.weight' (4,3), which the store lacks");

    /* a prefix that matches nothing is an error, not an empty file */
    assert_int_equal(lg_checkpoint_save(a, tpath("none.safetensors"), "lroa.", NULL, 0),
                     LG_ERR_ARG);
    assert_msg_has("lroa.");
    assert_int_equal(tmp_count_files("none"), 0);
    assert_int_equal(lg_checkpoint_load(b, path, "lroa.", false), LG_ERR_ARG);
    lg_params_free(a);
    lg_params_free(b);
    lg_params_free(only);
}

/* ---- a checkpoint from a different architecture ---- */

/* Saves k_model, then loads it into a store that differs in parameter `which`. */
static lg_status load_into_variant(int which, pdef changed, bool strict, lg_params **out)
{
    const char *path = tpath("arch.safetensors");
    lg_params *a = make_store(k_model, N_MODEL, true);
    assert_int_equal(lg_checkpoint_save(a, path, NULL, NULL, 0), LG_OK);
    lg_params_free(a);
    pdef defs[N_MODEL + 1];
    memcpy(defs, k_model, sizeof k_model);
    int n = N_MODEL;
    if (which < N_MODEL)
        defs[which] = changed;
    else
        defs[n++] = changed;
    *out = make_store(defs, n, false);
    return lg_checkpoint_load(*out, path, NULL, strict);
}

static void test_checkpoint_load_rejects_other_shapes_naming_tensor_and_shapes(void **state)
{
    (void)state;
    lg_params *b;
    assert_int_equal(load_into_variant(2, (pdef){"fc2.weight", LG_F64, 2, {3, 2}}, false, &b),
                     LG_ERR_SHAPE);
    assert_msg_has("lg_checkpoint_load: ");
    assert_msg_has("arch.safetensors");
    assert_msg_has("tensor 'fc2.weight' has shape (2,3) in the file but (3,2) in the store");
    /* nothing was loaded, not even the tensors before the bad one */
    for (int i = 0; i < N_MODEL; i++)
        assert_true(all_zero(lg_params_at(b, i)));
    lg_params_free(b);
    assert_int_equal(load_into_variant(3, (pdef){"scalar", LG_F64, 1, {1}}, false, &b),
                     LG_ERR_SHAPE);
    assert_msg_has("'scalar' has shape () in the file but (1) in the store");
    lg_params_free(b);
}

static void test_checkpoint_load_rejects_other_dtypes(void **state)
{
    (void)state;
    lg_params *b;
    assert_int_equal(load_into_variant(1, (pdef){"fc1.bias", LG_F64, 1, {3}}, false, &b),
                     LG_ERR_DTYPE);
    assert_msg_has("tensor 'fc1.bias' is F32 in the file but F64 in the store");
    lg_params_free(b);
}

static void test_checkpoint_load_rejects_missing_tensors(void **state)
{
    (void)state;
    lg_params *b;
    assert_int_equal(load_into_variant(N_MODEL, (pdef){"fc3.weight", LG_F32, 2, {5, 2}}, false,
                                       &b), LG_ERR_FORMAT);
    assert_msg_has("the file has no tensor 'fc3.weight' (F32 (5,2) in the store)");
    lg_params_free(b);
}

static void test_checkpoint_strict_load_rejects_extra_tensors(void **state)
{
    (void)state;
    /* a store without fc1.bias: strict refuses, lenient loads the rest */
    lg_params *b;
    pdef renamed = {"fc1.bias2", LG_F32, 1, {3}};
    assert_int_equal(load_into_variant(1, renamed, true, &b), LG_ERR_FORMAT);
    lg_params_free(b);
    pdef defs[N_MODEL - 1] = {k_model[0], k_model[2], k_model[3], k_model[4]};
    b = make_store(defs, N_MODEL - 1, false);
    const char *path = tpath("arch.safetensors");
    assert_int_equal(lg_checkpoint_load(b, path, NULL, true), LG_ERR_FORMAT);
    assert_msg_has("the file has tensor 'fc1.bias' (3), which the store lacks (strict load)");
    assert_true(all_zero(lg_params_get(b, "fc1.weight")));
    assert_int_equal(lg_checkpoint_load(b, path, NULL, false), LG_OK);
    assert_filled(lg_params_get(b, "fc1.weight"), 1);
    assert_filled(lg_params_get(b, "fc2.weight"), 3);
    lg_params_free(b);
}

static void test_checkpoint_reader_reports_each_error(void **state)
{
    (void)state;
    lg_params *a = make_store(k_model, N_MODEL, true);
    const char *path = tpath("reader.safetensors");
    assert_int_equal(lg_checkpoint_save(a, path, NULL, NULL, 0), LG_OK);
    lg_params_free(a);
    lg_checkpoint *c;
    assert_int_equal(lg_checkpoint_open(NULL, &c), LG_ERR_ARG);
    assert_int_equal(lg_checkpoint_open(path, NULL), LG_ERR_ARG);
    assert_int_equal(lg_checkpoint_open(path, &c), LG_OK);
    lg_tensor *t34 = lg_tensor_new(LG_F32, 2, (int64_t[]){3, 4});
    lg_tensor *t43 = lg_tensor_new(LG_F32, 2, (int64_t[]){4, 3});
    lg_tensor *d34 = lg_tensor_new(LG_F64, 2, (int64_t[]){3, 4});
    assert_int_equal(lg_checkpoint_read(c, "fc9", t34), LG_ERR_FORMAT);
    assert_msg_has("lg_checkpoint_read: ");
    assert_msg_has("no tensor named 'fc9'");
    assert_int_equal(lg_checkpoint_read(c, "fc1.weight", t43), LG_ERR_SHAPE);
    assert_msg_has("'fc1.weight' has shape (3,4) in the file but (4,3) in the destination");
    assert_int_equal(lg_checkpoint_read(c, "fc1.weight", d34), LG_ERR_DTYPE);
    assert_msg_has("'fc1.weight' is F32 in the file but F64 in the destination");
    assert_int_equal(lg_checkpoint_read(c, "fc1.weight", NULL), LG_ERR_ARG);
    assert_int_equal(lg_checkpoint_read(NULL, "fc1.weight", t34), LG_ERR_ARG);
    lg_checkpoint_tensor info;
    assert_int_equal(lg_checkpoint_info(c, N_MODEL, &info), LG_ERR_ARG);
    assert_int_equal(lg_checkpoint_info(c, -1, &info), LG_ERR_ARG);
    assert_int_equal(lg_checkpoint_info(c, 0, NULL), LG_ERR_ARG);
    const char *k, *v;
    assert_int_equal(lg_checkpoint_metadata_at(c, 1, &k, &v), LG_ERR_ARG); /* only the CRC */
    assert_int_equal(lg_checkpoint_count(NULL), 0);
    assert_int_equal(lg_checkpoint_find(NULL, "x"), -1);
    lg_checkpoint_close(c);
    lg_tensor_free(t34);
    lg_tensor_free(t43);
    lg_tensor_free(d34);
}

static void test_checkpoint_other_safetensors_dtypes_list_but_do_not_read(void **state)
{
    (void)state;
    const char *path = tpath("bf16.safetensors");
    craft(path, "{\"w\":{\"dtype\":\"BF16\",\"shape\":[2,3],\"data_offsets\":[0,12]},"
                "\"i\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[12,20]}}", 20);
    lg_checkpoint *c;
    assert_int_equal(lg_checkpoint_open(path, &c), LG_OK);
    lg_checkpoint_tensor t;
    assert_int_equal(lg_checkpoint_info(c, 0, &t), LG_OK);
    assert_string_equal(t.dtype_name, "BF16");
    assert_false(t.supported);
    assert_int_equal(t.nbytes, 12);
    lg_tensor *dst = lg_tensor_new(LG_F32, 2, (int64_t[]){2, 3});
    assert_int_equal(lg_checkpoint_read(c, "w", dst), LG_ERR_UNSUPPORTED);
    assert_msg_has("'w' is BF16; lagrad reads F32, F64, I32 and I64 as they are");
    lg_checkpoint_close(c);
    lg_params *p = lg_params_new();
    lg_params_add(p, "w", LG_F32, 2, (int64_t[]){2, 3});
    assert_int_equal(lg_checkpoint_load(p, path, NULL, false), LG_ERR_DTYPE);
    assert_msg_has("'w' is BF16 in the file but F32 in the store");
    lg_params_free(p);
    lg_tensor_free(dst);
}

/* ---- hostile files ---- */

typedef struct hostile {
    const char *header; /* written with its own length unless len is set */
    size_t data;        /* zero bytes after the header */
    lg_status want;
    const char *says;
} hostile;

#define T(dt, shape, offs) "{\"dtype\":\"" dt "\",\"shape\":" shape ",\"data_offsets\":" offs "}"

static const hostile k_hostile[] = {
    {"{\"a\":" T("F32", "[2]", "[0,8]"), 8, LG_ERR_FORMAT, "not valid JSON"},
    {"{\"a\":" T("F32", "[2]", "[0,8]") "} x", 8, LG_ERR_FORMAT, "not valid JSON"},
    {"{\"a\":" T("F32", "[2]", "[0,8]") ",}", 8, LG_ERR_FORMAT, "not valid JSON"},
    {"[1,2]", 0, LG_ERR_FORMAT, "not a JSON object"},
    {"\"str\"", 0, LG_ERR_FORMAT, "not a JSON object"},
    {"{\"a\":3}", 0, LG_ERR_FORMAT, "tensor 'a' is not a JSON object"},
    {"{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, LG_ERR_FORMAT, "no string \"dtype\""},
    {"{\"a\":" T("Q7", "[1]", "[0,4]") "}", 4, LG_ERR_UNSUPPORTED, "dtype \"Q7\""},
    {"{\"a\":" T("f32", "[1]", "[0,4]") "}", 4, LG_ERR_UNSUPPORTED, "dtype \"f32\""},
    {"{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, LG_ERR_FORMAT, "no \"shape\""},
    {"{\"a\":" T("F32", "[-1,2]", "[0,4]") "}", 4, LG_ERR_FORMAT, "not a non-negative integer"},
    {"{\"a\":" T("F32", "[2,1.5]", "[0,12]") "}", 12, LG_ERR_FORMAT, "not a non-negative integer"},
    {"{\"a\":" T("F32", "[\"2\"]", "[0,8]") "}", 8, LG_ERR_FORMAT, "dimension 0 is not"},
    {"{\"a\":" T("F32", "[1e300]", "[0,8]") "}", 8, LG_ERR_FORMAT, "not a non-negative integer"},
    {"{\"a\":" T("F32", "[18446744073709551616]", "[0,8]") "}", 8, LG_ERR_FORMAT,
     "dimension 0 is not"},
    {"{\"a\":" T("F32", "[4294967296,4294967296,4294967296]", "[0,8]") "}", 8, LG_ERR_FORMAT,
     "too many elements"},
    /* empty, but its strides would overflow (found by fuzz_safetensors) */
    {"{\"a\":" T("F32", "[0,9007199254740992,9007199254740992,4]", "[0,0]") "}", 0,
     LG_ERR_FORMAT, "too many elements"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, LG_ERR_FORMAT, "needs \"data_offsets\""},
    {"{\"a\":" T("F32", "[2]", "[0]") "}", 8, LG_ERR_FORMAT, "needs \"data_offsets\""},
    {"{\"a\":" T("F32", "[2]", "[0,8,16]") "}", 8, LG_ERR_FORMAT, "needs \"data_offsets\""},
    {"{\"a\":" T("F32", "[2]", "[-8,0]") "}", 8, LG_ERR_FORMAT, "not a non-negative integer"},
    {"{\"a\":" T("F32", "[2]", "[0,1000]") "}", 8, LG_ERR_FORMAT,
     "data_offsets [0, 1000] out of range (the data section has 8 bytes)"},
    {"{\"a\":" T("F32", "[2]", "[8,0]") "}", 8, LG_ERR_FORMAT, "out of range"},
    {"{\"a\":" T("F32", "[2]", "[0,9007199254740992]") "}", 8, LG_ERR_FORMAT, "out of range"},
    {"{\"a\":" T("F32", "[2,2]", "[0,12]") "}", 12, LG_ERR_FORMAT,
     "data_offsets span 12 bytes, but F32 (2,2) needs 16"},
    {"{\"a\":" T("F64", "[2]", "[0,8]") "}", 8, LG_ERR_FORMAT, "F64 (2) needs 16"},
    {"{\"a\":" T("F32", "[4]", "[0,16]") ",\"b\":" T("F32", "[4]", "[8,24]") "}", 24,
     LG_ERR_FORMAT, "data of tensors 'a' and 'b' overlap"},
    {"{\"a\":" T("F32", "[4]", "[0,16]") ",\"b\":" T("F32", "[0]", "[8,8]") "}", 16,
     LG_ERR_FORMAT, "overlap"},
    {"{\"a\":" T("F32", "[2]", "[0,8]") ",\"b\":" T("F32", "[2]", "[16,24]") "}", 24,
     LG_ERR_FORMAT, "data bytes [8, 16) belong to no tensor"},
    {"{\"a\":" T("F32", "[2]", "[0,8]") "}", 16, LG_ERR_FORMAT,
     "the data section has 16 bytes but the tensors cover 8"},
    {"{}", 8, LG_ERR_FORMAT, "8 bytes of data but no tensors"},
    {"{\"a\":" T("F32", "[1]", "[0,4]") ",\"a\":" T("F32", "[1]", "[4,8]") "}", 8,
     LG_ERR_FORMAT, "tensor 'a' appears twice"},
    {"{\"__metadata__\":[1]}", 0, LG_ERR_FORMAT, "\"__metadata__\" is not an object"},
    {"{\"__metadata__\":{\"k\":1}}", 0, LG_ERR_FORMAT, "metadata value of \"k\" is not a string"},
    {"{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0, LG_ERR_FORMAT, "key 'k' appears twice"},
    {"{\"__metadata__\":{},\"__metadata__\":{}}", 0, LG_ERR_FORMAT, "appears twice"},
};

static void expect_bad(const char *path, lg_status want, const char *says)
{
    static int dummy;
    lg_checkpoint *c = (lg_checkpoint *)(void *)&dummy; /* must be reset to NULL */
    lg_status s = lg_checkpoint_open(path, &c);
    if (s != want) {
        print_error("%s: got %s (%s), want %s\n", path, lg_status_str(s), lg_last_errmsg(),
                    lg_status_str(want));
        fail();
    }
    assert_null(c);
    assert_msg_has("lg_checkpoint_open: ");
    assert_msg_has(path);
    assert_msg_has(says);
    /* a load reports the same, under its own name, and leaves the store alone */
    lg_params *p = make_store(k_model, 1, false);
    assert_int_equal(lg_checkpoint_load(p, path, NULL, false), want);
    assert_msg_has("lg_checkpoint_load: ");
    assert_msg_has(says);
    assert_true(all_zero(lg_params_at(p, 0)));
    lg_params_free(p);
}

static void test_checkpoint_open_rejects_hostile_headers(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof k_hostile / sizeof k_hostile[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "hostile%zu", i);
        const char *path = tpath(name);
        craft(path, k_hostile[i].header, k_hostile[i].data);
        expect_bad(path, k_hostile[i].want, k_hostile[i].says);
        unlink(path);
    }
}

static void test_checkpoint_open_rejects_bad_lengths_and_bytes(void **state)
{
    (void)state;
    const char *path = tpath("short");
    write_bytes(path, "abc", 3);
    expect_bad(path, LG_ERR_FORMAT, "the file has 3 bytes, too few");
    write_bytes(path, "", 0);
    expect_bad(path, LG_ERR_FORMAT, "the file has 0 bytes");

    const char *hdr = "{\"a\":" T("F32", "[2]", "[0,8]") "}";
    craft_len(path, 1000, hdr, 8);
    expect_bad(path, LG_ERR_FORMAT, "header length 1000 runs past the end of the file");
    craft_len(path, UINT64_MAX, hdr, 8);
    expect_bad(path, LG_ERR_FORMAT, "header length 18446744073709551615 is above the limit");
    craft_len(path, strlen(hdr) - 3, hdr, 8); /* the JSON is cut short */
    expect_bad(path, LG_ERR_FORMAT, "not valid JSON");
    craft_len(path, 0, "", 0);
    expect_bad(path, LG_ERR_FORMAT, "not valid JSON");
    /* the data is cut short: the offsets now point past the end */
    craft(path, hdr, 5);
    expect_bad(path, LG_ERR_FORMAT, "out of range (the data section has 5 bytes)");

    /* a header length just above the cap in a (sparse) file that long: refused before any
     * allocation */
    craft_len(path, LG_CHECKPOINT_MAX_HEADER + 1ull, hdr, 8);
    assert_int_equal(truncate(path, LG_CHECKPOINT_MAX_HEADER + 64ll), 0);
    expect_bad(path, LG_ERR_FORMAT, "header length 100000001 is above the limit of 100000000");

    /* a NUL inside the header */
    char buf[64] = "{\"__metadata__\":{\"k\":\"v\"}}";
    size_t n = strlen(buf);
    buf[5] = '\0';
    unsigned char file[8 + 64] = {(unsigned char)n};
    memcpy(file + 8, buf, n);
    write_bytes(path, file, 8 + n);
    expect_bad(path, LG_ERR_FORMAT, "holds a NUL byte");

    /* 65 dimensions of 1 */
    char many[256] = "{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4],\"shape\":[1";
    for (int i = 1; i < 65; i++)
        strcat(many, ",1");
    strcat(many, "]}}");
    craft(path, many, 4);
    expect_bad(path, LG_ERR_FORMAT, "tensor 'a' has 65 dimensions (at most 64)");

    /* nesting deeper than cJSON's limit: an error, not a stack overflow */
    enum { DEPTH = 100000 };
    char *deep = malloc(2 * DEPTH + 16);
    assert_non_null(deep);
    size_t k = 0;
    deep[k++] = '{';
    memcpy(deep + k, "\"a\":", 4);
    k += 4;
    for (int i = 0; i < DEPTH; i++)
        deep[k++] = '[';
    for (int i = 0; i < DEPTH; i++)
        deep[k++] = ']';
    deep[k++] = '}';
    deep[k] = '\0';
    craft(path, deep, 0);
    free(deep);
    expect_bad(path, LG_ERR_FORMAT, "not valid JSON");
    unlink(path);
}

/* Header padding with spaces is valid, as the format allows. */
static void test_checkpoint_open_accepts_space_padding(void **state)
{
    (void)state;
    const char *path = tpath("padded");
    craft(path, "{\"a\":" T("F32", "[2]", "[0,8]") "}       ", 8);
    lg_checkpoint *c;
    assert_int_equal(lg_checkpoint_open(path, &c), LG_OK);
    assert_int_equal(lg_checkpoint_count(c), 1);
    lg_checkpoint_close(c);
}

/* ---- I/O ---- */

static void test_checkpoint_io_errors_name_the_path(void **state)
{
    (void)state;
    lg_checkpoint *c;
    const char *missing = tpath("no-such-file");
    assert_int_equal(lg_checkpoint_open(missing, &c), LG_ERR_IO);
    assert_msg_has("no-such-file: cannot open");
    assert_int_equal(lg_checkpoint_open(g_dir, &c), LG_ERR_IO);
    assert_msg_has("not a regular file");

    lg_params *a = make_store(k_model, N_MODEL, true);
    assert_int_equal(lg_checkpoint_save(a, tpath("no-dir/x.safetensors"), NULL, NULL, 0),
                     LG_ERR_IO);
    assert_msg_has("cannot create");
    assert_msg_has("no-dir/x.safetensors.tmp.");
    /* the target is a directory: the rename fails and the temporary file goes away */
    const char *dir = tpath("a-directory");
    assert_int_equal(mkdir(dir, 0700), 0);
    assert_int_equal(lg_checkpoint_save(a, dir, NULL, NULL, 0), LG_ERR_IO);
    assert_msg_has("cannot rename");
    assert_int_equal(tmp_count_files(".tmp."), 0);
    assert_int_equal(rmdir(dir), 0);
    lg_params_free(a);
}

static void test_checkpoint_save_rejects_bad_arguments(void **state)
{
    (void)state;
    lg_params *a = make_store(k_model, N_MODEL, true);
    const char *path = tpath("args.safetensors");
    assert_int_equal(lg_checkpoint_save(NULL, path, NULL, NULL, 0), LG_ERR_ARG);
    assert_int_equal(lg_checkpoint_save(a, NULL, NULL, NULL, 0), LG_ERR_ARG);
    assert_int_equal(lg_checkpoint_save(a, path, NULL, NULL, 1), LG_ERR_ARG);
    const char *nullval[] = {"k", NULL};
    assert_int_equal(lg_checkpoint_save(a, path, NULL, nullval, 1), LG_ERR_ARG);
    const char *dup[] = {"k", "1", "k", "2"};
    assert_int_equal(lg_checkpoint_save(a, path, NULL, dup, 2), LG_ERR_ARG);
    assert_msg_has("metadata key 'k' given twice");
    const char *crc[] = {LG_CHECKPOINT_CRC_KEY, "00000000"};
    assert_int_equal(lg_checkpoint_save(a, path, NULL, crc, 1), LG_ERR_ARG);
    assert_msg_has("'" LG_CHECKPOINT_CRC_KEY "' is reserved");
    assert_non_null(lg_params_add(a, "__metadata__", LG_F32, 1, (int64_t[]){1}));
    assert_int_equal(lg_checkpoint_save(a, path, NULL, NULL, 0), LG_ERR_ARG);
    assert_msg_has("'__metadata__'");
    assert_int_equal(tmp_count_files("args"), 0);
    assert_int_equal(lg_checkpoint_load(NULL, path, NULL, false), LG_ERR_ARG);
    assert_int_equal(lg_checkpoint_load(a, NULL, NULL, false), LG_ERR_ARG);
    lg_params_free(a);
}

/* ---- the data checksum ---- */

/* Flips bit `bit` of the byte at `off` in the file. */
static void flip_bit(const char *path, long off, int bit)
{
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, off, SEEK_SET), 0);
    int c = fgetc(f);
    assert_true(c != EOF);
    assert_int_equal(fseek(f, off, SEEK_SET), 0);
    assert_int_equal(fputc(c ^ (1 << bit), f), c ^ (1 << bit));
    assert_int_equal(fclose(f), 0);
}

static void test_checkpoint_checksum_detects_a_flipped_data_bit(void **state)
{
    (void)state;
    const char *path = tpath("crc.safetensors");
    lg_params *a = make_store(k_model, N_MODEL, true);
    assert_int_equal(lg_checkpoint_save(a, path, NULL, NULL, 0), LG_OK);
    char good[9];
    snprintf(good, sizeof good, "%s", file_data_crc(path));
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    /* the last byte of the data: the top of scalar's f64, a silent change otherwise */
    flip_bit(path, (long)st.st_size - 1, 3);
    char bad[9];
    snprintf(bad, sizeof bad, "%s", file_data_crc(path));
    lg_checkpoint *c = (lg_checkpoint *)&c;
    assert_int_equal(lg_checkpoint_open(path, &c), LG_ERR_FORMAT);
    assert_null(c);
    assert_msg_has(path);
    char want[96];
    snprintf(want, sizeof want, "says %s, the 116 data bytes give %s", good, bad);
    assert_msg_has(want);
    /* load refuses it too and leaves the store as it was */
    lg_params *b = make_store(k_model, N_MODEL, false);
    assert_int_equal(lg_checkpoint_load(b, path, NULL, true), LG_ERR_FORMAT);
    assert_msg_has("lg_checkpoint_load: ");
    assert_msg_has("the data is corrupt");
    for (int i = 0; i < N_MODEL; i++)
        assert_true(all_zero(lg_params_at(b, i)));
    /* flipping it back restores the file */
    flip_bit(path, (long)st.st_size - 1, 3);
    assert_int_equal(lg_checkpoint_load(b, path, NULL, true), LG_OK);
    for (int i = 0; i < N_MODEL; i++)
        assert_filled(lg_params_at(b, i), i + 1);
    lg_params_free(a);
    lg_params_free(b);
}

static void test_checkpoint_checksum_must_be_8_hex_digits(void **state)
{
    (void)state;
    const char *path = tpath("crcfmt.safetensors");
    static const char *bad[] = {"", "0000000", "000000000", "0000000g", " 0000000", "-1"};
    char h[256];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(h, sizeof h, "{\"__metadata__\":{\"%s\":\"%s\"}}", LG_CHECKPOINT_CRC_KEY,
                 bad[i]);
        craft(path, h, 0);
        lg_checkpoint *c;
        assert_int_equal(lg_checkpoint_open(path, &c), LG_ERR_FORMAT);
        assert_msg_has("not 8 hex digits");
    }
    /* upper-case digits are accepted; the CRC-32 of 4 zero bytes is 2144df1c (zlib) */
    snprintf(h, sizeof h, "{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
             "\"__metadata__\":{\"%s\":\"2144DF1C\"}}", LG_CHECKPOINT_CRC_KEY);
    craft(path, h, 4);
    lg_checkpoint *c;
    assert_int_equal(lg_checkpoint_open(path, &c), LG_OK);
    lg_checkpoint_close(c);
    /* without the key, nothing is checked (files from PyTorch) */
    craft(path, "{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4);
    assert_int_equal(lg_checkpoint_open(path, &c), LG_OK);
    lg_checkpoint_close(c);
}

/* ---- allocation failures ---- */

static void test_checkpoint_survives_every_allocation_failure(void **state)
{
    (void)state;
    const char *path = tpath("oom.safetensors");
    lg_params *a = make_store(k_model, N_MODEL, true);
    const char *meta[] = {"k", "v"};
    assert_int_equal(lg_checkpoint_save(a, path, NULL, meta, 1), LG_OK);
    counter c = {0};
    lg_allocator al = counter_allocator(&c);
    lg_set_allocator(&al);
    assert_int_equal(lg_checkpoint_load(a, path, NULL, true), LG_OK);
    long calls = c.calls;
    assert_int_equal(c.live, 0);
    for (long k = 1; k <= calls; k++) {
        c = (counter){.fail_at = k};
        assert_int_equal(lg_checkpoint_load(a, path, NULL, true), LG_ERR_OOM);
        assert_int_equal(c.live, 0);
        c = (counter){.fail_at = k};
        lg_status s = lg_checkpoint_save(a, tpath("oom2.safetensors"), NULL, meta, 1);
        assert_true(s == LG_OK || s == LG_ERR_OOM);
        assert_int_equal(c.live, 0);
    }
    lg_set_allocator(NULL);
    lg_params_free(a);
}

/* ---- interop with numpy ---- */

static const char *python(void)
{
    const char *p = getenv("LAGRAD_NUMPY_PYTHON");
    return p && *p ? p : "/usr/bin/python3";
}

/* The interop script sits beside this file. */
static const char *script(void)
{
    static char s[1024];
    const char *slash = strrchr(__FILE__, '/');
    snprintf(s, sizeof s, "%.*s/safetensors_interop.py", slash ? (int)(slash - __FILE__) : 1,
             slash ? __FILE__ : ".");
    return s;
}

static bool have_numpy(void)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s -c 'import numpy' > /dev/null 2>&1", python());
    return access(python(), X_OK) == 0 && access(script(), R_OK) == 0 && system(cmd) == 0;
}

static int run_script(const char *verb, const char *path)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s %s %s %s", python(), script(), verb, path);
    return system(cmd);
}

/* Loads what `safetensors_interop.py verb` writes: without the checksum ("write", like a
 * PyTorch file) or with one from Python's zlib.crc32 ("write-crc"), which lagrad checks. */
static void load_numpy_file(const char *verb, bool with_crc)
{
    const char *path = tpath("from_numpy.safetensors");
    assert_int_equal(run_script(verb, path), 0);
    static const pdef py[] = {
        {"encoder.weight", LG_F32, 2, {3, 5}}, {"encoder.bias", LG_F32, 1, {3}},
        {"head.w64", LG_F64, 3, {2, 2, 2}}, {"scalar", LG_F64, 0, {0}},
    };
    lg_checkpoint *c;
    assert_int_equal(lg_checkpoint_open(path, &c), LG_OK);
    assert_int_equal(lg_checkpoint_count(c), 4);
    for (int i = 0; i < 4; i++) {
        lg_checkpoint_tensor t;
        assert_int_equal(lg_checkpoint_info(c, i, &t), LG_OK);
        assert_string_equal(t.name, py[i].name);
        assert_int_equal(t.dtype, py[i].dt);
        assert_int_equal(t.ndim, py[i].ndim);
        for (int d = 0; d < t.ndim; d++)
            assert_int_equal(t.shape[d], py[i].shape[d]);
    }
    assert_string_equal(lg_checkpoint_metadata_get(c, "format"), "pt");
    assert_int_equal(lg_checkpoint_metadata_get(c, LG_CHECKPOINT_CRC_KEY) != NULL, with_crc);
    lg_checkpoint_close(c);
    lg_params *p = make_store(py, 4, false);
    assert_int_equal(lg_checkpoint_load(p, path, NULL, true), LG_OK);
    for (int i = 0; i < 4; i++)
        assert_filled(lg_params_at(p, i), i + 1);
    lg_params_free(p);
}

static void test_checkpoint_loads_file_written_by_numpy(void **state)
{
    (void)state;
    if (!have_numpy())
        skip();
    load_numpy_file("write", false);
    load_numpy_file("write-crc", true);
}

static void test_checkpoint_written_file_reads_in_numpy(void **state)
{
    (void)state;
    if (!have_numpy())
        skip();
    static const pdef mine[] = {
        {"layer.weight", LG_F32, 2, {4, 6}}, {"layer.bias", LG_F32, 1, {4}},
        {"scale", LG_F64, 2, {2, 3}}, {"empty", LG_F32, 2, {0, 3}},
    };
    lg_params *p = make_store(mine, 4, false);
    for (int i = 0; i < 4; i++)
        fill(lg_params_at(p, i), 11 + i);
    const char *meta[] = {"framework", "lagrad",
                          "note", "quote \" and backslash \\ and \xc3\xa9"};
    const char *path = tpath("to_numpy.safetensors");
    assert_int_equal(lg_checkpoint_save(p, path, NULL, meta, 2), LG_OK);
    assert_int_equal(run_script("check", path), 0);
    lg_params_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checkpoint_round_trip_is_bit_exact),
        cmocka_unit_test(test_checkpoint_save_overwrites_and_empty_store_round_trips),
        cmocka_unit_test(test_checkpoint_prefix_saves_and_loads_only_the_adapter),
        cmocka_unit_test(test_checkpoint_load_rejects_other_shapes_naming_tensor_and_shapes),
        cmocka_unit_test(test_checkpoint_load_rejects_other_dtypes),
        cmocka_unit_test(test_checkpoint_load_rejects_missing_tensors),
        cmocka_unit_test(test_checkpoint_strict_load_rejects_extra_tensors),
        cmocka_unit_test(test_checkpoint_reader_reports_each_error),
        cmocka_unit_test(test_checkpoint_other_safetensors_dtypes_list_but_do_not_read),
        cmocka_unit_test(test_checkpoint_open_rejects_hostile_headers),
        cmocka_unit_test(test_checkpoint_open_rejects_bad_lengths_and_bytes),
        cmocka_unit_test(test_checkpoint_open_accepts_space_padding),
        cmocka_unit_test(test_checkpoint_io_errors_name_the_path),
        cmocka_unit_test(test_checkpoint_save_rejects_bad_arguments),
        cmocka_unit_test(test_checkpoint_checksum_detects_a_flipped_data_bit),
        cmocka_unit_test(test_checkpoint_checksum_must_be_8_hex_digits),
        cmocka_unit_test(test_checkpoint_survives_every_allocation_failure),
        cmocka_unit_test(test_checkpoint_loads_file_written_by_numpy),
        cmocka_unit_test(test_checkpoint_written_file_reads_in_numpy),
    };
    return cmocka_run_group_tests(tests, setup, tmp_teardown);
}
