/* Reading safetensors checkpoints: open and validate a file, list its tensors, read one,
 * or load a whole parameter store. Writing is in checkpoint_save.c. Every size in the
 * file is checked against the file's length before it is used to read or allocate. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include <zlib.h>
#include "lagrad/checkpoint.h"
#include "../tensor/tensor_impl.h"
#include "file_impl.h"

/* Largest dimension or offset accepted: JSON numbers arrive as doubles, exact to 2^53. */
#define MAX_JSON_INT 9007199254740992.0
/* More dimensions than any real tensor has; bounds the per-tensor shape allocation. */
#define MAX_NDIM 64
/* Values (numbers, strings, arrays, objects) in a header: bounds what cJSON allocates. */
#define MAX_JSON_VALUES (1 << 20)
/* Bytes read at a time to check the data checksum. */
#define CRC_CHUNK ((size_t)1 << 20)

/* The dtypes of the safetensors format with a whole number of bytes per element. */
static const struct {
    const char *name;
    size_t size;
} k_dtypes[] = {
    {"F32", 4},  {"F64", 8}, {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1},
    {"F8_E4M3", 1}, {"I16", 2}, {"U16", 2}, {"F16", 2}, {"BF16", 2}, {"I32", 4},
    {"U32", 4}, {"I64", 8}, {"U64", 8},
};
enum {
    DT_F32 = 0, DT_F64 = 1, DT_BOOL = 2, DT_U8 = 3, DT_I8 = 4, DT_I16 = 7, DT_U16 = 8,
    DT_F16 = 9, DT_BF16 = 10, DT_I32 = 11, DT_U32 = 12, DT_I64 = 13, DT_U64 = 14,
    N_DTYPES = sizeof k_dtypes / sizeof k_dtypes[0]
};

/* The k_dtypes index of a lagrad dtype. */
static int st_index(lg_dtype dt)
{
    return dt == LG_F64 ? DT_F64 : dt == LG_I32 ? DT_I32 : dt == LG_I64 ? DT_I64 : DT_F32;
}

/* The safetensors name of a lagrad dtype. */
static const char *st_name(lg_dtype dt) { return k_dtypes[st_index(dt)].name; }

/* The lagrad dtype a file dtype is read as without conversion; false when none. */
static bool lagrad_dtype(int dt, lg_dtype *out)
{
    switch (dt) {
    case DT_F32: *out = LG_F32; return true;
    case DT_F64: *out = LG_F64; return true;
    case DT_I32: *out = LG_I32; return true;
    case DT_I64: *out = LG_I64; return true;
    default: *out = LG_F32; return false;
    }
}

typedef struct entry {
    char *name;
    size_t name_bytes;
    int dt;              /* index into k_dtypes */
    int ndim;
    int64_t *shape;      /* ndim entries (NULL when ndim is 0) */
    int64_t numel;
    uint64_t begin, end; /* byte range in the data section */
} entry;

typedef struct meta_kv {
    char *key, *value;
    size_t key_bytes, value_bytes;
} meta_kv;

struct lg_checkpoint {
    int fd;
    char *path;
    size_t path_bytes;
    uint64_t data_start; /* 8 + header length */
    entry *e;
    int n, e_cap;        /* tensors parsed, entries allocated */
    int *by_name;        /* indices of e sorted by name, for lookups */
    meta_kv *meta;
    int n_meta, meta_cap;
    bool has_meta;       /* "__metadata__" seen */
};

/* The context of one open: names the function and the file in every message. */
typedef struct ctx {
    const char *fn, *path;
    lg_checkpoint *c;
} ctx;

static int host_is_little_endian(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* The selector rule of nn.h; a NULL prefix picks everything. */
static bool has_prefix(const char *name, const char *prefix)
{
    return !prefix || lg_params_name_matches(prefix, name);
}

static char *dup_str(const char *s, size_t *bytes)
{
    size_t n = strlen(s) + 1;
    char *d = lg_malloc(n);
    if (d)
        memcpy(d, s, n);
    *bytes = n;
    return d;
}

/* pread until n bytes arrive; a short read (the file shrank) is an error too. */
static lg_status read_at(const ctx *x, void *buf, size_t n, uint64_t off, const char *what)
{
    char *p = buf;
    while (n) {
        ssize_t r = pread(x->c->fd, p, n, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return lg_set_error(LG_ERR_IO, "%s: %s: cannot read %s: %s", x->fn, x->path, what,
                                r < 0 ? strerror(errno) : "unexpected end of file");
        p += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return LG_OK;
}

void lg_checkpoint_close(lg_checkpoint *c)
{
    if (!c)
        return;
    if (c->fd >= 0)
        close(c->fd);
    for (int i = 0; i < c->n; i++) {
        lg_free(c->e[i].name, c->e[i].name_bytes);
        lg_free(c->e[i].shape, sizeof(int64_t) * (size_t)c->e[i].ndim);
    }
    for (int i = 0; i < c->n_meta; i++) {
        lg_free(c->meta[i].key, c->meta[i].key_bytes);
        lg_free(c->meta[i].value, c->meta[i].value_bytes);
    }
    lg_free(c->e, sizeof *c->e * (size_t)c->e_cap);
    lg_free(c->by_name, sizeof *c->by_name * (size_t)c->n);
    lg_free(c->meta, sizeof *c->meta * (size_t)c->meta_cap);
    lg_free(c->path, c->path_bytes);
    lg_free(c, sizeof *c);
}

static lg_status oom(const ctx *x)
{
    return lg_set_error(LG_ERR_OOM, "%s: %s: out of memory", x->fn, x->path);
}

/* A JSON number that is an integer in [0, 2^53]. */
static bool json_uint(const cJSON *v, uint64_t *out)
{
    if (!cJSON_IsNumber(v))
        return false;
    double d = v->valuedouble;
    if (!(d >= 0 && d <= MAX_JSON_INT) || d != (double)(uint64_t)d)
        return false;
    *out = (uint64_t)d;
    return true;
}

static lg_status parse_dtype(const ctx *x, const char *name, const cJSON *v, int *dt)
{
    if (!cJSON_IsString(v))
        return lg_set_error(LG_ERR_FORMAT, "%s: %s: tensor '%s' has no string \"dtype\"",
                            x->fn, x->path, name);
    for (int i = 0; i < (int)N_DTYPES; i++)
        if (strcmp(v->valuestring, k_dtypes[i].name) == 0) {
            *dt = i;
            return LG_OK;
        }
    return lg_set_error(LG_ERR_UNSUPPORTED, "%s: %s: tensor '%s' has dtype \"%.32s\", which "
                        "lagrad does not know", x->fn, x->path, name, v->valuestring);
}

static lg_status parse_shape(const ctx *x, entry *e, const cJSON *v)
{
    if (!cJSON_IsArray(v))
        return lg_set_error(LG_ERR_FORMAT, "%s: %s: tensor '%s' has no \"shape\" array",
                            x->fn, x->path, e->name);
    int nd = cJSON_GetArraySize(v);
    if (nd > MAX_NDIM)
        return lg_set_error(LG_ERR_FORMAT, "%s: %s: tensor '%s' has %d dimensions (at most "
                            "%d)", x->fn, x->path, e->name, nd, MAX_NDIM);
    if (nd > 0 && !(e->shape = lg_malloc(sizeof(int64_t) * (size_t)nd)))
        return oom(x);
    e->ndim = nd;
    bool zero = false, overflow = false;
    uint64_t numel = 1;
    int i = 0;
    for (const cJSON *d = v->child; d; d = d->next, i++) {
        uint64_t u;
        if (!json_uint(d, &u))
            return lg_set_error(LG_ERR_FORMAT, "%s: %s: tensor '%s': dimension %d is not an "
                                "integer in [0, 2^53]", x->fn, x->path, e->name, i);
        e->shape[i] = (int64_t)u;
        zero |= u == 0;
        if (u && numel > ((uint64_t)1 << 62) / u)
            overflow = true;
        else if (u)
            numel *= u;
    }
    /* The product of the non-zero dimensions is bounded even when a zero makes the tensor
     * empty: its strides multiply them, and [0, 2^53, 2^53] would overflow those. */
    if (overflow)
        return lg_set_error(LG_ERR_FORMAT, "%s: %s: tensor '%s': shape %s has too many "
                            "elements", x->fn, x->path, e->name, lg_shape_str(nd, e->shape).s);
    e->numel = zero ? 0 : (int64_t)numel;
    return LG_OK;
}

static lg_status parse_offsets(const ctx *x, entry *e, const cJSON *v, uint64_t data_len)
{
    uint64_t b, en;
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 2 || !json_uint(v->child, &b) ||
        !json_uint(v->child->next, &en))
        return lg_set_error(LG_ERR_FORMAT, "%s: %s: tensor '%s' needs \"data_offsets\": "
                            "[begin, end] of non-negative integers", x->fn, x->path, e->name);
    if (b > en || en > data_len)
        return lg_set_error(LG_ERR_FORMAT, "%s: %s: tensor '%s': data_offsets [%llu, %llu] "
                            "out of range (the data section has %llu bytes)", x->fn, x->path,
                            e->name, (unsigned long long)b, (unsigned long long)en,
                            (unsigned long long)data_len);
    size_t es = k_dtypes[e->dt].size;
    if ((uint64_t)e->numel > (en - b) / es || (uint64_t)e->numel * es != en - b)
        return lg_set_error(LG_ERR_FORMAT, "%s: %s: tensor '%s': data_offsets span %llu "
                            "bytes, but %s %s needs %llu", x->fn, x->path, e->name,
                            (unsigned long long)(en - b), k_dtypes[e->dt].name,
                            lg_shape_str(e->ndim, e->shape).s,
                            (unsigned long long)((uint64_t)e->numel * es));
    e->begin = b;
    e->end = en;
    return LG_OK;
}

/* Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF. */
static bool utf8_valid(const unsigned char *s)
{
    while (*s) {
        unsigned c = *s++;
        int more;
        unsigned min;
        if (c < 0x80)
            continue;
        if (c >= 0xC2 && c <= 0xDF) {
            more = 1;
            min = 0x80;
            c &= 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            more = 2;
            min = 0x800;
            c &= 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            more = 3;
            min = 0x10000;
            c &= 0x07;
        } else {
            return false;
        }
        for (int k = 0; k < more; k++, s++) {
            if ((*s & 0xC0) != 0x80)
                return false;
            c = c << 6 | (*s & 0x3F);
        }
        if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
            return false;
    }
    return true;
}

static lg_status parse_tensor(const ctx *x, entry *e, const cJSON *item, uint64_t data_len)
{
    if (!(e->name = dup_str(item->string, &e->name_bytes)))
        return oom(x);
    if (!utf8_valid((const unsigned char *)e->name))
        return lg_set_error(LG_ERR_FORMAT, "%s: %s: a tensor name is not valid UTF-8", x->fn,
                            x->path);
    if (!cJSON_IsObject(item))
        return lg_set_error(LG_ERR_FORMAT, "%s: %s: tensor '%s' is not a JSON object", x->fn,
                            x->path, e->name);
    lg_status s = parse_dtype(x, e->name, cJSON_GetObjectItemCaseSensitive(item, "dtype"),
                              &e->dt);
    if (s == LG_OK)
        s = parse_shape(x, e, cJSON_GetObjectItemCaseSensitive(item, "shape"));
    if (s == LG_OK)
        s = parse_offsets(x, e, cJSON_GetObjectItemCaseSensitive(item, "data_offsets"),
                          data_len);
    return s;
}

static lg_status parse_metadata(const ctx *x, const cJSON *m)
{
    lg_checkpoint *c = x->c;
    if (c->has_meta)
        return lg_set_error(LG_ERR_FORMAT, "%s: %s: \"__metadata__\" appears twice", x->fn,
                            x->path);
    if (!cJSON_IsObject(m))
        return lg_set_error(LG_ERR_FORMAT, "%s: %s: \"__metadata__\" is not an object",
                            x->fn, x->path);
    c->has_meta = true;
    int n = cJSON_GetArraySize(m);
    if (n == 0)
        return LG_OK;
    if (!(c->meta = lg_malloc(sizeof *c->meta * (size_t)n)))
        return oom(x);
    c->meta_cap = n;
    memset(c->meta, 0, sizeof *c->meta * (size_t)n);
    for (const cJSON *kv = m->child; kv; kv = kv->next) {
        meta_kv *d = &c->meta[c->n_meta];
        if (!cJSON_IsString(kv))
            return lg_set_error(LG_ERR_FORMAT, "%s: %s: metadata value of \"%.64s\" is not a "
                                "string", x->fn, x->path, kv->string);
        c->n_meta++;
        d->key = dup_str(kv->string, &d->key_bytes);
        d->value = dup_str(kv->valuestring, &d->value_bytes);
        if (!d->key || !d->value)
            return oom(x);
        if (!utf8_valid((const unsigned char *)d->key) ||
            !utf8_valid((const unsigned char *)d->value))
            return lg_set_error(LG_ERR_FORMAT, "%s: %s: a metadata key or value is not valid "
                                "UTF-8", x->fn, x->path);
    }
    return LG_OK;
}


/* Sort keys: a name or a byte range, with the entry it came from. */
typedef struct name_key {
    const char *name;
    int idx;
} name_key;

typedef struct range_key {
    uint64_t begin, end;
    int idx;
} range_key;

static int cmp_name_key(const void *a, const void *b)
{
    return strcmp(((const name_key *)a)->name, ((const name_key *)b)->name);
}

static int cmp_range_key(const void *a, const void *b)
{
    const range_key *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* Sorts the n names (the first member of each item, `stride` bytes apart) into keys and
 * returns the index of a duplicate, or -1. keys has n slots. */
static int sort_names(name_key *keys, const void *items, size_t stride, int n)
{
    for (int i = 0; i < n; i++) {
        keys[i].name = *(char *const *)(const void *)((const char *)items + stride * (size_t)i);
        keys[i].idx = i;
    }
    qsort(keys, (size_t)n, sizeof *keys, cmp_name_key);
    for (int i = 1; i < n; i++)
        if (strcmp(keys[i - 1].name, keys[i].name) == 0)
            return keys[i].idx;
    return -1;
}

/* Names and metadata keys are unique; c->by_name gets the tensors in name order. */
static lg_status check_unique(const ctx *x)
{
    lg_checkpoint *c = x->c;
    int most = c->n > c->n_meta ? c->n : c->n_meta;
    if (most == 0)
        return LG_OK;
    name_key *keys = lg_malloc(sizeof *keys * (size_t)most);
    if (c->n && !(c->by_name = lg_malloc(sizeof *c->by_name * (size_t)c->n))) {
        lg_free(keys, sizeof *keys * (size_t)most);
        return oom(x);
    }
    if (!keys)
        return oom(x);
    lg_status s = LG_OK;
    int dup = sort_names(keys, c->e, sizeof *c->e, c->n);
    for (int i = 0; i < c->n; i++)
        c->by_name[i] = keys[i].idx;
    if (dup >= 0)
        s = lg_set_error(LG_ERR_FORMAT, "%s: %s: tensor '%s' appears twice in the header",
                         x->fn, x->path, c->e[dup].name);
    if (s == LG_OK && (dup = sort_names(keys, c->meta, sizeof *c->meta, c->n_meta)) >= 0)
        s = lg_set_error(LG_ERR_FORMAT, "%s: %s: metadata key '%s' appears twice", x->fn,
                         x->path, c->meta[dup].key);
    lg_free(keys, sizeof *keys * (size_t)most);
    return s;
}

/* The tensors' byte ranges tile the data section: no overlap, no hole, nothing after. */
static lg_status check_layout(const ctx *x, uint64_t data_len)
{
    lg_checkpoint *c = x->c;
    if (c->n == 0)
        return data_len == 0 ? LG_OK
                             : lg_set_error(LG_ERR_FORMAT, "%s: %s: %llu bytes of data but "
                                            "no tensors", x->fn, x->path,
                                            (unsigned long long)data_len);
    range_key *r = lg_malloc(sizeof *r * (size_t)c->n);
    if (!r)
        return oom(x);
    for (int i = 0; i < c->n; i++)
        r[i] = (range_key){c->e[i].begin, c->e[i].end, i};
    qsort(r, (size_t)c->n, sizeof *r, cmp_range_key);
    lg_status s = LG_OK;
    uint64_t pos = 0;
    for (int i = 0; i < c->n && s == LG_OK; i++) {
        if (r[i].begin < pos)
            s = lg_set_error(LG_ERR_FORMAT, "%s: %s: data of tensors '%s' and '%s' overlap",
                             x->fn, x->path, c->e[r[i - 1].idx].name, c->e[r[i].idx].name);
        else if (r[i].begin > pos)
            s = lg_set_error(LG_ERR_FORMAT, "%s: %s: data bytes [%llu, %llu) belong to no "
                             "tensor", x->fn, x->path, (unsigned long long)pos,
                             (unsigned long long)r[i].begin);
        pos = r[i].end;
    }
    if (s == LG_OK && pos != data_len)
        s = lg_set_error(LG_ERR_FORMAT, "%s: %s: the data section has %llu bytes but the "
                         "tensors cover %llu", x->fn, x->path, (unsigned long long)data_len,
                         (unsigned long long)pos);
    lg_free(r, sizeof *r * (size_t)c->n);
    return s;
}

static lg_status parse_root(const ctx *x, const cJSON *root, uint64_t data_len)
{
    lg_checkpoint *c = x->c;
    int n = cJSON_GetArraySize(root);
    int tensors = n - (cJSON_GetObjectItemCaseSensitive(root, "__metadata__") != NULL);
    if (tensors > LG_CHECKPOINT_MAX_TENSORS)
        return lg_set_error(LG_ERR_FORMAT, "%s: %s: the header lists %d tensors, more than "
                            "LG_CHECKPOINT_MAX_TENSORS (%d)", x->fn, x->path, tensors,
                            LG_CHECKPOINT_MAX_TENSORS);
    if (n > 0) {
        if (!(c->e = lg_malloc(sizeof *c->e * (size_t)n)))
            return oom(x);
        memset(c->e, 0, sizeof *c->e * (size_t)n);
        c->e_cap = n;
    }
    lg_status s = LG_OK;
    for (const cJSON *item = root->child; item && s == LG_OK; item = item->next) {
        if (strcmp(item->string, "__metadata__") == 0)
            s = parse_metadata(x, item);
        else
            s = parse_tensor(x, &c->e[c->n++], item, data_len);
    }
    if (s == LG_OK)
        s = check_unique(x);
    if (s == LG_OK)
        s = check_layout(x, data_len);
    return s;
}

/* The stored checksum as a number: exactly 8 hex digits. */
static bool parse_crc(const char *text, uint32_t *crc)
{
    uint32_t v = 0;
    for (int i = 0; i < 8; i++) {
        char ch = text[i];
        int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
              : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
        if (d < 0)
            return false;
        v = v << 4 | (uint32_t)d;
    }
    *crc = v;
    return text[8] == '\0';
}

/* When the metadata holds LG_CHECKPOINT_CRC_KEY, the CRC-32 of the data section must match
 * it. The section is read in chunks, so this allocates at most CRC_CHUNK bytes. */
static lg_status verify_checksum(const ctx *x, uint64_t data_len)
{
    const char *text = lg_checkpoint_metadata_get(x->c, LG_CHECKPOINT_CRC_KEY);
    if (!text)
        return LG_OK;
    uint32_t want;
    if (!parse_crc(text, &want))
        return lg_set_error(LG_ERR_FORMAT, "%s: %s: metadata %s is \"%.32s\", not 8 hex "
                            "digits", x->fn, x->path, LG_CHECKPOINT_CRC_KEY, text);
    size_t cap = data_len < CRC_CHUNK ? (size_t)data_len : CRC_CHUNK;
    unsigned char *buf = cap ? lg_malloc(cap) : NULL;
    if (cap && !buf)
        return oom(x);
    uLong crc = crc32(0L, Z_NULL, 0);
    lg_status s = LG_OK;
    for (uint64_t pos = 0; pos < data_len && s == LG_OK; pos += cap) {
        size_t n = data_len - pos < cap ? (size_t)(data_len - pos) : cap;
        s = read_at(x, buf, n, x->c->data_start + pos, "the data");
        crc = crc32(crc, buf, (uInt)n);
    }
    lg_free(buf, cap);
    if (s == LG_OK && (uint32_t)crc != want)
        s = lg_set_error(LG_ERR_FORMAT, "%s: %s: the data is corrupt: %s says %08lx, the %llu "
                         "data bytes give %08lx", x->fn, x->path, LG_CHECKPOINT_CRC_KEY,
                         (unsigned long)want, (unsigned long long)data_len,
                         (unsigned long)(uint32_t)crc);
    return s;
}

/* What cJSON would let through but the safetensors format does not (its reference reader
 * is serde_json into u64 and String), checked on the raw header before cJSON allocates
 * anything: a UTF-8 byte-order mark; a number that is not a plain non-negative integer
 * (a sign, a fraction or an exponent: 3.0 would otherwise read as 3); an escaped NUL in a
 * string ("w\u0000x" would read as "w"); more than MAX_JSON_VALUES values, which bounds
 * cJSON's allocation (about 64 bytes a value) whatever the header's size. */
static lg_status scan_header(const ctx *x, const char *b, size_t n)
{
    if (n >= 3 && memcmp(b, "\xEF\xBB\xBF", 3) == 0)
        return lg_set_error(LG_ERR_FORMAT, "%s: %s: the header starts with a UTF-8 byte-order "
                            "mark", x->fn, x->path);
    bool in_str = false;
    uint64_t values = 1;
    for (size_t i = 0; i < n; i++) {
        char ch = b[i];
        if (in_str) {
            if (ch == '"')
                in_str = false;
            else if (ch == '\\' && i + 1 < n) {
                if (b[i + 1] == 'u' && i + 5 < n && memcmp(b + i + 2, "0000", 4) == 0)
                    return lg_set_error(LG_ERR_FORMAT, "%s: %s: a string in the header holds "
                                        "an escaped NUL (\\u0000) at byte %zu", x->fn,
                                        x->path, i);
                i++; /* the escaped character, which may be a quote */
            }
            continue;
        }
        if (ch == '"')
            in_str = true;
        else if (ch == ',' || ch == '[' || ch == '{')
            values++;
        else if (ch == '-' || ch == '+' || ch == '.' ||
                 ((ch == 'e' || ch == 'E') && i > 0 && b[i - 1] >= '0' && b[i - 1] <= '9'))
            return lg_set_error(LG_ERR_FORMAT, "%s: %s: the header holds a number that is not "
                                "a non-negative integer ('%c' at byte %zu)", x->fn, x->path,
                                ch, i);
    }
    if (values > MAX_JSON_VALUES)
        return lg_set_error(LG_ERR_FORMAT, "%s: %s: the header holds more than %d JSON values",
                            x->fn, x->path, MAX_JSON_VALUES);
    return LG_OK;
}

/* The 8-byte length, then the JSON header, checked before anything is allocated. */
static lg_status parse_header(const ctx *x, uint64_t file_size)
{
    if (file_size < 8)
        return lg_set_error(LG_ERR_FORMAT, "%s: %s: the file has %llu bytes, too few for the "
                            "8-byte header length", x->fn, x->path,
                            (unsigned long long)file_size);
    unsigned char le[8];
    lg_status s = read_at(x, le, 8, 0, "the header length");
    if (s != LG_OK)
        return s;
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = n << 8 | le[i];
    if (n > LG_CHECKPOINT_MAX_HEADER)
        return lg_set_error(LG_ERR_FORMAT, "%s: %s: header length %llu is above the limit of "
                            "%d bytes", x->fn, x->path, (unsigned long long)n,
                            LG_CHECKPOINT_MAX_HEADER);
    if (n > file_size - 8)
        return lg_set_error(LG_ERR_FORMAT, "%s: %s: header length %llu runs past the end of "
                            "the file (%llu bytes)", x->fn, x->path, (unsigned long long)n,
                            (unsigned long long)file_size);
    char *buf = lg_malloc((size_t)n + 1);
    if (!buf)
        return oom(x);
    s = read_at(x, buf, (size_t)n, 8, "the header");
    buf[n] = '\0';
    if (s == LG_OK && memchr(buf, '\0', (size_t)n))
        s = lg_set_error(LG_ERR_FORMAT, "%s: %s: the header holds a NUL byte", x->fn,
                         x->path);
    if (s == LG_OK)
        s = scan_header(x, buf, (size_t)n);
    cJSON *root = NULL;
    if (s == LG_OK) {
        const char *end = buf;
        /* The length counts the terminating NUL, which must follow the JSON value and
         * its padding: trailing garbage is an error. */
        root = cJSON_ParseWithLengthOpts(buf, (size_t)n + 1, &end, 1);
        if (!root)
            s = lg_set_error(LG_ERR_FORMAT, "%s: %s: the header is not valid JSON (error at "
                             "byte %lld of %llu)", x->fn, x->path,
                             (long long)(end ? end - buf : -1), (unsigned long long)n);
        else if (!cJSON_IsObject(root))
            s = lg_set_error(LG_ERR_FORMAT, "%s: %s: the header is not a JSON object", x->fn,
                             x->path);
    }
    x->c->data_start = 8 + n;
    if (s == LG_OK)
        s = parse_root(x, root, file_size - 8 - n);
    cJSON_Delete(root);
    lg_free(buf, (size_t)n + 1);
    if (s == LG_OK)
        s = verify_checksum(x, file_size - 8 - n);
    return s;
}

static lg_status open_file(const char *path, const char *fn, lg_checkpoint **out)
{
    if (!host_is_little_endian())
        return lg_set_error(LG_ERR_UNSUPPORTED, "%s: big-endian hosts are not supported", fn);
    lg_checkpoint *c = lg_malloc(sizeof *c);
    if (!c)
        return lg_set_error(LG_ERR_OOM, "%s: %s: out of memory", fn, path);
    memset(c, 0, sizeof *c);
    c->fd = -1;
    ctx x = {fn, path, c};
    lg_status s = LG_OK;
    uint64_t size = 0;
    if (!(c->path = dup_str(path, &c->path_bytes)))
        s = oom(&x);
    else if ((c->fd = lg_open_regular(path, fn, &size, &s)) >= 0)
        s = parse_header(&x, size);
    if (s != LG_OK) {
        lg_checkpoint_close(c);
        return s;
    }
    *out = c;
    return LG_OK;
}

lg_status lg_checkpoint_open(const char *path, lg_checkpoint **out)
{
    if (out)
        *out = NULL;
    if (!path || !out)
        return lg_set_error(LG_ERR_ARG, "lg_checkpoint_open: path or out is NULL");
    return open_file(path, "lg_checkpoint_open", out);
}

int lg_checkpoint_count(const lg_checkpoint *c) { return c ? c->n : 0; }

lg_status lg_checkpoint_info(const lg_checkpoint *c, int i, lg_checkpoint_tensor *t)
{
    if (!c || !t || i < 0 || i >= c->n)
        return lg_set_error(LG_ERR_ARG, "lg_checkpoint_info: NULL argument or index %d "
                            "outside [0, %d)", i, c ? c->n : 0);
    const entry *e = &c->e[i];
    lg_dtype dt;
    *t = (lg_checkpoint_tensor){
        .name = e->name,
        .dtype_name = k_dtypes[e->dt].name,
        .supported = lagrad_dtype(e->dt, &dt),
        .dtype = dt,
        .ndim = e->ndim,
        .shape = e->shape,
        .numel = e->numel,
        .nbytes = (size_t)(e->end - e->begin),
    };
    return LG_OK;
}

int lg_checkpoint_find(const lg_checkpoint *c, const char *name)
{
    if (!c || !name)
        return -1;
    int lo = 0, hi = c->n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2, k = c->by_name[mid];
        int d = strcmp(name, c->e[k].name);
        if (d == 0)
            return k;
        if (d < 0)
            hi = mid - 1;
        else
            lo = mid + 1;
    }
    return -1;
}

int lg_checkpoint_metadata_count(const lg_checkpoint *c) { return c ? c->n_meta : 0; }

lg_status lg_checkpoint_metadata_at(const lg_checkpoint *c, int i, const char **key,
                                    const char **value)
{
    if (!c || !key || !value || i < 0 || i >= c->n_meta)
        return lg_set_error(LG_ERR_ARG, "lg_checkpoint_metadata_at: NULL argument or index "
                            "%d outside [0, %d)", i, c ? c->n_meta : 0);
    *key = c->meta[i].key;
    *value = c->meta[i].value;
    return LG_OK;
}

const char *lg_checkpoint_metadata_get(const lg_checkpoint *c, const char *key)
{
    for (int i = 0; c && key && i < c->n_meta; i++)
        if (strcmp(c->meta[i].key, key) == 0)
            return c->meta[i].value;
    return NULL;
}

/* Can entry e be read into t? `where` names t's side in messages ("the store"). */
static lg_status check_entry(const ctx *x, const entry *e, const lg_tensor *t,
                             const char *where)
{
    if (e->dt != st_index(t->dtype))
        return lg_set_error(LG_ERR_DTYPE, "%s: %s: tensor '%s' is %s in the file but %s in %s",
                            x->fn, x->path, e->name, k_dtypes[e->dt].name, st_name(t->dtype),
                            where);
    bool same = e->ndim == t->ndim;
    for (int d = 0; same && d < e->ndim; d++)
        same = e->shape[d] == t->shape[d];
    if (!same)
        return lg_set_error(LG_ERR_SHAPE, "%s: %s: tensor '%s' has shape %s in the file but %s "
                            "in %s", x->fn, x->path, e->name, lg_shape_str(e->ndim, e->shape).s,
                            lg_tshape(t).s, where);
    return LG_OK;
}

static lg_status read_entry(const ctx *x, const entry *e, lg_tensor *t)
{
    return read_at(x, t->data, (size_t)(e->end - e->begin), x->c->data_start + e->begin,
                   e->name);
}

lg_status lg_checkpoint_read(lg_checkpoint *c, const char *name, lg_tensor *dst)
{
    if (!c || !name || !dst)
        return lg_set_error(LG_ERR_ARG, "lg_checkpoint_read: NULL argument");
    ctx x = {"lg_checkpoint_read", c->path, c};
    int i = lg_checkpoint_find(c, name);
    if (i < 0)
        return lg_set_error(LG_ERR_FORMAT, "%s: %s: no tensor named '%s'", x.fn, x.path, name);
    const entry *e = &c->e[i];
    lg_dtype as;
    if (!lagrad_dtype(e->dt, &as))
        return lg_set_error(LG_ERR_UNSUPPORTED, "%s: %s: tensor '%s' is %s; lagrad reads F32, "
                            "F64, I32 and I64 as they are (lg_checkpoint_read_convert converts "
                            "others)", x.fn, x.path, name, k_dtypes[e->dt].name);
    lg_status s = check_entry(&x, e, dst, "the destination");
    return s == LG_OK ? read_entry(&x, e, dst) : s;
}

/* Whether a file dtype converts exactly to dst for every value it can hold: integers
 * (BOOL as 0/1) widen to an integer or float type that holds their whole range, F16 and
 * BF16 to F32 or F64, F32 to F64. Nothing narrows; U64 and the F8 types never convert. */
static bool convertible(int src, lg_dtype dst)
{
    switch (src) {
    case DT_BOOL: case DT_U8: case DT_I8: case DT_I16: case DT_U16:
        return true;                       /* |v| < 2^16: any lagrad dtype */
    case DT_I32:
        return dst != LG_F32;              /* f32 holds 24 bits */
    case DT_U32:
        return dst == LG_I64 || dst == LG_F64;
    case DT_I64:
        return dst == LG_I64;
    case DT_F16: case DT_BF16: case DT_F32:
        return lg_dtype_is_float(dst);
    case DT_F64:
        return dst == LG_F64;
    default:
        return false;
    }
}

/* IEEE half precision to double, exactly (subnormals, infinities and NaN included). */
static double half_to_double(uint16_t h)
{
    int e = h >> 10 & 0x1f, m = h & 0x3ff;
    double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(m | 0x400, e - 25);
    return h & 0x8000 ? -v : v;
}

/* Element i of a little-endian buffer of file dtype dt, as an integer (*is_int) or a double.
 * False for a BOOL byte other than 0 or 1. */
static bool decode(int dt, const unsigned char *b, int64_t *iv, double *fv, bool *is_int)
{
    *is_int = true;
    switch (dt) {
    case DT_BOOL: *iv = b[0]; return b[0] <= 1;
    case DT_U8: *iv = b[0]; return true;
    case DT_I8: *iv = (int8_t)b[0]; return true;
    case DT_I16: { int16_t v; memcpy(&v, b, 2); *iv = v; return true; }
    case DT_U16: { uint16_t v; memcpy(&v, b, 2); *iv = v; return true; }
    case DT_I32: { int32_t v; memcpy(&v, b, 4); *iv = v; return true; }
    case DT_U32: { uint32_t v; memcpy(&v, b, 4); *iv = v; return true; }
    case DT_I64: { int64_t v; memcpy(&v, b, 8); *iv = v; return true; }
    default: break;
    }
    *is_int = false;
    uint16_t h;
    uint32_t w;
    float f;
    switch (dt) {
    case DT_F16: memcpy(&h, b, 2); *fv = half_to_double(h); return true;
    case DT_BF16:
        memcpy(&h, b, 2);
        w = (uint32_t)h << 16;
        memcpy(&f, &w, 4);
        *fv = f;
        return true;
    case DT_F32: memcpy(&f, b, 4); *fv = f; return true;
    default: memcpy(fv, b, 8); return true; /* DT_F64 */
    }
}

lg_status lg_checkpoint_read_convert(lg_checkpoint *c, const char *name, lg_tensor *dst)
{
    if (!c || !name || !dst)
        return lg_set_error(LG_ERR_ARG, "lg_checkpoint_read_convert: NULL argument");
    ctx x = {"lg_checkpoint_read_convert", c->path, c};
    int i = lg_checkpoint_find(c, name);
    if (i < 0)
        return lg_set_error(LG_ERR_FORMAT, "%s: %s: no tensor named '%s'", x.fn, x.path, name);
    const entry *e = &c->e[i];
    if (!convertible(e->dt, dst->dtype))
        return lg_set_error(k_dtypes[e->dt].size == 1 && e->dt >= 5 && e->dt <= 6
                                ? LG_ERR_UNSUPPORTED : LG_ERR_DTYPE,
                            "%s: %s: tensor '%s' is %s, which does not convert exactly to %s "
                            "(integers widen, F16/BF16/F32 go to f32/f64; nothing narrows)",
                            x.fn, x.path, name, k_dtypes[e->dt].name,
                            lg_dtype_name(dst->dtype));
    bool same = e->ndim == dst->ndim;
    for (int d = 0; same && d < e->ndim; d++)
        same = e->shape[d] == dst->shape[d];
    if (!same)
        return lg_set_error(LG_ERR_SHAPE, "%s: %s: tensor '%s' has shape %s in the file but %s "
                            "in the destination", x.fn, x.path, name,
                            lg_shape_str(e->ndim, e->shape).s, lg_tshape(dst).s);
    if (e->dt == st_index(dst->dtype))
        return read_entry(&x, e, dst);
    size_t es = k_dtypes[e->dt].size, per = CRC_CHUNK / 8;
    unsigned char *buf = e->numel ? lg_malloc(per * es) : NULL;
    if (e->numel && !buf)
        return oom(&x);
    lg_status s = LG_OK;
    for (int64_t at = 0; at < e->numel && s == LG_OK; at += (int64_t)per) {
        size_t n = (size_t)(e->numel - at) < per ? (size_t)(e->numel - at) : per;
        s = read_at(&x, buf, n * es, x.c->data_start + e->begin + (uint64_t)at * es, name);
        for (size_t k = 0; k < n && s == LG_OK; k++) {
            int64_t iv = 0;
            double fv = 0;
            bool is_int;
            if (!decode(e->dt, buf + k * es, &iv, &fv, &is_int))
                s = lg_set_error(LG_ERR_FORMAT, "%s: %s: tensor '%s' element %lld is BOOL byte "
                                 "%u, not 0 or 1", x.fn, x.path, name, (long long)(at + (int64_t)k),
                                 buf[k * es]);
            else if (dst->dtype == LG_I32)
                ((int32_t *)dst->data)[at + (int64_t)k] = (int32_t)iv;
            else if (dst->dtype == LG_I64)
                ((int64_t *)dst->data)[at + (int64_t)k] = iv;
            else if (dst->dtype == LG_F32)
                ((float *)dst->data)[at + (int64_t)k] = is_int ? (float)iv : (float)fv;
            else
                ((double *)dst->data)[at + (int64_t)k] = is_int ? (double)iv : fv;
        }
    }
    lg_free(buf, per * es);
    return s;
}

lg_status lg_checkpoint_load(lg_params *p, const char *path, const char *prefix, bool strict)
{
    static const char fn[] = "lg_checkpoint_load";
    if (!p || !path)
        return lg_set_error(LG_ERR_ARG, "%s: store or path is NULL", fn);
    if (prefix && !*prefix)
        prefix = NULL;
    int n = lg_params_count(p), in_store = 0;
    for (int i = 0; i < n; i++)
        in_store += has_prefix(lg_params_name(p, i), prefix);
    if (prefix && !in_store)
        return lg_set_error(LG_ERR_ARG, "%s: no parameter matches the selector '%s' (whole "
                            "name components: \"fc.lora_*\", not \"fc.lora_\")", fn, prefix);
    lg_checkpoint *c;
    lg_status s = open_file(path, fn, &c);
    if (s != LG_OK)
        return s;
    ctx x = {fn, path, c};
    /* Check everything first, so that a mismatch leaves the store unchanged. */
    for (int i = 0; i < n && s == LG_OK; i++) {
        const char *name = lg_params_name(p, i);
        const lg_tensor *t = lg_params_at(p, i);
        if (!has_prefix(name, prefix))
            continue;
        int j = lg_checkpoint_find(c, name);
        if (j < 0)
            s = lg_set_error(LG_ERR_FORMAT, "%s: %s: the file has no tensor '%s' (%s %s in the "
                             "store)", fn, path, name, st_name(t->dtype),
                             lg_tshape(t).s);
        else
            s = check_entry(&x, &c->e[j], t, "the store");
    }
    int in_file = 0;
    for (int j = 0; j < c->n; j++)
        in_file += has_prefix(c->e[j].name, prefix);
    /* Every store name was found in the file, where names are unique: any surplus in the
     * file is a tensor that the store lacks. */
    for (int j = 0; s == LG_OK && strict && in_file > in_store && j < c->n; j++)
        if (has_prefix(c->e[j].name, prefix) && !lg_params_get(p, c->e[j].name))
            s = lg_set_error(LG_ERR_FORMAT, "%s: %s: the file has tensor '%s' %s, which the "
                             "store lacks (strict load)", fn, path, c->e[j].name,
                             lg_shape_str(c->e[j].ndim, c->e[j].shape).s);
    for (int i = 0; i < n && s == LG_OK; i++)
        if (has_prefix(lg_params_name(p, i), prefix))
            s = read_entry(&x, &c->e[lg_checkpoint_find(c, lg_params_name(p, i))],
                           lg_params_at(p, i));
    lg_checkpoint_close(c);
    return s;
}
