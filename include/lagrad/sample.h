/* lagrad sampling: drawing the next token from logits with a temperature and top-k, and
 * generating text from a GPT (gpt.h) from a prompt, seeded, without recording a graph. */
#ifndef LAGRAD_SAMPLE_H
#define LAGRAD_SAMPLE_H

#include "gpt.h"

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

/* Draws an index from softmax(logits / temperature) restricted to the top_k largest
 * logits (ties with the k-th largest stay in, as in nanoGPT; top_k 0 or >= V keeps all).
 * logits is a row of V f32 or f64 values: the last row of a tensor of any rank whose last
 * axis is V (the next-token logits of (B, T, V) are its last row). temperature 0 picks
 * the first largest logit and draws nothing; otherwise one lg_rng_uniform is drawn from r.
 * NaN logits are never picked (a row of NaN is LG_ERR_NUMERIC). Allocates only when
 * top_k is used (a copy of the row).
 * Errors: NULL argument (LG_ERR_ARG); temperature negative or not finite, top_k < 0
 * (LG_ERR_ARG); an integer or empty tensor (LG_ERR_DTYPE / LG_ERR_SHAPE); out of memory. */
lg_status lg_sample_logits(const lg_tensor *logits, double temperature, int64_t top_k,
                           lg_rng *r, int64_t *id);

/* Generates n_new tokens after the n_prompt ids of prompt: each step runs the model on the
 * last min(len, block_size) ids in no-grad, evaluation mode (no dropout) on a graph of its
 * own, and samples with lg_sample_logits. out (room for n_prompt + n_new ids) gets the
 * prompt followed by the new ids; out may be prompt itself. The model's parameters are
 * only read. Errors: NULL argument or n_prompt < 1 or n_new < 0 (LG_ERR_ARG); a prompt id
 * outside [0, V) (LG_ERR_ARG, naming its position); lg_sample_logits's; the model's
 * forward errors; out of memory. */
lg_status lg_gpt_generate(lg_gpt *m, const int32_t *prompt, int64_t n_prompt, int64_t n_new,
                          double temperature, int64_t top_k, lg_rng *r, int32_t *out);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
#endif
