/* lagrad train: a training helper for classifiers. One call (lg_train_fit) runs epochs of
 * shuffled mini-batches (forward, cross-entropy, backward, optimizer step), evaluates loss
 * and accuracy without recording, writes the curves to CSV files, saves a checkpoint and
 * the optimizer state after each epoch so a run resumes exactly, stops early on a
 * validation split and restores the best parameters, and draws the curves as a PNG. The
 * pieces it is made of (evaluation, state save/load, the plot, a progress printer) are
 * public too, for a loop written by hand (examples/mnist.c is one).
 * The library still never prints on its own: progress goes to a callback, and
 * lg_train_progress_print is a ready-made one that writes to the FILE * it is given.
 * Data parallelism: the helper takes a small table of collectives (lg_train_parallel)
 * that lagrad_dist fills over MPI (lg_dist_train_parallel in dist.h); liblagrad itself
 * never needs MPI. Left out: losses other than cross-entropy, models with several inputs. */
#ifndef LAGRAD_TRAIN_H
#define LAGRAD_TRAIN_H

#include "checkpoint.h"
#include "data.h"
#include "layers.h"

#ifdef __cplusplus
extern "C" {
#endif
/* The library is built with hidden visibility: what this header declares is its ABI. */
#pragma GCC visibility push(default)

/* The model: logits (rows, classes) for the inputs x (rows, features), recorded on g from
 * parameters the caller keeps in an lg_params store. Return NULL on error (a graph op that
 * fails leaves its message on g). ctx is the caller's, passed through. */
typedef lg_tensor *(*lg_train_forward_fn)(lg_graph *g, void *ctx, lg_tensor *x);

/* What a progress report is about. */
typedef enum lg_train_event {
    LG_TRAIN_STEP = 0,  /* during an epoch, at most every progress_interval_s */
    LG_TRAIN_EPOCH = 1  /* an epoch ended and was evaluated */
} lg_train_event;

/* A progress report. Running means cover the batches of the current epoch so far. */
typedef struct lg_train_progress {
    lg_train_event event;
    int epoch, epochs;          /* the current epoch, from 1, of epochs */
    int64_t batch, batches;     /* batches done in this epoch, and per epoch */
    int64_t samples;            /* training samples done in this epoch */
    int64_t epoch_samples;      /* training samples per epoch */
    int64_t step;               /* optimizer steps over the whole run, resumed ones too */
    double loss, accuracy;      /* running mean of the training loss and accuracy */
    double lr;                  /* learning rate of the last step */
    double samples_per_s;       /* this epoch so far */
    double elapsed_s;           /* seconds since this epoch started */
    double eta_s;               /* estimated seconds left in this epoch (0 at its end) */
    bool line_due;              /* STEP: progress_line_s passed since the epoch started or
                                   since the last report with line_due: a log's line */
    /* LG_TRAIN_EPOCH only; NaN when there is no such set: */
    double val_loss, val_accuracy, test_loss, test_accuracy;
    int best_epoch;             /* epoch of the lowest validation loss so far (0: none) */
    bool improved;              /* this epoch set best_epoch */
} lg_train_progress;

typedef void (*lg_train_progress_fn)(const lg_train_progress *p, void *ud);

/* A ready-made progress callback: ud is the FILE * to write to (stderr, stdout, a log).
 * On a terminal (isatty(fileno(f))) a STEP report redraws one line in place with '\r':
 *   epoch 3/15 [######......] 25600/60000  8123 samples/s  loss 0.4123  1.9 s left
 * elsewhere (a log, a pipe) a STEP report writes a plain line only when line_due. Each
 * EPOCH report ends the bar and writes one line:
 *   epoch  3/15  loss 0.4123  acc 0.8512  val loss 0.4020 acc 0.8530 *  test acc 0.8612
 *   8123 samples/s  7.4 s
 * ('*': a new best validation loss). Flushes f after each report. A NULL p or ud does
 * nothing. */
void lg_train_progress_print(const lg_train_progress *p, void *ud);

/* The step just taken, for on_step. Tensors belong to g and live until the next step. */
typedef struct lg_train_step_info {
    lg_graph *g;
    lg_optim *optim;
    lg_tensor *x, *y;           /* the batch: x (rows, features) f32, y (rows) i32 */
    lg_tensor *logits, *loss;   /* (rows, classes), and the scalar mean loss */
    int epoch;                  /* from 1 */
    int64_t batch;              /* from 0, within the epoch */
    int64_t step;               /* optimizer steps over the run, this one included */
} lg_train_step_info;

/* Called after each optimizer step. Return 0 to go on; anything else ends training after
 * this step (lg_train_fit then evaluates, sets result->stopped and returns LG_OK). */
typedef int (*lg_train_step_fn)(const lg_train_step_info *s, void *ud);

/* Called with each training batch before its forward pass, to change it in place
 * (augmentation). Draw randomness from rng: it is the helper's own stream, saved with the
 * checkpoint, so a resumed run draws the same. Return LG_OK, or an error that ends
 * training with that status. */
typedef lg_status (*lg_train_batch_fn)(lg_tensor *x, lg_tensor *y, lg_rng *rng, void *ud);

/* Data-parallel training: the collectives lg_train_fit needs, over some set of processes
 * (lagrad_dist's lg_dist_train_parallel fills them over an MPI communicator). With it, N
 * processes running lg_train_fit with the same arguments compute what one process
 * computes: one global shuffled order, each rank a contiguous shard of every batch of
 * batch_size rows (rank k of N: rows [R k / N, R (k+1) / N) of the batch's R), gradients
 * averaged by rows before the optimizer step, on_batch's draws numbered by global row
 * (batch_draws_per_row), evaluation split over the ranks and summed, on_step's "stop"
 * agreed, and rank 0 alone writing the CSVs, checkpoints and PNG and calling progress.
 * Each callback is collective (every rank calls it, in the same order) and returns LG_OK
 * or an error that is the same on every rank. */
typedef struct lg_train_parallel {
    int rank, size;             /* this process, of size >= 1 */
    void *ud;                   /* passed to each callback */
    /* each rank's gradient g_r becomes sum_r weight_r g_r (weight: rows / global rows) */
    lg_status (*allreduce_grads)(void *ud, lg_params *p, double weight);
    /* in-place sum over ranks of n doubles */
    lg_status (*sum)(void *ud, double *v, int n);
    /* LG_OK when every rank passed LG_OK, else the lowest failing rank's status, with its
     * message in lg_last_errmsg() on every rank */
    lg_status (*agree)(void *ud, lg_status local);
    /* rank 0's parameters and buffers (batch-norm statistics) to every rank */
    lg_status (*broadcast_params)(void *ud, lg_params *p);
} lg_train_parallel;

/* Learning-rate schedules of lg_train_fit, over the whole run's optimizer steps. */
typedef enum lg_train_schedule {
    LG_TRAIN_LR_CONSTANT = 0,   /* optim.lr throughout */
    LG_TRAIN_LR_COSINE = 1      /* optim.lr/2 (1 + cos(pi t / T)): from optim.lr to 0, T =
                                   epochs x batches per epoch (lg_lr_cosine without warm-up) */
} lg_train_schedule;

typedef struct lg_train_options {
    int epochs;                 /* >= 1 */
    int64_t batch_size;         /* >= 1 */
    bool drop_last;             /* drop the last partial batch of each epoch */
    lg_optim_config optim;      /* the optimizer made for the run */
    lg_train_schedule schedule;
    uint64_t seed;              /* shuffling, the validation split and on_batch's rng */
    double val_fraction;        /* in [0, 1): this fraction of the training set (chosen at
                                   random from seed) is held out for validation */
    int patience;               /* >= 0; with validation, stop after this many epochs
                                   without a lower validation loss (0: never stop early) */
    bool restore_best;          /* with validation, end with the parameters of the epoch of
                                   lowest validation loss */
    int64_t eval_batch;         /* >= 1: rows per evaluation chunk (the graph's arena keeps
                                   the memory of the largest chunk) */
    const char *csv;            /* epoch curves, one row per epoch (NULL: none):
                                   epoch,train_loss,train_accuracy[,val_loss,val_accuracy]
                                   [,test_loss,test_accuracy],lr,seconds */
    const char *steps_csv;      /* step curves, one row per step: epoch (fractional: e - 1 +
                                   batches done / batches), step, loss, accuracy, lr.
                                   NULL: "<csv less .csv>_steps.csv" when csv is set; "": none */
    const char *plot;           /* a PNG of both CSVs, drawn by lg_train_plot at the end.
                                   NULL: "<csv less .csv>.png" when csv is set; "": none */
    const char *checkpoint;     /* after each epoch, lg_train_save_state to this path
                                   (NULL: none); with validation also the best parameters
                                   to "<checkpoint>.best" */
    bool resume;                /* go on from checkpoint (lg_train_load_state); the CSVs
                                   are appended to */
    int stop_after;             /* >= 0; stop after this epoch as if interrupted (the
                                   schedule still spans epochs); 0: train every epoch */
    lg_train_progress_fn progress;  /* NULL: no reports */
    void *progress_ud;
    double progress_interval_s; /* >= 0: least time between two STEP reports */
    double progress_line_s;     /* > 0: time between two line_due reports */
    lg_train_batch_fn on_batch; /* NULL: batches as they come */
    void *batch_ud;
    int64_t batch_draws_per_row;/* >= 0: rng draws on_batch makes per row (2 for
                                   lg_data_random_shift); with parallel, each rank's on_batch
                                   gets the rng at its first row's draw, and a call that draws
                                   another number is an error (LG_ERR_ARG) */
    lg_train_step_fn on_step;   /* NULL: none */
    void *step_ud;
    const lg_train_parallel *parallel; /* NULL: this process alone; else data parallel
                                   (see lg_train_parallel): batch_size is the global batch,
                                   and each shard needs at least one row */
} lg_train_options;

/* The defaults: 10 epochs, batch 64, drop_last, Adam (lg_optim_defaults) with zero_grad,
 * cosine schedule, seed 1, no validation, patience 0, restore_best, eval_batch 1000, no
 * files, no resume, stop_after 0, no callbacks, batch_draws_per_row 0, progress every
 * 0.1 s with a line every 10 s, parallel NULL (one process). Change the fields you need. */
lg_train_options lg_train_defaults(void);

/* What a run did. Losses and accuracies are NaN for a set the run did not have. */
typedef struct lg_train_result {
    int epoch;                  /* last epoch trained, resumed ones counted */
    int64_t steps;              /* optimizer steps, resumed ones counted */
    int best_epoch;             /* epoch of the lowest validation loss (0: no validation) */
    bool stopped_early;         /* patience ran out */
    bool stopped;               /* on_step or stop_after ended the run before epochs */
    double train_loss, train_accuracy;  /* running means of the last epoch trained */
    /* the parameters left in the store (the best ones after restore_best): */
    double val_loss, val_accuracy, test_loss, test_accuracy;
    double seconds;             /* wall time of this call */
    double samples_per_s;       /* training samples per second of training in this call */
    lg_status plot_status;      /* LG_OK, or why no PNG was drawn (training went on; the
                                   message is in lg_last_errmsg() right after the call) */
} lg_train_result;

/* Trains the model `forward(g, ctx, x)` whose parameters are in p on `train`, evaluating
 * on `test` (may be NULL) after every epoch: test figures are reported and written, never
 * used for decisions. Each epoch shuffles the training rows (those not held out), and
 * for each batch copies it into buffers made once (lg_dataset_batch), calls on_batch,
 * resets the graph, runs forward, lg_cross_entropy against the labels, lg_backward, sets
 * the scheduled learning rate, and steps the optimizer, then calls on_step. After the
 * first step nothing is allocated per step. Evaluation runs in eval mode without
 * recording, in chunks of eval_batch rows. After each epoch: progress, a CSV row,
 * checkpoint; at the end the PNG. o NULL means lg_train_defaults(); r may be NULL.
 * The graph and optimizer are made and freed inside; the datasets are only read.
 * Exact resume: a run stopped (stop_after, a crash after a checkpoint) and resumed with
 * the same options ends with the same parameters, optimizer state and curves as one run
 * through, bit for bit, at the same thread count (and the same process count).
 * Data parallel (o->parallel, see lg_train_parallel): every rank calls lg_train_fit with
 * the same arguments and the same initial parameters (rank 0's are broadcast first);
 * batch_size is the global batch. The run equals the one-process run up to the rounding of
 * the gradient sum, for models without batch norm: batch norm normalises each rank's rows
 * with their own statistics (as PyTorch's DDP without SyncBatchNorm does), and its running
 * statistics are rank 0's, broadcast before each evaluation. Results, samples_per_s and
 * progress are over all ranks; rank 0 writes the files and draws the PNG (plot_status is
 * LG_OK elsewhere); on resume every rank reads the checkpoint. An error on any rank ends
 * the run on every rank with that status and message (none waits in a collective).
 * Errors: NULL p, forward or train, a field of o out of its range, the training rows fewer
 * than one batch (with drop_last), a batch that leaves a rank without rows, on_batch
 * drawing other than batch_draws_per_row per row (with parallel), a dataset that is not (n, features) f32 images with
 * (n) i32 labels, train and test with different features (LG_ERR_ARG); an error of the
 * model (the graph's status; the message names the epoch and step); a file that cannot
 * be written (LG_ERR_IO); lg_train_load_state's on resume; out of memory. */
lg_status lg_train_fit(lg_params *p, lg_train_forward_fn forward, void *ctx,
                       const lg_dataset *train, const lg_dataset *test,
                       const lg_train_options *o, lg_train_result *r);

/* Mean cross-entropy loss and accuracy of the model over the first d->n rows of d, in
 * chunks of `chunk` rows copied into g (which is reset first and left reset), with grad
 * recording off and the training flag false (batch norm on its running statistics,
 * dropout off); both settings are restored. loss or accuracy may be NULL. After the first
 * call on a graph, a call with the same chunk allocates nothing.
 * Errors: NULL g, forward or d, chunk < 1, d empty or not f32 images with i32 labels
 * (LG_ERR_ARG); the model's error (its status and message on g, copied to
 * lg_last_errmsg). */
lg_status lg_train_evaluate(lg_graph *g, lg_train_forward_fn forward, void *ctx,
                            const lg_dataset *d, int64_t chunk, double *loss,
                            double *accuracy);

/* Training state for exact resume: p to `path` (lg_checkpoint_save), and o to
 * "<path>.optim" (lg_optim_save), both with the metadata "epoch" (after which the state
 * was saved) and "rng_counter" (the counter of the caller's data RNG, which is all an
 * lg_rng carries besides its seed). Each file is replaced atomically; a crash between
 * the two leaves files of different epochs, which lg_train_load_state refuses.
 * Errors: NULL p, o, path or rng, epoch < 0, a path over 4000 bytes (LG_ERR_ARG);
 * lg_checkpoint_save's and lg_optim_save's. */
lg_status lg_train_save_state(const lg_params *p, const lg_optim *o, const char *path,
                              int epoch, const lg_rng *rng);

/* Loads what lg_train_save_state saved into p and o (made as for the saved run), sets
 * *epoch and rng->counter (rng->seed is the caller's). Both files are opened and their
 * epochs compared before anything changes; then p is loaded, then o, each checked whole
 * before it changes, so only an optimizer file that fails its own checks after p loaded
 * leaves p changed (and *epoch and rng as they were).
 * Errors: NULL argument, a path over 4000 bytes (LG_ERR_ARG); the two files from different
 * epochs, or without the metadata (LG_ERR_FORMAT); lg_checkpoint_open's and
 * lg_checkpoint_load's (strict), and lg_optim_load's. */
lg_status lg_train_load_state(lg_params *p, lg_optim *o, const char *path, int *epoch,
                              lg_rng *rng);

/* Draws the curves of a training run as a PNG with gnuplot (Debian's gnuplot-nox; it is
 * run as a separate process, its output discarded): on the left every CSV column whose
 * name holds "loss", on the right every one holding "acc", against the first column
 * (epochs). csv is an epoch CSV with a header line (lg_train_fit's, or any of that form);
 * steps_csv (may be NULL) a finer one of the same form whose first column is the
 * fractional epoch, drawn as thin lines under the epoch points. png is replaced.
 * Errors: NULL csv or png, a path with a newline or quote (LG_ERR_ARG); a CSV that cannot
 * be read or has no loss or accuracy column (LG_ERR_IO, LG_ERR_FORMAT); gnuplot not
 * installed (LG_ERR_UNSUPPORTED, naming the package); gnuplot failing or leaving no PNG
 * (LG_ERR_IO). */
lg_status lg_train_plot(const char *csv, const char *steps_csv, const char *png);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
