/* Internal differentiable ops that build the eigen/singular-value gap matrices of the
 * eigh and SVD VJPs in one pass each, instead of a chain of transpose, sub, scale, div
 * and diag_embed over (n,n) temporaries. Their own VJPs are composite lagrad ops (they
 * run only for double backward). The callers check that the gaps are nonzero. */
#include "linalg_impl.h"

/* F_ij = 1 / (v_j - v_i) off the diagonal, 0 on it, for a vector v (n). */
static lg_tensor *gap_recip(lg_graph *g, lg_tensor *v)
{
    int64_t n = v->numel;
    lg_tensor *e = lg_add(g, lg_sub(g, la_row(g, v), la_col(g, v)), la_eye(g, v->dtype, n));
    return lg_div(g, la_offdiag_mask(g, v->dtype, n), e);
}

/* X - Xᵀ */
static lg_tensor *skew2(lg_graph *g, lg_tensor *x)
{
    return lg_sub(g, x, lg_transpose(g, x));
}

/* A zero constant in place of an absent gradient, so that the ops keep fixed inputs. */
static lg_tensor *or_zeros(lg_graph *g, lg_tensor *x, lg_dtype dt, int ndim, int64_t n)
{
    int64_t shape[2] = {n, n};
    return x ? x : lg_graph_full(g, dt, ndim, shape, 0.0);
}

/* O = ½(m - mᵀ) ⊙ F + diag(glam), F = gap_recip(λ) (O is symmetric):
 *   dm += ½ F ⊙ (dO + dOᵀ),  dglam += diag(dO),
 *   dλ += rowsum(Q) - colsum(Q) with Q = dO ⊙ O ⊙ F   (∂F_ij/∂λj = -F_ij², ∂/∂λi = F_ij²) */
static void eigh_gap_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    lg_tensor *lam = n->in[1], *o = n->out[0], *go = gy[0];
    lg_tensor *f = gap_recip(g, lam);
    if (lg_needs_grad(n, 0))
        gx[0] = lg_scale(g, lg_mul(g, f, lg_add(g, go, lg_transpose(g, go))), 0.5);
    if (lg_needs_grad(n, 1)) {
        lg_tensor *q = lg_mul(g, lg_mul(g, go, o), f);
        gx[1] = lg_sub(g, lg_sum_axis(g, q, 1, false), lg_sum_axis(g, q, 0, false));
    }
    if (lg_needs_grad(n, 2))
        gx[2] = la_diag(g, go);
}
static const lg_op EIGH_GAP_OP = {"la_eigh_gap", eigh_gap_vjp};

lg_tensor *la_eigh_gap(lg_graph *g, lg_tensor *m, lg_tensor *lam, lg_tensor *glam)
{
    const char *name = EIGH_GAP_OP.name;
    lg_tensor *given[2] = {m, lam};
    if (!lg_check_inputs(g, name, 2, given) || !la_check_matrix(g, name, "M", m, true))
        return NULL;
    int64_t n = m->shape[0];
    lg_tensor *in[3] = {m, lam, or_zeros(g, glam, lam->dtype, 1, n)};
    if (!lg_check_inputs(g, name, 3, in) || !lg_check_same_dtype(g, name, 3, in))
        return NULL;
    if (lam->numel != n || in[2]->numel != n)
        return lg_fail(g, LG_ERR_SHAPE, "%s: eigenvalues %s and their gradient %s do not fit "
                       "M %s", name, lg_tshape(lam).s, lg_tshape(in[2]).s, lg_tshape(m).s);
    lg_tensor *o = lg_graph_tensor(g, m->dtype, 2, m->shape);
    if (!o)
        return NULL;
    const void *args[3] = {m->data, lam->data, in[2]->data};
    if (n > 0)
        g->be->tri_map(LG_TRI_EIGH_GAP, m->dtype, 1, n, args, o->data, NULL);
    lg_record(g, &EIGH_GAP_OP, 3, in, 1, &o);
    return g->status == LG_OK ? o : NULL;
}

/* O = N ⊙ F + diag(gs), N = (j - jᵀ) ⊙ rowσ + colσ ⊙ (k - kᵀ), F = gap_recip(σ²):
 *   dj += H - Hᵀ, H = dO ⊙ F ⊙ rowσ;   dk += H' - H'ᵀ, H' = dO ⊙ F ⊙ colσ;  dgs += diag(dO)
 *   dσ += colsum(dO ⊙ F ⊙ (j - jᵀ)) + rowsum(dO ⊙ F ⊙ (k - kᵀ))
 *         + 2σ ⊙ (rowsum(Q) - colsum(Q)),  Q = dO ⊙ O ⊙ F */
static void svd_gap_vjp(lg_graph *g, const lg_node *n, lg_tensor *const *gy, lg_tensor **gx)
{
    lg_tensor *jm = n->in[0], *km = n->in[1], *s = n->in[2], *o = n->out[0];
    lg_tensor *gof = lg_mul(g, gy[0], gap_recip(g, lg_mul(g, s, s)));
    if (lg_needs_grad(n, 0))
        gx[0] = skew2(g, lg_mul(g, gof, la_row(g, s)));
    if (lg_needs_grad(n, 1))
        gx[1] = skew2(g, lg_mul(g, gof, la_col(g, s)));
    if (lg_needs_grad(n, 2)) {
        lg_tensor *q = lg_mul(g, gof, o);
        lg_tensor *via_f = lg_mul(g, lg_scale(g, s, 2.0), lg_sub(g, lg_sum_axis(g, q, 1, false),
                                                              lg_sum_axis(g, q, 0, false)));
        lg_tensor *via_j = lg_sum_axis(g, lg_mul(g, gof, skew2(g, jm)), 0, false);
        lg_tensor *via_k = lg_sum_axis(g, lg_mul(g, gof, skew2(g, km)), 1, false);
        gx[2] = lg_add(g, via_f, lg_add(g, via_j, via_k));
    }
    if (lg_needs_grad(n, 3))
        gx[3] = la_diag(g, gy[0]);
}
static const lg_op SVD_GAP_OP = {"la_svd_gap", svd_gap_vjp};

lg_tensor *la_svd_gap(lg_graph *g, lg_tensor *j, lg_tensor *k, lg_tensor *s, lg_tensor *gs)
{
    const char *name = SVD_GAP_OP.name;
    if (!lg_check_inputs(g, name, 1, &s))
        return NULL;
    int64_t n = s->numel;
    lg_tensor *in[4] = {or_zeros(g, j, s->dtype, 2, n), or_zeros(g, k, s->dtype, 2, n), s,
                        or_zeros(g, gs, s->dtype, 1, n)};
    if (!lg_check_inputs(g, name, 4, in) || !lg_check_same_dtype(g, name, 4, in))
        return NULL;
    for (int i = 0; i < 2; i++)
        if (in[i]->ndim != 2 || in[i]->shape[0] != n || in[i]->shape[1] != n)
            return lg_fail(g, LG_ERR_SHAPE, "%s: %s %s does not fit %lld singular values",
                           name, i ? "K" : "J", lg_tshape(in[i]).s, (long long)n);
    if (in[3]->numel != n)
        return lg_fail(g, LG_ERR_SHAPE, "%s: dS %s does not fit %lld singular values", name,
                       lg_tshape(in[3]).s, (long long)n);
    int64_t shape[2] = {n, n};
    lg_tensor *o = lg_graph_tensor(g, s->dtype, 2, shape);
    if (!o)
        return NULL;
    /* an absent j or k reads as zero */
    const void *args[4] = {j ? j->data : NULL, k ? k->data : NULL, s->data, in[3]->data};
    if (n > 0)
        g->be->tri_map(LG_TRI_SVD_GAP, s->dtype, 1, n, args, o->data, NULL);
    lg_record(g, &SVD_GAP_OP, 4, in, 1, &o);
    return g->status == LG_OK ? o : NULL;
}
