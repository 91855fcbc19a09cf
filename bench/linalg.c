/* Linear algebra speed: lagrad's forward cholesky, eigh, svd and solve beside LAPACKE
 * called directly on the same float64 matrix in the same process, at n = 64, 256, 1024.
 * Two references: "rowmajor" is what a caller writes (the LAPACK_ROW_MAJOR driver on a
 * copy of A, which transposes inside LAPACKE and allocates its workspace), and "minimal"
 * is the least work for lagrad's outputs (the column-major view of row-major data, one
 * copy of A that LAPACK overwrites, preallocated workspace, and only the layout fix-ups
 * the outputs need). lagrad's overhead is its time over "minimal".
 * With --backward it times lagrad's forward and backward of the losses that
 * bench/linalg_torch.py gives PyTorch, at n = 256.
 * Times are medians of runs interleaved across the implementations, on one thread
 * unless --threads says otherwise. --dtype f32 runs everything in float32 (s* LAPACKE
 * routines); --n N runs the forward at that size only, or the backward at that size
 * instead of 256. Not here: batched shapes, other LAPACKs.
 * Usage: linalg [--quick] [--json] [--backward] [--threads N] [--dtype f32|f64] [--n N] */
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "lagrad/lagrad.h"
#include "bench_util.h"

enum { N_OPS = 4, N_IMPL = 3, MAX_REPS = 15 };
static const char *const OPS[N_OPS] = {"cholesky", "eigh", "svd", "solve"};
static const char *const IMPLS[N_IMPL] = {"lagrad", "rowmajor", "minimal"};

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "linalg bench: %s: %s\n", what, msg);
    exit(1);
}

/* One problem of size n: the inputs, lagrad's graph, and the references' buffers and
 * workspace. out[] holds a checksum-worthy result of the last run of each impl. */
typedef struct problem {
    int op;
    int n;
    lg_dtype dt;
    size_t es;                 /* element size */
    lg_tensor *a, *b;          /* caller-owned inputs: A (n,n), b (n) */
    lg_graph *g;
    void *buf, *x, *w, *u, *vt, *work;
    lapack_int *ipiv, *iwork, lwork, liwork;
    double out[N_IMPL];        /* a scalar from each impl's result, to compare */
} problem;

static double sum_abs(lg_dtype dt, const void *p, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++)
        s += fabs(dt == LG_F64 ? ((const double *)p)[i] : ((const float *)p)[i]);
    return s;
}

/* A (n,n): SPD (R Rᵀ/n + I) for cholesky and solve, symmetric for eigh, plain for svd. */
static lg_tensor *make_matrix(int op, int n, lg_rng *rng, lg_dtype dt)
{
    int64_t s[2] = {n, n};
    lg_tensor *r = lg_tensor_normal(LG_F64, 2, s, 0, 1, rng);
    lg_tensor *a = lg_tensor_zeros(LG_F64, 2, s);
    if (!r || !a)
        die("setup", lg_last_errmsg());
    const double *rp = lg_tensor_cdata(r);
    double *ap = lg_tensor_data(a);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            if (op == 0 || op == 3) {
                double d = 0;
                for (int k = 0; k < n; k++)
                    d += rp[i * n + k] * rp[j * n + k];
                ap[i * n + j] = d / n + (i == j);
            } else if (op == 1) {
                ap[i * n + j] = 0.5 * (rp[i * n + j] + rp[j * n + i]);
            } else {
                ap[i * n + j] = rp[i * n + j];
            }
        }
    lg_tensor_free(r);
    if (dt == LG_F64)
        return a;
    float *f = malloc(sizeof *f * (size_t)n * (size_t)n);
    if (!f)
        die("setup", "out of memory");
    for (int64_t i = 0; i < (int64_t)n * n; i++)
        f[i] = (float)ap[i];
    lg_tensor *af = lg_tensor_from_data(LG_F32, 2, s, f);
    free(f);
    lg_tensor_free(a);
    if (!af)
        die("setup", lg_last_errmsg());
    return af;
}

static void setup(problem *p, int op, int n, lg_rng *rng, lg_dtype dt)
{
    memset(p, 0, sizeof *p);
    p->op = op;
    p->n = n;
    p->dt = dt;
    p->es = dt == LG_F64 ? sizeof(double) : sizeof(float);
    p->a = make_matrix(op, n, rng, dt);
    int64_t nn = n;
    p->b = lg_tensor_normal(dt, 1, &nn, 0, 1, rng);
    p->g = lg_graph_new();
    size_t sq = p->es * (size_t)n * (size_t)n;
    p->buf = malloc(sq);
    p->u = malloc(sq);
    p->vt = malloc(sq);
    p->x = malloc(p->es * (size_t)n);
    p->w = malloc(p->es * (size_t)n);
    p->ipiv = malloc(sizeof(lapack_int) * (size_t)n);
    p->iwork = malloc(sizeof(lapack_int) * (size_t)(8 * n + 1));
    if (!p->b || !p->g || !p->buf || !p->u || !p->vt || !p->x || !p->w || !p->ipiv ||
        !p->iwork)
        die("setup", "out of memory");
    /* Workspace queries for the minimal references (eigh and svd). */
    double wq = 0;
    float wqf = 0;
    lapack_int iq = 0;
    p->lwork = 1;
    p->liwork = 8 * n + 1;
    bool f64 = dt == LG_F64;
    if (op == 1) {
        if (f64)
            LAPACKE_dsyevd_work(LAPACK_COL_MAJOR, 'V', 'U', n, p->buf, n, p->w, &wq, -1, &iq, -1);
        else
            LAPACKE_ssyevd_work(LAPACK_COL_MAJOR, 'V', 'U', n, p->buf, n, p->w, &wqf, -1, &iq, -1);
        p->lwork = f64 ? (lapack_int)wq : (lapack_int)wqf;
        p->liwork = iq > p->liwork ? iq : p->liwork;
        free(p->iwork);
        p->iwork = malloc(sizeof(lapack_int) * (size_t)p->liwork);
    } else if (op == 2) {
        if (f64)
            LAPACKE_dgesdd_work(LAPACK_COL_MAJOR, 'S', n, n, p->buf, n, p->w, p->vt, n, p->u, n,
                                &wq, -1, p->iwork);
        else
            LAPACKE_sgesdd_work(LAPACK_COL_MAJOR, 'S', n, n, p->buf, n, p->w, p->vt, n, p->u, n,
                                &wqf, -1, p->iwork);
        p->lwork = f64 ? (lapack_int)wq : (lapack_int)wqf;
    }
    p->work = malloc(p->es * (size_t)(p->lwork > 0 ? p->lwork : 1));
    if (!p->work || !p->iwork)
        die("setup", "out of memory");
}

static void teardown(problem *p)
{
    lg_graph_free(p->g);
    lg_tensor_free(p->a);
    lg_tensor_free(p->b);
    free(p->buf), free(p->u), free(p->vt), free(p->x), free(p->w), free(p->work);
    free(p->ipiv), free(p->iwork);
}

static void run_lagrad(problem *p)
{
    lg_graph *g = p->g;
    lg_graph_reset(g);
    lg_tensor *vals = NULL, *vecs = NULL, *u = NULL, *s = NULL, *vt = NULL, *r = NULL;
    switch (p->op) {
    case 0: r = lg_cholesky(g, p->a); break;
    case 1: r = lg_eigh(g, p->a, &vals, &vecs) == LG_OK ? vals : NULL; break;
    case 2: r = lg_svd(g, p->a, false, &u, &s, &vt) == LG_OK ? s : NULL; break;
    default: r = lg_solve(g, p->a, p->b); break;
    }
    if (!r)
        die(OPS[p->op], lg_graph_errmsg(g));
    p->out[0] = sum_abs(p->dt, lg_tensor_cdata(r), lg_tensor_numel(r));
}

/* LAPACKE call f in the problem's precision: the s* routine for f32, d* for f64. */
#define LAPACK(p, f, ...)                                                                  \
    ((p)->dt == LG_F64 ? LAPACKE_d##f(__VA_ARGS__) : LAPACKE_s##f(__VA_ARGS__))

/* Zeroes the strict upper triangle of row-major buf (n,n). */
static void zero_upper(problem *p)
{
    for (int i = 0; i < p->n; i++)
        memset((char *)p->buf + ((size_t)i * p->n + i + 1) * p->es, 0,
               p->es * (size_t)(p->n - i - 1));
}

/* What a caller writes: the row-major drivers on a copy. */
static void run_rowmajor(problem *p)
{
    int n = p->n;
    lapack_int info = 0;
    memcpy(p->buf, lg_tensor_cdata(p->a), p->es * (size_t)n * (size_t)n);
    switch (p->op) {
    case 0:
        info = LAPACK(p, potrf, LAPACK_ROW_MAJOR, 'L', n, p->buf, n);
        zero_upper(p);
        p->out[1] = sum_abs(p->dt, p->buf, (int64_t)n * n);
        break;
    case 1:
        info = LAPACK(p, syevd, LAPACK_ROW_MAJOR, 'V', 'L', n, p->buf, n, p->w);
        p->out[1] = sum_abs(p->dt, p->w, n);
        break;
    case 2:
        info = LAPACK(p, gesdd, LAPACK_ROW_MAJOR, 'S', n, n, p->buf, n, p->w, p->u, n, p->vt,
                      n);
        p->out[1] = sum_abs(p->dt, p->w, n);
        break;
    default:
        memcpy(p->x, lg_tensor_cdata(p->b), p->es * (size_t)n);
        info = LAPACK(p, gesv, LAPACK_ROW_MAJOR, n, 1, p->buf, n, p->ipiv, p->x, 1);
        p->out[1] = sum_abs(p->dt, p->x, n);
        break;
    }
    if (info != 0)
        die(OPS[p->op], "LAPACKE (row-major) failed");
}

/* The least work for lagrad's outputs: row-major A read column-major is Aᵀ. */
static void run_minimal(problem *p)
{
    int n = p->n;
    lapack_int info = 0;
    memcpy(p->buf, lg_tensor_cdata(p->a), p->es * (size_t)n * (size_t)n);
    switch (p->op) {
    case 0: /* upper factor of Aᵀ = A, read row-major, is L; zero what is above it */
        info = LAPACK(p, potrf_work, LAPACK_COL_MAJOR, 'U', n, p->buf, n);
        zero_upper(p);
        p->out[2] = sum_abs(p->dt, p->buf, (int64_t)n * n);
        break;
    case 1: /* eigenvectors come back as rows; lagrad returns them as columns */
        info = LAPACK(p, syevd_work, LAPACK_COL_MAJOR, 'V', 'U', n, p->buf, n, p->w, p->work,
                      p->lwork, p->iwork, p->liwork);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                memcpy((char *)p->u + ((size_t)j * n + i) * p->es,
                       (char *)p->buf + ((size_t)i * n + j) * p->es, p->es);
        p->out[2] = sum_abs(p->dt, p->w, n);
        break;
    case 2: /* svd of Aᵀ = V S Uᵀ: LAPACK's U is our Vᵀ, its Vᵀ our U */
        info = LAPACK(p, gesdd_work, LAPACK_COL_MAJOR, 'S', n, n, p->buf, n, p->w, p->vt, n,
                      p->u, n, p->work, p->lwork, p->iwork);
        p->out[2] = sum_abs(p->dt, p->w, n);
        break;
    default: /* factors of Aᵀ: A x = b is the transposed solve */
        info = LAPACK(p, getrf_work, LAPACK_COL_MAJOR, n, n, p->buf, n, p->ipiv);
        memcpy(p->x, lg_tensor_cdata(p->b), p->es * (size_t)n);
        if (info == 0)
            info = LAPACK(p, getrs_work, LAPACK_COL_MAJOR, 'T', n, 1, p->buf, n, p->ipiv, p->x,
                          n);
        p->out[2] = sum_abs(p->dt, p->x, n);
        break;
    }
    if (info != 0)
        die(OPS[p->op], "LAPACKE (minimal) failed");
}

static void (*const RUN[N_IMPL])(problem *) = {run_lagrad, run_rowmajor, run_minimal};

/* Median seconds per call of each impl on p; runs interleave across impls so that a
 * busy machine slows them alike. */
static void time_problem(problem *p, int reps, double target_s, double *med)
{
    long iters[N_IMPL];
    for (int k = 0; k < N_IMPL; k++) { /* warm up (lagrad's arena grows here), calibrate */
        RUN[k](p);
        double t0 = now_s();
        RUN[k](p);
        double t = now_s() - t0;
        iters[k] = t >= target_s ? 1 : (long)(target_s / (t > 1e-7 ? t : 1e-7)) + 1;
    }
    double t[N_IMPL][MAX_REPS];
    for (int r = 0; r < reps; r++)
        for (int k = 0; k < N_IMPL; k++) {
            double t0 = now_s();
            for (long i = 0; i < iters[k]; i++)
                RUN[k](p);
            t[k][r] = (now_s() - t0) / (double)iters[k];
        }
    for (int k = 0; k < N_IMPL; k++)
        med[k] = median(t[k], reps);
    for (int k = 1; k < N_IMPL; k++)
        if (fabs(p->out[k] - p->out[0]) > (p->dt == LG_F64 ? 1e-8 : 1e-3) * fabs(p->out[0]))
            fprintf(stderr, "linalg bench: %s n=%d: %s and lagrad disagree (%.12g vs %.12g)\n",
                    OPS[p->op], p->n, IMPLS[k], p->out[k], p->out[0]);
}

/* The bench's settings from the command line. */
typedef struct opts {
    bool quick, json;
    lg_dtype dt;
    int n; /* 0: the default sizes */
} opts;

static void forward(const opts *o)
{
    bool quick = o->quick, json = o->json;
    int sizes[3] = {64, 256, 1024};
    int nsizes = quick ? 1 : 3;
    if (o->n > 0) {
        sizes[0] = o->n;
        nsizes = 1;
    }
    lg_rng rng;
    lg_rng_init(&rng, 42);
    if (json)
        printf("[");
    else
        printf("%-9s %5s %12s %12s %12s %9s %9s\n", "op", "n", "lagrad ms", "rowmajor ms",
               "minimal ms", "lg/min", "lg/row");
    bool first = true;
    for (int si = 0; si < nsizes; si++)
        for (int op = 0; op < N_OPS; op++) {
            int n = sizes[si];
            problem p;
            setup(&p, op, n, &rng, o->dt);
            double med[N_IMPL];
            time_problem(&p, quick ? 3 : n >= 1024 ? 5 : 9, quick ? 0.01 : 0.05, med);
            if (json)
                printf("%s{\"op\": \"%s\", \"n\": %d, \"lagrad_ms\": %.5f, \"rowmajor_ms\": %.5f, "
                       "\"minimal_ms\": %.5f}", first ? "" : ", ", OPS[op], n, med[0] * 1e3,
                       med[1] * 1e3, med[2] * 1e3);
            else
                printf("%-9s %5d %12.4f %12.4f %12.4f %8.3fx %8.3fx\n", OPS[op], n,
                       med[0] * 1e3, med[1] * 1e3, med[2] * 1e3, med[0] / med[2],
                       med[0] / med[1]);
            fflush(stdout);
            first = false;
            teardown(&p);
        }
    if (json)
        printf("]\n");
}

/* ---- backward at n = 256 (or --n): the losses of bench/linalg_torch.py ----
 * cholesky: Σ W ⊙ L                                      A SPD
 * eigh:     Σ w ⊙ λ + Σ W ⊙ V ⊙ V                        A symmetric
 * svd:      Σ w ⊙ S + Σ W ⊙ U ⊙ U + Σ W ⊙ Vᵀ ⊙ Vᵀ        A square
 * All are invariant to the sign of each eigen/singular vector, so the gradients exist. */
static lg_tensor *loss_of(lg_graph *g, int op, lg_tensor *a, lg_tensor *wm, lg_tensor *wv)
{
    lg_tensor *u, *s, *vt;
    switch (op) {
    case 0:
        return lg_sum(g, lg_mul(g, lg_cholesky(g, a), wm));
    case 1:
        if (lg_eigh(g, a, &s, &u) != LG_OK)
            return NULL;
        return lg_add(g, lg_sum(g, lg_mul(g, s, wv)), lg_sum(g, lg_mul(g, lg_mul(g, u, u), wm)));
    default:
        if (lg_svd(g, a, false, &u, &s, &vt) != LG_OK)
            return NULL;
        return lg_add(g, lg_sum(g, lg_mul(g, s, wv)),
                      lg_add(g, lg_sum(g, lg_mul(g, lg_mul(g, u, u), wm)),
                             lg_sum(g, lg_mul(g, lg_mul(g, vt, vt), wm))));
    }
}

static void backward(const opts *o)
{
    bool json = o->json;
    const int n = o->n > 0 ? o->n : o->quick ? 64 : 256;
    const int reps = o->quick ? 3 : n <= 256 ? MAX_REPS : 7;
    lg_rng rng;
    lg_rng_init(&rng, 7);
    int64_t sm[2] = {n, n}, sv = n;
    lg_tensor *wm = lg_tensor_normal(o->dt, 2, sm, 0, 1, &rng);
    lg_tensor *wv = lg_tensor_normal(o->dt, 1, &sv, 0, 1, &rng);
    lg_graph *g = lg_graph_new();
    if (!wm || !wv || !g)
        die("setup", lg_last_errmsg());
    if (json)
        printf("{\"n\": %d", n);
    else
        printf("%-9s %5s %12s %12s\n", "op", "n", "forward ms", "backward ms");
    for (int op = 0; op < 3; op++) {
        lg_tensor *a = make_matrix(op, n, &rng, o->dt);
        lg_tensor_set_requires_grad(a, true);
        double tf[MAX_REPS], tb[MAX_REPS];
        for (int r = -1; r < reps; r++) { /* r = -1 warms up */
            lg_graph_reset(g);
            lg_tensor_zero_grad(a);
            double t0 = now_s();
            lg_tensor *loss = loss_of(g, op, a, wm, wv);
            double t1 = now_s();
            if (!loss || lg_backward(g, loss) != LG_OK)
                die(OPS[op], lg_graph_errmsg(g));
            double t2 = now_s();
            if (r >= 0) {
                tf[r] = t1 - t0;
                tb[r] = t2 - t1;
            }
        }
        double f = median(tf, reps) * 1e3, b = median(tb, reps) * 1e3;
        if (json)
            printf(", \"%s\": {\"forward_ms\": %.4f, \"backward_ms\": %.4f}", OPS[op], f, b);
        else
            printf("%-9s %5d %12.4f %12.4f\n", OPS[op], n, f, b);
        lg_tensor_free(a);
    }
    if (json)
        printf("}\n");
    lg_graph_free(g);
    lg_tensor_free(wm);
    lg_tensor_free(wv);
}

int main(int argc, char **argv)
{
    opts o = {.dt = LG_F64};
    bool bwd = false;
    int threads = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            o.quick = true;
        else if (strcmp(argv[i], "--json") == 0)
            o.json = true;
        else if (strcmp(argv[i], "--backward") == 0)
            bwd = true;
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--n") == 0 && i + 1 < argc && atoi(argv[i + 1]) > 0)
            o.n = atoi(argv[++i]);
        else if (strcmp(argv[i], "--dtype") == 0 && i + 1 < argc &&
                 (strcmp(argv[i + 1], "f32") == 0 || strcmp(argv[i + 1], "f64") == 0))
            o.dt = strcmp(argv[++i], "f32") == 0 ? LG_F32 : LG_F64;
        else {
            fprintf(stderr, "usage: linalg [--quick] [--json] [--backward] [--threads N] "
                            "[--dtype f32|f64] [--n N]\n");
            return 2;
        }
    }
    if (lg_set_num_threads(threads > 0 ? threads : 1) != LG_OK)
        die("threads", "lg_set_num_threads failed");
    if (bwd)
        backward(&o);
    else
        forward(&o);
    return 0;
}
