/* Issue 13 §1, checkpoint part: integer buffers in the parameter store (saved and loaded
 * exactly, never trained, no gradient, no optimizer state), safetensors I32/I64, and
 * lg_checkpoint_read_convert's table of exact conversions, on hand-built bytes (values
 * worked out by hand from the IEEE encodings) and on a file numpy writes when
 * /usr/bin/python3 has numpy. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>
#include "test_util.h"
#include "test_tmp.h"
#include "lagrad/checkpoint.h"

static int setup(void **state)
{
    (void)state;
    return tmp_dir_make("ckint");
}

static void write_st(const char *path, const char *json, const void *data, size_t n)
{
    assert_int_equal(tmp_write_safetensors(path, json, data, n), 0);
}

/* A store of f32 weights, an i32 table and an i64 counter. */
static lg_params *mixed_store(int salt)
{
    lg_params *p = lg_params_new();
    assert_non_null(p);
    lg_tensor *w = lg_params_add(p, "w", LG_F32, 2, (int64_t[]){2, 2});
    lg_tensor *ids = lg_params_add(p, "ids", LG_I32, 1, (int64_t[]){3});
    lg_tensor *n = lg_params_add(p, "count", LG_I64, 0, NULL);
    lg_tensor *d = lg_params_add(p, "d", LG_F64, 1, (int64_t[]){2});
    assert_non_null(w);
    assert_non_null(ids);
    assert_non_null(n);
    assert_non_null(d);
    for (int i = 0; i < 4; i++)
        ((float *)lg_tensor_data(w))[i] = 0.5f * (float)(i + salt);
    const int32_t v[3] = {-2147483647 - 1, 7 + salt, 2147483647};
    memcpy(lg_tensor_data(ids), v, sizeof v);
    *(int64_t *)lg_tensor_data(n) = ((int64_t)1 << 62) + salt;
    ((double *)lg_tensor_data(d))[0] = 1.5;
    ((double *)lg_tensor_data(d))[1] = -3;
    return p;
}

static void test_integer_parameters_are_buffers(void **state)
{
    (void)state;
    lg_params *p = mixed_store(0);
    lg_tensor *ids = lg_params_get(p, "ids");
    assert_null(lg_tensor_grad(ids));
    assert_false(lg_tensor_requires_grad(ids));
    assert_true(lg_params_is_frozen(p, 1));
    assert_int_equal(lg_params_numel(p, true), 6);  /* w and d */
    assert_int_equal(lg_params_numel(p, false), 10);
    int n = 0;
    assert_int_equal(lg_params_freeze(p, "ids", false, &n), LG_OK); /* "unfreeze" */
    assert_int_equal(n, 1);
    assert_false(lg_tensor_requires_grad(ids));
    /* an optimizer steps the floats and leaves the integers alone */
    lg_optim_config cfg = lg_optim_defaults(LG_OPTIM_ADAM);
    cfg.lr = 0.1;
    lg_optim *o = lg_optim_new(p, &cfg);
    assert_non_null(o);
    for (int i = 0; i < 4; i++)
        ((float *)lg_tensor_data(lg_tensor_grad(lg_params_get(p, "w"))))[i] = 1;
    double clipped;
    assert_int_equal(lg_params_clip_grad_norm(p, 1.0, &clipped), LG_OK);
    tu_assert_near(clipped, 2.0, 1e-12); /* the four ones of w; the integers add nothing */
    assert_int_equal(lg_optim_step(o), LG_OK);
    lg_params_zero_grad(p);
    lg_params *ref = mixed_store(0);
    assert_memory_equal(lg_tensor_data(ids), lg_tensor_data(lg_params_get(ref, "ids")), 12);
    assert_int_equal(*(int64_t *)lg_tensor_data(lg_params_get(p, "count")), (int64_t)1 << 62);
    assert_true(lg_tensor_item(lg_params_get(p, "w"), 0) < 0); /* 0 - 0.1 */
    /* optimizer state holds the float parameters only, and round-trips */
    const char *opath = tpath("mixed.optim");
    assert_int_equal(lg_optim_save(o, opath, NULL, 0), LG_OK);
    lg_checkpoint *c;
    assert_int_equal(lg_checkpoint_open(opath, &c), LG_OK);
    assert_int_equal(lg_checkpoint_count(c), 4); /* w and d, exp_avg and exp_avg_sq */
    assert_int_equal(lg_checkpoint_find(c, "ids.exp_avg"), -1);
    lg_checkpoint_close(c);
    assert_int_equal(lg_optim_load(o, opath), LG_OK);
    lg_optim_free(o);
    lg_params_free(ref);
    lg_params_free(p);
}

static void test_integer_parameters_save_and_load_exactly(void **state)
{
    (void)state;
    lg_params *p = mixed_store(5), *q = mixed_store(0);
    const char *path = tpath("mixed.safetensors");
    assert_int_equal(lg_checkpoint_save(p, path, NULL, NULL, 0), LG_OK);
    lg_checkpoint *c;
    assert_int_equal(lg_checkpoint_open(path, &c), LG_OK);
    lg_checkpoint_tensor t;
    assert_int_equal(lg_checkpoint_info(c, lg_checkpoint_find(c, "ids"), &t), LG_OK);
    assert_string_equal(t.dtype_name, "I32");
    assert_true(t.supported);
    assert_int_equal(t.dtype, LG_I32);
    assert_int_equal(lg_checkpoint_info(c, lg_checkpoint_find(c, "count"), &t), LG_OK);
    assert_string_equal(t.dtype_name, "I64");
    assert_int_equal(t.dtype, LG_I64);
    lg_checkpoint_close(c);
    assert_int_equal(lg_checkpoint_load(q, path, NULL, true), LG_OK);
    for (int i = 0; i < lg_params_count(p); i++) {
        const lg_tensor *a = lg_params_at(p, i), *b = lg_params_at(q, i);
        assert_memory_equal(lg_tensor_cdata(a), lg_tensor_cdata(b),
                            (size_t)lg_tensor_numel(a) * lg_dtype_size(lg_tensor_dtype(a)));
    }
    /* an i64 tensor does not load into an i32 parameter of the same name */
    lg_params *r = lg_params_new();
    assert_non_null(lg_params_add(r, "count", LG_I32, 0, NULL));
    assert_int_equal(lg_checkpoint_load(r, path, NULL, false), LG_ERR_DTYPE);
    assert_non_null(strstr(lg_last_errmsg(), "I64"));
    lg_params_free(r);
    lg_params_free(p);
    lg_params_free(q);
}

/* One tensor of each dtype, built by hand. Expected values come from the encodings:
 * F16 3c00 = 1, c000 = -2, 7bff = 65504, 0001 = 2^-24, fc00 = -inf; BF16 3f80 = 1,
 * 4049 = 3.140625, 0001 = 2^-133 (a subnormal), ff80 = -inf. */
static const char *k_all = "{"
    "\"b\":{\"dtype\":\"BOOL\",\"shape\":[3],\"data_offsets\":[0,3]},"
    "\"u8\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[3,6]},"
    "\"i8\":{\"dtype\":\"I8\",\"shape\":[3],\"data_offsets\":[6,9]},"
    "\"i16\":{\"dtype\":\"I16\",\"shape\":[3],\"data_offsets\":[9,15]},"
    "\"f16\":{\"dtype\":\"F16\",\"shape\":[5],\"data_offsets\":[15,25]},"
    "\"bf16\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[25,33]},"
    "\"i32\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[33,41]},"
    "\"u32\":{\"dtype\":\"U32\",\"shape\":[1],\"data_offsets\":[41,45]},"
    "\"i64\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[45,53]},"
    "\"f64\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[53,61]},"
    "\"u64\":{\"dtype\":\"U64\",\"shape\":[1],\"data_offsets\":[61,69]},"
    "\"f8\":{\"dtype\":\"F8_E4M3\",\"shape\":[1],\"data_offsets\":[69,70]},"
    "\"badb\":{\"dtype\":\"BOOL\",\"shape\":[1],\"data_offsets\":[70,71]}}";

static const unsigned char k_all_data[71] = {
    1, 0, 1,                                      /* b */
    0, 200, 255,                                  /* u8 */
    0x80, 0xff, 0x7f,                             /* i8: -128, -1, 127 */
    0x00, 0x80, 0xff, 0xff, 0xff, 0x7f,           /* i16: -32768, -1, 32767 */
    0x00, 0x3c, 0x00, 0xc0, 0xff, 0x7b, 0x01, 0x00, 0x00, 0xfc, /* f16 */
    0x80, 0x3f, 0x49, 0x40, 0x01, 0x00, 0x80, 0xff,            /* bf16 */
    0x00, 0x00, 0x00, 0x80, 0xff, 0xff, 0xff, 0x7f,            /* i32: -2^31, 2^31-1 */
    0xff, 0xff, 0xff, 0xff,                                    /* u32: 2^32-1 */
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80,            /* i64: -2^63+1 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf8, 0x3f,            /* f64: 1.5 */
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,            /* u64 */
    0x38,                                                      /* f8 */
    2,                                                         /* badb */
};

/* Reads `name` converted into a new tensor of dtype dt and shape (n); NULL on error,
 * with *s the status. */
static lg_tensor *conv(lg_checkpoint *c, const char *name, lg_dtype dt, int64_t n,
                       lg_status *s)
{
    lg_tensor *t = lg_tensor_new(dt, 1, &n);
    assert_non_null(t);
    *s = lg_checkpoint_read_convert(c, name, t);
    if (*s != LG_OK) {
        lg_tensor_free(t);
        return NULL;
    }
    return t;
}

static void expect(lg_checkpoint *c, const char *name, lg_dtype dt, int64_t n,
                   const double *want)
{
    lg_status s;
    lg_tensor *t = conv(c, name, dt, n, &s);
    if (!t)
        fail_msg("%s to %s: %s", name, lg_dtype_name(dt), lg_last_errmsg());
    for (int64_t i = 0; i < n; i++) {
        double got = lg_tensor_item(t, i);
        if (!(got == want[i]))
            fail_msg("%s to %s, element %lld: %.17g, want %.17g", name, lg_dtype_name(dt),
                     (long long)i, got, want[i]);
    }
    lg_tensor_free(t);
}

static void refuse(lg_checkpoint *c, const char *name, lg_dtype dt, int64_t n, lg_status want)
{
    lg_status s;
    lg_tensor *t = conv(c, name, dt, n, &s);
    assert_null(t);
    if (s != want)
        fail_msg("%s to %s: status %d, want %d (%s)", name, lg_dtype_name(dt), (int)s,
                 (int)want, lg_last_errmsg());
    assert_non_null(strstr(lg_last_errmsg(), "lg_checkpoint_read_convert"));
}

static void test_read_convert_follows_the_exact_table(void **state)
{
    (void)state;
    const char *path = tpath("all-dtypes.safetensors");
    write_st(path, k_all, k_all_data, sizeof k_all_data);
    lg_checkpoint *c;
    assert_int_equal(lg_checkpoint_open(path, &c), LG_OK);
    const lg_dtype every[4] = {LG_I32, LG_I64, LG_F32, LG_F64};
    for (int k = 0; k < 4; k++) {
        expect(c, "b", every[k], 3, (double[]){1, 0, 1});
        expect(c, "u8", every[k], 3, (double[]){0, 200, 255});
        expect(c, "i8", every[k], 3, (double[]){-128, -1, 127});
        expect(c, "i16", every[k], 3, (double[]){-32768, -1, 32767});
    }
    const double f16[5] = {1, -2, 65504, 0x1p-24, -INFINITY};
    const double bf16[4] = {1, 3.140625, 0x1p-133, -INFINITY};
    for (int k = 2; k < 4; k++) {
        expect(c, "f16", every[k], 5, f16);
        expect(c, "bf16", every[k], 4, bf16);
    }
    expect(c, "i32", LG_I32, 2, (double[]){-2147483648.0, 2147483647});
    expect(c, "i32", LG_I64, 2, (double[]){-2147483648.0, 2147483647});
    expect(c, "i32", LG_F64, 2, (double[]){-2147483648.0, 2147483647});
    expect(c, "u32", LG_I64, 1, (double[]){4294967295.0});
    expect(c, "u32", LG_F64, 1, (double[]){4294967295.0});
    expect(c, "f64", LG_F64, 1, (double[]){1.5});
    lg_tensor *t = lg_tensor_new(LG_I64, 1, (int64_t[]){1});
    assert_int_equal(lg_checkpoint_read_convert(c, "i64", t), LG_OK);
    assert_int_equal(*(int64_t *)lg_tensor_data(t), INT64_MIN + 1);
    lg_tensor_free(t);

    /* nothing narrows or rounds */
    refuse(c, "i32", LG_F32, 2, LG_ERR_DTYPE);
    refuse(c, "u32", LG_I32, 1, LG_ERR_DTYPE);
    refuse(c, "u32", LG_F32, 1, LG_ERR_DTYPE);
    refuse(c, "i64", LG_F64, 1, LG_ERR_DTYPE);
    refuse(c, "i64", LG_I32, 1, LG_ERR_DTYPE);
    refuse(c, "f64", LG_F32, 1, LG_ERR_DTYPE);
    refuse(c, "f16", LG_I32, 5, LG_ERR_DTYPE);
    refuse(c, "u64", LG_I64, 1, LG_ERR_DTYPE);
    refuse(c, "f8", LG_F32, 1, LG_ERR_UNSUPPORTED);
    refuse(c, "badb", LG_I32, 1, LG_ERR_FORMAT);
    refuse(c, "u8", LG_I32, 4, LG_ERR_SHAPE);
    refuse(c, "nope", LG_I32, 1, LG_ERR_FORMAT);
    assert_int_equal(lg_checkpoint_read_convert(NULL, "u8", NULL), LG_ERR_ARG);
    /* the plain reader takes I32 and I64 as they are, and still refuses the others */
    lg_tensor *i = lg_tensor_new(LG_I32, 1, (int64_t[]){2});
    assert_int_equal(lg_checkpoint_read(c, "i32", i), LG_OK);
    assert_int_equal(((int32_t *)lg_tensor_data(i))[1], 2147483647);
    lg_tensor_free(i);
    lg_tensor *u = lg_tensor_new(LG_I32, 1, (int64_t[]){3});
    assert_int_equal(lg_checkpoint_read(c, "u8", u), LG_ERR_UNSUPPORTED);
    lg_tensor_free(u);
    lg_checkpoint_close(c);
}

/* numpy writes the file (raw little-endian bytes from ndarray.tobytes, the layout
 * safetensors' numpy writer uses); the expected values are numpy's own arithmetic. */
static void test_read_convert_reads_a_numpy_written_file(void **state)
{
    (void)state;
    if (system("/usr/bin/python3 -c 'import numpy' > /dev/null 2>&1") != 0)
        skip();
    const char *path = tpath("numpy.safetensors");
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c '\n"
             "import json, struct, numpy as np\n"
             "t = {\"lab\": np.array([3, 0, 255, 9], np.uint8),\n"
             "     \"h\": np.array([0.1, -1e4, 6e-8, 1/3], np.float16),\n"
             "     \"s\": np.array([-7, 30000], np.int16)}\n"
             "hdr, off, body = {}, 0, b\"\"\n"
             "for k, a in t.items():\n"
             "    b = a.tobytes(); hdr[k] = {\"dtype\": {\"uint8\": \"U8\", \"float16\": \"F16\",\n"
             "        \"int16\": \"I16\"}[a.dtype.name], \"shape\": list(a.shape),\n"
             "        \"data_offsets\": [off, off + len(b)]}; off += len(b); body += b\n"
             "h = json.dumps(hdr).encode(); h += b\" \" * (-len(h) %% 8)\n"
             "open(\"%s\", \"wb\").write(struct.pack(\"<Q\", len(h)) + h + body)\n"
             "print(\" \".join(repr(float(x)) for x in t[\"h\"].astype(np.float64)))'",
             path);
    FILE *pipe = popen(cmd, "r");
    assert_non_null(pipe);
    double h[4];
    assert_int_equal(fscanf(pipe, "%lf %lf %lf %lf", &h[0], &h[1], &h[2], &h[3]), 4);
    assert_int_equal(pclose(pipe), 0);
    lg_checkpoint *c;
    assert_int_equal(lg_checkpoint_open(path, &c), LG_OK);
    expect(c, "lab", LG_I64, 4, (double[]){3, 0, 255, 9});
    expect(c, "lab", LG_I32, 4, (double[]){3, 0, 255, 9});
    expect(c, "h", LG_F32, 4, h);
    expect(c, "h", LG_F64, 4, h);
    expect(c, "s", LG_F32, 2, (double[]){-7, 30000});
    lg_checkpoint_close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_integer_parameters_are_buffers),
        cmocka_unit_test(test_integer_parameters_save_and_load_exactly),
        cmocka_unit_test(test_read_convert_follows_the_exact_table),
        cmocka_unit_test(test_read_convert_reads_a_numpy_written_file),
    };
    return cmocka_run_group_tests(tests, setup, tmp_teardown);
}
