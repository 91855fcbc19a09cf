/* lagrad text: character-level text data sets for language models. A UTF-8 text becomes
 * a vocabulary of its distinct code points and a sequence of integer ids; the first 90% is
 * for training and the rest for validation; random (B, T) windows make batches of inputs
 * and next-character targets. The vocabulary travels with a checkpoint as one metadata
 * entry, so a model can be sampled from its file alone. Tokenisers other than characters
 * are left out. */
#ifndef LAGRAD_TEXT_H
#define LAGRAD_TEXT_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif
/* The library is built with hidden visibility: what this header declares is its ABI. */
#pragma GCC visibility push(default)

/* The largest text lg_text_load reads: 2^31 - 1 bytes. */
#define LG_TEXT_MAX_BYTES (((size_t)1 << 31) - 1)
/* The checkpoint metadata key that holds the vocabulary (lg_text_vocab_meta). */
#define LG_TEXT_VOCAB_KEY "lagrad.text.vocab"

/* A character vocabulary and, when loaded from a text, that text encoded.
 * vocab[i] is the code point of id i; ids are given in increasing code-point order (as
 * nanoGPT's sorted(set(text)) does). Read-only for the caller; free with lg_text_free. */
typedef struct lg_text {
    int32_t vocab_size;  /* distinct code points, >= 1 */
    int32_t *vocab;      /* vocab_size code points, strictly increasing */
    lg_tensor *ids;      /* (n) i32, the text's ids; NULL for a vocabulary alone */
    int64_t n;           /* characters in the text (0 for a vocabulary alone) */
    int64_t n_train;     /* the first n_train = floor(9 n / 10) ids are the training split */
} lg_text;

/* Which part of the text a batch is drawn from. */
typedef enum lg_text_split { LG_TEXT_TRAIN = 0, LG_TEXT_VAL = 1 } lg_text_split;

/* Reads the UTF-8 file at path and builds its vocabulary and ids. *out gets a new lg_text
 * (free with lg_text_free), or NULL on error, with lg_last_errmsg() naming the function,
 * the file and what was wrong.
 * Errors: NULL path or out (LG_ERR_ARG); the file cannot be opened (or is not a regular
 * file) or read (LG_ERR_IO); malformed UTF-8 (RFC 3629: a stray continuation byte, a
 * truncated sequence, an overlong form, a surrogate, or a code point above U+10FFFF) or an
 * empty file (LG_ERR_FORMAT, the message giving the byte offset of the bad sequence); a
 * file over LG_TEXT_MAX_BYTES (LG_ERR_FORMAT); out of memory (LG_ERR_OOM). */
lg_status lg_text_load(const char *path, lg_text **out);

/* As lg_text_load, from len bytes in memory (copied; bytes may be freed afterwards). */
lg_status lg_text_from_utf8(const char *bytes, size_t len, lg_text **out);

/* Frees an lg_text and its ids tensor. NULL is a no-op. */
void lg_text_free(lg_text *t);

/* The id of code point cp, or -1 when the vocabulary lacks it (or t is NULL). */
int32_t lg_text_id(const lg_text *t, int32_t cp);

/* Encodes len bytes of UTF-8 into ids (room for cap of them); *n gets the number of
 * characters. Errors: NULL t, s (with len > 0), ids (with cap > 0) or n (LG_ERR_ARG);
 * malformed UTF-8 (LG_ERR_FORMAT with the byte offset); a character outside the
 * vocabulary (LG_ERR_ARG, naming it and its byte offset); more than cap characters
 * (LG_ERR_SHAPE). Nothing is allocated. */
lg_status lg_text_encode(const lg_text *t, const char *s, size_t len, int32_t *ids,
                         int64_t cap, int64_t *n);

/* Decodes n ids into UTF-8 in buf (room for cap bytes, of which one is kept for the
 * terminating NUL); *len (may be NULL) gets the bytes written before the NUL. At most
 * 4 n + 1 bytes are needed. Errors: NULL t, ids (with n > 0) or buf (LG_ERR_ARG), an id
 * outside [0, vocab_size) (LG_ERR_ARG, naming its position), a buffer too small
 * (LG_ERR_SHAPE; buf then holds a NUL-terminated prefix). */
lg_status lg_text_decode(const lg_text *t, const int32_t *ids, int64_t n, char *buf,
                         size_t cap, size_t *len);

/* Fills the caller's x and y, both (B, T) of dtype i32 or i64, with B windows drawn
 * uniformly from `split`: for each row b an offset i in [0, L - T) of the split (L ids
 * long) is drawn from r (one lg_rng_uniform per row, in row order), x[b] = split[i, i+T)
 * and y[b] = split[i+1, i+T+1), the next character of each input. Allocates nothing.
 * Errors: NULL argument, a text without ids (a vocabulary alone), or a bad split
 * (LG_ERR_ARG); x and y not 2-D of one shape with B, T >= 1, or a split of L <= T ids
 * (LG_ERR_SHAPE); a float x or y (LG_ERR_DTYPE). */
lg_status lg_text_batch(const lg_text *t, lg_text_split split, lg_rng *r, lg_tensor *x,
                        lg_tensor *y);

/* The vocabulary as a metadata value for lg_checkpoint_save under LG_TEXT_VOCAB_KEY: the
 * code points in id order as decimal numbers separated by commas ("10,32,33"), ASCII so
 * that any code point, NUL included, survives. *value is lg_malloc'd, NUL-terminated and
 * *bytes long with the NUL; free it with lg_text_vocab_meta_free. Errors: NULL argument
 * (LG_ERR_ARG), out of memory. */
lg_status lg_text_vocab_meta(const lg_text *t, char **value, size_t *bytes);
/* Frees a value from lg_text_vocab_meta. NULL is a no-op. */
void lg_text_vocab_meta_free(char *value, size_t bytes);

/* A vocabulary alone (ids NULL, n 0) from a metadata value of lg_text_vocab_meta.
 * Errors: NULL argument (LG_ERR_ARG); a value that is not strictly increasing decimal code
 * points in [0, 0x10FFFF] outside the surrogates, separated by single commas, at least
 * one (LG_ERR_FORMAT, naming the byte offset); out of memory. */
lg_status lg_text_vocab_parse(const char *value, lg_text **out);

/* Reads the vocabulary saved under LG_TEXT_VOCAB_KEY in the checkpoint at path.
 * Errors: lg_checkpoint_open's; no such key (LG_ERR_FORMAT); lg_text_vocab_parse's. */
lg_status lg_text_vocab_load(const char *path, lg_text **out);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
