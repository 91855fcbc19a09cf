/* Consumer of an installed lagrad: y = sum(x * x) on three f64 values, then backward must
 * give dy/dx = 2x (by hand). Exit status 0 only if the value and the gradient are right.
 * Uses nothing but the installed public header. */
#include <stdio.h>
#include <lagrad/lagrad.h>

static int close_to(double a, double b)
{
    double d = a - b;
    return d < 1e-12 && d > -1e-12;
}

int main(void)
{
    const double xv[3] = {1.5, -2.0, 0.25};
    const int64_t shape[1] = {3};
    lg_tensor *x = lg_tensor_from_data(LG_F64, 1, shape, xv);
    lg_graph *g = lg_graph_new();
    if (!x || !g || lg_tensor_set_requires_grad(x, true) != LG_OK) {
        fprintf(stderr, "consumer: setup failed: %s\n", lg_last_errmsg());
        return 1;
    }
    int ok = 0;
    lg_tensor *y = lg_sum(g, lg_mul(g, x, x));
    if (!y || lg_backward(g, y) != LG_OK) {
        fprintf(stderr, "consumer: %s\n", lg_graph_errmsg(g));
    } else {
        const lg_tensor *dx = lg_tensor_grad(x);
        ok = dx != NULL && close_to(lg_tensor_item(y, 0), 1.5 * 1.5 + 4.0 + 0.0625);
        for (int i = 0; i < 3 && ok; i++)
            ok = close_to(lg_tensor_item(dx, i), 2.0 * xv[i]);
        printf("consumer: y = %g, dy/dx = (%g, %g, %g), BLAS threading %s: %s\n",
               lg_tensor_item(y, 0), lg_tensor_item(dx, 0), lg_tensor_item(dx, 1),
               lg_tensor_item(dx, 2), lg_blas_threading(), ok ? "ok" : "WRONG");
    }
    lg_graph_free(g);
    lg_tensor_free(x);
    return ok ? 0 : 1;
}
