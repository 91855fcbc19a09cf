/* The graph: creation and reset, the sticky error, graph tensors and recording.
 * Backward lives in backward.c, ops in ops_*.c. */
#include <stdio.h>
#include <string.h>
#include "graph_impl.h"

lg_graph *lg_graph_new(void) { return lg_graph_new_on(NULL); }

const lg_backend *lg_graph_backend(const lg_graph *g) { return g ? g->be : NULL; }

lg_graph *lg_graph_new_on(const lg_backend *b)
{
    lg_graph *g = lg_malloc(sizeof *g);
    if (!g) {
        lg_set_error(LG_ERR_OOM, "lg_graph_new: out of memory");
        return NULL;
    }
    memset(g, 0, sizeof *g);
    g->grad_enabled = true;
    g->training = true;
    g->epoch = 1;
    g->arena_limit = LG_GRAPH_ARENA_LIMIT_DEFAULT;
    g->be = b ? b : lg_backend_default();
    return g;
}

void lg_graph_free(lg_graph *g)
{
    if (!g)
        return;
    lg_arena_release(g);
    lg_free(g, sizeof *g);
}

void lg_graph_reset(lg_graph *g)
{
    if (!g)
        return;
    lg_arena_rewind(g);
    lg_threads_auto_tick(); /* once per step: the default thread count (threads_auto.c) */
    g->epoch++;
    g->tail = NULL;
    g->nops = 0;
    g->reads_grad = false;
    g->wrap_lo = g->wrap_hi = NULL;
    g->status = LG_OK;
    g->errmsg[0] = '\0';
}

lg_graph_mark lg_graph_mark_now(const lg_graph *g)
{
    return (lg_graph_mark){g->tail, g->nops, lg_arena_mark_now(&g->meta),
                           lg_arena_mark_now(&g->data)};
}

void lg_graph_truncate(lg_graph *g, const lg_graph_mark *m)
{
    g->tail = m->tail;
    g->nops = m->nops;
    lg_arena_truncate(&g->meta, &m->meta);
    lg_arena_truncate(&g->data, &m->data);
}

lg_status lg_graph_status(const lg_graph *g) { return g ? g->status : LG_ERR_ARG; }

const char *lg_graph_errmsg(const lg_graph *g)
{
    return g ? g->errmsg : "lg_graph_errmsg: graph is NULL";
}

void lg_graph_clear_error(lg_graph *g)
{
    if (g) {
        g->status = LG_OK;
        g->errmsg[0] = '\0';
    }
}

bool lg_graph_set_grad_enabled(lg_graph *g, bool enabled)
{
    if (!g)
        return false;
    bool prev = g->grad_enabled;
    g->grad_enabled = enabled;
    return prev;
}

bool lg_graph_grad_enabled(const lg_graph *g) { return g && g->grad_enabled; }

bool lg_graph_set_anomaly(lg_graph *g, bool on)
{
    if (!g)
        return false;
    bool prev = g->anomaly;
    g->anomaly = on;
    return prev;
}

bool lg_graph_anomaly(const lg_graph *g) { return g && g->anomaly; }

bool lg_graph_set_training(lg_graph *g, bool training)
{
    if (!g)
        return false;
    bool prev = g->training;
    g->training = training;
    return prev;
}

size_t lg_graph_arena_bytes(const lg_graph *g) { return g ? g->arena_bytes : 0; }
int64_t lg_graph_num_ops(const lg_graph *g) { return g ? g->nops : 0; }

size_t lg_graph_set_arena_limit(lg_graph *g, size_t bytes)
{
    if (!g)
        return 0;
    size_t prev = g->arena_limit;
    g->arena_limit = bytes;
    return prev;
}

size_t lg_graph_arena_limit(const lg_graph *g) { return g ? g->arena_limit : 0; }

lg_tensor *lg_fail(lg_graph *g, lg_status s, const char *fmt, ...)
{
    if (!g || g->status != LG_OK)
        return NULL;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g->errmsg, sizeof g->errmsg, fmt, ap);
    va_end(ap);
    g->status = s;
    return NULL;
}

/* A wrapped caller buffer may be any memory, a leaf's .grad included: widen the span that
 * lg_grad_sink keeps away from. */
static void note_wrapped(lg_graph *g, const lg_tensor *t)
{
    const char *lo = t->data, *hi = lo + (size_t)t->numel * lg_dtype_size(t->dtype);
    if (!g->wrap_lo || lo < g->wrap_lo)
        g->wrap_lo = lo;
    if (!g->wrap_hi || hi > g->wrap_hi)
        g->wrap_hi = hi;
}

bool lg_check_inputs(lg_graph *g, const char *name, int n, lg_tensor *const *in)
{
    if (!lg_check_inputs_any(g, name, n, in))
        return false;
    for (int i = 0; i < n; i++) {
        if (!lg_dtype_is_float(in[i]->dtype)) {
            lg_fail(g, LG_ERR_DTYPE, "%s: input %d is %s; need f32 or f64", name, i,
                    lg_dtype_name(in[i]->dtype));
            return false;
        }
    }
    return true;
}

bool lg_check_inputs_any(lg_graph *g, const char *name, int n, lg_tensor *const *in)
{
    if (!g) {
        lg_set_error(LG_ERR_ARG, "%s: graph is NULL", name);
        return false;
    }
    if (g->status != LG_OK)
        return false;
    for (int i = 0; i < n; i++) {
        const lg_tensor *t = in[i];
        if (!t) {
            lg_fail(g, LG_ERR_ARG, "%s: input %d is NULL", name, i);
            return false;
        }
        if (t->graph && t->graph != g) {
            lg_fail(g, LG_ERR_ARG, "%s: input %d %s belongs to another graph", name, i,
                    lg_tshape(t).s);
            return false;
        }
        if (t->device != g->be->device) {
            lg_fail(g, LG_ERR_DEVICE, "%s: input %d %s is on device %d, the graph's backend "
                    "'%s' on device %d; copy it explicitly", name, i, lg_tshape(t).s,
                    (int)t->device, g->be->name, (int)g->be->device);
            return false;
        }
        if (t->graph && t->epoch != g->epoch) {
            lg_fail(g, LG_ERR_STATE, "%s: input %d was made before lg_graph_reset", name, i);
            return false;
        }
        if (t->flags & LG_TF_GRAD)
            g->reads_grad = true;
        else if (!t->graph && !(t->flags & (LG_TF_OWNS_DATA | LG_TF_BORROWED)))
            note_wrapped(g, t);
    }
    return true;
}

bool lg_check_same_dtype(lg_graph *g, const char *name, int n, lg_tensor *const *in)
{
    for (int i = 1; i < n; i++) {
        if (in[i]->dtype != in[0]->dtype) {
            lg_fail(g, LG_ERR_DTYPE, "%s: dtypes differ: input 0 is %s, input %d is %s", name,
                    lg_dtype_name(in[0]->dtype), i, lg_dtype_name(in[i]->dtype));
            return false;
        }
    }
    return true;
}

bool lg_check_axis(lg_graph *g, const char *name, int *axis, int ndim)
{
    int a = *axis < 0 ? *axis + ndim : *axis;
    if (a < 0 || a >= ndim) {
        lg_fail(g, LG_ERR_ARG, "%s: axis %d out of range for rank %d", name, *axis, ndim);
        return false;
    }
    *axis = a;
    return true;
}

static lg_tensor *graph_header(lg_graph *g, lg_dtype dt, int ndim, const int64_t *shape)
{
    lg_tensor tmp;
    char msg[160];
    lg_status s = lg_shape_init(&tmp, ndim, shape, "lg_graph_tensor", msg, sizeof msg);
    if (s != LG_OK)
        return lg_fail(g, s, "%s", msg);
    lg_tensor *t = lg_arena_alloc(g, sizeof *t, "lg_graph_tensor");
    if (!t)
        return NULL;
    memset(t, 0, sizeof *t);
    memcpy(t->shape, tmp.shape, sizeof t->shape);
    memcpy(t->strides, tmp.strides, sizeof t->strides);
    t->ndim = ndim;
    t->numel = tmp.numel;
    t->dtype = dt;
    t->device = g->be->device;
    t->graph = g;
    t->epoch = g->epoch;
    return t;
}

lg_tensor *lg_graph_tensor(lg_graph *g, lg_dtype dt, int ndim, const int64_t *shape)
{
    lg_tensor *t = graph_header(g, dt, ndim, shape);
    if (!t)
        return NULL;
    t->data = lg_arena_data(g, (size_t)t->numel * lg_dtype_size(dt), "lg_graph_tensor");
    return t->data ? t : NULL;
}

lg_tensor *lg_graph_view(lg_graph *g, lg_tensor *x, int ndim, const int64_t *shape)
{
    lg_tensor *t = graph_header(g, x->dtype, ndim, shape);
    if (!t)
        return NULL;
    t->data = x->data;
    return t;
}

lg_tensor *lg_graph_input(lg_graph *g, lg_dtype dt, int ndim, const int64_t *shape,
                          const void *data)
{
    if (!lg_check_inputs(g, "lg_graph_input", 0, NULL))
        return NULL;
    if (!data)
        return lg_fail(g, LG_ERR_ARG, "lg_graph_input: data is NULL");
    if (!lg_dtype_valid(dt))
        return lg_fail(g, LG_ERR_DTYPE, "lg_graph_input: invalid dtype %d", (int)dt);
    lg_tensor *t = lg_graph_tensor(g, dt, ndim, shape);
    if (t)
        memcpy(t->data, data, (size_t)t->numel * lg_dtype_size(dt));
    return t;
}

lg_tensor *lg_graph_full(lg_graph *g, lg_dtype dt, int ndim, const int64_t *shape,
                         double value)
{
    if (!lg_check_inputs(g, "lg_graph_full", 0, NULL))
        return NULL;
    if (!lg_dtype_valid(dt))
        return lg_fail(g, LG_ERR_DTYPE, "lg_graph_full: invalid dtype %d", (int)dt);
    if (lg_check_value("lg_graph_full", dt, value) != LG_OK)
        return lg_fail(g, LG_ERR_ARG, "%s", lg_last_errmsg());
    lg_tensor *t = lg_graph_tensor(g, dt, ndim, shape);
    if (t)
        g->be->fill(dt, t->numel, t->data, value);
    return t;
}

lg_node *lg_record(lg_graph *g, const lg_op *op, int nin, lg_tensor *const *in, int nout,
                   lg_tensor *const *out)
{
    /* Inside backward the VJP's result is checked as a whole (backward.c), so the
     * message names the op whose VJP failed rather than one of its helpers. */
    if (g->anomaly && !g->in_backward && !lg_anomaly_check_outputs(g, op, nin, in, nout, out))
        return NULL;
    if (!g->grad_enabled)
        return NULL;
    bool any = false;
    for (int i = 0; i < nin; i++)
        any = any || (in[i]->flags & LG_TF_REQUIRES_GRAD);
    if (!any)
        return NULL;
    lg_node *n = lg_arena_alloc(g, sizeof *n, op->name);
    lg_tensor **ins = n ? lg_arena_alloc(g, sizeof *ins * (size_t)(nin ? nin : 1), op->name)
                        : NULL;
    if (!ins)
        return NULL;
    memset(n, 0, sizeof *n);
    memcpy(ins, in, sizeof *ins * (size_t)nin);
    n->op = op;
    n->in = ins;
    n->nin = nin;
    n->nout = nout;
    n->seq = g->nops++;
    n->prev = g->tail;
    g->tail = n;
    for (int j = 0; j < nout; j++) {
        n->out[j] = out[j];
        out[j]->node = n;
        out[j]->out_index = j;
        out[j]->flags |= LG_TF_REQUIRES_GRAD;
    }
    return n;
}

int64_t lg_outer_size(const lg_tensor *t, int axis)
{
    int64_t n = 1;
    for (int i = 0; i < axis; i++)
        n *= t->shape[i];
    return n;
}

int64_t lg_inner_size(const lg_tensor *t, int axis)
{
    int64_t n = 1;
    for (int i = axis + 1; i < t->ndim; i++)
        n *= t->shape[i];
    return n;
}
