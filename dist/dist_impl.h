/* Internal: the lg_dist handle, shared by the files of the MPI module. */
#ifndef LAGRAD_DIST_IMPL_H
#define LAGRAD_DIST_IMPL_H

#include "lagrad/dist.h"
#include "../nn/optim_impl.h"

/* One bucket of lg_dist_allreduce_grads: `count` elements of one dtype block from
 * element `offset`, all trainable. */
typedef struct dist_bucket {
    int dtype;
    int64_t offset, count;
} dist_bucket;

struct lg_dist {
    MPI_Comm comm; /* our duplicate, MPI_ERRORS_RETURN */
    int rank, size;
    size_t bucket_bytes;
    /* lg_dist_allreduce_grads's bucket plan, rebuilt each call (frozen flags may change);
       the arrays only grow */
    dist_bucket *buckets;
    int n_buckets, cap_buckets;
    /* lg_dist_grad_stats */
    double grad_seconds;
    int64_t grad_calls, grad_bytes;
};

/* LG_ERR_IO with "fn: what failed: MPI's text" when rc is not MPI_SUCCESS, else LG_OK. */
lg_status dist_mpi_check(int rc, const char *fn, const char *what);

/* The MPI datatype of a parameter block. */
static inline MPI_Datatype dist_mpi_type(int dtype)
{
    return dtype == LG_F64 ? MPI_DOUBLE : MPI_FLOAT;
}

#endif
