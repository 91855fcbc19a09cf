/* Shared by the fuzz targets (tests/fuzz/fuzz_*.c) and the regression replay
 * (tests/test_fuzz_regress.c): how the gzip target turns its input into a file, and how many
 * bytes a loader may hold at once for a file, the cap that makes a lying header a bug.
 * Needs zlib. Everything here uses the C library's malloc, not lagrad's allocator. */
#ifndef LAGRAD_FUZZ_INPUTS_H
#define LAGRAD_FUZZ_INPUTS_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* The most a loader may have allocated at once (peak live bytes through lagrad's
 * allocator) for a file that justifies `justified` bytes: its length, or for gzip the
 * larger of its length and what it inflates to. Linear in the file, whatever the header
 * claims: 32 bytes per byte covers the checkpoint's per-tensor tables (a tensor costs a
 * few JSON bytes and about 100 bytes of tables) and the gzip buffer doubling (3x); the
 * constant covers the 64 KiB read chunk, zlib's state and window, and small structs. */
static inline size_t fuzz_alloc_budget(size_t justified)
{
    return 32 * justified + 256 * 1024;
}

/* The length of what data inflates to as gzip, concatenated members included, counted
 * up to the first error or `cap`; 0 when it is not gzip. */
static inline size_t fuzz_gunzip_len(const uint8_t *data, size_t n, size_t cap)
{
    if (n < 2 || data[0] != 0x1f || data[1] != 0x8b)
        return 0;
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
        return 0;
    static unsigned char out[1 << 16];
    size_t total = 0;
    z.next_in = (unsigned char *)(uintptr_t)data;
    z.avail_in = (uInt)n;
    while (total < cap) {
        z.next_out = out;
        z.avail_out = sizeof out;
        int ret = inflate(&z, Z_NO_FLUSH);
        total += sizeof out - z.avail_out;
        if (ret == Z_STREAM_END && z.avail_in > 0)
            inflateReset(&z); /* another member */
        else if (ret != Z_OK)
            break;
    }
    inflateEnd(&z);
    return total;
}

/* gzip-compresses src[0..n) at `level` into a malloc'd buffer; NULL on failure. */
static inline uint8_t *fuzz_gzip(const uint8_t *src, size_t n, int level, size_t *len)
{
    *len = 0;
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return NULL;
    size_t cap = deflateBound(&z, (uLong)n) + 32;
    uint8_t *out = malloc(cap);
    if (out) {
        z.next_in = (unsigned char *)(uintptr_t)src;
        z.avail_in = (uInt)n;
        z.next_out = out;
        z.avail_out = (uInt)cap;
        if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
            free(out);
            out = NULL;
        }
        *len = cap - z.avail_out;
    }
    deflateEnd(&z);
    return out;
}

/* The file the gzip target loads for an input (malloc'd, *len bytes; NULL on failure).
 * The first byte m chooses:
 *   m % 4 == 0  the rest as it is: gzip bytes straight from the fuzzer;
 *   m % 4 == 1  the rest gzip-compressed at level (m / 4) % 10;
 *   m % 4 == 2  the rest as two gzip members, split after byte (m / 4) % (length + 1);
 *   m % 4 == 3  the rest compressed, then cut short by 1 to 64 bytes.
 * So the fuzzer mutates IDX headers and data while the file stays valid gzip, and the
 * stream framing itself. */
static inline uint8_t *fuzz_idx_gzip_file(const uint8_t *in, size_t n, size_t *len)
{
    *len = 0;
    if (n == 0)
        return malloc(1);
    unsigned m = in[0];
    const uint8_t *rest = in + 1;
    size_t rn = n - 1;
    if (m % 4 == 0) {
        uint8_t *out = malloc(rn ? rn : 1);
        if (out && rn)
            memcpy(out, rest, rn);
        *len = rn;
        return out;
    }
    if (m % 4 == 2) {
        size_t cut = (m / 4) % (rn + 1), l1, l2;
        uint8_t *a = fuzz_gzip(rest, cut, 6, &l1), *b = fuzz_gzip(rest + cut, rn - cut, 6, &l2);
        uint8_t *out = a && b ? malloc(l1 + l2) : NULL;
        if (out) {
            memcpy(out, a, l1);
            memcpy(out + l1, b, l2);
            *len = l1 + l2;
        }
        free(a);
        free(b);
        return out;
    }
    uint8_t *out = fuzz_gzip(rest, rn, m % 4 == 1 ? (int)(m / 4) % 10 : 6, len);
    if (out && m % 4 == 3) {
        size_t cut = 1 + (m / 4) % 64;
        *len = *len > cut ? *len - cut : 0;
    }
    return out;
}

#endif
