/* lagrad dist: data-parallel training over MPI, in the optional library lagrad_dist (built
 * when CMake finds MPI; liblagrad itself never needs MPI). Not included by lagrad.h: a
 * program that wants it includes this header, which includes <mpi.h>.
 *
 * The caller owns MPI (MPI_Init, MPI_Finalize) and the communicator; lg_dist works on a
 * duplicate of it whose errors return (MPI_ERRORS_RETURN) instead of aborting, so MPI
 * failures reach the caller as lg_status. Every lg_dist call below marked "collective"
 * must be made by every rank, in the same order, with the same arguments where noted.
 *
 * A training step under N processes with global batch B, equal to one process at batch B:
 *   lg_dist_shuffle(d, perm, n, &rng);            one global order, same on every rank
 *   lg_dist_batch_shard(d, n, B, b, &sh);         this rank's rows of global batch b
 *   ... forward on perm[sh.begin .. sh.begin + sh.rows), mean loss over those rows,
 *       lg_backward ...
 *   lg_dist_allreduce_grads(d, p, sh.weight);     every rank: the batch-B gradient
 *   lg_params_clip_grad_norm(p, max, &norm);      optional: gradients are now identical on
 *                                                 every rank, so this is the global norm
 *   lg_optim_step(o);                             identical on every rank
 *   lg_dist_weighted_mean(d, loss, sh.rows, &global_loss);
 * Random draws per sample (dropout masks, augmentation) match the one-process run when
 * each rank starts its stream at sh.first_row times the draws per row. lg_train_fit does
 * all of this itself when given lg_dist_train_parallel's table (at the end).
 *
 * Batch norm keeps per-rank statistics: a rank normalises with the mean and variance of
 * its own rows, as PyTorch's DistributedDataParallel does without SyncBatchNorm, so a
 * network with batch norm is not equal to the one-process run (the test suite checks
 * equality on networks without it); its running buffers are those of rank 0 whenever
 * lg_dist_broadcast_params runs. */
#ifndef LAGRAD_DIST_H
#define LAGRAD_DIST_H

#include <mpi.h>
#include "lagrad.h"

#ifdef __cplusplus
extern "C" {
#endif
/* The library is built with hidden visibility: what this header declares is its ABI. */
#pragma GCC visibility push(default)

typedef struct lg_dist lg_dist;

/* Default size of one gradient bucket (one MPI_Allreduce each): 4 MiB. */
#define LG_DIST_BUCKET_BYTES ((size_t)1 << 22)

/* Collective over comm. *out gets a handle over a duplicate of comm (MPI_Comm_dup) with
 * MPI_ERRORS_RETURN; free it with lg_dist_free before MPI_Finalize. comm is not changed.
 * Errors (*out NULL): NULL out, MPI not initialised or already finalised, or
 * comm == MPI_COMM_NULL (LG_ERR_ARG); out of memory; an MPI failure (LG_ERR_IO, with
 * MPI's text). */
lg_status lg_dist_new(MPI_Comm comm, lg_dist **out);
/* Collective. Frees the duplicate communicator and the handle. NULL is a no-op. */
void lg_dist_free(lg_dist *d);

/* This process's rank in [0, size), and the number of processes; -1 and 0 for NULL. */
int lg_dist_rank(const lg_dist *d);
int lg_dist_size(const lg_dist *d);
/* The duplicate communicator (owned by d), for the caller's own collectives. */
MPI_Comm lg_dist_comm(const lg_dist *d);

/* The bucket size for lg_dist_allreduce_grads, in bytes (rounded down to whole elements,
 * at least one). Errors: NULL d or bytes 0 (LG_ERR_ARG). */
lg_status lg_dist_set_bucket_bytes(lg_dist *d, size_t bytes);

/* Collective. Turns each rank's status into one agreed status: LG_OK when every rank
 * passed LG_OK; otherwise the status of the lowest failing rank, and on every rank
 * lg_last_errmsg() reads "rank R: <that rank's lg_last_errmsg() at the call>". Call it
 * after anything that can fail on one rank only (loading data, reading a checkpoint), so
 * no rank waits forever in a collective the failed one never reaches.
 * Errors: that status; NULL d (LG_ERR_ARG, not collective); an MPI failure (LG_ERR_IO). */
lg_status lg_dist_agree(lg_dist *d, lg_status local);

/* Collective. Copies rank 0's values of every parameter and buffer of p (frozen ones
 * too: batch-norm running statistics) to the other ranks, one broadcast per dtype block.
 * First checks that every rank's store has the same parameters (names, dtypes, shapes,
 * in the same order). Gradients are left alone.
 * Errors: NULL d or p (LG_ERR_ARG, not collective); stores that differ between ranks
 * (LG_ERR_STATE on every rank); an MPI failure (LG_ERR_IO). */
lg_status lg_dist_broadcast_params(lg_dist *d, lg_params *p);

/* Collective. Copies rank 0's optimizer state (moments or momentum buffers, and the step
 * count) to the other ranks. Use it after rank 0 alone loaded a state (see
 * lg_dist_optim_load). Errors: NULL d or o (LG_ERR_ARG, not collective); optimizers of
 * different kinds or sizes on different ranks, or a store that grew since lg_optim_new
 * (LG_ERR_STATE); an MPI failure (LG_ERR_IO). */
lg_status lg_dist_broadcast_optim(lg_dist *d, lg_optim *o);

/* Collective. Copies `bytes` bytes at buf from rank 0 to the other ranks (metadata such
 * as an epoch or an RNG counter). Errors: NULL d, or NULL buf with bytes > 0 (LG_ERR_ARG,
 * not collective); an MPI failure (LG_ERR_IO). */
lg_status lg_dist_broadcast(lg_dist *d, void *buf, size_t bytes);

/* Collective. Averages the gradients: each rank's gradient g_r of every trainable (not
 * frozen) parameter becomes Σ_r w_r g_r, where w_r is that rank's `weight`. With each
 * rank's loss the mean over its own rows and w_r = rows_r / rows of the global batch
 * (lg_dist_batch_shard's weight), this is the gradient of the global batch's mean loss;
 * with equal shards it is the average (w = 1/N). The runs of trainable parameters in each
 * dtype block are cut into buckets of lg_dist_set_bucket_bytes, each scaled and reduced in
 * place by one MPI_Allreduce; frozen parameters are not sent. Afterwards every rank holds
 * the same gradients (the test suite checks bit equality), so lg_params_clip_grad_norm
 * (the global norm) and lg_optim_step agree on all ranks. Allocates nothing after the
 * first call.
 * Errors: NULL d or p, or weight not finite (LG_ERR_ARG, not collective); out of memory;
 * an MPI failure (LG_ERR_IO). Stores that differ between ranks are undefined here:
 * lg_dist_broadcast_params checks them once at the start. */
lg_status lg_dist_allreduce_grads(lg_dist *d, lg_params *p, double weight);

/* Time spent in lg_dist_allreduce_grads (seconds, scaling included), the number of calls
 * and the bytes reduced per rank, since lg_dist_new or the last reset; any pointer may be
 * NULL. Zeros for NULL d. */
void lg_dist_grad_stats(const lg_dist *d, double *seconds, int64_t *calls, int64_t *bytes);
void lg_dist_grad_stats_reset(lg_dist *d);

/* Collective. In-place sum over ranks of n doubles (counts, correct predictions).
 * Errors: NULL d, n < 0, NULL v with n > 0 (LG_ERR_ARG, not collective); an MPI failure
 * (LG_ERR_IO). */
lg_status lg_dist_sum(lg_dist *d, double *v, int n);

/* Collective. *global = Σ_r value_r weight_r / Σ_r weight_r, the same on every rank: with
 * value = this rank's mean loss over its rows and weight = its row count, the mean loss of
 * the global batch. A rank with no rows passes weight 0. Errors: NULL d or global, a
 * weight negative or not finite, a value not finite where the weight is not 0
 * (LG_ERR_ARG, not collective); all weights 0 (LG_ERR_ARG on every rank); an MPI failure
 * (LG_ERR_IO). */
lg_status lg_dist_weighted_mean(lg_dist *d, double value, double weight, double *global);

/* Collective. The permutation lg_data_shuffle(perm, n, r) gives, computed on every rank
 * from the caller's RNG (which advances as in lg_data_shuffle), then checked to be the
 * same on every rank, so all shards come from one global order. Give every rank the same
 * seed and counter. Errors: those of lg_data_shuffle (LG_ERR_ARG, not collective); ranks
 * whose orders differ (LG_ERR_STATE on every rank); an MPI failure (LG_ERR_IO). */
lg_status lg_dist_shuffle(lg_dist *d, int64_t *perm, int64_t n, lg_rng *r);

/* This rank's part of global batch b: the batch is rows [b·B, min((b+1)·B, n)) of the
 * global order (B = global_batch), global_rows of them; rank k of N takes its rows
 * [⌊global_rows·k/N⌋, ⌊global_rows·(k+1)/N⌋), so shards differ by at most one row and,
 * in rank order, make up the batch. */
typedef struct lg_dist_shard {
    int64_t begin;       /* index into the global order (perm) of this rank's first row */
    int64_t rows;        /* this rank's rows; may be 0 when global_rows < N */
    int64_t first_row;   /* position of that first row inside the global batch */
    int64_t global_rows; /* rows of the global batch (B, or fewer for the last one) */
    double weight;       /* rows / global_rows: lg_dist_allreduce_grads's weight */
} lg_dist_shard;

/* Fills *out for batch b in [0, ⌈n / global_batch⌉). Not collective, no communication.
 * Errors: NULL d or out, n < 1, global_batch < 1, b out of range (LG_ERR_ARG). */
lg_status lg_dist_batch_shard(const lg_dist *d, int64_t n, int64_t global_batch,
                              int64_t b, lg_dist_shard *out);

/* Checkpoints written by rank 0 alone, with the status agreed (lg_dist_agree), so every
 * rank sees a failure. Collective; the arguments are those of lg_checkpoint_save and
 * lg_optim_save and matter on rank 0 only. Errors: theirs (from rank 0), NULL d
 * (LG_ERR_ARG, not collective); an MPI failure (LG_ERR_IO). */
lg_status lg_dist_checkpoint_save(lg_dist *d, const lg_params *p, const char *path,
                                  const char *prefix, const char *const *meta, int n_meta);
lg_status lg_dist_optim_save(lg_dist *d, const lg_optim *o, const char *path,
                             const char *const *meta, int n_meta);

/* Collective. Rank 0 loads `path` (lg_checkpoint_load), the status is agreed, then the
 * values are broadcast (lg_dist_broadcast_params), so only rank 0 needs the file (other
 * machines need not share a file system). Errors: those of lg_checkpoint_load on rank 0,
 * then those of lg_dist_broadcast_params; NULL d (LG_ERR_ARG, not collective). */
lg_status lg_dist_checkpoint_load(lg_dist *d, lg_params *p, const char *path,
                                  const char *prefix, bool strict);
/* Collective. Rank 0 loads `path` (lg_optim_load), the status is agreed, then the state
 * is broadcast (lg_dist_broadcast_optim). Errors: those of lg_optim_load on rank 0, then
 * those of lg_dist_broadcast_optim; NULL d (LG_ERR_ARG, not collective). */
lg_status lg_dist_optim_load(lg_dist *d, lg_optim *o, const char *path);

/* Fills *out with lg_train_fit's collectives over d (lg_train_parallel: rank, size,
 * gradient averaging, sums, agreement, parameter broadcast), so lg_train_fit with
 * options.parallel = out trains data-parallel over d's communicator. d must outlive the
 * run; out holds no memory. Not collective. Errors: NULL d or out (LG_ERR_ARG). */
lg_status lg_dist_train_parallel(lg_dist *d, lg_train_parallel *out);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
