/* lagrad gradcheck: compares reverse-mode gradients with central finite differences. */
#ifndef LAGRAD_GRADCHECK_H
#define LAGRAD_GRADCHECK_H

#include "graph.h"

#ifdef __cplusplus
extern "C" {
#endif
/* The library is built with hidden visibility: what this header declares is its ABI. */
#pragma GCC visibility push(default)

typedef enum lg_gradcheck_mode {
    LG_GRADCHECK_FULL = 0,  /* every element of every input: 2 evaluations each */
    LG_GRADCHECK_RANDOM = 1 /* n_probes random directions u: compare <grad, u> with
                               (f(x+eps u) - f(x-eps u)) / 2eps; for large inputs */
} lg_gradcheck_mode;

/* Defaults (lg_gradcheck_defaults): eps 1e-6, atol 1e-5, rtol 1e-3, full mode, 4 probes,
 * seed 0, second_order off. An element passes when |analytic - numeric| <=
 * atol + rtol * |numeric|. */
typedef struct lg_gradcheck_opts {
    double eps;
    double atol;
    double rtol;
    lg_gradcheck_mode mode;
    int n_probes;
    uint64_t seed;
    /* Also checks Hessian-vector products: for n_probes random v, H v from double
     * backward against (grad(x + eps v) - grad(x - eps v)) / 2eps, element by element. */
    bool second_order;
} lg_gradcheck_opts;

/* The defaults listed above lg_gradcheck_opts. */
lg_gradcheck_opts lg_gradcheck_defaults(void);

/* The worst element seen (largest |analytic - numeric| - rtol*|numeric|). order is 1 for
 * gradients, 2 for Hessian-vector products; index is -1 for a random-probe result. */
typedef struct lg_gradcheck_report {
    int passed;
    int order;
    int input;
    int64_t index;
    double analytic;
    double numeric;
    double max_abs_err;
    int64_t n_checked;
    char msg[256];
} lg_gradcheck_report;

/* Checks f at `inputs` (n caller-owned LG_F64 tensors, n <= LG_FN_MAX_INPUTS; their
 * values are perturbed and restored). opts may be NULL for the defaults, report may be NULL.
 * Returns LG_OK when every check passes, LG_ERR_NUMERIC when one fails (report says
 * where), LG_ERR_DTYPE for non-f64 inputs, LG_ERR_ARG for NULLs, or the error f's graph
 * reported. */
lg_status lg_gradcheck(lg_fn f, void *ctx, lg_tensor *const *inputs, int n,
                       const lg_gradcheck_opts *opts, lg_gradcheck_report *report);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
