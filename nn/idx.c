/* The IDX file loader (the MNIST format), raw or gzip-compressed. Every size in the
 * header is checked against the data actually present before it drives an allocation; a
 * gzip stream is inflated once to count its bytes, then again into a buffer of that size.
 * Datasets, shuffling and batches built on it are in dataset.c. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include "lagrad/data.h"
#include "../tensor/tensor_impl.h"
#include "file_impl.h"

#define CHUNK ((size_t)1 << 16)       /* bytes read from the file at a time */
#define MAX_DIM 0x7fffffffu           /* larger is a negative int32 to other readers */
#define IDX_UBYTE 0x08

/* One open file: raw bytes come through `in`, and through zlib when gz is set. */
typedef struct reader {
    const char *fn, *path;
    int fd;
    uint8_t *in;          /* CHUNK bytes from lg_malloc */
    size_t in_len, in_pos;
    bool eof;             /* the file has no more bytes after in[in_len) */
    bool gz, z_ready, z_end;
    z_stream zs;
    uint64_t produced;    /* decompressed bytes before this read_gz call, all members */
    uint64_t size;        /* the file's length (a regular file: lg_open_regular) */
} reader;

/* zlib's allocator hooks route through lg_malloc; zfree gets no size, so it leads the
 * block (16 bytes keep the alignment zlib expects). */
static voidpf z_alloc(voidpf opaque, uInt items, uInt size)
{
    (void)opaque;
    size_t n = (size_t)items * size;
    unsigned char *p = lg_malloc(n + 16);
    if (!p)
        return Z_NULL;
    memcpy(p, &n, sizeof n);
    return p + 16;
}

static void z_free(voidpf opaque, voidpf addr)
{
    (void)opaque;
    if (!addr)
        return;
    unsigned char *p = (unsigned char *)addr - 16;
    size_t n;
    memcpy(&n, p, sizeof n);
    lg_free(p, n + 16);
}

/* Refills `in` from the file (when it is used up). */
static lg_status refill(reader *r)
{
    r->in_pos = r->in_len = 0;
    while (!r->eof && r->in_len == 0) {
        ssize_t k = read(r->fd, r->in, CHUNK);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return lg_set_error(LG_ERR_IO, "%s: %s: read failed: %s", r->fn, r->path,
                                strerror(errno));
        if (k == 0)
            r->eof = true;
        r->in_len = (size_t)k;
    }
    return LG_OK;
}

/* Copies up to n raw bytes; fewer (in *got) only at the end of the file. */
static lg_status read_raw(reader *r, uint8_t *dst, size_t n, size_t *got)
{
    *got = 0;
    while (*got < n) {
        if (r->in_pos == r->in_len) {
            lg_status s = refill(r);
            if (s != LG_OK || r->in_len == 0)
                return s;
        }
        size_t k = r->in_len - r->in_pos;
        if (k > n - *got)
            k = n - *got;
        memcpy(dst + *got, r->in + r->in_pos, k);
        r->in_pos += k;
        *got += k;
    }
    return LG_OK;
}

/* Inflates up to n bytes; fewer (in *got) only where the gzip stream ended cleanly.
 * Concatenated gzip members are read as one stream, as gunzip does. */
static lg_status read_gz(reader *r, uint8_t *dst, size_t n, size_t *got)
{
    z_stream *z = &r->zs;
    z->next_out = dst;
    z->avail_out = (uInt)n;
    while (z->avail_out > 0) {
        if (z->avail_in == 0) {
            lg_status s = refill(r);
            if (s != LG_OK)
                return s;
            z->next_in = r->in;
            z->avail_in = (uInt)r->in_len;
        }
        if (z->avail_in == 0 && r->z_end)
            break;
        if (z->avail_in == 0)
            return lg_set_error(LG_ERR_FORMAT, "%s: %s: gzip stream truncated after %llu "
                                "decompressed bytes", r->fn, r->path,
                                (unsigned long long)(r->produced + n - z->avail_out));
        if (r->z_end) {
            inflateReset(z); /* another member follows */
            r->z_end = false;
        }
        int ret = inflate(z, Z_NO_FLUSH);
        if (ret == Z_STREAM_END)
            r->z_end = true;
        else if (ret == Z_MEM_ERROR)
            return lg_set_error(LG_ERR_OOM, "%s: %s: out of memory in zlib", r->fn, r->path);
        else if (ret != Z_OK && ret != Z_BUF_ERROR)
            return lg_set_error(LG_ERR_FORMAT, "%s: %s: corrupt gzip stream after %llu "
                                "decompressed bytes: %s", r->fn, r->path,
                                (unsigned long long)(r->produced + n - z->avail_out),
                                z->msg ? z->msg : "unknown zlib error");
    }
    *got = n - z->avail_out;
    r->produced += *got;
    return LG_OK;
}

static lg_status read_some(reader *r, uint8_t *dst, size_t n, size_t *got)
{
    return r->gz ? read_gz(r, dst, n, got) : read_raw(r, dst, n, got);
}

/* Opens the file and detects gzip by its magic 1f 8b. */
/* Reads the first bytes and starts zlib when they are the gzip magic 1f 8b; from the start
 * of the file (r->fd at offset 0, `in` allocated). */
static lg_status reader_start(reader *r)
{
    lg_status s = refill(r);
    while (s == LG_OK && r->in_len < 2 && !r->eof) { /* a short read may deliver 1 byte */
        ssize_t k = read(r->fd, r->in + r->in_len, CHUNK - r->in_len);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            r->eof = k == 0;
            if (k < 0)
                s = lg_set_error(LG_ERR_IO, "%s: %s: read failed: %s", r->fn, r->path,
                                 strerror(errno));
        } else {
            r->in_len += (size_t)k;
        }
    }
    if (s != LG_OK)
        return s;
    r->gz = r->in_len >= 2 && r->in[0] == 0x1f && r->in[1] == 0x8b;
    if (!r->gz)
        return LG_OK;
    r->zs.zalloc = z_alloc;
    r->zs.zfree = z_free;
    r->zs.next_in = r->in;
    r->zs.avail_in = (uInt)r->in_len;
    r->in_pos = r->in_len;
    int ret = inflateInit2(&r->zs, 16 + MAX_WBITS); /* 16: expect a gzip wrapper */
    if (ret != Z_OK)
        return lg_set_error(ret == Z_MEM_ERROR ? LG_ERR_OOM : LG_ERR_IO,
                            "%s: %s: cannot start zlib: %s", r->fn, r->path, zError(ret));
    r->z_ready = true;
    return LG_OK;
}

/* Opens the file and detects gzip by its magic 1f 8b. */
static lg_status reader_open(reader *r)
{
    lg_status s;
    if ((r->fd = lg_open_regular(r->path, r->fn, &r->size, &s)) < 0)
        return s;
    if (!(r->in = lg_malloc(CHUNK)))
        return lg_set_error(LG_ERR_OOM, "%s: %s: out of memory", r->fn, r->path);
    return reader_start(r);
}

/* Back to the first byte of the file, for a second pass over a gzip stream. */
static lg_status reader_rewind(reader *r)
{
    if (r->z_ready)
        inflateEnd(&r->zs);
    r->z_ready = r->z_end = r->eof = false;
    r->in_len = r->in_pos = 0;
    r->produced = 0;
    memset(&r->zs, 0, sizeof r->zs);
    if (lseek(r->fd, 0, SEEK_SET) != 0)
        return lg_set_error(LG_ERR_IO, "%s: %s: cannot seek back: %s", r->fn, r->path,
                            strerror(errno));
    return reader_start(r);
}

static void reader_close(reader *r)
{
    if (r->z_ready)
        inflateEnd(&r->zs);
    lg_free(r->in, CHUNK);
    if (r->fd >= 0)
        close(r->fd);
}

/* "60000x28x28" for messages. */
static void dims_text(const lg_idx *x, char *buf, size_t len)
{
    size_t k = 0;
    buf[0] = '\0';
    for (int i = 0; i < x->ndim && k < len; i++)
        k += (size_t)snprintf(buf + k, len - k, "%s%lld", i ? "x" : "", (long long)x->dims[i]);
}

static uint32_t be32(const uint8_t *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static const char *type_name(int type)
{
    switch (type) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0B: return "int16";
    case 0x0C: return "int32";
    case 0x0D: return "float32";
    case 0x0E: return "float64";
    default: return NULL;
    }
}

/* Reads and checks the magic and the dimensions into x. */
static lg_status read_header(reader *r, lg_idx *x)
{
    uint8_t h[4 * (1 + LG_IDX_MAX_DIMS)];
    size_t got;
    lg_status s = read_some(r, h, 4, &got);
    if (s != LG_OK)
        return s;
    if (got < 4)
        return lg_set_error(LG_ERR_FORMAT, "%s: %s: %zu bytes%s, too short for the 4-byte "
                            "IDX magic", r->fn, r->path, got, r->gz ? " after gunzip" : "");
    int type = h[2], nd = h[3];
    if (h[0] != 0 || h[1] != 0 || !type_name(type))
        return lg_set_error(LG_ERR_FORMAT, "%s: %s: bad magic 0x%08x: an IDX file starts "
                            "with 0x0000TTNN (TT the type, NN the number of dimensions)",
                            r->fn, r->path, (unsigned)be32(h));
    if (type != IDX_UBYTE)
        return lg_set_error(LG_ERR_UNSUPPORTED, "%s: %s: element type 0x%02X (%s) is not "
                            "supported; only 0x08 (unsigned byte)", r->fn, r->path, type,
                            type_name(type));
    if (nd < 1 || nd > LG_IDX_MAX_DIMS)
        return lg_set_error(LG_ERR_FORMAT, "%s: %s: %d dimensions in the magic (want 1 to "
                            "%d)", r->fn, r->path, nd, LG_IDX_MAX_DIMS);
    if ((s = read_some(r, h + 4, 4 * (size_t)nd, &got)) != LG_OK)
        return s;
    if (got < 4 * (size_t)nd)
        return lg_set_error(LG_ERR_FORMAT, "%s: %s: header truncated: %d dimensions need "
                            "%d header bytes, the file has %zu", r->fn, r->path, nd, 4 + 4 * nd,
                            4 + got);
    x->ndim = nd;
    uint64_t prod = 1;
    for (int i = 0; i < nd; i++) {
        uint32_t d = be32(h + 4 + 4 * i);
        if (d == 0 || d > MAX_DIM)
            return lg_set_error(LG_ERR_FORMAT, "%s: %s: dimension %d is %lu (want 1 to %lu)",
                                r->fn, r->path, i, (unsigned long)d, (unsigned long)MAX_DIM);
        x->dims[i] = d;
        /* prod <= 2^31 before the multiply, d < 2^31: no overflow in 64 bits. */
        if (prod <= LG_IDX_MAX_BYTES)
            prod *= d;
    }
    if (prod > LG_IDX_MAX_BYTES) {
        char dt[96];
        dims_text(x, dt, sizeof dt);
        return lg_set_error(LG_ERR_FORMAT, "%s: %s: header says %s, more than the %zu-byte "
                            "limit (LG_IDX_MAX_BYTES)", r->fn, r->path, dt, LG_IDX_MAX_BYTES);
    }
    x->bytes = (size_t)prod;
    return LG_OK;
}

/* Requires exactly want more bytes, then the end of the data: reads into dst (want bytes)
 * or, when dst is NULL, through a CHUNK-byte scratch buffer that only counts. */
static lg_status read_exact(reader *r, const lg_idx *x, uint8_t *dst)
{
    char dt[96];
    dims_text(x, dt, sizeof dt);
    size_t want = x->bytes, have = 0;
    uint8_t *scratch = dst ? NULL : lg_malloc(CHUNK);
    if (!dst && !scratch)
        return lg_set_error(LG_ERR_OOM, "%s: %s: out of memory", r->fn, r->path);
    lg_status s = LG_OK;
    while (s == LG_OK && have < want) {
        size_t n = dst ? want - have : want - have < CHUNK ? want - have : CHUNK, got;
        if ((s = read_some(r, dst ? dst + have : scratch, n, &got)) != LG_OK)
            break;
        have += got;
        if (got < n)
            s = lg_set_error(LG_ERR_FORMAT, "%s: %s: header says %s = %zu bytes, %s has %zu",
                             r->fn, r->path, dt, want, r->gz ? "the gzip data" : "the file",
                             have);
    }
    lg_free(scratch, CHUNK);
    uint8_t extra;
    size_t got = 0;
    if (s == LG_OK && (s = read_some(r, &extra, 1, &got)) == LG_OK && got)
        s = lg_set_error(LG_ERR_FORMAT, "%s: %s: header says %s = %zu bytes, %s has more",
                         r->fn, r->path, dt, want, r->gz ? "the gzip data" : "the file");
    return s;
}

/* Reads exactly x->bytes of data into x->data, allocated once at its final size and only
 * once the data is known to be there: a raw file's length was checked against the header;
 * a gzip stream is inflated twice, first only counting (in CHUNK-byte pieces, so a small
 * file claiming gigabytes costs nothing), then into the buffer. The peak is the data
 * itself plus a few hundred KiB (issue 14: it was 1.5x, and 5x through lg_dataset_load). */
static lg_status read_data(reader *r, lg_idx *x)
{
    lg_status s = LG_OK;
    if (r->gz) {
        size_t header = 4 + 4 * (size_t)x->ndim;
        uint8_t skip[4 * (1 + LG_IDX_MAX_DIMS)];
        size_t got = 0;
        if ((s = read_exact(r, x, NULL)) != LG_OK || (s = reader_rewind(r)) != LG_OK ||
            (s = read_some(r, skip, header, &got)) != LG_OK)
            return s;
        if (got != header)
            return lg_set_error(LG_ERR_IO, "%s: %s: the file changed while it was read", r->fn,
                                r->path);
    }
    uint8_t *buf = lg_malloc(x->bytes);
    if (!buf)
        return lg_set_error(LG_ERR_OOM, "%s: %s: out of memory for %zu data bytes", r->fn,
                            r->path, x->bytes);
    if ((s = read_exact(r, x, buf)) != LG_OK) {
        lg_free(buf, x->bytes);
        return s;
    }
    x->data = buf;
    return LG_OK;
}

lg_status lg_idx_load(const char *path, lg_idx **out)
{
    const char *fn = "lg_idx_load";
    if (!out)
        return lg_set_error(LG_ERR_ARG, "%s: out is NULL", fn);
    *out = NULL;
    if (!path)
        return lg_set_error(LG_ERR_ARG, "%s: path is NULL", fn);
    reader r = {.fn = fn, .path = path, .fd = -1};
    lg_idx *x = NULL;
    lg_status s = reader_open(&r);
    if (s == LG_OK && !(x = lg_malloc(sizeof *x)))
        s = lg_set_error(LG_ERR_OOM, "%s: %s: out of memory", fn, path);
    if (s == LG_OK) {
        memset(x, 0, sizeof *x);
        s = read_header(&r, x);
    }
    if (s == LG_OK && !r.gz) {
        /* A raw regular file: its length must match the header before we allocate. */
        uint64_t hdr = 4 + 4 * (uint64_t)x->ndim;
        uint64_t size = r.size;
        uint64_t data = size > hdr ? size - hdr : 0;
        if (data != x->bytes) {
            char dt[96];
            dims_text(x, dt, sizeof dt);
            s = lg_set_error(LG_ERR_FORMAT, "%s: %s: header says %s = %zu bytes, file has "
                             "%llu after the %llu-byte header", fn, path, dt, x->bytes,
                             (unsigned long long)data, (unsigned long long)hdr);
        }
    }
    if (s == LG_OK)
        s = read_data(&r, x);
    reader_close(&r);
    if (s != LG_OK) {
        lg_free(x, sizeof *x);
        return s;
    }
    *out = x;
    return LG_OK;
}

void lg_idx_free(lg_idx *idx)
{
    if (!idx)
        return;
    lg_free(idx->data, idx->bytes);
    lg_free(idx, sizeof *idx);
}
