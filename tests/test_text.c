/* Tests of the character-level text data sets (text.h) on small hand-made texts, whose
 * vocabularies, ids, splits and windows are worked out by hand; Moby Dick's counts (from
 * DATA.md) when scripts/fetch-moby-dick.sh has run. */
#define _POSIX_C_SOURCE 200809L
#include "test_util.h"
#include "test_tmp.h"
#include <string.h>

static int setup(void **state)
{
    (void)state;
    return tmp_dir_make("text");
}

static int teardown(void **state)
{
    (void)state;
    remove_tree(g_dir);
    return 0;
}

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

static lg_text *from(const char *s)
{
    lg_text *t = NULL;
    assert_int_equal(lg_text_from_utf8(s, strlen(s), &t), LG_OK);
    assert_non_null(t);
    return t;
}

static void test_text_vocab_is_sorted_distinct_code_points(void **state)
{
    (void)state;
    /* "bab\u00e9 a\u20ac": code points b=98 a=97 b=98 é=233 ' '=32 a=97 €=8364 */
    lg_text *t = from("bab\xc3\xa9 a\xe2\x82\xac");
    assert_int_equal(t->vocab_size, 5);
    const int32_t want_vocab[5] = {32, 97, 98, 233, 8364};
    assert_memory_equal(t->vocab, want_vocab, sizeof want_vocab);
    assert_int_equal(t->n, 7);
    assert_int_equal(lg_tensor_dtype(t->ids), LG_I32);
    assert_int_equal(lg_tensor_numel(t->ids), 7);
    const int32_t want_ids[7] = {2, 1, 2, 3, 0, 1, 4};
    assert_memory_equal(lg_tensor_cdata(t->ids), want_ids, sizeof want_ids);
    assert_int_equal(lg_text_id(t, 8364), 4);
    assert_int_equal(lg_text_id(t, 99), -1);
    assert_int_equal(lg_text_id(NULL, 97), -1);
    lg_text_free(t);
    lg_text_free(NULL);
}

static void test_text_split_is_first_ninety_percent(void **state)
{
    (void)state;
    const char *s[] = {"abcdefghij", "abcdefghijklmnopqrstuvwxy", "a"};
    const int64_t want[] = {9, 22, 0}; /* floor(9 n / 10) for n = 10, 25, 1 */
    for (int i = 0; i < 3; i++) {
        lg_text *t = from(s[i]);
        assert_int_equal(t->n_train, want[i]);
        lg_text_free(t);
    }
}

static void test_text_load_reads_a_file(void **state)
{
    (void)state;
    const char *p = tpath("small.txt");
    write_file(p, "hello\nworld\n", 12);
    lg_text *t = NULL;
    assert_int_equal(lg_text_load(p, &t), LG_OK);
    assert_int_equal(t->n, 12);
    assert_int_equal(t->vocab_size, 8); /* \n d e h l o r w */
    assert_int_equal(t->vocab[0], '\n');
    assert_int_equal(t->vocab[7], 'w');
    lg_text_free(t);
}

/* Each malformed sequence sits after "ab", so the offset in the message is 2 (or later). */
static void test_text_malformed_utf8_gives_format_error_with_offset(void **state)
{
    (void)state;
    const struct { const char *bytes; size_t len; const char *offset; } cases[] = {
        {"ab\x80z", 4, "byte offset 2 "},            /* stray continuation byte */
        {"ab\xc0\x80", 4, "byte offset 2 "},         /* overlong NUL */
        {"ab\xe0\x80\x80", 5, "byte offset 2 "},     /* overlong 3-byte */
        {"ab\xed\xa0\x80", 5, "byte offset 2 "},     /* surrogate U+D800 */
        {"ab\xf4\x90\x80\x80", 6, "byte offset 2 "}, /* above U+10FFFF */
        {"ab\xf5\x80\x80\x80", 6, "byte offset 2 "}, /* invalid lead byte */
        {"ab\xe2\x82", 4, "byte offset 2 "},         /* truncated at the end */
        {"ab\xe2\x82z", 5, "byte offset 2 "},        /* truncated in the middle */
        {"ab\xc3\xa9\xff", 5, "byte offset 4 "},     /* after a valid 2-byte char */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lg_text *t = (lg_text *)1;
        assert_int_equal(lg_text_from_utf8(cases[i].bytes, cases[i].len, &t), LG_ERR_FORMAT);
        assert_null(t);
        assert_non_null(strstr(lg_last_errmsg(), cases[i].offset));
        assert_non_null(strstr(lg_last_errmsg(), "malformed UTF-8"));
    }
    const char *p = tpath("bad.txt");
    write_file(p, "abc\xc3(", 5);
    lg_text *t = NULL;
    assert_int_equal(lg_text_load(p, &t), LG_ERR_FORMAT);
    assert_null(t);
    assert_non_null(strstr(lg_last_errmsg(), "lg_text_load"));
    assert_non_null(strstr(lg_last_errmsg(), "bad.txt"));
    assert_non_null(strstr(lg_last_errmsg(), "byte offset 3 "));
    /* the largest valid code points in each length are accepted */
    lg_text *ok = NULL;
    assert_int_equal(lg_text_from_utf8("\x7f\xdf\xbf\xef\xbf\xbf\xf4\x8f\xbf\xbf", 10, &ok),
                     LG_OK);
    const int32_t want[4] = {0x7f, 0x7ff, 0xffff, 0x10ffff};
    assert_memory_equal(ok->vocab, want, sizeof want);
    lg_text_free(ok);
}

static void test_text_load_errors(void **state)
{
    (void)state;
    lg_text *t = NULL;
    assert_int_equal(lg_text_load(NULL, &t), LG_ERR_ARG);
    assert_int_equal(lg_text_load("x", NULL), LG_ERR_ARG);
    assert_int_equal(lg_text_from_utf8(NULL, 3, &t), LG_ERR_ARG);
    assert_int_equal(lg_text_from_utf8("a", 1, NULL), LG_ERR_ARG);
    assert_int_equal(lg_text_load(tpath("missing.txt"), &t), LG_ERR_IO);
    assert_null(t);
    assert_int_equal(lg_text_load(g_dir, &t), LG_ERR_IO); /* a directory */
    const char *p = tpath("empty.txt");
    write_file(p, "", 0);
    assert_int_equal(lg_text_load(p, &t), LG_ERR_FORMAT);
    assert_non_null(strstr(lg_last_errmsg(), "empty"));
    assert_int_equal(lg_text_from_utf8("", 0, &t), LG_ERR_FORMAT);
}

static void test_text_encode_decode_round_trip(void **state)
{
    (void)state;
    lg_text *t = from("caf\xc3\xa9 \xe2\x82\xac");
    int32_t ids[8];
    int64_t n = -1;
    assert_int_equal(lg_text_encode(t, "\xe2\x82\xac\xc3\xa9" "a", 6, ids, 8, &n), LG_OK);
    assert_int_equal(n, 3);
    /* vocab: ' ' a c f é € -> ids 0..5 */
    assert_int_equal(ids[0], 5);
    assert_int_equal(ids[1], 4);
    assert_int_equal(ids[2], 1);
    char buf[16];
    size_t len = 0;
    assert_int_equal(lg_text_decode(t, ids, n, buf, sizeof buf, &len), LG_OK);
    assert_int_equal(len, 6);
    assert_string_equal(buf, "\xe2\x82\xac\xc3\xa9" "a");
    /* errors */
    assert_int_equal(lg_text_encode(t, "z", 1, ids, 8, &n), LG_ERR_ARG);
    assert_non_null(strstr(lg_last_errmsg(), "U+007A"));
    assert_int_equal(lg_text_encode(t, "a\x80", 2, ids, 8, &n), LG_ERR_FORMAT);
    assert_non_null(strstr(lg_last_errmsg(), "byte offset 1 "));
    assert_int_equal(lg_text_encode(t, "aaa", 3, ids, 2, &n), LG_ERR_SHAPE);
    assert_int_equal(lg_text_encode(NULL, "a", 1, ids, 8, &n), LG_ERR_ARG);
    assert_int_equal(lg_text_encode(t, "a", 1, ids, 8, NULL), LG_ERR_ARG);
    assert_int_equal(lg_text_encode(t, "a", 1, NULL, 8, &n), LG_ERR_ARG);
    int32_t bad[2] = {1, 6};
    assert_int_equal(lg_text_decode(t, bad, 2, buf, sizeof buf, &len), LG_ERR_ARG);
    assert_non_null(strstr(lg_last_errmsg(), "position 1"));
    assert_int_equal(lg_text_decode(t, ids, 3, buf, 4, &len), LG_ERR_SHAPE);
    assert_string_equal(buf, "\xe2\x82\xac"); /* the prefix that fits */
    assert_int_equal(lg_text_decode(t, ids, 3, NULL, 4, &len), LG_ERR_ARG);
    assert_int_equal(lg_text_decode(NULL, ids, 3, buf, 4, &len), LG_ERR_ARG);
    lg_text_free(t);
}

/* "abcdefghijklmnopqrst" (20 chars): ids 0..19 in order, n_train 18, val = {18, 19}. */
static void test_text_batch_windows_and_next_char_targets(void **state)
{
    (void)state;
    lg_text *t = from("abcdefghijklmnopqrst");
    int64_t shape[2] = {16, 5};
    lg_tensor *x = lg_tensor_new(LG_I64, 2, shape), *y = lg_tensor_new(LG_I32, 2, shape);
    lg_rng r;
    lg_rng_init(&r, 7);
    assert_int_equal(lg_text_batch(t, LG_TEXT_TRAIN, &r, x, y), LG_OK);
    assert_int_equal(r.counter, 16); /* one draw per row */
    const int64_t *xd = lg_tensor_cdata(x);
    const int32_t *yd = lg_tensor_cdata(y);
    for (int b = 0; b < 16; b++) {
        int64_t i = xd[b * 5];
        assert_true(i >= 0 && i <= 18 - 5 - 1); /* the target window stays in the split */
        for (int k = 0; k < 5; k++) {
            assert_int_equal(xd[b * 5 + k], i + k);
            assert_int_equal(yd[b * 5 + k], i + k + 1);
        }
    }
    /* same seed, same windows */
    lg_tensor *x2 = lg_tensor_new(LG_I64, 2, shape), *y2 = lg_tensor_new(LG_I32, 2, shape);
    lg_rng_init(&r, 7);
    assert_int_equal(lg_text_batch(t, LG_TEXT_TRAIN, &r, x2, y2), LG_OK);
    assert_memory_equal(lg_tensor_cdata(x2), xd, 16 * 5 * sizeof(int64_t));
    /* the validation split of 2 ids holds one window of T = 1: x = 18, y = 19 */
    int64_t s1[2] = {3, 1};
    lg_tensor *xv = lg_tensor_new(LG_I32, 2, s1), *yv = lg_tensor_new(LG_I32, 2, s1);
    assert_int_equal(lg_text_batch(t, LG_TEXT_VAL, &r, xv, yv), LG_OK);
    for (int b = 0; b < 3; b++) {
        assert_int_equal(lg_tensor_item(xv, b), 18);
        assert_int_equal(lg_tensor_item(yv, b), 19);
    }
    lg_tensor_free(x2);
    lg_tensor_free(y2);
    lg_tensor_free(xv);
    lg_tensor_free(yv);
    lg_tensor_free(x);
    lg_tensor_free(y);
    lg_text_free(t);
}

static void test_text_batch_errors(void **state)
{
    (void)state;
    lg_text *t = from("abcdefghijklmnopqrst");
    lg_rng r;
    lg_rng_init(&r, 1);
    int64_t s[2] = {2, 4}, s2[2] = {2, 3}, s3[1] = {8}, sv[2] = {2, 2};
    lg_tensor *x = lg_tensor_new(LG_I32, 2, s), *y = lg_tensor_new(LG_I32, 2, s);
    lg_tensor *yo = lg_tensor_new(LG_I32, 2, s2), *flat = lg_tensor_new(LG_I32, 1, s3);
    lg_tensor *fx = lg_tensor_new(LG_F32, 2, s);
    lg_tensor *xv = lg_tensor_new(LG_I32, 2, sv), *yv = lg_tensor_new(LG_I32, 2, sv);
    assert_int_equal(lg_text_batch(NULL, LG_TEXT_TRAIN, &r, x, y), LG_ERR_ARG);
    assert_int_equal(lg_text_batch(t, LG_TEXT_TRAIN, NULL, x, y), LG_ERR_ARG);
    assert_int_equal(lg_text_batch(t, LG_TEXT_TRAIN, &r, NULL, y), LG_ERR_ARG);
    assert_int_equal(lg_text_batch(t, (lg_text_split)5, &r, x, y), LG_ERR_ARG);
    assert_int_equal(lg_text_batch(t, LG_TEXT_TRAIN, &r, x, yo), LG_ERR_SHAPE);
    assert_int_equal(lg_text_batch(t, LG_TEXT_TRAIN, &r, flat, flat), LG_ERR_SHAPE);
    assert_int_equal(lg_text_batch(t, LG_TEXT_TRAIN, &r, fx, y), LG_ERR_DTYPE);
    assert_non_null(strstr(lg_last_errmsg(), "f32"));
    assert_int_equal(lg_text_batch(t, LG_TEXT_VAL, &r, xv, yv), LG_ERR_SHAPE); /* 2 ids, T 2 */
    assert_non_null(strstr(lg_last_errmsg(), "val split has 2 ids"));
    lg_text *v = NULL;
    assert_int_equal(lg_text_vocab_parse("97,98", &v), LG_OK);
    assert_int_equal(lg_text_batch(v, LG_TEXT_TRAIN, &r, x, y), LG_ERR_ARG);
    lg_text_free(v);
    lg_tensor *ts[] = {x, y, yo, flat, fx, xv, yv};
    for (int i = 0; i < 7; i++)
        lg_tensor_free(ts[i]);
    lg_text_free(t);
}

static void test_text_vocab_survives_a_checkpoint(void **state)
{
    (void)state;
    /* NUL and a 4-byte code point are in the vocabulary */
    lg_text *t = NULL;
    assert_int_equal(lg_text_from_utf8("b\0a\xf0\x9f\x90\xb3", 7, &t), LG_OK);
    char *meta = NULL;
    size_t bytes = 0;
    assert_int_equal(lg_text_vocab_meta(t, &meta, &bytes), LG_OK);
    assert_string_equal(meta, "0,97,98,128051");
    lg_params *p = lg_params_new();
    int64_t shape[1] = {2};
    assert_non_null(lg_params_add(p, "w", LG_F32, 1, shape));
    const char *kv[2] = {LG_TEXT_VOCAB_KEY, meta};
    const char *path = tpath("model.safetensors");
    assert_int_equal(lg_checkpoint_save(p, path, NULL, kv, 1), LG_OK);
    lg_text *v = NULL;
    assert_int_equal(lg_text_vocab_load(path, &v), LG_OK);
    assert_int_equal(v->vocab_size, 4);
    assert_memory_equal(v->vocab, t->vocab, 4 * sizeof(int32_t));
    assert_null(v->ids);
    assert_int_equal(v->n, 0);
    int32_t ids[2] = {3, 0};
    char buf[8];
    size_t len;
    assert_int_equal(lg_text_decode(v, ids, 2, buf, sizeof buf, &len), LG_OK);
    assert_int_equal(len, 5);
    assert_memory_equal(buf, "\xf0\x9f\x90\xb3\0", 5);
    /* a checkpoint without the key */
    const char *plain = tpath("plain.safetensors");
    assert_int_equal(lg_checkpoint_save(p, plain, NULL, NULL, 0), LG_OK);
    lg_text *w = (lg_text *)1;
    assert_int_equal(lg_text_vocab_load(plain, &w), LG_ERR_FORMAT);
    assert_null(w);
    assert_int_equal(lg_text_vocab_load(tpath("none.safetensors"), &w), LG_ERR_IO);
    assert_int_equal(lg_text_vocab_load(NULL, &w), LG_ERR_ARG);
    assert_int_equal(lg_text_vocab_meta(NULL, &meta, &bytes), LG_ERR_ARG);
    lg_text_vocab_meta_free(meta, bytes);
    lg_text_vocab_meta_free(NULL, 0);
    lg_params_free(p);
    lg_text_free(v);
    lg_text_free(t);
}

static void test_text_vocab_parse_rejects_bad_values(void **state)
{
    (void)state;
    const char *bad[] = {"", ",", "97,", ",97", "97,,98", "98,97", "97,97", "1114112",
                         "55296", "9a", "97 ,98", "-1", "00000001"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        lg_text *t = (lg_text *)1;
        assert_int_equal(lg_text_vocab_parse(bad[i], &t), LG_ERR_FORMAT);
        assert_null(t);
    }
    lg_text *t = NULL;
    assert_int_equal(lg_text_vocab_parse("0,1114111", &t), LG_OK);
    assert_int_equal(t->vocab_size, 2);
    lg_text_free(t);
    assert_int_equal(lg_text_vocab_parse(NULL, &t), LG_ERR_ARG);
}

/* DATA.md: 1,190,317 characters, 83 distinct. Skipped before the fetch script has run. */
static void test_text_moby_dick_has_83_characters(void **state)
{
    (void)state;
    char path[1024];
    const char *src = __FILE__;
    const char *slash = strrchr(src, '/');
    int dir_len = slash ? (int)(slash - src) : 1;
    snprintf(path, sizeof path, "%.*s/../data/moby-dick/data.txt", dir_len,
             slash ? src : ".");
    if (access(path, R_OK) != 0) {
        print_message("skipped: %s missing (run scripts/fetch-moby-dick.sh)\n", path);
        skip();
    }
    lg_text *t = NULL;
    assert_int_equal(lg_text_load(path, &t), LG_OK);
    assert_int_equal(t->n, 1190317);
    assert_int_equal(t->vocab_size, 83);
    assert_int_equal(t->n_train, 1071285);
    lg_text_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_vocab_is_sorted_distinct_code_points),
        cmocka_unit_test(test_text_split_is_first_ninety_percent),
        cmocka_unit_test(test_text_load_reads_a_file),
        cmocka_unit_test(test_text_malformed_utf8_gives_format_error_with_offset),
        cmocka_unit_test(test_text_load_errors),
        cmocka_unit_test(test_text_encode_decode_round_trip),
        cmocka_unit_test(test_text_batch_windows_and_next_char_targets),
        cmocka_unit_test(test_text_batch_errors),
        cmocka_unit_test(test_text_vocab_survives_a_checkpoint),
        cmocka_unit_test(test_text_vocab_parse_rejects_bad_values),
        cmocka_unit_test(test_text_moby_dick_has_83_characters),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
