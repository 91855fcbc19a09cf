/* PCA of Fashion-MNIST training images, two ways: eigh of the covariance matrix, and the
 * SVD of the centred data (singular values only). The explained-variance ratios of the
 * top 10 components must agree to 1e-4; the first 16 components (eigh's eigenvectors)
 * are written as a 4x4 PGM grid, pca_components.pgm, beside the mean image,
 * pca_mean.pgm. Uses the first 10,000 of the 60,000 training images by default
 * (--n 60000 for all; slower), in float64.
 * Usage: pca [--n N] [--data DIR] [--out DIR]
 * The data: Debian's dataset-fashion-mnist, or scripts/fetch-fashion-mnist.sh. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lagrad/lagrad.h"
#include "example_data.h"

enum { TOP = 10, GRID = 4, PAD = 2 };

/* Writes an 8-bit greyscale PGM (P5). */
static bool write_pgm(const char *path, const unsigned char *px, int w, int h)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return false;
    fprintf(f, "P5\n%d %d\n255\n", w, h);
    bool ok = fwrite(px, 1, (size_t)w * (size_t)h, f) == (size_t)w * (size_t)h;
    return fclose(f) == 0 && ok;
}

/* Tile t of a GRID x GRID mosaic of side x side images, each stretched to 0..255 over its
 * own range (a component's sign and scale are arbitrary). v holds the image at stride
 * `stride` (a column of eigenvectors). */
static void put_tile(unsigned char *img, int t, int side, const double *v, int64_t stride)
{
    int w = GRID * (side + PAD) + PAD;
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < side * side; i++) {
        lo = fmin(lo, v[i * stride]);
        hi = fmax(hi, v[i * stride]);
    }
    int r0 = PAD + (t / GRID) * (side + PAD), c0 = PAD + (t % GRID) * (side + PAD);
    for (int i = 0; i < side * side; i++)
        img[(r0 + i / side) * w + c0 + i % side] =
            (unsigned char)lround(255.0 * (v[i * stride] - lo) / (hi > lo ? hi - lo : 1));
}

static bool write_outputs(const char *dir, lg_tensor *mean, lg_tensor *vecs, int side)
{
    int64_t d = (int64_t)side * side;
    int w = GRID * (side + PAD) + PAD;
    unsigned char *img = calloc((size_t)w * (size_t)w, 1);
    unsigned char *mimg = malloc((size_t)d);
    char p1[4096], p2[4096];
    snprintf(p1, sizeof p1, "%s/pca_components.pgm", dir);
    snprintf(p2, sizeof p2, "%s/pca_mean.pgm", dir);
    bool ok = img && mimg;
    const double *v = lg_tensor_cdata(vecs), *m = lg_tensor_cdata(mean);
    for (int t = 0; ok && t < GRID * GRID; t++) /* eigh is ascending: the last column first */
        put_tile(img, t, side, v + (d - 1 - t), d);
    for (int64_t i = 0; ok && i < d; i++)
        mimg[i] = (unsigned char)lround(255.0 * fmin(1.0, fmax(0.0, m[i])));
    ok = ok && write_pgm(p1, img, w, w) && write_pgm(p2, mimg, side, side);
    if (ok)
        printf("wrote %s (the first %d components, %dx%d) and %s\n", p1, GRID * GRID, GRID,
               GRID, p2);
    else
        fprintf(stderr, "pca: cannot write %s or %s\n", p1, p2);
    free(img);
    free(mimg);
    return ok;
}

/* Explained-variance ratios, two ways, from the centred data xc (N,D):
 * eigh of C = xcᵀ xc / (N-1) (ascending λ: ratio_i = λ_{D-1-i} / Σλ), and the SVD of xc
 * (ratio_i = σi² / Σσ²). *vecs gets eigh's eigenvectors (columns). */
static bool ratios(lg_graph *g, lg_tensor *xc, double *r_eigh, double *r_svd, lg_tensor **vecs)
{
    int64_t n = lg_tensor_shape(xc)[0], d = lg_tensor_shape(xc)[1];
    lg_tensor *cov = lg_scale(g, lg_matmul_t(g, xc, xc, true, false), 1.0 / (double)(n - 1));
    lg_tensor *vals, *s;
    if (!cov || lg_eigh(g, cov, &vals, vecs) != LG_OK)
        return false;
    if (lg_svd(g, xc, false, NULL, &s, NULL) != LG_OK)
        return false;
    double tl = 0, ts = 0;
    for (int64_t i = 0; i < d; i++)
        tl += lg_tensor_item(vals, i);
    for (int64_t i = 0; i < lg_tensor_numel(s); i++)
        ts += lg_tensor_item(s, i) * lg_tensor_item(s, i);
    for (int i = 0; i < TOP; i++) {
        r_eigh[i] = lg_tensor_item(vals, d - 1 - i) / tl;
        r_svd[i] = lg_tensor_item(s, i) * lg_tensor_item(s, i) / ts;
    }
    return true;
}

int main(int argc, char **argv)
{
    const char *data = DEFAULT_DATA, *out = ".";
    int64_t want = 10000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--n") == 0 && i + 1 < argc)
            want = atoll(argv[++i]);
        else if (strcmp(argv[i], "--data") == 0 && i + 1 < argc)
            data = argv[++i];
        else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
            out = argv[++i];
        else {
            fprintf(stderr, "usage: pca [--n N] [--data DIR] [--out DIR]\n");
            return 2;
        }
    }
    int side = 0;
    lg_tensor *x = load_images("pca", data, want, &side); /* (N, side*side) in [0,1] */
    if (!x)
        return 1;
    int64_t n = lg_tensor_shape(x)[0], d = lg_tensor_shape(x)[1];
    lg_graph *g = lg_graph_new();
    if (!g) {
        lg_tensor_free(x);
        return 1;
    }
    lg_graph_set_grad_enabled(g, false);
    printf("PCA of %lld Fashion-MNIST training images (%dx%d = %lld pixels), float64\n",
           (long long)n, side, side, (long long)d);
    lg_tensor *mean = lg_mean_axis(g, x, 0, false);         /* (D) */
    lg_tensor *xc = lg_sub(g, x, mean);                     /* (N,D) */
    double re[TOP], rs[TOP];
    lg_tensor *vecs = NULL;
    int status = 0;
    if (!mean || !xc || !ratios(g, xc, re, rs, &vecs)) {
        fprintf(stderr, "pca: %s\n", lg_graph_errmsg(g));
        status = 1;
    }
    if (!status) {
        printf("  %-4s %14s %14s %12s %12s\n", "k", "eigh(cov)", "svd(X - mean)", "|diff|",
               "cumulative");
        double worst = 0, cum = 0;
        for (int i = 0; i < TOP; i++) {
            cum += re[i];
            worst = fmax(worst, fabs(re[i] - rs[i]));
            printf("  %-4d %14.6f %14.6f %12.2e %12.4f\n", i + 1, re[i], rs[i],
                   fabs(re[i] - rs[i]), cum);
        }
        bool agree = worst <= 1e-4;
        printf("top %d explained-variance ratios agree to %.1e (%s 1e-4)\n", TOP, worst,
               agree ? "within" : "NOT within");
        status = agree ? 0 : 1;
        if (!write_outputs(out, mean, vecs, side))
            status = 1;
    }
    lg_graph_free(g);
    lg_tensor_free(x);
    return status;
}
