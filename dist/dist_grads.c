/* Gradient averaging over the parameter store's contiguous blocks: the runs of trainable
 * parameters are cut into buckets, each scaled by the rank's weight and reduced in place
 * with one blocking MPI_Allreduce. Blocking on purpose: without a hook in lg_backward
 * there is no compute to overlap, and OpenMPI's nonblocking collectives (libnbc) progress
 * only inside MPI calls, so several MPI_Iallreduce in flight measured slower here
 * (docs/distributed.md). Overlap with backward is left out. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime and CLOCK_MONOTONIC under -std=c11 */
#include <math.h>
#include <string.h>
#include <time.h>
#include "dist_impl.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static lg_status push_bucket(lg_dist *d, int dtype, int64_t offset, int64_t count)
{
    if (d->n_buckets == d->cap_buckets) {
        int cap = d->cap_buckets ? 2 * d->cap_buckets : 16;
        dist_bucket *b = lg_malloc(sizeof *b * (size_t)cap);
        if (!b)
            return lg_set_error(LG_ERR_OOM, "lg_dist_allreduce_grads: out of memory");
        if (d->n_buckets)
            memcpy(b, d->buckets, sizeof *b * (size_t)d->n_buckets);
        lg_free(d->buckets, sizeof *b * (size_t)d->cap_buckets);
        d->buckets = b;
        d->cap_buckets = cap;
    }
    d->buckets[d->n_buckets++] = (dist_bucket){dtype, offset, count};
    return LG_OK;
}

/* Buckets of at most `per` elements over [start, end) of block dt. */
static lg_status flush_run(lg_dist *d, int dt, int64_t start, int64_t end, int64_t per)
{
    for (int64_t at = start; at < end; at += per) {
        lg_status s = push_bucket(d, dt, at, end - at < per ? end - at : per);
        if (s != LG_OK)
            return s;
    }
    return LG_OK;
}

/* Cuts the runs of adjacent trainable parameters of each dtype block into buckets of at
 * most bucket_bytes (whole elements, at least one). Entries are in block order because
 * the store appends. */
static lg_status plan_buckets(lg_dist *d, const lg_params *p)
{
    d->n_buckets = 0;
    for (int dt = 0; dt < 2; dt++) {
        int64_t per = (int64_t)(d->bucket_bytes / lg_dtype_size((lg_dtype)dt));
        per = per < 1 ? 1 : per > (int64_t)1 << 30 ? (int64_t)1 << 30 : per; /* int counts */
        int64_t start = 0, end = 0; /* the open run [start, end), empty when equal */
        for (int i = 0; i < p->n; i++) {
            const lg_param_entry *e = &p->entries[i];
            if (e->t->dtype != dt)
                continue;
            bool take = !lg_params_is_frozen(p, i);
            if (take && start < end && e->offset == end) {
                end += e->t->numel;
                continue;
            }
            lg_status s = flush_run(d, dt, start, end, per);
            if (s != LG_OK)
                return s;
            start = e->offset;
            end = take ? e->offset + e->t->numel : e->offset;
        }
        lg_status s = flush_run(d, dt, start, end, per);
        if (s != LG_OK)
            return s;
    }
    return LG_OK;
}

/* The bucket's gradients times w, through the host backend (a store's blocks are host
 * memory). */
static void scale_bucket(const lg_params *p, const dist_bucket *b, double w)
{
    if (w == 1)
        return;
    int k = b->dtype == LG_F32 ? 0 : 1;
    void *g = (char *)p->block[k].grad + (size_t)b->offset * lg_dtype_size(b->dtype);
    lg_backend_default()->unary(LG_UN_SCALE, b->dtype, b->count, g, g, w);
}

lg_status lg_dist_allreduce_grads(lg_dist *d, lg_params *p, double weight)
{
    static const char fn[] = "lg_dist_allreduce_grads";
    if (!d || !p)
        return lg_set_error(LG_ERR_ARG, "%s: %s is NULL", fn, d ? "p" : "d");
    if (!isfinite(weight))
        return lg_set_error(LG_ERR_ARG, "%s: weight %g is not finite", fn, weight);
    double t0 = now_s();
    lg_status s = plan_buckets(d, p);
    if (s != LG_OK)
        return s;
    int64_t bytes = 0;
    for (int k = 0; s == LG_OK && k < d->n_buckets; k++) {
        const dist_bucket *b = &d->buckets[k];
        size_t es = lg_dtype_size((lg_dtype)b->dtype);
        scale_bucket(p, b, weight);
        void *g = (char *)p->block[b->dtype].grad + (size_t)b->offset * es;
        s = dist_mpi_check(MPI_Allreduce(MPI_IN_PLACE, g, (int)b->count,
                                         dist_mpi_type(b->dtype), MPI_SUM, d->comm),
                           fn, "MPI_Allreduce");
        bytes += b->count * (int64_t)es;
    }
    d->grad_seconds += now_s() - t0;
    d->grad_calls++;
    d->grad_bytes += bytes;
    return s;
}

void lg_dist_grad_stats(const lg_dist *d, double *seconds, int64_t *calls, int64_t *bytes)
{
    if (seconds)
        *seconds = d ? d->grad_seconds : 0;
    if (calls)
        *calls = d ? d->grad_calls : 0;
    if (bytes)
        *bytes = d ? d->grad_bytes : 0;
}

void lg_dist_grad_stats_reset(lg_dist *d)
{
    if (!d)
        return;
    d->grad_seconds = 0;
    d->grad_calls = 0;
    d->grad_bytes = 0;
}
