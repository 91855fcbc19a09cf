/* lagrad checkpoints: parameter stores saved to and loaded from safetensors files
 * (https://github.com/huggingface/safetensors), so named tensors move between lagrad and
 * PyTorch both ways. A file is an 8-byte little-endian header length N, N bytes of JSON
 *   {"__metadata__": {"key": "value", ...},
 *    "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...}
 * padded with spaces to a multiple of 8, then the raw little-endian tensor data; the
 * offsets count from the first byte after the header. lagrad reads and writes F32, F64,
 * I32 and I64 as they are; lg_checkpoint_read_convert reads BOOL, U8, I8, I16, U16, U32,
 * F16 and BF16 (and widens F32 or integers) where the conversion is exact; the other
 * dtypes of the format (U64, F8_*) can be listed but not read. */
#ifndef LAGRAD_CHECKPOINT_H
#define LAGRAD_CHECKPOINT_H

#include "nn.h"

#ifdef __cplusplus
extern "C" {
#endif
/* The library is built with hidden visibility: what this header declares is its ABI. */
#pragma GCC visibility push(default)

/* Largest JSON header lagrad accepts, in bytes (the limit of the reference reader). */
#define LG_CHECKPOINT_MAX_HEADER 100000000
/* Most tensors in one file lagrad opens (and at most 2^20 JSON values in its header), so
 * that opening a hostile header costs at most a few hundred MB; a model with more tensors
 * is saved in several files by prefix. */
#define LG_CHECKPOINT_MAX_TENSORS 65536

/* The "__metadata__" key under which lg_checkpoint_save stores the CRC-32 (zlib's crc32,
 * the same as Python's zlib.crc32) of the whole data section, the bytes after the header,
 * as 8 lowercase hex digits. lg_checkpoint_open (and so lg_checkpoint_load) recomputes it
 * and refuses a file whose data no longer matches. Files without the key, such as those
 * PyTorch writes, load unchecked. The checksum covers the tensor data only: corruption in
 * the header shows as a JSON, offset or shape error instead, or not at all (a digit of a
 * shape changed to another valid shape of the same size). */
#define LG_CHECKPOINT_CRC_KEY "lagrad.crc32"

/* Saves the parameters of p that the selector `prefix` picks (see "Selectors" in nn.h:
 * "fc" is fc.* and fc itself, "**.lora_*" every LoRA adapter; every parameter when prefix
 * is NULL or "") to `path`, in the order they were added. meta holds n_meta key/value
 * pairs of strings (meta[2i] is a key, meta[2i+1] its value) for "__metadata__"; meta
 * may be NULL when n_meta is 0. The key LG_CHECKPOINT_CRC_KEY is added after them.
 * The file is written to a new temporary file "<path>.tmp.XXXXXX" in the same folder (six
 * random characters, created with O_CREAT|O_EXCL|O_NOFOLLOW, so a file or symlink planted
 * at any name is never opened or written through), flushed to disk (fsync), then renamed
 * over path, so a crash or SIGKILL at any point of the save leaves at path either the old
 * file or the new one, complete, never a mix (tests/test_checkpoint_crash.c). The rename
 * replaces path itself: if path is a symlink, the link is replaced, its target untouched.
 * A process killed before the rename leaves its "<path>.tmp.XXXXXX" behind: nothing reads
 * it, and it can be deleted at any time. Saves from several threads or processes to one
 * path do not corrupt each other; the last rename wins.
 * Errors: NULL p or path, a non-empty prefix that matches nothing, a parameter named
 * "__metadata__", a duplicate or NULL metadata key/value, or the reserved key
 * LG_CHECKPOINT_CRC_KEY in meta (LG_ERR_ARG); out of memory;
 * any failure to create, write, sync or rename the file (LG_ERR_IO, with the system's
 * reason; the temporary file is removed). lg_last_errmsg() says which. */
lg_status lg_checkpoint_save(const lg_params *p, const char *path, const char *prefix,
                             const char *const *meta, int n_meta);

/* Loads `path` into the existing store p: every parameter that the selector `prefix`
 * picks (nn.h, "Selectors"; all when prefix is NULL or "") must be in the file with the
 * same dtype and shape, and its values are overwritten. Gradients and frozen flags are
 * left alone. With `strict`, a tensor in the file that prefix picks but that the store
 * lacks is an error; without it, such tensors are ignored. Tensors the selector does not
 * pick are always ignored. A prefix that picks no parameter of p is LG_ERR_ARG.
 * The whole file is checked before any value changes, so a format, shape or dtype error
 * leaves the store as it was; only an I/O failure while copying can leave it partly
 * loaded.
 * Errors (the message names the tensor, and both shapes or dtypes): a parameter missing
 * from the file (LG_ERR_FORMAT), a different shape (LG_ERR_SHAPE), a different dtype
 * (LG_ERR_DTYPE), an extra tensor with strict (LG_ERR_FORMAT); plus everything
 * lg_checkpoint_open reports. */
lg_status lg_checkpoint_load(lg_params *p, const char *path, const char *prefix, bool strict);

/* A lower-level reader: the tensors of one file, checked and listed, read one at a time. */
typedef struct lg_checkpoint lg_checkpoint;

/* Opens and validates `path`. The header must be at most LG_CHECKPOINT_MAX_HEADER bytes
 * and lie inside the file; it must be a JSON object whose tensors each have a known
 * dtype, a shape of non-negative integers (the non-zero ones multiplying to at most 2^62,
 * even in an empty tensor, so that any listed shape makes a tensor) and data_offsets
 * [begin, end] with end - begin = dtype size x numel; the ranges must not overlap and
 * together cover the data section exactly (no holes or trailing bytes, as the format
 * requires). Names are unique; "__metadata__", if present, maps strings to strings. When it holds
 * LG_CHECKPOINT_CRC_KEY, the data section is read once to check it.
 * The header is held to the format's own strictness: a UTF-8 byte-order mark is refused;
 * numbers are plain non-negative integers (no sign, fraction or exponent: [3.0] and [-0]
 * are errors); at most LG_CHECKPOINT_MAX_TENSORS tensors and 2^20 JSON values.
 * Accepted names (of tensors, and metadata keys and values): any string of valid UTF-8
 * (RFC 3629: no overlong forms, no lone surrogates, escaped or raw) that holds no NUL,
 * escaped (\u0000) or raw; "__metadata__" is the metadata, never a tensor.
 * *out gets the reader (close it with lg_checkpoint_close), or NULL on error.
 * What a hostile file can do: nothing beyond an error status. Every allocation is bounded
 * by the file's length (the header buffer by the header length, itself checked against
 * the file size; the tensor tables by the number of JSON members), and no read goes
 * outside the ranges checked against the file size. tests/fuzz/ fuzzes this reader.
 * Errors: NULL argument (LG_ERR_ARG); the file cannot be opened, is not a regular file
 * (a FIFO, directory, device or socket is refused without blocking), or a read fails
 * (LG_ERR_IO); any violation above, or a checksum that is malformed or
 * does not match the data (LG_ERR_FORMAT, the message naming the file and what is wrong,
 * for a checksum the expected and the computed value); a dtype the safetensors format
 * does not define, or whose size lagrad does not know (LG_ERR_UNSUPPORTED); out of
 * memory. The JSON parser (cJSON)
 * allocates with the C library's malloc, not through lagrad's allocator hook: its hooks
 * are process-wide and would capture other cJSON users in the program (and its free hook
 * gets no size, which lagrad's hook needs). cJSON also records its last parse error in a
 * process-wide variable, so opens from several threads race on that (harmless) write. */
lg_status lg_checkpoint_open(const char *path, lg_checkpoint **out);
/* Closes the file and frees the reader. NULL is a no-op. */
void lg_checkpoint_close(lg_checkpoint *c);

/* One tensor of an open file. The pointers stay valid until lg_checkpoint_close. */
typedef struct lg_checkpoint_tensor {
    const char *name;
    const char *dtype_name; /* as in the file: "F32", "F64", "BF16", "I64", ... */
    bool supported;         /* F32, F64, I32 or I64: lg_checkpoint_read can read it */
    lg_dtype dtype;         /* meaningful only when supported */
    int ndim;               /* may exceed LG_MAX_DIMS in files written elsewhere */
    const int64_t *shape;   /* ndim entries */
    int64_t numel;
    size_t nbytes;          /* bytes of data in the file */
} lg_checkpoint_tensor;

/* Number of tensors in the file (0 for NULL), in the header's order. */
int lg_checkpoint_count(const lg_checkpoint *c);
/* Fills *t with tensor i in [0, count). LG_ERR_ARG for NULL or i out of range. */
lg_status lg_checkpoint_info(const lg_checkpoint *c, int i, lg_checkpoint_tensor *t);
/* The index of the tensor named `name`, or -1. */
int lg_checkpoint_find(const lg_checkpoint *c, const char *name);

/* Reads the tensor named `name` into dst, which must have the same dtype and shape.
 * Errors: NULL argument (LG_ERR_ARG); no such tensor (LG_ERR_FORMAT); a dtype lagrad
 * does not read (LG_ERR_UNSUPPORTED); a different dtype (LG_ERR_DTYPE) or shape
 * (LG_ERR_SHAPE), the message giving both; a failed or short read (LG_ERR_IO). */
lg_status lg_checkpoint_read(lg_checkpoint *c, const char *name, lg_tensor *dst);

/* Reads the tensor named `name` into dst (same shape; any lagrad dtype), converting from
 * the file's dtype when, and only when, every value the file's dtype can hold arrives
 * exactly; nothing is ever narrowed or rounded:
 *   BOOL (0/1), U8, I8, I16, U16   to i32, i64, f32 or f64
 *   I32                            to i32, i64 or f64 (not f32: 24 bits)
 *   U32                            to i64 or f64
 *   I64                            to i64 only
 *   F16, BF16, F32                 to f32 or f64
 *   F64                            to f64 only
 * The same dtype is a plain read (as lg_checkpoint_read). So a PyTorch checkpoint of
 * bf16 weights loads into f32 tensors, and a label file of uint8 into i32 or i64 tensors.
 * Reads in pieces of 1 MiB at most. Errors: NULL argument (LG_ERR_ARG); no such tensor
 * (LG_ERR_FORMAT); a pair not in the table (LG_ERR_DTYPE, e.g. I64 to f64, F32 to i32;
 * LG_ERR_UNSUPPORTED for F8_E5M2 and F8_E4M3); another shape (LG_ERR_SHAPE); a BOOL byte
 * other than 0 or 1 (LG_ERR_FORMAT); a failed or short read (LG_ERR_IO). dst may hold
 * part of the values after an error. */
lg_status lg_checkpoint_read_convert(lg_checkpoint *c, const char *name, lg_tensor *dst);

/* The "__metadata__" entries: count, the i-th key and value (pointers valid until
 * close; LG_ERR_ARG when out of range), and the value for a key (NULL when absent). */
int lg_checkpoint_metadata_count(const lg_checkpoint *c);
lg_status lg_checkpoint_metadata_at(const lg_checkpoint *c, int i, const char **key,
                                    const char **value);
const char *lg_checkpoint_metadata_get(const lg_checkpoint *c, const char *key);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
