/* The parameter store: named tensors whose values and gradients live in one contiguous
 * block per dtype. Optimizers (optim.c) and checkpoints walk the same layout. */
#include <string.h>
#include "params_impl.h"

lg_params *lg_params_new(void)
{
    lg_params *p = lg_malloc(sizeof *p);
    if (!p) {
        lg_set_error(LG_ERR_OOM, "lg_params_new: out of memory");
        return NULL;
    }
    memset(p, 0, sizeof *p);
    return p;
}

static void free_header(lg_tensor *t)
{
    if (t)
        lg_free(t, sizeof *t);
}

void lg_params_free(lg_params *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->n; i++) {
        lg_free(p->entries[i].name, p->entries[i].name_bytes);
        free_header(p->entries[i].t);
        free_header(p->entries[i].g);
    }
    lg_free(p->entries, sizeof *p->entries * (size_t)p->cap);
    for (int d = 0; d < LG_PARAM_BLOCKS; d++) {
        size_t bytes = (size_t)p->block[d].cap * lg_dtype_size((lg_dtype)d);
        lg_free(p->block[d].data, bytes);
        if (p->block[d].grad)
            lg_free(p->block[d].grad, bytes);
    }
    lg_free(p, sizeof *p);
}

/* Grows the dtype's blocks to hold `need` elements, moving the values and gradients and
 * re-pointing every tensor of that dtype. */
static lg_status grow_block(lg_params *p, lg_dtype dt, int64_t need)
{
    lg_param_block *b = &p->block[dt];
    if (need <= b->cap)
        return LG_OK;
    int64_t cap = b->cap ? b->cap : 1024;
    while (cap < need)
        cap *= 2;
    size_t es = lg_dtype_size(dt), bytes = (size_t)cap * es, old = (size_t)b->cap * es;
    bool has_grad = lg_dtype_is_float(dt); /* integer parameters never get a gradient */
    void *data = lg_malloc(bytes), *grad = has_grad ? lg_malloc(bytes) : NULL;
    if (!data || (has_grad && !grad)) {
        lg_free(data, bytes);
        if (grad)
            lg_free(grad, bytes);
        return lg_set_error(LG_ERR_OOM, "lg_params_add: out of memory growing the %s block "
                            "to %lld elements", lg_dtype_name(dt), (long long)cap);
    }
    memset(data, 0, bytes);
    if (grad)
        memset(grad, 0, bytes);
    if (b->numel) {
        memcpy(data, b->data, (size_t)b->numel * es);
        if (grad)
            memcpy(grad, b->grad, (size_t)b->numel * es);
    }
    lg_free(b->data, old);
    if (b->grad)
        lg_free(b->grad, old);
    b->data = data;
    b->grad = grad;
    b->cap = cap;
    for (int i = 0; i < p->n; i++) {
        lg_param_entry *e = &p->entries[i];
        if (e->t->dtype == dt) {
            e->t->data = (char *)data + (size_t)e->offset * es;
            if (e->g)
                e->g->data = (char *)grad + (size_t)e->offset * es;
        }
    }
    return LG_OK;
}

/* A header whose data pointer is set once the block has room. */
static lg_tensor *new_header(lg_dtype dt, int ndim, const int64_t *shape)
{
    static char placeholder;
    lg_tensor *t = lg_tensor_wrap(dt, ndim, shape, &placeholder);
    if (t)
        t->flags |= LG_TF_BORROWED;
    return t;
}

static bool reserve_entry(lg_params *p)
{
    if (p->n < p->cap)
        return true;
    int cap = p->cap ? p->cap * 2 : 16;
    lg_param_entry *e = lg_malloc(sizeof *e * (size_t)cap);
    if (!e)
        return false;
    if (p->n)
        memcpy(e, p->entries, sizeof *e * (size_t)p->n);
    lg_free(p->entries, sizeof *e * (size_t)p->cap);
    p->entries = e;
    p->cap = cap;
    return true;
}

lg_tensor *lg_params_add(lg_params *p, const char *name, lg_dtype dt, int ndim,
                         const int64_t *shape)
{
    if (!p || !name || !*name) {
        lg_set_error(LG_ERR_ARG, "lg_params_add: store or name is NULL or empty");
        return NULL;
    }
    if (lg_params_get(p, name)) {
        lg_set_error(LG_ERR_ARG, "lg_params_add: a parameter named '%s' already exists", name);
        return NULL;
    }
    lg_tensor *t = new_header(dt, ndim, shape);
    if (!t)
        return NULL; /* lg_tensor_wrap said why */
    bool is_float = lg_dtype_is_float(dt);
    lg_tensor *g = is_float ? new_header(dt, ndim, shape) : NULL;
    if (g)
        g->flags |= LG_TF_GRAD;
    size_t nb = strlen(name) + 1;
    char *copy = lg_malloc(nb);
    lg_status s = LG_OK;
    if ((is_float && !g) || !copy || !reserve_entry(p))
        s = lg_set_error(LG_ERR_OOM, "lg_params_add: out of memory adding '%s'", name);
    if (s == LG_OK)
        s = grow_block(p, dt, p->block[dt].numel + t->numel);
    if (s != LG_OK) {
        free_header(t);
        free_header(g);
        lg_free(copy, nb);
        return NULL;
    }
    memcpy(copy, name, nb);
    lg_param_entry *e = &p->entries[p->n++];
    e->name = copy;
    e->name_bytes = nb;
    e->t = t;
    e->g = g;
    e->offset = p->block[dt].numel;
    p->block[dt].numel += t->numel;
    size_t es = lg_dtype_size(dt);
    t->data = (char *)p->block[dt].data + (size_t)e->offset * es;
    if (g) {
        g->data = (char *)p->block[dt].grad + (size_t)e->offset * es;
        t->grad = g;
        t->flags |= LG_TF_REQUIRES_GRAD;
    }
    return t;
}

lg_tensor *lg_params_get(const lg_params *p, const char *name)
{
    if (!p || !name)
        return NULL;
    for (int i = 0; i < p->n; i++)
        if (strcmp(p->entries[i].name, name) == 0)
            return p->entries[i].t;
    return NULL;
}

int lg_params_count(const lg_params *p) { return p ? p->n : 0; }

lg_tensor *lg_params_at(const lg_params *p, int i)
{
    return p && i >= 0 && i < p->n ? p->entries[i].t : NULL;
}

const char *lg_params_name(const lg_params *p, int i)
{
    return p && i >= 0 && i < p->n ? p->entries[i].name : NULL;
}

bool lg_params_is_frozen(const lg_params *p, int i)
{
    return p && i >= 0 && i < p->n && !(p->entries[i].t->flags & LG_TF_REQUIRES_GRAD);
}

int64_t lg_params_numel(const lg_params *p, bool trainable_only)
{
    int64_t n = 0;
    for (int i = 0; p && i < p->n; i++)
        if (!trainable_only || !lg_params_is_frozen(p, i))
            n += p->entries[i].t->numel;
    return n;
}

void lg_params_zero_grad(lg_params *p)
{
    for (int d = 0; p && d < LG_PARAM_FLOAT_BLOCKS; d++)
        if (p->block[d].numel)
            memset(p->block[d].grad, 0, (size_t)p->block[d].numel * lg_dtype_size((lg_dtype)d));
}

lg_status lg_params_freeze(lg_params *p, const char *prefix, bool frozen, int *n_matched)
{
    if (n_matched)
        *n_matched = 0;
    if (!p || !prefix || !*prefix)
        return lg_set_error(LG_ERR_ARG, "lg_params_freeze: store or selector is NULL/empty");
    int count = 0;
    for (int i = 0; i < p->n; i++) {
        if (!lg_params_name_matches(prefix, p->entries[i].name))
            continue;
        if (p->entries[i].g) /* integer buffers stay untrainable */
            lg_tensor_set_requires_grad(p->entries[i].t, !frozen);
        count++;
    }
    if (n_matched)
        *n_matched = count;
    if (!count)
        return lg_set_error(LG_ERR_ARG, "lg_params_freeze: no parameter matches '%s'", prefix);
    return LG_OK;
}
