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
    double v = lg_element(g, t, i);
    return isnan(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf";
}

bool lg_anomaly_check_outputs(lg_graph *g, const lg_op *op, int nin, lg_tensor *const *in,
                              int nout, lg_tensor *const *out)
{
    for (int j = 0; j < nout; j++) {
        int64_t bad = lg_first_nonfinite(g, out[j]);
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
        int64_t bad = lg_first_nonfinite(g, gx[i]);
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
