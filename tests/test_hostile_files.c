/* Issue 14, hardening round 2, file side: every loader returns for any path (a FIFO with no
 * writer, a directory, a device, a socket); saving never writes through a planted symlink;
 * every number an optimizer-state file supplies is range-checked; checkpoint headers are
 * as strict as the safetensors format (no escaped NUL, no float or signed numbers, no BOM,
 * valid UTF-8, a tensor-count limit); a weight decay of 0 leaves an infinite parameter
 * infinite. Each test failed on the code before the fix. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "test_util.h"
#include "test_tmp.h"
#include "lagrad/checkpoint.h"
#include "lagrad/data.h"

static int setup(void **state)
{
    (void)state;
    return tmp_dir_make("hostile");
}

static void assert_msg_has(const char *part)
{
    if (!strstr(lg_last_errmsg(), part)) {
        print_error("message \"%s\" lacks \"%s\"\n", lg_last_errmsg(), part);
        fail();
    }
}

/* A safetensors file from a header text and data bytes (the header is padded to 8). */
static void write_st(const char *path, const char *json, const void *data, size_t n)
{
    assert_int_equal(tmp_write_safetensors(path, json, data, n), 0);
}

static lg_params *one_param_store(double value)
{
    lg_params *p = lg_params_new();
    assert_non_null(p);
    lg_tensor *w = lg_params_add(p, "w", LG_F32, 1, (int64_t[]){2});
    assert_non_null(w);
    ((float *)lg_tensor_data(w))[0] = (float)value;
    ((float *)lg_tensor_data(w))[1] = (float)value;
    return p;
}

/* Every loader, on one path; each must return an error (never block) naming the path. */
static void assert_all_loaders_refuse(const char *path, const char *kind)
{
    alarm(20); /* a loader that blocks is killed by SIGALRM: the test fails */
    lg_checkpoint *c = NULL;
    assert_int_equal(lg_checkpoint_open(path, &c), LG_ERR_IO);
    assert_null(c);
    assert_msg_has(path);
    if (kind)
        assert_msg_has(kind);
    lg_params *p = one_param_store(1);
    assert_int_equal(lg_checkpoint_load(p, path, NULL, false), LG_ERR_IO);
    lg_optim_config cfg = lg_optim_defaults(LG_OPTIM_ADAM);
    lg_optim *o = lg_optim_new(p, &cfg);
    assert_non_null(o);
    assert_int_equal(lg_optim_load(o, path), LG_ERR_IO);
    lg_optim_free(o);
    lg_params_free(p);
    lg_idx *x = NULL;
    assert_int_equal(lg_idx_load(path, &x), LG_ERR_IO);
    assert_null(x);
    if (kind)
        assert_msg_has(kind);
    lg_dataset d;
    assert_int_equal(lg_dataset_load(path, path, &d), LG_ERR_IO);
    alarm(0);
}

static void test_loaders_return_on_a_fifo_without_writer(void **state)
{
    (void)state;
    const char *fifo = tpath("fifo");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_all_loaders_refuse(fifo, "FIFO");
    /* lg_dataset_load_mnist over a folder whose files are FIFOs */
    const char *dir = tpath("mnist-fifos");
    assert_int_equal(mkdir(dir, 0700), 0);
    char a[300], b[300];
    snprintf(a, sizeof a, "%s/train-images-idx3-ubyte", dir);
    snprintf(b, sizeof b, "%s/train-labels-idx1-ubyte", dir);
    assert_int_equal(mkfifo(a, 0600), 0);
    assert_int_equal(mkfifo(b, 0600), 0);
    alarm(20);
    lg_dataset d;
    assert_int_equal(lg_dataset_load_mnist(dir, "train", &d), LG_ERR_IO);
    assert_msg_has("FIFO");
    alarm(0);
}

static void test_loaders_refuse_directory_device_and_socket(void **state)
{
    (void)state;
    assert_all_loaders_refuse(g_dir, "directory");
    assert_all_loaders_refuse("/dev/null", "character device");
    const char *sock = tpath("sock");
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(fd, 1), 0);
    assert_all_loaders_refuse(sock, NULL); /* open() itself fails: ENXIO */
    close(fd);
}

/* Before issue 14 the temporary file was "<path>.tmp.<pid>", opened with O_CREAT|O_TRUNC:
 * a symlink planted there made the save overwrite its target. */
static void test_save_never_writes_through_planted_symlinks(void **state)
{
    (void)state;
    const char *victim = tpath("victim.txt");
    FILE *f = fopen(victim, "w");
    assert_non_null(f);
    fputs("precious", f);
    fclose(f);
    char path[300], link[340];
    snprintf(path, sizeof path, "%s", tpath("model.safetensors"));
    snprintf(link, sizeof link, "%s.tmp.%ld", path, (long)getpid());
    assert_int_equal(symlink(victim, link), 0);
    char opath[300], olink[340];
    snprintf(opath, sizeof opath, "%s", tpath("model.optim"));
    snprintf(olink, sizeof olink, "%s.tmp.%ld", opath, (long)getpid());
    assert_int_equal(symlink(victim, olink), 0);

    lg_params *p = one_param_store(3);
    assert_int_equal(lg_checkpoint_save(p, path, NULL, NULL, 0), LG_OK);
    lg_optim_config cfg = lg_optim_defaults(LG_OPTIM_ADAM);
    lg_optim *o = lg_optim_new(p, &cfg);
    assert_int_equal(lg_optim_save(o, opath, NULL, 0), LG_OK);

    char buf[32] = {0};
    f = fopen(victim, "r");
    assert_non_null(f);
    assert_int_equal(fread(buf, 1, sizeof buf - 1, f), 8);
    fclose(f);
    assert_string_equal(buf, "precious");
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(lstat(opath, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(lstat(link, &st), 0); /* the planted links are left alone */
    assert_true(S_ISLNK(st.st_mode));
    assert_int_equal(lg_checkpoint_load(p, path, NULL, true), LG_OK);
    assert_int_equal(lg_optim_load(o, opath), LG_OK);

    /* a destination that is itself a symlink is replaced, its target untouched */
    const char *lpath = tpath("linked.safetensors");
    assert_int_equal(symlink(victim, lpath), 0);
    assert_int_equal(lg_checkpoint_save(p, lpath, NULL, NULL, 0), LG_OK);
    assert_int_equal(lstat(lpath, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(stat(victim, &st), 0);
    assert_int_equal(st.st_size, 8);
    /* no temporary file of ours is left */
    assert_int_equal(tmp_count_files(".tmp."), 2);
    lg_optim_free(o);
    lg_params_free(p);
}

/* An SGD (no momentum, so no tensors) state file with the given "step" text. */
static lg_status load_sgd_step(const char *step)
{
    char json[256];
    snprintf(json, sizeof json,
             "{\"__metadata__\":{\"lagrad.optimizer\":\"sgd\",\"step\":\"%s\"}}", step);
    const char *path = tpath("step.optim");
    write_st(path, json, NULL, 0);
    lg_params *p = one_param_store(1);
    lg_optim_config cfg = lg_optim_defaults(LG_OPTIM_SGD);
    lg_optim *o = lg_optim_new(p, &cfg);
    assert_non_null(o);
    lg_status s = lg_optim_load(o, path);
    assert_int_equal(lg_optim_steps(o), s == LG_OK ? strtoll(step, NULL, 10) : 0);
    lg_optim_free(o);
    lg_params_free(p);
    return s;
}

static void test_optim_load_refuses_out_of_range_or_loose_steps(void **state)
{
    (void)state;
    assert_int_equal(load_sgd_step("9223372036854775807"), LG_ERR_FORMAT);
    assert_int_equal(load_sgd_step("9007199254740993"), LG_ERR_FORMAT); /* 2^53 + 1 */
    assert_int_equal(load_sgd_step(" 3"), LG_ERR_FORMAT);
    assert_int_equal(load_sgd_step("+3"), LG_ERR_FORMAT);
    assert_int_equal(load_sgd_step("03"), LG_ERR_FORMAT);
    assert_int_equal(load_sgd_step("3 "), LG_ERR_FORMAT);
    assert_int_equal(load_sgd_step("-1"), LG_ERR_FORMAT);
    assert_int_equal(load_sgd_step(""), LG_ERR_FORMAT);
    assert_int_equal(load_sgd_step("0"), LG_OK);
    assert_int_equal(load_sgd_step("3"), LG_OK);
    assert_int_equal(load_sgd_step("9007199254740992"), LG_OK); /* 2^53 itself */
}

/* The step at the limit is refused by the update too, so the count can never overflow. */
static void test_optim_step_stops_at_max_steps(void **state)
{
    (void)state;
    assert_int_equal(load_sgd_step("9007199254740992"), LG_OK);
    const char *path = tpath("step.optim");
    lg_params *p = one_param_store(1);
    lg_optim_config cfg = lg_optim_defaults(LG_OPTIM_SGD);
    lg_optim *o = lg_optim_new(p, &cfg);
    assert_int_equal(lg_optim_load(o, path), LG_OK);
    assert_int_equal(lg_optim_step(o), LG_ERR_STATE);
    assert_msg_has("LG_OPTIM_MAX_STEPS");
    assert_int_equal(lg_optim_steps(o), LG_OPTIM_MAX_STEPS);
    lg_optim_free(o);
    lg_params_free(p);
}

/* Adam state whose exp_avg_sq is negative or NaN would make every parameter NaN. */
static void test_optim_load_refuses_negative_second_moment(void **state)
{
    (void)state;
    const float bad[2][4] = {{0, 0, -1, 0}, {NAN, 0, 0, 0}};
    for (int k = 0; k < 2; k++) {
        float data[4] = {0, 0, 0, 0};
        memcpy(data, bad[k], sizeof data); /* exp_avg = data[0..1], exp_avg_sq = [2..3] */
        const char *json =
            "{\"__metadata__\":{\"lagrad.optimizer\":\"adam\",\"step\":\"1\"},"
            "\"w.exp_avg\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
            "\"w.exp_avg_sq\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}";
        const char *path = tpath("moment.optim");
        write_st(path, json, data, sizeof data);
        lg_params *p = one_param_store(1);
        lg_optim_config cfg = lg_optim_defaults(LG_OPTIM_ADAM);
        lg_optim *o = lg_optim_new(p, &cfg);
        assert_int_equal(lg_optim_load(o, path), LG_ERR_FORMAT);
        assert_msg_has(k == 0 ? "w.exp_avg_sq" : "w.exp_avg");
        assert_int_equal(lg_optim_steps(o), 0);
        lg_optim_free(o);
        lg_params_free(p);
    }
}

/* The data checksum does not cover the header; "lagrad.state_crc32" covers the kind and
 * the step, so a step edited in place (same length, JSON still valid) is caught. */
static void test_optim_load_detects_an_edited_step(void **state)
{
    (void)state;
    lg_params *p = one_param_store(1);
    lg_optim_config cfg = lg_optim_defaults(LG_OPTIM_ADAM);
    lg_optim *o = lg_optim_new(p, &cfg);
    for (int i = 0; i < 3; i++)
        assert_int_equal(lg_optim_step(o), LG_OK);
    const char *path = tpath("edited.optim");
    assert_int_equal(lg_optim_save(o, path, NULL, 0), LG_OK);
    assert_int_equal(lg_optim_load(o, path), LG_OK);
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf, f);
    char *at = memmem(buf, n, "\"step\":\"3\"", 10);
    assert_non_null(at);
    at[8] = '4';
    assert_int_equal(fseek(f, 0, SEEK_SET), 0);
    assert_int_equal(fwrite(buf, 1, n, f), n);
    fclose(f);
    assert_int_equal(lg_optim_load(o, path), LG_ERR_FORMAT);
    assert_msg_has("lagrad.state_crc32");
    assert_int_equal(lg_optim_steps(o), 3);
    lg_optim_free(o);
    lg_params_free(p);
}

static lg_status open_json(const char *json, size_t data_bytes)
{
    static const unsigned char zeros[64];
    const char *path = tpath("strict.safetensors");
    write_st(path, json, zeros, data_bytes);
    lg_checkpoint *c = NULL;
    lg_status s = lg_checkpoint_open(path, &c);
    lg_checkpoint_close(c);
    return s;
}

static void test_checkpoint_refuses_escaped_nul_in_names_and_values(void **state)
{
    (void)state;
    assert_int_equal(open_json("{\"w\\u0000evil\":{\"dtype\":\"F32\",\"shape\":[1],"
                               "\"data_offsets\":[0,4]}}", 4), LG_ERR_FORMAT);
    assert_msg_has("NUL");
    /* the CRC of 4 zero bytes is 2144df1c */
    assert_int_equal(open_json("{\"__metadata__\":{\"lagrad.crc32\":\"2144df1c\\u0000zzz\"},"
                               "\"w\":{\"dtype\":\"F32\",\"shape\":[1],"
                               "\"data_offsets\":[0,4]}}", 4), LG_ERR_FORMAT);
    assert_int_equal(open_json("{\"__metadata__\":{\"k\\u0000\":\"v\"},\"w\":{\"dtype\":\"F32\","
                               "\"shape\":[1],\"data_offsets\":[0,4]}}", 4), LG_ERR_FORMAT);
    /* the same CRC without the NUL, and an escaped backslash before "u0000", are fine */
    assert_int_equal(open_json("{\"__metadata__\":{\"lagrad.crc32\":\"2144df1c\"},"
                               "\"w\\\\u0000\":{\"dtype\":\"F32\",\"shape\":[1],"
                               "\"data_offsets\":[0,4]}}", 4), LG_OK);
}

static void test_checkpoint_refuses_float_signed_and_exponent_numbers(void **state)
{
    (void)state;
    const char *bad[] = {
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0.0,4]}}",
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]}}",
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-0,4]}}",
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4e0]}}",
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[1E0],\"data_offsets\":[0,4]}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(open_json(bad[i], 4), LG_ERR_FORMAT);
        assert_msg_has("non-negative integer");
    }
    /* "e" inside names and in true/false is no number */
    assert_int_equal(open_json("{\"e1.e\":{\"dtype\":\"F32\",\"shape\":[1],"
                               "\"data_offsets\":[0,4]}}", 4), LG_OK);
}

static void test_checkpoint_refuses_bom_and_invalid_utf8(void **state)
{
    (void)state;
    assert_int_equal(open_json("\xEF\xBB\xBF{}", 0), LG_ERR_FORMAT);
    assert_msg_has("byte-order mark");
    const char *bad_names[] = {"\xff", "\xC0\xAF", "\xED\xA0\x80", "\\ud800", "\xF4\x90\x80\x80",
                               "a\xE2\x82"};
    char json[256];
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
        snprintf(json, sizeof json, "{\"%s\":{\"dtype\":\"F32\",\"shape\":[1],"
                 "\"data_offsets\":[0,4]}}", bad_names[i]);
        lg_status s = open_json(json, 4);
        if (s != LG_ERR_FORMAT)
            print_error("name %zu loaded (status %d)\n", i, (int)s);
        assert_int_equal(s, LG_ERR_FORMAT);
    }
    snprintf(json, sizeof json, "{\"__metadata__\":{\"k\":\"\xff\"},\"w\":{\"dtype\":\"F32\","
             "\"shape\":[1],\"data_offsets\":[0,4]}}");
    assert_int_equal(open_json(json, 4), LG_ERR_FORMAT);
    /* valid UTF-8, raw and escaped (a surrogate pair), loads */
    assert_int_equal(open_json("{\"\xC3\xA9t\xE2\x82\xAC\xF0\x9F\x98\x80\\ud83d\\ude00\":"
                               "{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4),
                     LG_OK);
}

static void test_checkpoint_refuses_more_than_max_tensors(void **state)
{
    (void)state;
    /* LG_CHECKPOINT_MAX_TENSORS + 1 empty tensors: a small file, refused by count */
    size_t cap = (size_t)(LG_CHECKPOINT_MAX_TENSORS + 1) * 64 + 16, len = 0;
    char *json = malloc(cap);
    assert_non_null(json);
    json[len++] = '{';
    for (int i = 0; i <= LG_CHECKPOINT_MAX_TENSORS; i++)
        len += (size_t)snprintf(json + len, cap - len, "%s\"t%d\":{\"dtype\":\"F32\","
                                "\"shape\":[0],\"data_offsets\":[0,0]}", i ? "," : "", i);
    json[len++] = '}';
    json[len] = '\0';
    assert_int_equal(open_json(json, 0), LG_ERR_FORMAT);
    assert_msg_has("LG_CHECKPOINT_MAX_TENSORS");
    /* the same file one tensor shorter opens */
    char key[32];
    snprintf(key, sizeof key, ",\"t%d\"", LG_CHECKPOINT_MAX_TENSORS);
    char *last = strstr(json, key);
    assert_non_null(last);
    last[0] = '}';
    last[1] = '\0';
    assert_int_equal(open_json(json, 0), LG_OK);
    /* more than 2^20 JSON values (a huge shape list) are refused before cJSON runs */
    len = 0;
    size_t cap2 = ((size_t)1 << 20) * 2 + 128;
    char *j2 = malloc(cap2);
    assert_non_null(j2);
    len += (size_t)snprintf(j2, cap2, "{\"w\":{\"dtype\":\"F32\",\"shape\":[");
    for (int i = 0; i < (1 << 20); i++) {
        j2[len++] = i ? ',' : '1';
        if (i)
            j2[len++] = '1';
    }
    len += (size_t)snprintf(j2 + len, cap2 - len, "],\"data_offsets\":[0,4]}}");
    assert_int_equal(open_json(j2, 4), LG_ERR_FORMAT);
    assert_msg_has("JSON values");
    free(j2);
    free(json);
}

/* torch.optim adds weight_decay * p only when weight_decay != 0: 0 * inf is NaN. */
static void test_zero_weight_decay_keeps_infinite_parameter(void **state)
{
    (void)state;
    const lg_optim_kind kinds[] = {LG_OPTIM_SGD, LG_OPTIM_SGD, LG_OPTIM_ADAM, LG_OPTIM_ADAMW};
    for (int k = 0; k < 4; k++) {
        lg_params *p = one_param_store(INFINITY);
        lg_optim_config cfg = lg_optim_defaults(kinds[k]);
        cfg.weight_decay = 0;
        cfg.momentum = k == 1 ? 0.9 : 0;
        lg_optim *o = lg_optim_new(p, &cfg);
        assert_non_null(o);
        lg_tensor *g = lg_tensor_grad(lg_params_at(p, 0));
        ((float *)lg_tensor_data(g))[1] = 0.5f;
        assert_int_equal(lg_optim_step(o), LG_OK);
        assert_int_equal(lg_optim_step(o), LG_OK);
        for (int i = 0; i < 2; i++)
            if (!(lg_tensor_item(lg_params_at(p, 0), i) == INFINITY)) {
                print_error("kind %d, element %d: %g\n", k, i,
                            lg_tensor_item(lg_params_at(p, 0), i));
                fail();
            }
        lg_optim_free(o);
        lg_params_free(p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loaders_return_on_a_fifo_without_writer),
        cmocka_unit_test(test_loaders_refuse_directory_device_and_socket),
        cmocka_unit_test(test_save_never_writes_through_planted_symlinks),
        cmocka_unit_test(test_optim_load_refuses_out_of_range_or_loose_steps),
        cmocka_unit_test(test_optim_step_stops_at_max_steps),
        cmocka_unit_test(test_optim_load_refuses_negative_second_moment),
        cmocka_unit_test(test_optim_load_detects_an_edited_step),
        cmocka_unit_test(test_checkpoint_refuses_escaped_nul_in_names_and_values),
        cmocka_unit_test(test_checkpoint_refuses_float_signed_and_exponent_numbers),
        cmocka_unit_test(test_checkpoint_refuses_bom_and_invalid_utf8),
        cmocka_unit_test(test_checkpoint_refuses_more_than_max_tensors),
        cmocka_unit_test(test_zero_weight_decay_keeps_infinite_parameter),
    };
    return cmocka_run_group_tests(tests, setup, tmp_teardown);
}
