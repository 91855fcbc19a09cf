/* The MPI handle, agreement on errors, broadcasts of parameters and optimizer state,
 * metric reductions and the sharded global order. Gradient averaging is in dist_grads.c,
 * rank-0 checkpoints in dist_checkpoint.c. */
#include <math.h>
#include <string.h>
#include "dist_impl.h"
#include "lagrad/data.h"

lg_status dist_mpi_check(int rc, const char *fn, const char *what)
{
    if (rc == MPI_SUCCESS)
        return LG_OK;
    char text[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    MPI_Error_string(rc, text, &len);
    return lg_set_error(LG_ERR_IO, "%s: %s failed: %s", fn, what, text);
}

lg_status lg_dist_new(MPI_Comm comm, lg_dist **out)
{
    if (!out)
        return lg_set_error(LG_ERR_ARG, "lg_dist_new: out is NULL");
    *out = NULL;
    int init = 0, fin = 0;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    if (!init || fin)
        return lg_set_error(LG_ERR_ARG, "lg_dist_new: MPI is %s; call MPI_Init first",
                            fin ? "finalised" : "not initialised");
    if (comm == MPI_COMM_NULL)
        return lg_set_error(LG_ERR_ARG, "lg_dist_new: comm is MPI_COMM_NULL");
    lg_dist *d = lg_malloc(sizeof *d);
    if (!d)
        return lg_set_error(LG_ERR_OOM, "lg_dist_new: out of memory");
    memset(d, 0, sizeof *d);
    d->bucket_bytes = LG_DIST_BUCKET_BYTES;
    lg_status s = dist_mpi_check(MPI_Comm_dup(comm, &d->comm), "lg_dist_new", "MPI_Comm_dup");
    if (s != LG_OK) {
        lg_free(d, sizeof *d);
        return s;
    }
    MPI_Comm_set_errhandler(d->comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(d->comm, &d->rank);
    MPI_Comm_size(d->comm, &d->size);
    *out = d;
    return LG_OK;
}

void lg_dist_free(lg_dist *d)
{
    if (!d)
        return;
    MPI_Comm_free(&d->comm);
    lg_free(d->buckets, sizeof *d->buckets * (size_t)d->cap_buckets);
    lg_free(d, sizeof *d);
}

int lg_dist_rank(const lg_dist *d) { return d ? d->rank : -1; }
int lg_dist_size(const lg_dist *d) { return d ? d->size : 0; }
MPI_Comm lg_dist_comm(const lg_dist *d) { return d ? d->comm : MPI_COMM_NULL; }

lg_status lg_dist_set_bucket_bytes(lg_dist *d, size_t bytes)
{
    if (!d || !bytes)
        return lg_set_error(LG_ERR_ARG, "lg_dist_set_bucket_bytes: %s",
                            d ? "bytes is 0" : "d is NULL");
    d->bucket_bytes = bytes;
    return LG_OK;
}

/* Each rank's status, gathered; then the lowest failing rank broadcasts its message. */
lg_status lg_dist_agree(lg_dist *d, lg_status local)
{
    if (!d)
        return lg_set_error(LG_ERR_ARG, "lg_dist_agree: d is NULL");
    /* (ok, rank) pairs: MINLOC finds ok = 0 at the lowest failing rank, if any */
    struct { int ok; int rank; } mine = {local == LG_OK, d->rank}, low;
    lg_status s = dist_mpi_check(MPI_Allreduce(&mine, &low, 1, MPI_2INT, MPI_MINLOC, d->comm),
                                 "lg_dist_agree", "MPI_Allreduce");
    if (s != LG_OK || low.ok)
        return s;
    struct { int status; char msg[500]; } m = {local, ""};
    if (d->rank == low.rank)
        snprintf(m.msg, sizeof m.msg, "%s", lg_last_errmsg());
    s = dist_mpi_check(MPI_Bcast(&m, (int)sizeof m, MPI_BYTE, low.rank, d->comm),
                       "lg_dist_agree", "MPI_Bcast");
    if (s != LG_OK)
        return s;
    return lg_set_error((lg_status)m.status, "rank %d: %s", low.rank, m.msg);
}

lg_status lg_dist_broadcast(lg_dist *d, void *buf, size_t bytes)
{
    if (!d || (!buf && bytes))
        return lg_set_error(LG_ERR_ARG, "lg_dist_broadcast: %s is NULL", d ? "buf" : "d");
    /* in pieces below INT_MAX bytes, MPI's count type */
    for (size_t at = 0; at < bytes; at += (size_t)1 << 30) {
        size_t n = bytes - at < (size_t)1 << 30 ? bytes - at : (size_t)1 << 30;
        lg_status s = dist_mpi_check(MPI_Bcast((char *)buf + at, (int)n, MPI_BYTE, 0, d->comm),
                                     "lg_dist_broadcast", "MPI_Bcast");
        if (s != LG_OK)
            return s;
    }
    return LG_OK;
}

/* Broadcasts n elements of dtype dt from rank 0 as bytes (any dtype), in pieces MPI's
 * int count can hold. */
static lg_status bcast_elems(lg_dist *d, void *buf, int64_t n, int dt, const char *fn)
{
    size_t bytes = (size_t)n * lg_dtype_size((lg_dtype)dt), piece = (size_t)1 << 30;
    for (size_t at = 0; at < bytes; at += piece) {
        size_t k = bytes - at < piece ? bytes - at : piece;
        lg_status s = dist_mpi_check(MPI_Bcast((char *)buf + at, (int)k, MPI_BYTE, 0, d->comm),
                                     fn, "MPI_Bcast");
        if (s != LG_OK)
            return s;
    }
    return LG_OK;
}

/* FNV-1a over the bytes, continuing from h. */
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ c[i]) * 1099511628211ull;
    return h;
}

/* Collective: LG_OK when every rank passed the same 64-bit value, else LG_ERR_STATE with
 * `what` on every rank. */
static lg_status same_everywhere(lg_dist *d, uint64_t v, const char *fn, const char *what)
{
    unsigned long long lo = v, hi = v, mine = v;
    lg_status s = dist_mpi_check(MPI_Allreduce(&mine, &lo, 1, MPI_UNSIGNED_LONG_LONG, MPI_MIN,
                                               d->comm), fn, "MPI_Allreduce");
    if (s == LG_OK)
        s = dist_mpi_check(MPI_Allreduce(&mine, &hi, 1, MPI_UNSIGNED_LONG_LONG, MPI_MAX,
                                         d->comm), fn, "MPI_Allreduce");
    if (s != LG_OK)
        return s;
    if (lo != hi)
        return lg_set_error(LG_ERR_STATE, "%s: %s differ between ranks", fn, what);
    return LG_OK;
}

/* A fingerprint of the store's layout: names, dtypes, shapes and offsets in order. */
static uint64_t layout_hash(const lg_params *p)
{
    uint64_t h = 14695981039346656037ull;
    h = fnv(h, &p->n, sizeof p->n);
    for (int i = 0; i < p->n; i++) {
        const lg_param_entry *e = &p->entries[i];
        int64_t dt = e->t->dtype, nd = e->t->ndim;
        h = fnv(h, e->name, strlen(e->name) + 1);
        h = fnv(h, &dt, sizeof dt);
        h = fnv(h, &nd, sizeof nd);
        h = fnv(h, e->t->shape, sizeof e->t->shape[0] * (size_t)nd);
        h = fnv(h, &e->offset, sizeof e->offset);
    }
    return h;
}

lg_status lg_dist_broadcast_params(lg_dist *d, lg_params *p)
{
    static const char fn[] = "lg_dist_broadcast_params";
    if (!d || !p)
        return lg_set_error(LG_ERR_ARG, "%s: %s is NULL", fn, d ? "p" : "d");
    lg_status s = same_everywhere(d, layout_hash(p), fn,
                                  "parameter stores (names, dtypes or shapes)");
    /* every block, the integer buffers' too where the store has them */
    for (int dt = 0; s == LG_OK && dt < (int)(sizeof p->block / sizeof p->block[0]); dt++)
        s = bcast_elems(d, p->block[dt].data, p->block[dt].numel, dt, fn);
    return s;
}

lg_status lg_dist_broadcast_optim(lg_dist *d, lg_optim *o)
{
    static const char fn[] = "lg_dist_broadcast_optim";
    if (!d || !o)
        return lg_set_error(LG_ERR_ARG, "%s: %s is NULL", fn, d ? "o" : "d");
    bool grew = o->p->block[0].numel != o->numel[0] || o->p->block[1].numel != o->numel[1];
    uint64_t h = fnv(14695981039346656037ull, &o->c.kind, sizeof o->c.kind);
    h = fnv(h, o->numel, sizeof o->numel);
    h = fnv(h, &grew, sizeof grew);
    int has_m = 0, has_v = 0;
    for (int dt = 0; dt < 2; dt++) {
        has_m |= (o->m[dt] != NULL) << dt;
        has_v |= (o->v[dt] != NULL) << dt;
    }
    h = fnv(h, &has_m, sizeof has_m);
    h = fnv(h, &has_v, sizeof has_v);
    lg_status s = same_everywhere(d, h, fn, "optimizer kinds, state sizes or stores");
    if (s == LG_OK && grew)
        return lg_set_error(LG_ERR_STATE, "%s: the store grew since lg_optim_new", fn);
    long long steps = o->steps;
    if (s == LG_OK)
        s = dist_mpi_check(MPI_Bcast(&steps, 1, MPI_LONG_LONG, 0, d->comm), fn, "MPI_Bcast");
    for (int dt = 0; s == LG_OK && dt < 2; dt++) {
        if (o->m[dt])
            s = bcast_elems(d, o->m[dt], o->numel[dt], dt, fn);
        if (s == LG_OK && o->v[dt])
            s = bcast_elems(d, o->v[dt], o->numel[dt], dt, fn);
    }
    if (s == LG_OK)
        o->steps = steps;
    return s;
}

lg_status lg_dist_sum(lg_dist *d, double *v, int n)
{
    if (!d || n < 0 || (!v && n > 0))
        return lg_set_error(LG_ERR_ARG, "lg_dist_sum: %s", !d ? "d is NULL"
                            : n < 0 ? "n < 0" : "v is NULL");
    if (!n)
        return LG_OK;
    return dist_mpi_check(MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_DOUBLE, MPI_SUM, d->comm),
                          "lg_dist_sum", "MPI_Allreduce");
}

lg_status lg_dist_weighted_mean(lg_dist *d, double value, double weight, double *global)
{
    static const char fn[] = "lg_dist_weighted_mean";
    if (!d || !global)
        return lg_set_error(LG_ERR_ARG, "%s: %s is NULL", fn, d ? "global" : "d");
    if (!isfinite(weight) || weight < 0)
        return lg_set_error(LG_ERR_ARG, "%s: weight %g is not finite and >= 0", fn, weight);
    if (weight != 0 && !isfinite(value))
        return lg_set_error(LG_ERR_ARG, "%s: value %g is not finite", fn, value);
    double v[2] = {weight != 0 ? value * weight : 0, weight};
    lg_status s = lg_dist_sum(d, v, 2);
    if (s != LG_OK)
        return s;
    if (!(v[1] > 0))
        return lg_set_error(LG_ERR_ARG, "%s: every rank's weight is 0", fn);
    *global = v[0] / v[1];
    return LG_OK;
}

lg_status lg_dist_shuffle(lg_dist *d, int64_t *perm, int64_t n, lg_rng *r)
{
    if (!d)
        return lg_set_error(LG_ERR_ARG, "lg_dist_shuffle: d is NULL");
    lg_status s = lg_data_shuffle(perm, n, r);
    if (s != LG_OK)
        return s;
    uint64_t h = fnv(14695981039346656037ull, perm, sizeof *perm * (size_t)n);
    return same_everywhere(d, h, "lg_dist_shuffle",
                           "shuffled orders (give every rank the same seed and counter)");
}

lg_status lg_dist_batch_shard(const lg_dist *d, int64_t n, int64_t global_batch,
                              int64_t b, lg_dist_shard *out)
{
    static const char fn[] = "lg_dist_batch_shard";
    if (!d || !out)
        return lg_set_error(LG_ERR_ARG, "%s: %s is NULL", fn, d ? "out" : "d");
    if (n < 1 || global_batch < 1)
        return lg_set_error(LG_ERR_ARG, "%s: need n >= 1 and global_batch >= 1, got %lld and "
                            "%lld", fn, (long long)n, (long long)global_batch);
    int64_t nb = lg_data_num_batches(n, global_batch);
    if (b < 0 || b >= nb)
        return lg_set_error(LG_ERR_ARG, "%s: batch %lld outside [0, %lld)", fn, (long long)b,
                            (long long)nb);
    int64_t start = b * global_batch;
    int64_t rows = n - start < global_batch ? n - start : global_batch;
    int64_t lo = rows * d->rank / d->size, hi = rows * (d->rank + 1) / d->size;
    out->begin = start + lo;
    out->rows = hi - lo;
    out->first_row = lo;
    out->global_rows = rows;
    out->weight = (double)(hi - lo) / (double)rows;
    return LG_OK;
}
