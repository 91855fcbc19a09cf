/* Anomaly mode: find the first op whose output, or whose VJP's gradient, holds a NaN or
 * Inf, and say which op it was, where it sits in the tape and what it was given. */
#include <math.h>
#include <stdio.h>
#include "graph_impl.h"

/* "(2,3), (3)": the shapes of the n tensors, truncated to fit buf. */
static const char *shapes_text(char *buf, size_t len, int n, lg_tensor *const *t)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && used < len; i++) {
        int w = snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
                         t[i] ? lg_tshape(t[i]).s : "NULL");
        used += w > 0 ? (size_t)w : 0;
    }
    return n ? buf : "none";
}

static const char *kind(lg_graph *g, const lg_tensor *t, int64_t i)
{
    union { float f; double d; } e;
    size_t es = lg_dtype_size(t->dtype);
    g->be->mem_copy(LG_COPY_DEVICE_TO_HOST, &e, (const char *)t->data + (size_t)i * es, es);
    double v = t->dtype == LG_F32 ? e.f : e.d;
    return isnan(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf";
}

/* The index of t's first NaN or Inf, -1 when all are finite (integer tensors always are),
 * or -2 when out of memory. Computed through the graph's backend, not on host memory
 * (issue 15): x * 0 is 0 for a finite x and NaN otherwise, and the max of those, with its
 * argmax, finds the first NaN. */
static int64_t first_nonfinite(lg_graph *g, const lg_tensor *t)
{
    if ((t->dtype != LG_F32 && t->dtype != LG_F64) || t->numel == 0)
        return -1;
    size_t bytes = (size_t)t->numel * lg_dtype_size(t->dtype);
    void *zeros = g->be->mem_alloc(bytes), *top = g->be->mem_alloc(sizeof(double));
    int64_t first = -2;
    if (zeros && top) {
        g->be->unary(LG_UN_SCALE, t->dtype, t->numel, t->data, zeros, 0.0);
        g->be->reduce(LG_RED_MAX, t->dtype, 1, t->numel, 1, zeros, top, &first);
        union { float f; double d; } m;
        g->be->mem_copy(LG_COPY_DEVICE_TO_HOST, &m, top, lg_dtype_size(t->dtype));
        first = isnan(t->dtype == LG_F32 ? m.f : m.d) ? first : -1;
    }
    if (zeros)
        g->be->mem_free(zeros, bytes);
    if (top)
        g->be->mem_free(top, sizeof(double));
    if (first == -2)
        lg_fail(g, LG_ERR_OOM, "anomaly: no memory for the scan of a %s tensor",
                lg_tshape(t).s);
    return first;
}

bool lg_anomaly_check_outputs(lg_graph *g, const lg_op *op, int nin, lg_tensor *const *in,
                              int nout, lg_tensor *const *out)
{
    for (int j = 0; j < nout; j++) {
        int64_t bad = first_nonfinite(g, out[j]);
        if (bad == -2)
            return false;
        if (bad < 0)
            continue;
        char shapes[160];
        lg_fail(g, LG_ERR_NUMERIC, "anomaly: %s (op #%lld) produced %s at element %lld of "
                "output %d %s; inputs %s", op->name, (long long)g->nops, kind(g, out[j], bad),
                (long long)bad, j, lg_tshape(out[j]).s,
                shapes_text(shapes, sizeof shapes, nin, in));
        return false;
    }
    return true;
}

bool lg_anomaly_check_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gx)
{
    for (int i = 0; i < n->nin; i++) {
        if (!gx[i])
            continue;
        int64_t bad = first_nonfinite(g, gx[i]);
        if (bad == -2)
            return false;
        if (bad < 0)
            continue;
        char shapes[160];
        lg_fail(g, LG_ERR_NUMERIC, "anomaly: the VJP of %s (op #%lld) produced %s at "
                "element %lld of the gradient for input %d %s; inputs %s", n->op->name,
                (long long)n->seq, kind(g, gx[i], bad), (long long)bad, i, lg_tshape(gx[i]).s,
                shapes_text(shapes, sizeof shapes, n->nin, n->in));
        return false;
    }
    return true;
}
