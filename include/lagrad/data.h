/* lagrad data: the IDX file loader (the MNIST format, raw or gzip-compressed), labelled
 * image sets built from a pair of IDX files, seeded shuffling, and mini-batches copied into
 * preallocated tensors. Augmentation and other file formats are left out. */
#ifndef LAGRAD_DATA_H
#define LAGRAD_DATA_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif
/* The library is built with hidden visibility: what this header declares is its ABI. */
#pragma GCC visibility push(default)

/* ---- IDX files (lg_idx_*): the MNIST format ---- */

/* The largest data section lg_idx_load accepts (2^31 bytes): a header that multiplies out
 * to more is refused before anything is allocated. */
#define LG_IDX_MAX_BYTES ((size_t)1 << 31)
#define LG_IDX_MAX_DIMS 4

/* An IDX file in memory. Read-only for the caller; free with lg_idx_free. */
typedef struct lg_idx {
    int ndim;                       /* 1 to LG_IDX_MAX_DIMS */
    int64_t dims[LG_IDX_MAX_DIMS];  /* ndim entries, each >= 1; the rest are 0 */
    size_t bytes;                   /* product of dims: one byte per element */
    uint8_t *data;                  /* row-major, `bytes` long */
} lg_idx;

/* Reads the IDX file at `path`: magic 0x00000800 | type << 8 | ndim, ndim big-endian
 * uint32 dimensions, then the data. A file starting with the gzip magic (1f 8b) is
 * decompressed as it is read. Only type 0x08 (unsigned byte) is read.
 * The header is checked against the data before anything big is allocated: a raw file's
 * data section must be exactly the product of the dims; a gzip stream must end (with a good
 * CRC) exactly after the product of the dims, which a first pass checks in 64 KiB pieces
 * before a second pass inflates it into a buffer of its final size. Memory: the data plus
 * under 1 MiB, whatever the file claims (tests/test_idx_memory.c). The path must be a
 * regular file: a FIFO, directory, device or socket is refused at once (LG_ERR_IO).
 * On success *out is a new lg_idx the caller frees with lg_idx_free; on error *out is NULL
 * and lg_last_errmsg() names the function, the file and what was wrong.
 * Errors: NULL path or out (LG_ERR_ARG); the file cannot be opened or read (LG_ERR_IO);
 * another IDX element type (0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64:
 * LG_ERR_UNSUPPORTED); a bad magic, an unknown type code, ndim outside 1..4, a dimension of
 * 0 or above 2^31-1, a product above LG_IDX_MAX_BYTES, truncated or extra data, or a corrupt
 * gzip stream (LG_ERR_FORMAT); out of memory (LG_ERR_OOM). */
lg_status lg_idx_load(const char *path, lg_idx **out);

/* Frees an lg_idx from lg_idx_load. NULL is a no-op. */
void lg_idx_free(lg_idx *idx);

/* ---- labelled data sets (lg_dataset_*) ---- */

/* A labelled set of n samples. images is an (n, features) f32 tensor, one flattened sample
 * per row (features = 784 for 28x28 images), and labels an (n) i32 tensor;
 * sample_shape keeps the unflattened shape (e.g. 28, 28) for callers that want it.
 * Everything belongs to the dataset: free it with lg_dataset_free, which also frees
 * `images` and `labels` (a caller that keeps one sets the field to NULL first and then
 * owns it). A dataset built by hand makes both with lg_tensor_new. */
typedef struct lg_dataset {
    lg_tensor *images;        /* (n, features) f32; caller-owned through the dataset */
    lg_tensor *labels;        /* (n) i32, each in [0, num_classes); owned like images */
    int64_t n;                /* number of samples */
    int64_t features;         /* elements per sample */
    int sample_ndim;          /* 0 to LG_IDX_MAX_DIMS - 1 */
    int64_t sample_shape[LG_IDX_MAX_DIMS - 1];
    int32_t num_classes;      /* largest label + 1 */
} lg_dataset;

/* Builds a dataset from an images IDX (n, ...) and a 1-D labels IDX (n): pixels become
 * f32 scaled to [0, 1] (byte / 255), labels int32. Neither input is modified or kept.
 * On error *out is zeroed. Errors: NULL argument, or an lg_idx whose fields disagree (dims
 * outside 1..2^31-1, bytes not their product, NULL data) (LG_ERR_ARG); labels not 1-D, or
 * counts that differ (LG_ERR_FORMAT); out of memory (LG_ERR_OOM). */
lg_status lg_dataset_from_idx(const lg_idx *images, const lg_idx *labels, lg_dataset *out);

/* lg_idx_load on both files, then lg_dataset_from_idx. The messages name the files.
 * Errors: those of lg_idx_load and lg_dataset_from_idx. */
lg_status lg_dataset_load(const char *images_path, const char *labels_path, lg_dataset *out);

/* Loads split "train" or "t10k" of an MNIST-layout folder: <dir>/<split>-images-idx3-ubyte
 * and <dir>/<split>-labels-idx1-ubyte, each also found with a ".gz" suffix (the plain name
 * is tried first). Errors: NULL argument, another split, or a folder name over 4000 bytes
 * (LG_ERR_ARG); a file found under
 * neither name (LG_ERR_IO, naming the folder and the file); those of lg_dataset_load. */
lg_status lg_dataset_load_mnist(const char *dir, const char *split, lg_dataset *out);

/* Frees what the dataset holds and zeroes it. NULL is a no-op. */
void lg_dataset_free(lg_dataset *d);

/* Mean and (population) standard deviation of all image elements, summed in double.
 * Errors: NULL argument or an empty dataset (LG_ERR_ARG). */
lg_status lg_dataset_mean_std(const lg_dataset *d, double *mean, double *std);

/* Normalises in place: x = (x - mean) / std. Use the training set's statistics for the
 * test set too. Errors: NULL dataset, or std not finite and > 0 (LG_ERR_ARG). */
lg_status lg_dataset_normalize(lg_dataset *d, double mean, double std);

/* ---- helpers for any data (lg_data_*): orders, batch counts, augmentation; they take
 * plain arrays and tensors, not a dataset, hence their shorter prefix ---- */

/* Fills perm[0..n) with a random permutation of 0..n-1 (Fisher-Yates, one lg_rng_uniform
 * draw per element after the first). The same seed and counter give the same permutation;
 * r->counter advances by n - 1. Errors: NULL perm (with n > 0) or r, n < 0 (LG_ERR_ARG). */
lg_status lg_data_shuffle(int64_t *perm, int64_t n, lg_rng *r);

/* Number of mini-batches of batch_size covering n samples, the last one possibly short:
 * ceil(n / batch_size). 0 when n <= 0 or batch_size <= 0. */
int64_t lg_data_num_batches(int64_t n, int64_t batch_size);

/* Copies mini-batch b (rows b*batch_size up to min((b+1)*batch_size, n)) of d, in the order
 * of perm (sample perm[i] for row i; NULL means 0..n-1), into the caller's x and y. Nothing
 * is allocated. x is a caller-owned f32 or f64 tensor whose first dimension is the batch's
 * row count (batch_size, or what is left for the last batch) and whose other dimensions
 * multiply to d->features, e.g. (rows, 784) or (rows, 28, 28). y, an i32 or i64 tensor of
 * shape (rows), receives the rows' labels, ready for lg_cross_entropy; it may be NULL.
 * Errors: NULL d or x, batch_size < 1, b outside [0, lg_data_num_batches), a perm entry
 * outside [0, n), or d->labels not an i32 tensor of at least n entries (LG_ERR_ARG; a
 * view of the first samples may lower n and keep the tensor); x or y of another shape
 * (LG_ERR_SHAPE); y not i32/i64 (LG_ERR_DTYPE). */
lg_status lg_dataset_batch(const lg_dataset *d, const int64_t *perm, int64_t batch_size,
                           int64_t b, lg_tensor *x, lg_tensor *y);

/* How many rows of scores (N, C) (f32/f64) have their first maximum at the label's
 * position (labels: i32/i64 of shape (N)), as a count in *n_correct and a fraction in
 * *accuracy (NaN for N = 0); either may be NULL. Allocates nothing. The logits of a
 * graph and the labels from lg_dataset_batch fit as they are.
 * Errors: NULL scores or labels (LG_ERR_ARG), wrong dtypes (LG_ERR_DTYPE), shapes that
 * are not (N, C >= 1) and (N) (LG_ERR_SHAPE). */
lg_status lg_accuracy(const lg_tensor *scores, const lg_tensor *labels, int64_t *n_correct,
                      double *accuracy);

/* Augmentation: translates each image of the batch x in place by its own random offset
 * (dy, dx), each drawn uniformly from [-max_shift, max_shift], filling the vacated pixels
 * with `fill` (the background: 0 for raw pixels, (0 - mean) / std after
 * lg_dataset_normalize). x is a caller-owned f32 or f64 tensor whose elements are rows of
 * height*width pixels, e.g. (rows, 784) or (rows, 1, 28, 28) with height = width = 28.
 * Uses two lg_rng_uniform draws per image, so a seed gives the same batch every run.
 * Nothing is allocated (one image is copied on the stack, hence the size limit).
 * Errors: NULL x or r, height or width < 1, numel not a multiple of height*width, or
 * max_shift < 0 or >= min(height, width) (LG_ERR_ARG); images of more than 4096 pixels
 * (64x64) (LG_ERR_UNSUPPORTED). */
lg_status lg_data_random_shift(lg_tensor *x, int64_t height, int64_t width, int max_shift,
                               double fill, lg_rng *r);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
