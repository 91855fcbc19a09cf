/* File helpers shared by the loaders and savers of nn/ (checkpoints, optimizer state, IDX):
 * opening a path that must be a regular file without ever blocking on it, and creating a
 * temporary file beside a destination safely. Not installed. */
#ifndef LAGRAD_NN_FILE_IMPL_H
#define LAGRAD_NN_FILE_IMPL_H

#include <stddef.h>
#include <stdint.h>
#include "lagrad/core.h"
#include "lagrad/tensor.h"

/* Opens path read-only and returns its descriptor, with *size its length in bytes. The
 * open never blocks: a FIFO without a writer, a directory, a device or a socket is refused
 * (LG_ERR_IO, naming fn, the path and the kind of file) after an open with O_NONBLOCK and an
 * fstat, then O_NONBLOCK is cleared. On error returns -1 with the thread's error set to s
 * (*status gets it). */
int lg_open_regular(const char *path, const char *fn, uint64_t *size, lg_status *status);

/* Creates a new, empty temporary file in the folder of path, named "<path>.tmp.XXXXXX"
 * with six unpredictable characters, exclusively (O_CREAT|O_EXCL|O_NOFOLLOW, mode 0666
 * less the umask): a planted file or symlink at that name makes the create fail and a
 * new name is tried, so nothing is ever written through a link. Returns the descriptor and
 * the name in *tmp (lg_malloc'd, *tmp_bytes bytes; free with lg_free), or -1 with the
 * error set (LG_ERR_IO or LG_ERR_OOM, naming fn). */
int lg_tmp_create(const char *path, const char *fn, char **tmp, size_t *tmp_bytes,
                  lg_status *status);

/* One tensor of a checkpoint being written: its name in the file and its (host) data. */
typedef struct lg_ckpt_item {
    const char *name;
    const lg_tensor *t;
} lg_ckpt_item;

/* Writes the n items, in order, as lg_checkpoint_save does (the data checksum added to the
 * caller's metadata, the file written beside path and renamed over it); messages name
 * lg_checkpoint_save. lg_optim_save writes the optimizer's buffers through it in place,
 * without first copying them into a store. */
lg_status lg_checkpoint_write(const lg_ckpt_item *items, int n, const char *path,
                              const char *const *meta, int n_meta);

#endif
