/* lagrad recurrent layers: multi-layer LSTM and GRU with PyTorch's gate layouts and
 * state_dict names, so torch.nn.LSTM / torch.nn.GRU weights load as they are. They are
 * built from lagrad's differentiable ops (one input projection for all steps, then per
 * step a hidden projection, slices, sigmoid, tanh, products), so gradients of any order
 * come out of backward. Bidirectional layers, projections and inter-layer dropout are
 * left out. */
#ifndef LAGRAD_RNN_H
#define LAGRAD_RNN_H

#include "ops.h"
#include "nn.h"

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

/* The most stacked layers an lg_rnn holds. */
#define LG_RNN_MAX_LAYERS 8

typedef enum lg_rnn_kind { LG_RNN_LSTM = 0, LG_RNN_GRU = 1 } lg_rnn_kind;

/* A stack of num_layers LSTM or GRU layers. Layer k's parameters live in the store as
 *   "<name>.weight_ih_l<k>" (G H, in_k), "<name>.weight_hh_l<k>" (G H, H),
 *   "<name>.bias_ih_l<k>" (G H) and "<name>.bias_hh_l<k>" (G H),
 * with G = 4 gates for the LSTM in PyTorch's order (input i, forget f, cell g, output o)
 * and G = 3 for the GRU (reset r, update z, new n); in_0 = input_size and in_k = H above.
 *   LSTM: i,f,o = σ(·), g = tanh(·) of W_ih x + b_ih + W_hh h + b_hh (rows of each gate);
 *         c' = f c + i g;  h' = o tanh(c')
 *   GRU:  r,z = σ(W_i· x + b_i· + W_h· h + b_h·);  n = tanh(W_in x + b_in + r (W_hn h + b_hn));
 *         h' = (1 - z) n + z h */
typedef struct lg_rnn {
    lg_rnn_kind kind;
    int64_t input_size, hidden_size;
    int num_layers;
    lg_tensor *weight_ih[LG_RNN_MAX_LAYERS];
    lg_tensor *weight_hh[LG_RNN_MAX_LAYERS];
    lg_tensor *bias_ih[LG_RNN_MAX_LAYERS];   /* NULL without bias */
    lg_tensor *bias_hh[LG_RNN_MAX_LAYERS];   /* NULL without bias */
} lg_rnn;

/* Adds the parameters above to p, layer by layer in PyTorch's order, initialised as
 * PyTorch does: every one U(-1/√H, 1/√H), drawn from r in that order. *l is filled on
 * success and zeroed on error (parameters added before the error stay in the store).
 * Errors: NULL l, p, name or r, an empty name, a bad kind, input_size or hidden_size < 1,
 * num_layers outside [1, LG_RNN_MAX_LAYERS], a name in use or too long (LG_ERR_ARG); a
 * bad dtype (LG_ERR_DTYPE); out of memory. */
lg_status lg_rnn_init(lg_rnn *l, lg_params *p, const char *name, lg_rnn_kind kind,
                      int64_t input_size, int64_t hidden_size, int num_layers, bool bias,
                      lg_dtype dt, lg_rng *r);

/* Runs the stack over x (B, T, input_size), batch first (PyTorch's batch_first=True), and
 * returns the top layer's hidden states (B, T, H), owned by g. h0 and, for the LSTM, c0
 * are the initial states (num_layers, B, H), or NULL for zeros (c0 must be NULL for the
 * GRU). h_n and c_n (each may be NULL; c_n must be NULL for the GRU) get the final states
 * (num_layers, B, H). Errors (NULL, the first error on g; lg_last_errmsg when g is NULL):
 * NULL g or l, an uninitialised layer, c0 or c_n given to a GRU (LG_ERR_ARG); x not 3-D
 * with input_size features or T = 0, states of another shape (LG_ERR_SHAPE); a dtype
 * other than the layer's (LG_ERR_DTYPE); and the ops' errors. */
lg_tensor *lg_rnn_forward(lg_graph *g, const lg_rnn *l, lg_tensor *x, lg_tensor *h0,
                          lg_tensor *c0, lg_tensor **h_n, lg_tensor **c_n);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
#endif
