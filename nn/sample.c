/* Next-token sampling with temperature and top-k, and text generation from a GPT
 * (sample.h). Beam search and nucleus (top-p) sampling are left out. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lagrad/sample.h"
#include "../tensor/tensor_impl.h"

static int cmp_desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

/* The k-th largest non-NaN value of row (n values, nn of them not NaN), via a sorted copy. */
static lg_status kth_largest(const double *row, int64_t n, int64_t k, double *out)
{
    size_t bytes = (size_t)n * sizeof(double);
    double *c = lg_malloc(bytes);
    if (!c)
        return lg_set_error(LG_ERR_OOM, "lg_sample_logits: out of memory");
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++)
        if (!isnan(row[i]))
            c[m++] = row[i];
    qsort(c, (size_t)m, sizeof *c, cmp_desc);
    *out = c[(k < m ? k : m) - 1];
    lg_free(c, bytes);
    return LG_OK;
}

lg_status lg_sample_logits(const lg_tensor *logits, double temperature, int64_t top_k,
                           lg_rng *r, int64_t *id)
{
    const char *fn = "lg_sample_logits";
    if (!logits || !r || !id)
        return lg_set_error(LG_ERR_ARG, "%s: NULL %s", fn, !logits ? "logits" : !r ? "rng"
                                                                                 : "id");
    if (!(temperature >= 0) || !isfinite(temperature) || top_k < 0)
        return lg_set_error(LG_ERR_ARG, "%s: need a finite temperature >= 0 and top_k >= 0, "
                            "got %g and %lld", fn, temperature, (long long)top_k);
    if (!lg_dtype_is_float(logits->dtype))
        return lg_set_error(LG_ERR_DTYPE, "%s: logits are %s; need f32 or f64", fn,
                            lg_dtype_name(logits->dtype));
    if (logits->ndim < 1 || logits->numel == 0)
        return lg_set_error(LG_ERR_SHAPE, "%s: logits %s have no row", fn,
                            lg_tshape(logits).s);
    int64_t V = logits->shape[logits->ndim - 1], off = logits->numel - V;
    double row[4096], *x = row;
    size_t bytes = (size_t)V * sizeof(double);
    if (V > 4096 && !(x = lg_malloc(bytes)))
        return lg_set_error(LG_ERR_OOM, "%s: out of memory", fn);
    int64_t best = -1;
    for (int64_t i = 0; i < V; i++) {
        x[i] = lg_load(logits->data, logits->dtype, off + i);
        if (!isnan(x[i]) && (best < 0 || x[i] > x[best]))
            best = i;
    }
    lg_status s = LG_OK;
    if (best < 0) {
        s = lg_set_error(LG_ERR_NUMERIC, "%s: every logit is NaN", fn);
    } else if (temperature == 0 || isinf(x[best])) {
        *id = best; /* greedy; an +inf logit takes all the mass */
    } else {
        double cut = -INFINITY;
        if (top_k > 0 && top_k < V)
            s = kth_largest(x, V, top_k, &cut);
        double total = 0, mx = x[best]; /* x is overwritten by the weights in place */
        for (int64_t i = 0; s == LG_OK && i < V; i++) {
            x[i] = isnan(x[i]) || x[i] < cut ? 0 : exp((x[i] - mx) / temperature);
            total += x[i];
        }
        if (s == LG_OK) {
            double u = lg_rng_uniform(r) * total, acc = 0;
            *id = best;
            for (int64_t i = 0; i < V; i++) {
                acc += x[i];
                if (x[i] > 0 && u < acc) {
                    *id = i;
                    break;
                }
            }
        }
    }
    if (x != row)
        lg_free(x, bytes);
    return s;
}

lg_status lg_gpt_generate(lg_gpt *m, const int32_t *prompt, int64_t n_prompt, int64_t n_new,
                          double temperature, int64_t top_k, lg_rng *r, int32_t *out)
{
    const char *fn = "lg_gpt_generate";
    if (!m || !prompt || !r || !out || n_prompt < 1 || n_new < 0 || !m->wte)
        return lg_set_error(LG_ERR_ARG, "%s: need a model, rng, output, n_prompt >= 1 and "
                            "n_new >= 0", fn);
    for (int64_t i = 0; i < n_prompt; i++)
        if (prompt[i] < 0 || prompt[i] >= m->cfg.vocab_size)
            return lg_set_error(LG_ERR_ARG, "%s: prompt id %d at position %lld is outside "
                                "[0, %lld)", fn, (int)prompt[i], (long long)i,
                                (long long)m->cfg.vocab_size);
    if (out != prompt)
        memmove(out, prompt, (size_t)n_prompt * sizeof *out);
    lg_graph *g = lg_graph_new();
    if (!g)
        return lg_set_error(LG_ERR_OOM, "%s: out of memory", fn);
    lg_graph_set_grad_enabled(g, false);
    lg_graph_set_training(g, false);
    lg_status s = LG_OK;
    for (int64_t len = n_prompt; s == LG_OK && len < n_prompt + n_new; len++) {
        int64_t T = len < m->cfg.block_size ? len : m->cfg.block_size;
        int64_t shape[2] = {1, T};
        lg_graph_reset(g);
        lg_tensor *logits = lg_gpt_forward(g, m, lg_graph_input(g, LG_I32, 2, shape,
                                                                out + len - T));
        if (!logits) {
            s = lg_set_error(lg_graph_status(g), "%s", lg_graph_errmsg(g));
            break;
        }
        int64_t id = 0;
        s = lg_sample_logits(logits, temperature, top_k, r, &id);
        out[len] = (int32_t)id;
    }
    lg_graph_free(g);
    return s;
}
