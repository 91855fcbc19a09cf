/* Vector and matrix norms, trace, condition number, rank and cosine similarity. Most are
 * compositions of differentiable ops; L2 has its own op so that its gradient at 0 is 0
 * rather than NaN. The counts (L0, rank) and the clamp mask run on the backend's maps. */
#include <math.h>
#include "linalg_impl.h"

/* y (n) = 1 where x_i > t, else 0, for finite x: relu(sign(x - t)). */
static void above(lg_graph *g, lg_dtype dt, int64_t n, const void *x, double t, void *y)
{
    g->be->unary(LG_UN_ADD_SCALAR, dt, n, x, y, -t);
    g->be->unary(LG_UN_SIGN, dt, n, y, y, 0);
    g->be->unary(LG_UN_RELU, dt, n, y, y, 0);
}

/* Σ [x_i > t] over n elements into y (one element), through arena scratch. */
static bool count_above(lg_graph *g, const char *name, lg_dtype dt, int64_t n, const void *x,
                        double t, void *y)
{
    void *tmp = la_alloc(g, dt, n, name);
    if (!tmp)
        return false;
    if (n == 0) {
        g->be->fill(dt, 1, y, 0.0);
        return true;
    }
    above(g, dt, n, x, t, tmp);
    g->be->reduce(LG_RED_SUM, dt, 1, n, 1, tmp, y, NULL);
    return true;
}

lg_tensor *lg_norm_l0(lg_graph *g, lg_tensor *x)
{
    const char *name = "lg_norm_l0";
    if (!lg_check_inputs(g, name, 1, &x) || !la_check_finite(g, name, "x", x))
        return NULL;
    /* a constant (no gradient): the count of |x_i| > 0 */
    lg_tensor *y = lg_graph_tensor(g, x->dtype, 0, NULL);
    void *ax = y ? la_alloc(g, x->dtype, x->numel, name) : NULL;
    if (!ax)
        return NULL;
    if (x->numel > 0)
        g->be->unary(LG_UN_ABS, x->dtype, x->numel, x->data, ax, 0);
    return count_above(g, name, x->dtype, x->numel, ax, 0.0, y->data) ? y : NULL;
}

lg_tensor *lg_norm_l1(lg_graph *g, lg_tensor *x)
{
    if (!lg_check_inputs(g, "lg_norm_l1", 1, &x) || !la_check_finite(g, "lg_norm_l1", "x", x))
        return NULL;
    return lg_sum(g, lg_abs(g, x));
}

/* y = sqrt(Σ x²), y scalar:  dx += x dy / y, and 0 where y = 0 (a subgradient). */
static void norm2_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    lg_tensor *y = n->out[0];
    bool zero = lg_element(g, y, 0) == 0.0;
    lg_tensor *ysafe = zero ? lg_scalar_const(g, y->dtype, 1.0) : y;
    gx[0] = lg_mul(g, n->in[0], lg_div(g, gy[0], ysafe));
}
static const lg_op NORM2 = {"lg_norm_l2", norm2_vjp};

lg_tensor *lg_norm_l2(lg_graph *g, lg_tensor *x)
{
    if (!lg_check_inputs(g, NORM2.name, 1, &x) || !la_check_finite(g, NORM2.name, "x", x))
        return NULL;
    if (x->numel > INT32_MAX)
        return lg_fail(g, LG_ERR_UNSUPPORTED, "lg_norm_l2: %s has too many elements",
                       lg_tshape(x).s);
    lg_tensor *y = lg_graph_tensor(g, x->dtype, 0, NULL);
    if (!y)
        return NULL;
    /* scaled as it goes: no overflow for large elements */
    lg_linalg_args la = {.n = x->numel, .a = x->data, .x = y->data};
    if (la_run(g, NORM2.name, LG_LA_NRM2, x->dtype, &la) == LA_NO_WORK)
        return NULL;
    lg_record(g, &NORM2, 1, &x, 1, &y);
    return g->status == LG_OK ? y : NULL;
}

lg_tensor *lg_norm_linf(lg_graph *g, lg_tensor *x)
{
    if (!lg_check_inputs(g, "lg_norm_linf", 1, &x) || !la_check_finite(g, "lg_norm_linf", "x", x))
        return NULL;
    if (x->numel == 0)
        return lg_fail(g, LG_ERR_SHAPE, "lg_norm_linf: %s is empty", lg_tshape(x).s);
    int64_t flat = x->numel;
    return lg_max_axis(g, lg_reshape(g, lg_abs(g, x), 1, &flat), 0, false);
}

static bool check_mat(lg_graph *g, const char *name, lg_tensor *a, bool square)
{
    return lg_check_inputs(g, name, 1, &a) && la_check_matrix(g, name, "A", a, square) &&
           la_check_finite(g, name, "A", a);
}

lg_tensor *lg_norm_fro(lg_graph *g, lg_tensor *a)
{
    return check_mat(g, "lg_norm_fro", a, false) ? lg_norm_l2(g, a) : NULL;
}

/* The singular values of a (recorded, so gradients flow through S only). */
static lg_tensor *svals(lg_graph *g, const char *name, lg_tensor *a)
{
    lg_tensor *s;
    if (!check_mat(g, name, a, false))
        return NULL;
    if (a->shape[0] == 0 || a->shape[1] == 0)
        return lg_fail(g, LG_ERR_SHAPE, "%s: A %s is empty", name, lg_tshape(a).s);
    return lg_svd(g, a, false, NULL, &s, NULL) == LG_OK ? s : NULL;
}

static lg_tensor *element(lg_graph *g, lg_tensor *v, int64_t i)
{
    return lg_reshape(g, lg_slice(g, v, 0, i, i + 1), 0, NULL);
}

lg_tensor *lg_norm_spectral(lg_graph *g, lg_tensor *a)
{
    lg_tensor *s = svals(g, "lg_norm_spectral", a);
    return s ? element(g, s, 0) : NULL;
}

lg_tensor *lg_norm_nuclear(lg_graph *g, lg_tensor *a)
{
    lg_tensor *s = svals(g, "lg_norm_nuclear", a);
    return s ? lg_sum(g, s) : NULL;
}

lg_tensor *lg_cond(lg_graph *g, lg_tensor *a)
{
    lg_tensor *s = svals(g, "lg_cond", a);
    if (!s)
        return NULL;
    /* σmin = 0 (a zero matrix too, where σmax / σmin would be 0/0): +inf as promised,
     * a constant, since the ratio has no derivative there */
    if (lg_element(g, s, s->numel - 1) == 0.0)
        return lg_scalar_const(g, a->dtype, INFINITY);
    return lg_div(g, element(g, s, 0), element(g, s, s->numel - 1));
}

lg_tensor *lg_trace(lg_graph *g, lg_tensor *a)
{
    return check_mat(g, "lg_trace", a, true) ? lg_sum(g, la_diag(g, a)) : NULL;
}

lg_status lg_matrix_rank(lg_graph *g, lg_tensor *a, double tol, int64_t *rank)
{
    const char *name = "lg_matrix_rank";
    if (!check_mat(g, name, a, false))
        return g ? g->status : LG_ERR_ARG;
    if (!rank)
        return (lg_fail(g, LG_ERR_ARG, "%s: rank must not be NULL", name), g->status);
    lg_tensor *u, *s, *vt;
    if (la_svd(g, name, a, false, false, &u, &s, &vt) != LG_OK)
        return g->status;
    int64_t k = s->numel, mn = a->shape[0] > a->shape[1] ? a->shape[0] : a->shape[1];
    if (tol < 0)
        tol = k ? lg_element(g, s, 0) * (double)mn * la_eps(a->dtype) : 0;
    lg_tensor *r = lg_graph_tensor(g, a->dtype, 0, NULL);
    if (!r || !count_above(g, name, a->dtype, k, s->data, tol, r->data))
        return g->status;
    *rank = (int64_t)lg_element(g, r, 0);
    return LG_OK;
}

/* max(‖x‖², eps²) along the last axis, with the clamp as a constant mask (so a zero row
 * gets a zero gradient, not NaN): where(‖x‖² > eps², ‖x‖², eps²). */
static lg_tensor *clamped_sq_norm(lg_graph *g, lg_tensor *x, double eps2)
{
    lg_tensor *sq = lg_sum_axis(g, lg_mul(g, x, x), -1, false);
    if (!sq)
        return NULL;
    lg_tensor *mask = lg_graph_tensor(g, x->dtype, sq->ndim, sq->shape);
    lg_tensor *floor = lg_scalar_const(g, x->dtype, eps2);
    if (mask && sq->numel > 0)
        above(g, x->dtype, sq->numel, sq->data, eps2, mask->data);
    return lg_where(g, mask, sq, floor);
}

/* cos = a·b / sqrt(max(‖a‖², eps²) max(‖b‖², eps²)) along the last axis. */
lg_tensor *lg_cosine_similarity(lg_graph *g, lg_tensor *a, lg_tensor *b, double eps)
{
    const char *name = "lg_cosine_similarity";
    lg_tensor *in[2] = {a, b};
    if (!lg_check_inputs(g, name, 2, in) || !lg_check_same_dtype(g, name, 2, in) ||
        !la_check_finite(g, name, "a", a) || !la_check_finite(g, name, "b", b))
        return NULL;
    if (!(eps > 0))
        return lg_fail(g, LG_ERR_ARG, "%s: eps must be > 0, got %g", name, eps);
    if (!lg_same_shape(a, b) || a->ndim < 1 || a->ndim > 2)
        return lg_fail(g, LG_ERR_SHAPE, "%s: need a and b of one shape, (D) or (N,D): got "
                       "%s and %s", name, lg_tshape(a).s, lg_tshape(b).s);
    lg_tensor *dot = lg_sum_axis(g, lg_mul(g, a, b), -1, false);
    lg_tensor *den = lg_sqrt(g, lg_mul(g, clamped_sq_norm(g, a, eps * eps),
                                       clamped_sq_norm(g, b, eps * eps)));
    return lg_div(g, dot, den);
}
