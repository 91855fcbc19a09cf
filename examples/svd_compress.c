/* Low-rank image compression with the SVD: a montage of 8x8 Fashion-MNIST training items
 * (224x224 pixels) approximated at rank k = 1, 2, 5, 10, 20, 40 and 80. For each k it
 * prints the storage ratio k(m+n+1)/(mn) and the relative Frobenius error of the
 * reconstruction, and checks that the error equals sqrt(Σ dropped σ²)/‖A‖F (Eckart-Young).
 * Writes svd_original.pgm and svd_k<k>.pgm. float64.
 * Usage: svd_compress [--data DIR] [--out DIR]
 * The data: Debian's dataset-fashion-mnist, or scripts/fetch-fashion-mnist.sh. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lagrad/lagrad.h"
#include "example_data.h"

enum { TILES = 8, N_RANKS = 7 };
static const int RANKS[N_RANKS] = {1, 2, 5, 10, 20, 40, 80};

/* Writes a (h,w) tensor as an 8-bit greyscale PGM (P5), clipping to 0..255. */
static bool write_pgm(const char *path, const lg_tensor *a)
{
    int h = (int)lg_tensor_shape(a)[0], w = (int)lg_tensor_shape(a)[1];
    unsigned char *px = malloc((size_t)w * (size_t)h);
    FILE *f = px ? fopen(path, "wb") : NULL;
    if (!f) {
        free(px);
        return false;
    }
    for (int64_t i = 0; i < (int64_t)w * h; i++)
        px[i] = (unsigned char)lround(fmin(255.0, fmax(0.0, lg_tensor_item(a, i))));
    fprintf(f, "P5\n%d %d\n255\n", w, h);
    bool ok = fwrite(px, 1, (size_t)w * (size_t)h, f) == (size_t)w * (size_t)h;
    free(px);
    return fclose(f) == 0 && ok;
}

/* The first TILES² images of x (N, side²), in [0,1], laid out as a TILES x TILES montage
 * (TILES side, TILES side) with pixel values 0..255. Caller-owned. */
static lg_tensor *montage(const lg_tensor *x, int side)
{
    int w = TILES * side;
    int64_t shape[2] = {w, w};
    lg_tensor *m = lg_tensor_zeros(LG_F64, 2, shape);
    if (!m)
        return NULL;
    double *p = lg_tensor_data(m);
    for (int t = 0; t < TILES * TILES; t++)
        for (int i = 0; i < side * side; i++)
            p[(t / TILES * side + i / side) * w + t % TILES * side + i % side] =
                255.0 * lg_tensor_item(x, (int64_t)t * side * side + i);
    return m;
}

/* Rank-k reconstruction U[:, :k] diag(S[:k]) Vᵀ[:k, :]. */
static lg_tensor *rank_k(lg_graph *g, lg_tensor *u, lg_tensor *s, lg_tensor *vt, int k)
{
    lg_tensor *us = lg_mul(g, lg_slice(g, u, 1, 0, k), lg_slice(g, s, 0, 0, k));
    return lg_matmul(g, us, lg_slice(g, vt, 0, 0, k));
}

int main(int argc, char **argv)
{
    const char *data = DEFAULT_DATA, *out = ".";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--data") == 0 && i + 1 < argc)
            data = argv[++i];
        else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
            out = argv[++i];
        else {
            fprintf(stderr, "usage: svd_compress [--data DIR] [--out DIR]\n");
            return 2;
        }
    }
    int side = 0;
    lg_tensor *x = load_images("svd_compress", data, TILES * TILES, &side);
    if (!x)
        return 1;
    lg_tensor *a = montage(x, side);
    lg_graph *g = lg_graph_new();
    if (!a || !g) {
        fprintf(stderr, "svd_compress: setup failed: %s\n", lg_last_errmsg());
        lg_tensor_free(x);
        lg_tensor_free(a);
        lg_graph_free(g);
        return 1;
    }
    lg_graph_set_grad_enabled(g, false);
    int64_t m = lg_tensor_shape(a)[0], n = lg_tensor_shape(a)[1];
    lg_tensor *u, *s, *vt;
    lg_tensor *fro = lg_norm_fro(g, a);
    int status = lg_svd(g, a, false, &u, &s, &vt) != LG_OK || !fro;
    char path[4096];
    snprintf(path, sizeof path, "%s/svd_original.pgm", out);
    if (!status && !write_pgm(path, a)) {
        fprintf(stderr, "svd_compress: cannot write %s\n", path);
        status = 1;
    }
    if (!status) {
        double norm = lg_tensor_item(fro, 0), worst = 0;
        printf("rank-k SVD approximations of a %dx%d montage of Fashion-MNIST items "
               "(%lldx%lld pixels)\n  %-4s %9s %14s %20s %10s\n", TILES, TILES, (long long)m,
               (long long)n, "k", "storage", "rel. error", "sqrt(sum dropped)/|A|", "|diff|");
        for (int r = 0; r < N_RANKS && !status; r++) {
            int k = RANKS[r];
            double dropped = 0;
            for (int64_t i = k; i < lg_tensor_numel(s); i++)
                dropped += lg_tensor_item(s, i) * lg_tensor_item(s, i);
            lg_tensor *ak = rank_k(g, u, s, vt, k);
            lg_tensor *err = lg_norm_fro(g, lg_sub(g, a, ak));
            snprintf(path, sizeof path, "%s/svd_k%d.pgm", out, k);
            if (!err || !write_pgm(path, ak)) {
                fprintf(stderr, "svd_compress: %s\n", err ? "cannot write output" :
                                                            lg_graph_errmsg(g));
                status = 1;
                break;
            }
            double rel = lg_tensor_item(err, 0) / norm, want = sqrt(dropped) / norm;
            worst = fmax(worst, fabs(rel - want) / want);
            printf("  %-4d %8.1f%% %14.6f %20.6f %10.1e\n", k,
                   100.0 * (double)k * (double)(m + n + 1) / (double)(m * n), rel, want,
                   fabs(rel - want));
        }
        if (!status) {
            bool agree = worst <= 1e-9;
            printf("relative error = sqrt(sum of dropped sigma^2)/|A|_F to %.1e relative (%s)\n"
                   "wrote %s/svd_original.pgm and %s/svd_k<k>.pgm\n", worst,
                   agree ? "ok" : "MISMATCH", out, out);
            status = !agree;
        }
    } else if (status && lg_graph_status(g) != LG_OK) {
        fprintf(stderr, "svd_compress: %s\n", lg_graph_errmsg(g));
    }
    lg_graph_free(g);
    lg_tensor_free(a);
    lg_tensor_free(x);
    return status;
}
