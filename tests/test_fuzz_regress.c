/* Replays the fuzzers' regression corpus (tests/fuzz/regress/) through the normal loaders:
 * hand-made hostile files and every input a fuzzer ever crashed on. Each must give an error
 * status (or load, for a file named "ok-*") with a message naming the loader and the file,
 * leak nothing through lagrad's allocator, and hold at most fuzz_alloc_budget bytes at once.
 *   regress/idx          IDX files for lg_idx_load (raw and gzip)
 *   regress/idx_gzip     inputs of the gzip fuzz target, made into files the same way
 *   regress/safetensors  files for lg_checkpoint_open and lg_checkpoint_load
 *   regress/optim_state  files for lg_optim_load (Adam, AdamW, SGD with and without
 *                        momentum, over a store of "w" F32 (2,3) and "d" F64 (2)) */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include "test_util.h"
#include "test_alloc.h"
#include "test_tmp.h"
#include "fuzz/fuzz_inputs.h"
#include "lagrad/checkpoint.h"
#include "lagrad/data.h"

static int setup(void **state)
{
    (void)state;
    return tmp_dir_make("fuzzreg");
}

/* The corpus sits beside this file. */
static const char *corpus_dir(const char *sub)
{
    static char d[1024];
    const char *slash = strrchr(__FILE__, '/');
    snprintf(d, sizeof d, "%.*s/fuzz/regress/%s", slash ? (int)(slash - __FILE__) : 1,
             slash ? __FILE__ : ".", sub);
    return d;
}

static uint8_t *read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long len = ftell(f);
    assert_true(len >= 0);
    rewind(f);
    uint8_t *b = malloc((size_t)len + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return b;
}

static void write_file(const char *path, const uint8_t *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* The outcome `s` of loading `path` with `fn` is right for a file named `name`. */
static void check_outcome(lg_status s, const char *fn, const char *path, const char *name)
{
    bool want_ok = strncmp(name, "ok-", 3) == 0;
    if (want_ok ? s != LG_OK : s != LG_ERR_FORMAT && s != LG_ERR_UNSUPPORTED)
        fail_msg("%s on %s: status %d (%s)", fn, name, (int)s, lg_last_errmsg());
    if (!want_ok && (strncmp(lg_last_errmsg(), fn, strlen(fn)) != 0 ||
                     !strstr(lg_last_errmsg(), path)))
        fail_msg("%s on %s: the message \"%s\" does not name the function and the file", fn,
                 name, lg_last_errmsg());
}

/* Runs check(path, name) under a counting allocator and checks the leak and the cap. */
static void under_cap(void (*check)(const char *, const char *), const char *path,
                      const char *name, size_t justified)
{
    counter c = {0};
    lg_allocator al = counter_allocator(&c);
    lg_set_allocator(&al);
    check(path, name);
    lg_set_allocator(NULL);
    if (c.live != 0)
        fail_msg("%s: %ld blocks leaked", name, c.live);
    if (c.peak_bytes > fuzz_alloc_budget(justified))
        fail_msg("%s: %zu bytes at once for a file that justifies %zu (cap %zu)", name,
                 c.peak_bytes, justified, fuzz_alloc_budget(justified));
}

static void check_idx(const char *path, const char *name)
{
    lg_idx *x = (lg_idx *)&x;
    lg_status s = lg_idx_load(path, &x);
    check_outcome(s, "lg_idx_load", path, name);
    assert_true((s == LG_OK) == (x != NULL));
    lg_idx_free(x);
}

static void check_safetensors(const char *path, const char *name)
{
    lg_checkpoint *c = (lg_checkpoint *)&c;
    lg_status s = lg_checkpoint_open(path, &c);
    check_outcome(s, "lg_checkpoint_open", path, name);
    assert_true((s == LG_OK) == (c != NULL));
    lg_checkpoint_close(c);
    lg_params *p = lg_params_new();
    assert_non_null(p);
    assert_non_null(lg_params_add(p, "w", LG_F32, 2, (int64_t[]){2, 3}));
    assert_non_null(lg_params_add(p, "b", LG_F32, 1, (int64_t[]){3}));
    s = lg_checkpoint_load(p, path, NULL, false);
    if (strncmp(name, "ok-", 3) != 0)
        check_outcome(s, "lg_checkpoint_load", path, name);
    lg_params_free(p);
}

/* Every optimizer kind loads the file; an "ok-" file loads into at least one, then steps
 * (or reports the step limit); any other fails for every kind, naming the file. */
static void check_optim(const char *path, const char *name)
{
    lg_params *p = lg_params_new();
    assert_non_null(p);
    assert_non_null(lg_params_add(p, "w", LG_F32, 2, (int64_t[]){2, 3}));
    assert_non_null(lg_params_add(p, "d", LG_F64, 1, (int64_t[]){2}));
    const lg_optim_kind kinds[4] = {LG_OPTIM_ADAM, LG_OPTIM_ADAMW, LG_OPTIM_SGD, LG_OPTIM_SGD};
    bool want_ok = strncmp(name, "ok-", 3) == 0;
    int loaded = 0;
    for (int k = 0; k < 4; k++) {
        lg_optim_config cfg = lg_optim_defaults(kinds[k]);
        cfg.momentum = k == 2 ? 0.9 : 0;
        lg_optim *o = lg_optim_new(p, &cfg);
        assert_non_null(o);
        lg_status s = lg_optim_load(o, path);
        if (s == LG_OK) {
            loaded++;
            lg_status st = lg_optim_step(o);
            if (st != LG_OK && st != LG_ERR_STATE)
                fail_msg("%s: a step after loading gave %d", name, (int)st);
        } else if (strncmp(lg_last_errmsg(), "lg_", 3) != 0 || !strstr(lg_last_errmsg(), path)) {
            fail_msg("lg_optim_load on %s: the message \"%s\" does not name the function and "
                     "the file", name, lg_last_errmsg());
        }
        lg_optim_free(o);
    }
    if (want_ok ? loaded == 0 : loaded != 0)
        fail_msg("lg_optim_load on %s: loaded into %d optimizer kinds", name, loaded);
    lg_params_free(p);
}

enum { IDX, IDX_GZIP, SAFETENSORS, OPTIM };

/* Replays every file of one corpus directory; returns how many. */
static int replay(const char *sub, int kind)
{
    DIR *d = opendir(corpus_dir(sub));
    if (!d)
        fail_msg("cannot open %s", corpus_dir(sub));
    int n = 0;
    struct dirent *e;
    char path[2048];
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", corpus_dir(sub), e->d_name);
        size_t len;
        uint8_t *b = read_file(path, &len);
        if (kind == IDX_GZIP) {
            /* the target's input becomes the file it loaded */
            size_t flen;
            uint8_t *file = fuzz_idx_gzip_file(b, len, &flen);
            assert_non_null(file);
            free(b);
            b = file;
            len = flen;
            snprintf(path, sizeof path, "%s", tpath("gzip-input"));
            write_file(path, b, len);
        }
        size_t justified = len, inflated = fuzz_gunzip_len(b, len, (size_t)1 << 30);
        justified = inflated > justified ? inflated : justified;
        free(b);
        under_cap(kind == SAFETENSORS ? check_safetensors : kind == OPTIM ? check_optim
                                                                   : check_idx,
                  path, e->d_name, justified);
        n++;
    }
    closedir(d);
    return n;
}

static void test_fuzz_regress_idx_files_fail_cleanly(void **state)
{
    (void)state;
    int n = replay("idx", IDX);
    print_message("    %d IDX files\n", n);
    assert_true(n >= 20); /* the hand-made ones at least: the directory was found */
}

static void test_fuzz_regress_idx_gzip_inputs_fail_cleanly(void **state)
{
    (void)state;
    int n = replay("idx_gzip", IDX_GZIP);
    print_message("    %d gzip target inputs\n", n);
    assert_true(n >= 2);
}

static void test_fuzz_regress_safetensors_files_fail_cleanly(void **state)
{
    (void)state;
    int n = replay("safetensors", SAFETENSORS);
    print_message("    %d safetensors files\n", n);
    assert_true(n >= 30);
}

static void test_fuzz_regress_optim_state_files_fail_cleanly(void **state)
{
    (void)state;
    int n = replay("optim_state", OPTIM);
    print_message("    %d optimizer-state files\n", n);
    assert_true(n >= 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fuzz_regress_optim_state_files_fail_cleanly),
        cmocka_unit_test(test_fuzz_regress_idx_files_fail_cleanly),
        cmocka_unit_test(test_fuzz_regress_idx_gzip_inputs_fail_cleanly),
        cmocka_unit_test(test_fuzz_regress_safetensors_files_fail_cleanly),
    };
    return cmocka_run_group_tests(tests, setup, tmp_teardown);
}
