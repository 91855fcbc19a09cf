/* Character-level text data sets (text.h): strict UTF-8 decoding, the vocabulary of
 * distinct code points, encoding, the train/validation split, random (B, T) windows and
 * the vocabulary as checkpoint metadata. Sampling and models live elsewhere. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lagrad/checkpoint.h"
#include "lagrad/text.h"
#include "file_impl.h"
#include "../tensor/tensor_impl.h"

#define MAX_CP 0x10FFFF

/* Decodes one code point of RFC 3629 UTF-8 at s[0..len); returns its length in bytes (1
 * to 4) and *cp, or 0 when the sequence is malformed (stray continuation, truncated,
 * overlong, surrogate, above U+10FFFF). */
static int utf8_next(const unsigned char *s, size_t len, int32_t *cp)
{
    unsigned c = s[0];
    if (c < 0x80) {
        *cp = (int32_t)c;
        return 1;
    }
    int n;
    uint32_t v, min;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2, v = c & 0x1F, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3, v = c & 0x0F, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (len < (size_t)n)
        return 0;
    for (int k = 1; k < n; k++) {
        if ((s[k] & 0xC0) != 0x80)
            return 0;
        v = v << 6 | (s[k] & 0x3F);
    }
    if (v < min || v > MAX_CP || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = (int32_t)v;
    return n;
}

/* Checks s and counts its characters, marking each code point in `seen` (a bitmap of
 * MAX_CP + 1 bits) when it is not NULL. */
static lg_status utf8_scan(const char *fn, const char *what, const unsigned char *s,
                           size_t len, uint8_t *seen, int64_t *count)
{
    int64_t n = 0;
    for (size_t i = 0; i < len;) {
        int32_t cp;
        int k = utf8_next(s + i, len - i, &cp);
        if (!k)
            return lg_set_error(LG_ERR_FORMAT, "%s: %s: malformed UTF-8 at byte offset %zu "
                                "(byte 0x%02X)", fn, what, i, s[i]);
        if (seen)
            seen[cp >> 3] |= (uint8_t)(1u << (cp & 7));
        i += (size_t)k;
        n++;
    }
    *count = n;
    return LG_OK;
}

int32_t lg_text_id(const lg_text *t, int32_t cp)
{
    if (!t || !t->vocab)
        return -1;
    int32_t lo = 0, hi = t->vocab_size - 1;
    while (lo <= hi) {
        int32_t mid = lo + (hi - lo) / 2;
        if (t->vocab[mid] == cp)
            return mid;
        if (t->vocab[mid] < cp)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

static lg_text *text_alloc(int32_t vocab_size)
{
    lg_text *t = lg_malloc(sizeof *t);
    if (!t)
        return NULL;
    memset(t, 0, sizeof *t);
    t->vocab = lg_malloc((size_t)vocab_size * sizeof *t->vocab);
    if (!t->vocab) {
        lg_free(t, sizeof *t);
        return NULL;
    }
    t->vocab_size = vocab_size;
    return t;
}

void lg_text_free(lg_text *t)
{
    if (!t)
        return;
    lg_tensor_free(t->ids);
    lg_free(t->vocab, (size_t)t->vocab_size * sizeof *t->vocab);
    lg_free(t, sizeof *t);
}

/* The vocabulary and ids of a whole text; `what` names it in messages. */
static lg_status text_build(const char *fn, const char *what, const unsigned char *s,
                            size_t len, lg_text **out)
{
    const size_t seen_bytes = (MAX_CP >> 3) + 1;
    uint8_t *seen = lg_malloc(seen_bytes);
    if (!seen)
        return lg_set_error(LG_ERR_OOM, "%s: %s: out of memory", fn, what);
    memset(seen, 0, seen_bytes);
    int64_t n = 0;
    lg_status st = utf8_scan(fn, what, s, len, seen, &n);
    if (st == LG_OK && n == 0)
        st = lg_set_error(LG_ERR_FORMAT, "%s: %s: the text is empty", fn, what);
    if (st != LG_OK) {
        lg_free(seen, seen_bytes);
        return st;
    }
    int32_t v = 0;
    for (int32_t cp = 0; cp <= MAX_CP; cp++)
        v += (seen[cp >> 3] >> (cp & 7)) & 1;
    lg_text *t = text_alloc(v);
    if (!t) {
        lg_free(seen, seen_bytes);
        return lg_set_error(LG_ERR_OOM, "%s: %s: out of memory", fn, what);
    }
    for (int32_t cp = 0, k = 0; cp <= MAX_CP; cp++)
        if ((seen[cp >> 3] >> (cp & 7)) & 1)
            t->vocab[k++] = cp;
    lg_free(seen, seen_bytes);
    int64_t shape[1] = {n};
    if (!(t->ids = lg_tensor_new(LG_I32, 1, shape))) {
        lg_text_free(t);
        return lg_set_error(LG_ERR_OOM, "%s: %s: out of memory for %" PRId64 " ids", fn, what,
                            n);
    }
    int32_t *ids = lg_tensor_data(t->ids);
    for (size_t i = 0, j = 0; i < len; j++) {
        int32_t cp;
        i += (size_t)utf8_next(s + i, len - i, &cp);
        ids[j] = lg_text_id(t, cp);
    }
    t->n = n;
    t->n_train = n / 10 * 9 + n % 10 * 9 / 10; /* floor(9 n / 10) without overflow */
    *out = t;
    return LG_OK;
}

lg_status lg_text_from_utf8(const char *bytes, size_t len, lg_text **out)
{
    if (out)
        *out = NULL;
    if (!out || (!bytes && len > 0))
        return lg_set_error(LG_ERR_ARG, "lg_text_from_utf8: NULL %s", out ? "bytes" : "out");
    if (len > LG_TEXT_MAX_BYTES)
        return lg_set_error(LG_ERR_FORMAT, "lg_text_from_utf8: %zu bytes, more than the "
                            "%zu lagrad reads", len, LG_TEXT_MAX_BYTES);
    return text_build("lg_text_from_utf8", "text", (const unsigned char *)bytes, len, out);
}

/* Reads the whole regular file into an lg_malloc'd buffer of *len bytes. */
static lg_status read_all(const char *fn, const char *path, unsigned char **buf, size_t *len)
{
    lg_status st;
    uint64_t size;
    int fd = lg_open_regular(path, fn, &size, &st);
    if (fd < 0)
        return st;
    if (size > LG_TEXT_MAX_BYTES) {
        close(fd);
        return lg_set_error(LG_ERR_FORMAT, "%s: %s: %" PRIu64 " bytes, more than the %zu "
                            "lagrad reads", fn, path, size, LG_TEXT_MAX_BYTES);
    }
    unsigned char *b = lg_malloc(size ? (size_t)size : 1);
    if (!b) {
        close(fd);
        return lg_set_error(LG_ERR_OOM, "%s: %s: out of memory for %" PRIu64 " bytes", fn,
                            path, size);
    }
    size_t got = 0;
    while (got < size) {
        ssize_t k = read(fd, b + got, (size_t)size - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            st = k < 0 ? lg_set_error(LG_ERR_IO, "%s: %s: read failed: %s", fn, path,
                                      strerror(errno))
                       : lg_set_error(LG_ERR_IO, "%s: %s: file shrank to %zu bytes while "
                                      "read", fn, path, got);
            close(fd);
            lg_free(b, size ? (size_t)size : 1);
            return st;
        }
        got += (size_t)k;
    }
    close(fd);
    *buf = b;
    *len = (size_t)size;
    return LG_OK;
}

lg_status lg_text_load(const char *path, lg_text **out)
{
    if (out)
        *out = NULL;
    if (!path || !out)
        return lg_set_error(LG_ERR_ARG, "lg_text_load: NULL %s", path ? "out" : "path");
    unsigned char *b = NULL;
    size_t len = 0;
    lg_status st = read_all("lg_text_load", path, &b, &len);
    if (st != LG_OK)
        return st;
    st = text_build("lg_text_load", path, b, len, out);
    lg_free(b, len ? len : 1);
    return st;
}

lg_status lg_text_encode(const lg_text *t, const char *s, size_t len, int32_t *ids,
                         int64_t cap, int64_t *n)
{
    if (!t || (!s && len > 0) || (!ids && cap > 0) || !n || !t->vocab)
        return lg_set_error(LG_ERR_ARG, "lg_text_encode: NULL %s",
                            !t || !t->vocab ? "text" : !n ? "n" : !ids && cap > 0 ? "ids"
                                                                                  : "s");
    const unsigned char *u = (const unsigned char *)s;
    int64_t count = 0;
    lg_status st = utf8_scan("lg_text_encode", "input", u, len, NULL, &count);
    if (st != LG_OK)
        return st;
    if (count > cap)
        return lg_set_error(LG_ERR_SHAPE, "lg_text_encode: %" PRId64 " characters do not fit "
                            "in %" PRId64 " ids", count, cap);
    int64_t j = 0;
    for (size_t i = 0; i < len; j++) {
        int32_t cp;
        int k = utf8_next(u + i, len - i, &cp);
        int32_t id = lg_text_id(t, cp);
        if (id < 0)
            return lg_set_error(LG_ERR_ARG, "lg_text_encode: U+%04" PRIX32 " at byte offset %zu "
                                "is not in the vocabulary of %" PRId32, (uint32_t)cp, i,
                                t->vocab_size);
        ids[j] = id;
        i += (size_t)k;
    }
    *n = j;
    return LG_OK;
}

/* Writes cp as UTF-8 into o (room for 4); returns its length. */
static int utf8_put(int32_t cp, char *o)
{
    uint32_t c = (uint32_t)cp;
    if (c < 0x80) {
        o[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        o[0] = (char)(0xC0 | c >> 6);
        o[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        o[0] = (char)(0xE0 | c >> 12);
        o[1] = (char)(0x80 | (c >> 6 & 0x3F));
        o[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | c >> 18);
    o[1] = (char)(0x80 | (c >> 12 & 0x3F));
    o[2] = (char)(0x80 | (c >> 6 & 0x3F));
    o[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

lg_status lg_text_decode(const lg_text *t, const int32_t *ids, int64_t n, char *buf,
                         size_t cap, size_t *len)
{
    if (!t || !t->vocab || (!ids && n > 0) || !buf || cap == 0 || n < 0)
        return lg_set_error(LG_ERR_ARG, "lg_text_decode: %s",
                            !t || !t->vocab ? "NULL text" : !buf || cap == 0 ? "no buffer"
                            : n < 0 ? "negative n" : "NULL ids");
    size_t w = 0;
    for (int64_t j = 0; j < n; j++) {
        if (ids[j] < 0 || ids[j] >= t->vocab_size) {
            buf[w] = '\0';
            return lg_set_error(LG_ERR_ARG, "lg_text_decode: id %" PRId32 " at position %"
                                PRId64 " is outside [0, %" PRId32 ")", ids[j], j,
                                t->vocab_size);
        }
        char tmp[4];
        int k = utf8_put(t->vocab[ids[j]], tmp);
        if (w + (size_t)k + 1 > cap) {
            buf[w] = '\0';
            if (len)
                *len = w;
            return lg_set_error(LG_ERR_SHAPE, "lg_text_decode: %" PRId64 " ids do not fit in "
                                "%zu bytes", n, cap);
        }
        memcpy(buf + w, tmp, (size_t)k);
        w += (size_t)k;
    }
    buf[w] = '\0';
    if (len)
        *len = w;
    return LG_OK;
}

lg_status lg_text_batch(const lg_text *t, lg_text_split split, lg_rng *r, lg_tensor *x,
                        lg_tensor *y)
{
    const char *fn = "lg_text_batch";
    if (!t || !r || !x || !y)
        return lg_set_error(LG_ERR_ARG, "%s: NULL %s", fn, !t ? "text" : !r ? "rng"
                                                                : !x ? "x" : "y");
    if (!t->ids)
        return lg_set_error(LG_ERR_ARG, "%s: the text is a vocabulary alone (no ids)", fn);
    if (split != LG_TEXT_TRAIN && split != LG_TEXT_VAL)
        return lg_set_error(LG_ERR_ARG, "%s: bad split %d", fn, (int)split);
    if (!lg_dtype_int(x->dtype) || !lg_dtype_int(y->dtype))
        return lg_set_error(LG_ERR_DTYPE, "%s: x is %s and y is %s; need i32 or i64", fn,
                            lg_dtype_name(x->dtype), lg_dtype_name(y->dtype));
    if (x->ndim != 2 || !lg_same_shape(x, y) || x->shape[0] < 1 || x->shape[1] < 1)
        return lg_set_error(LG_ERR_SHAPE, "%s: x %s and y %s must be one (B,T) shape with "
                            "B, T >= 1", fn, lg_tshape(x).s, lg_tshape(y).s);
    const int32_t *all = lg_tensor_cdata(t->ids);
    const int32_t *d = split == LG_TEXT_TRAIN ? all : all + t->n_train;
    int64_t L = split == LG_TEXT_TRAIN ? t->n_train : t->n - t->n_train;
    int64_t B = x->shape[0], T = x->shape[1];
    if (L <= T)
        return lg_set_error(LG_ERR_SHAPE, "%s: the %s split has %" PRId64 " ids; windows of "
                            "T = %" PRId64 " need at least T + 1", fn,
                            split == LG_TEXT_TRAIN ? "train" : "val", L, T);
    for (int64_t b = 0; b < B; b++) {
        int64_t i = (int64_t)(lg_rng_uniform(r) * (double)(L - T));
        if (i >= L - T)
            i = L - T - 1;
        for (int64_t k = 0; k < T; k++) {
            int64_t o = b * T + k;
            if (x->dtype == LG_I32) {
                ((int32_t *)x->data)[o] = d[i + k];
            } else {
                ((int64_t *)x->data)[o] = d[i + k];
            }
            if (y->dtype == LG_I32) {
                ((int32_t *)y->data)[o] = d[i + k + 1];
            } else {
                ((int64_t *)y->data)[o] = d[i + k + 1];
            }
        }
    }
    return LG_OK;
}

lg_status lg_text_vocab_meta(const lg_text *t, char **value, size_t *bytes)
{
    if (!t || !t->vocab || !value || !bytes)
        return lg_set_error(LG_ERR_ARG, "lg_text_vocab_meta: NULL %s",
                            !t || !t->vocab ? "text" : !value ? "value" : "bytes");
    size_t cap = (size_t)t->vocab_size * 8 + 1; /* up to 7 digits and a comma each */
    char *s = lg_malloc(cap);
    if (!s)
        return lg_set_error(LG_ERR_OOM, "lg_text_vocab_meta: out of memory");
    size_t w = 0;
    for (int32_t i = 0; i < t->vocab_size; i++)
        w += (size_t)snprintf(s + w, cap - w, i ? ",%" PRId32 : "%" PRId32, t->vocab[i]);
    *value = s;
    *bytes = cap;
    return LG_OK;
}

void lg_text_vocab_meta_free(char *value, size_t bytes)
{
    if (value)
        lg_free(value, bytes);
}

lg_status lg_text_vocab_parse(const char *value, lg_text **out)
{
    if (out)
        *out = NULL;
    if (!value || !out)
        return lg_set_error(LG_ERR_ARG, "lg_text_vocab_parse: NULL %s",
                            value ? "out" : "value");
    int32_t count = 1;
    for (const char *p = value; *p; p++)
        count += *p == ',';
    lg_text *t = text_alloc(count);
    if (!t)
        return lg_set_error(LG_ERR_OOM, "lg_text_vocab_parse: out of memory");
    const char *p = value;
    for (int32_t k = 0; k < count; k++) {
        int64_t v = 0;
        int digits = 0;
        while (*p >= '0' && *p <= '9' && digits < 8) {
            v = v * 10 + (*p++ - '0');
            digits++;
        }
        const char *want = k + 1 < count ? "," : "";
        bool bad = digits == 0 || digits == 8 || v > MAX_CP || (v >= 0xD800 && v <= 0xDFFF) ||
                   (k > 0 && v <= t->vocab[k - 1]) || *p != *want;
        if (bad) {
            lg_text_free(t);
            return lg_set_error(LG_ERR_FORMAT, "lg_text_vocab_parse: bad vocabulary at byte "
                                "offset %td: want strictly increasing code points separated "
                                "by commas", p - value);
        }
        t->vocab[k] = (int32_t)v;
        if (*p)
            p++;
    }
    *out = t;
    return LG_OK;
}

lg_status lg_text_vocab_load(const char *path, lg_text **out)
{
    if (out)
        *out = NULL;
    if (!path || !out)
        return lg_set_error(LG_ERR_ARG, "lg_text_vocab_load: NULL %s", path ? "out" : "path");
    lg_checkpoint *c;
    lg_status st = lg_checkpoint_open(path, &c);
    if (st != LG_OK)
        return st;
    const char *v = lg_checkpoint_metadata_get(c, LG_TEXT_VOCAB_KEY);
    st = v ? lg_text_vocab_parse(v, out)
           : lg_set_error(LG_ERR_FORMAT, "lg_text_vocab_load: %s has no \"%s\" metadata",
                          path, LG_TEXT_VOCAB_KEY);
    lg_checkpoint_close(c);
    return st;
}
