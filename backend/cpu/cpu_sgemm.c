/* f32 GEMM with AVX-512, for processors that have it.
 *
 * Why our own: the OpenBLAS that Debian 12 ships (0.3.21) predates some AVX-512 processors
 * and computes wrong results on them, so such machines pin it to its AVX2 kernels
 * (OPENBLAS_CORETYPE=Haswell). Those run 8 lanes per FMA where the core does 16: one core
 * here reaches 105 GFLOP/s through them and 220 GFLOP/s on a register-only FMA loop. This
 * file gives the f32 products back the wide lanes; f64 and every shape it declines stay
 * on BLAS.
 *
 * The layout is the usual one for a blocked GEMM (Goto's, as BLIS names the loops):
 * op(B) is copied in panels of KC×NR (NR = 32 columns, two vectors, zero-padded), op(A)
 * in blocks of MC×KC cut into slivers of MR = 14 rows, and a micro-kernel keeps a 14×32
 * tile of C in 28 vector registers while it runs down KC. The copies make every
 * transpose the same problem, and the padding lets the kernel run full tiles always; only
 * its store is masked. Threads each take a band of C's rows or columns (the longer side)
 * and run the whole blocked product on it with their own copies, so no thread waits for
 * another inside a product.
 *
 * The copy buffers are allocated once per thread, at their largest size, and kept: a
 * training step allocates nothing. They come from aligned_alloc, not the allocator hook
 * (core.h says so): they outlive any object, so a hook installed or removed between two
 * products would be asked to free what another allocated. A thread that cannot get them
 * hands its share to BLAS.
 * LAGRAD_SGEMM=blas in the environment turns this file off (to compare). */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <cblas.h>
#include <omp.h>
#include "cpu_impl.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_SGEMM_AVX512 1
#include <immintrin.h>
#endif

enum {
    MR = 14,            /* rows of the register tile */
    NR = 32,            /* its columns: two 16-float vectors */
    KC = 384,           /* inner-dimension block: a 384×32 panel of B is 48 KB */
    MC = MR * 12,       /* rows of A per block: 168×384 floats, 252 KB, in L2 */
    NC = NR * 16,       /* columns of B per block: 384×512 floats, 768 KB */
    MIN_WORK = 1 << 12, /* m·n·k below this stays on BLAS (16³ already runs 1.2x its rate) */
    MIN_ROWS = 8,       /* so do products of fewer rows, which would fill few of 14 */
    PARALLEL_WORK = 1 << 20, /* m·n·k from which the threads share a product */
};

#ifdef HAVE_SGEMM_AVX512

#define AVX512 __attribute__((target("avx512f")))

typedef struct {
    int ta, tb;
    int64_t m, n, k;
    float alpha, beta;
    const float *a, *b;
    float *c;
    int64_t lda, ldb, ldc;
} sgemm_args;

/* The first n bits: the lanes of a vector that hold n <= 16 values. */
static __mmask16 lanes(int64_t n) { return n >= 16 ? 0xFFFF : (__mmask16)((1u << n) - 1); }

/* Transposes 16 rows of 16 floats in place: afterwards r[c] holds column c. Pairs of rows
 * interleave (unpack ps), pairs of pairs (unpack pd), and the 4×4 grid of 128-bit lanes
 * that leaves is transposed by two rounds of lane shuffles. */
AVX512 static inline __attribute__((always_inline)) void transpose16(__m512 r[16])
{
    __m512 t[16], u[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    /* u[4g + c] holds, in 128-bit lane L, rows 4g..4g+3 of column 4L + c */
    for (int g = 0; g < 4; g++) {
        __m512d lo = _mm512_castps_pd(t[4 * g]), hi = _mm512_castps_pd(t[4 * g + 1]);
        __m512d lo2 = _mm512_castps_pd(t[4 * g + 2]), hi2 = _mm512_castps_pd(t[4 * g + 3]);
        u[4 * g] = _mm512_castpd_ps(_mm512_unpacklo_pd(lo, lo2));
        u[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(lo, lo2));
        u[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(hi, hi2));
        u[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(hi, hi2));
    }
    for (int c = 0; c < 4; c++) {
        __m512 x0 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x44);
        __m512 x1 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xEE);
        __m512 x2 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x44);
        __m512 x3 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xEE);
        r[c] = _mm512_shuffle_f32x4(x0, x2, 0x88);
        r[4 + c] = _mm512_shuffle_f32x4(x0, x2, 0xDD);
        r[8 + c] = _mm512_shuffle_f32x4(x1, x3, 0x88);
        r[12 + c] = _mm512_shuffle_f32x4(x1, x3, 0xDD);
    }
}

/* Copies a block stored along p (n rows of src, ld apart, each with kc values) into dst
 * across p: dst[p·stride + i] = src[i·ld + p] for i < n <= 16, zeros for i in [n, width).
 * 16 values of p at a time, through a register transpose. */
AVX512 static void pack_across(const float *src, int64_t ld, int n, int64_t kc, float *dst,
                               int64_t stride, int width)
{
    __mmask16 out = lanes(width);
    for (int64_t p0 = 0; p0 < kc; p0 += 16) {
        int64_t w = kc - p0 < 16 ? kc - p0 : 16;
        __m512 r[16];
        for (int i = 0; i < 16; i++)
            r[i] = i < n ? _mm512_maskz_loadu_ps(lanes(w), src + i * ld + p0)
                         : _mm512_setzero_ps();
        transpose16(r);
        for (int64_t c = 0; c < w; c++)
            _mm512_mask_storeu_ps(dst + (p0 + c) * stride, out, r[c]);
    }
}

/* Copies a block stored across p: dst[p·stride + i] = src[p·ld + i] for i < n <= 16,
 * zeros for i in [n, width). */
AVX512 static void pack_along(const float *src, int64_t ld, int n, int64_t kc, float *dst,
                              int64_t stride, int width)
{
    __mmask16 in = lanes(n), out = lanes(width);
    for (int64_t p = 0; p < kc; p++)
        _mm512_mask_storeu_ps(dst + p * stride, out, _mm512_maskz_loadu_ps(in, src + p * ld));
}

/* op(A) rows [i0, i0+mc) × columns [p0, p0+kc) into slivers of MR rows: sliver s holds,
 * for each p, the MR values of rows i0+s·MR.. at column p; rows past mc are zeros. */
AVX512 static void pack_a(const sgemm_args *g, int64_t i0, int64_t mc, int64_t p0,
                          int64_t kc, float *out)
{
    for (int64_t s = 0; s < mc; s += MR) {
        int rows = (int)(mc - s < MR ? mc - s : MR);
        if (g->ta) /* op(A)(i, p) = A[p·lda + i] */
            pack_along(g->a + p0 * g->lda + i0 + s, g->lda, rows, kc, out + s * kc, MR, MR);
        else /* op(A)(i, p) = A[i·lda + p] */
            pack_across(g->a + (i0 + s) * g->lda + p0, g->lda, rows, kc, out + s * kc, MR, MR);
    }
}

/* Columns a packed panel holds: NR, or 16 for a last panel of at most 16. */
static int64_t panel_width(int64_t cols) { return cols <= 16 ? 16 : NR; }

/* op(B) rows [p0, p0+kc) × columns [j0, j0+nc) into panels of NR columns: panel q holds,
 * for each p, the values of columns j0+q·NR.. in row p, zero-padded to the panel's width
 * (filled 16 columns at a time). */
AVX512 static void pack_b(const sgemm_args *g, int64_t p0, int64_t kc, int64_t j0,
                          int64_t nc, float *out)
{
    for (int64_t q = 0; q < nc; q += NR) {
        int64_t cols = nc - q < NR ? nc - q : NR, w = panel_width(cols);
        for (int64_t h = 0; h < w; h += 16) {
            int n = (int)(cols - h < 16 ? (cols > h ? cols - h : 0) : 16);
            int64_t j = j0 + q + h;
            float *dst = out + q * kc + h;
            if (!g->tb) /* op(B)(p, j) = B[p·ldb + j] */
                pack_along(g->b + p0 * g->ldb + j, g->ldb, n, kc, dst, w, 16);
            else /* op(B)(p, j) = B[j·ldb + p] */
                pack_across(g->b + j * g->ldb + p0, g->ldb, n, kc, dst, w, 16);
        }
    }
}

/* C tile (rows × cols of it, at most MR × 16·NV) = alpha · sliver·panel + beta · C, for a
 * panel NV vectors wide; beta 0 never reads C (it may hold NaN patterns). */
AVX512 static inline __attribute__((always_inline)) void
tile(int NV, int64_t kc, const float *restrict a, const float *restrict b, float *restrict c,
     int64_t ldc, int rows, int cols, float alpha, float beta)
{
    __m512 acc[MR][2];
#pragma GCC unroll 14
    for (int r = 0; r < MR; r++)
        acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (int64_t p = 0; p < kc; p++) {
        __m512 b0 = _mm512_load_ps(b), b1 = NV > 1 ? _mm512_load_ps(b + 16) : b0;
#pragma GCC unroll 14
        for (int r = 0; r < MR; r++) {
            __m512 ar = _mm512_set1_ps(a[r]);
            acc[r][0] = _mm512_fmadd_ps(ar, b0, acc[r][0]);
            if (NV > 1)
                acc[r][1] = _mm512_fmadd_ps(ar, b1, acc[r][1]);
        }
        a += MR;
        b += 16 * NV;
    }
    __mmask16 m0 = lanes(cols), m1 = lanes(cols > 16 ? cols - 16 : 0);
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
#pragma GCC unroll 14
    for (int r = 0; r < MR; r++) {
        if (r >= rows)
            break;
        float *cr = c + r * ldc;
        __m512 y0 = _mm512_mul_ps(va, acc[r][0]);
        if (beta != 0)
            y0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, cr), y0);
        _mm512_mask_storeu_ps(cr, m0, y0);
        if (NV > 1) {
            __m512 y1 = _mm512_mul_ps(va, acc[r][1]);
            if (beta != 0)
                y1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, cr + 16), y1);
            _mm512_mask_storeu_ps(cr + 16, m1, y1);
        }
    }
}

typedef void tile_fn(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
                     int rows, int cols, float alpha, float beta);

/* A full-width panel, and the narrow one that ends a row of panels when at most 16 columns
 * are left (a 32-wide tile would spend half its FMAs on padding). */
AVX512 static void tile32(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
                          int rows, int cols, float alpha, float beta)
{
    tile(2, kc, a, b, c, ldc, rows, cols, alpha, beta);
}

AVX512 static void tile16(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
                          int rows, int cols, float alpha, float beta)
{
    tile(1, kc, a, b, c, ldc, rows, cols, alpha, beta);
}

/* Per-thread copy buffers, allocated at their largest on a thread's first product and
 * freed when the thread ends (the key's destructor). */
typedef struct {
    float *a, *b;
} pack_buffers;

static pthread_key_t buffers_key;
static pthread_once_t buffers_once = PTHREAD_ONCE_INIT;
static int buffers_key_ok;

static void free_buffers(void *p)
{
    pack_buffers *pb = p;
    free(pb->a);
    free(pb->b);
    free(pb);
}

static void make_buffers_key(void)
{
    buffers_key_ok = pthread_key_create(&buffers_key, free_buffers) == 0;
}

static pack_buffers *thread_buffers(void)
{
    pthread_once(&buffers_once, make_buffers_key);
    if (!buffers_key_ok)
        return NULL;
    pack_buffers *pb = pthread_getspecific(buffers_key);
    if (pb)
        return pb;
    pb = malloc(sizeof *pb);
    if (!pb)
        return NULL;
    pb->a = aligned_alloc(64, sizeof(float) * MC * KC);
    pb->b = aligned_alloc(64, sizeof(float) * NC * KC);
    if (!pb->a || !pb->b || pthread_setspecific(buffers_key, pb) != 0) {
        free_buffers(pb);
        return NULL;
    }
    return pb;
}

/* The blocked product for C rows [i0, i1) × columns [j0, j1). */
static void sgemm_block(const sgemm_args *g, const pack_buffers *pb, int64_t i0, int64_t i1,
                        int64_t j0, int64_t j1)
{
    /* k in equal blocks of at most KC: 784 is 262 + 262 + 260, not 384 + 384 + 16 */
    int64_t nblocks = (g->k + KC - 1) / KC, kblock = (g->k + nblocks - 1) / nblocks;
    for (int64_t jc = j0; jc < j1; jc += NC) {
        int64_t nc = j1 - jc < NC ? j1 - jc : NC;
        for (int64_t pc = 0; pc < g->k; pc += kblock) {
            int64_t kc = g->k - pc < kblock ? g->k - pc : kblock;
            float beta = pc == 0 ? g->beta : 1.0f; /* later blocks add to the first */
            pack_b(g, pc, kc, jc, nc, pb->b);
            for (int64_t ic = i0; ic < i1; ic += MC) {
                int64_t mc = i1 - ic < MC ? i1 - ic : MC;
                pack_a(g, ic, mc, pc, kc, pb->a);
                for (int64_t jr = 0; jr < nc; jr += NR) {
                    int cols = (int)(nc - jr < NR ? nc - jr : NR);
                    tile_fn *kernel = panel_width(cols) == NR ? tile32 : tile16;
                    for (int64_t ir = 0; ir < mc; ir += MR)
                        kernel(kc, pb->a + ir * kc, pb->b + jr * kc,
                               g->c + (ic + ir) * g->ldc + jc + jr, g->ldc,
                               (int)(mc - ir < MR ? mc - ir : MR), cols, g->alpha, beta);
                }
            }
        }
    }
}

typedef struct {
    const sgemm_args *g;
    int by_rows;        /* threads split C's rows (else its columns) */
    int64_t unit;       /* rows or columns per share unit: MR or NR */
} sgemm_split;

/* A share that has no copy buffers goes to BLAS, which runs it on this thread (the
 * caller keeps every size within int). */
static void blas_share(const sgemm_args *g, int by_rows, int64_t from, int64_t to)
{
    const float *a = g->a, *b = g->b;
    float *c = g->c;
    int64_t m = g->m, n = g->n;
    if (by_rows) {
        a += g->ta ? from : from * g->lda;
        c += from * g->ldc;
        m = to - from;
    } else {
        b += g->tb ? from * g->ldb : from;
        c += from;
        n = to - from;
    }
    cblas_sgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans,
                g->tb ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)g->k, g->alpha, a,
                (int)g->lda, b, (int)g->ldb, g->beta, c, (int)g->ldc);
}

static void sgemm_share(int64_t lo, int64_t hi, void *ctx)
{
    const sgemm_split *s = ctx;
    const sgemm_args *g = s->g;
    int64_t extent = s->by_rows ? g->m : g->n;
    int64_t from = lo * s->unit, to = hi * s->unit < extent ? hi * s->unit : extent;
    pack_buffers *pb = thread_buffers();
    if (!pb)
        blas_share(g, s->by_rows, from, to);
    else if (s->by_rows)
        sgemm_block(g, pb, from, to, 0, g->n);
    else
        sgemm_block(g, pb, 0, g->m, from, to);
}

static pthread_once_t usable_once = PTHREAD_ONCE_INIT;
static int usable;

static void decide_usable(void)
{
    const char *env = getenv("LAGRAD_SGEMM");
    __builtin_cpu_init();
    usable = __builtin_cpu_supports("avx512f") && !(env && strcmp(env, "blas") == 0);
}

/* Decided once per process: the processor, and LAGRAD_SGEMM as it was then. */
static int avx512_usable(void)
{
    pthread_once(&usable_once, decide_usable);
    return usable;
}

bool lg_cpu_sgemm(int ta, int tb, int64_t m, int64_t n, int64_t k, float alpha,
                  const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                  float *c, int64_t ldc)
{
    /* alpha 0 and k 0 are BLAS's to handle (they must not read A or B) */
    if (m < MIN_ROWS || n < 1 || k < 1 || alpha == 0 || m * n * k < MIN_WORK ||
        !avx512_usable())
        return false;
    sgemm_args g = {ta, tb, m, n, k, alpha, beta, a, b, c, lda, ldb, ldc};
    /* A thread copies its share of op(A) (a row split) or of op(B) (a column split) and
     * all of the other: split the longer side of C, whose operand is then the one shared
     * out, unless that side has fewer tiles than there are threads. */
    int nt = omp_get_max_threads();
    int64_t row_units = (m + MR - 1) / MR, col_units = (n + NR - 1) / NR;
    int by_rows = m >= n ? row_units >= nt || row_units >= col_units
                         : col_units < nt && row_units > col_units;
    sgemm_split s = {&g, by_rows, 0};
    s.unit = s.by_rows ? MR : NR;
    lg_cpu_parallel_range(s.by_rows ? row_units : col_units, m * n * k >= PARALLEL_WORK,
                          sgemm_share, &s);
    return true;
}

#else

bool lg_cpu_sgemm(int ta, int tb, int64_t m, int64_t n, int64_t k, float alpha,
                  const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                  float *c, int64_t ldc)
{
    (void)ta, (void)tb, (void)m, (void)n, (void)k, (void)alpha, (void)a, (void)lda, (void)b,
        (void)ldb, (void)beta, (void)c, (void)ldc;
    return false;
}

#endif
