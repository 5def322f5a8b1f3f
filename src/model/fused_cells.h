// GRU, LSTM and tanh RNN steps with their element-wise work fused (issue 29): one pass over
// the step's rows forward (gates, nonlinearities, state update) and one backward,
// with ATen's vectorized types at the CPU's widest capability, instead of about
// ten of LibTorch's element-wise kernels forward and twenty backward. Gradients
// equal those of LibTorch's ops to rounding (tests/model/fused_cells_test.cpp).
//
// On the CPU in float32 only (bfloat16 products are widened first; the cells'
// state is float32 under autocast anyway); elsewhere callers keep LibTorch's ops.
// TANDEM_FUSED_CELLS=0 in the environment turns it off (for A/B measurements), and
// the fused softmax cross entropy and attention below with it; TANDEM_FUSED_ATTENTION=0
// turns off the attention alone.
#pragma once

#include <torch/torch.h>

#include <utility>

namespace tandem::model::fused {

/// Whether the fused step takes these tensors (CPU, state float32, not turned off).
bool applies(const torch::Tensor& gi, const torch::Tensor& gh, const torch::Tensor& state);

/// LSTM: gates gi + gh [B, 4H] (i, f, g, o), memory cell c [B, H] -> (h, c_next).
std::pair<torch::Tensor, torch::Tensor> lstm(const torch::Tensor& gi, const torch::Tensor& gh, const torch::Tensor& c);

/// GRU: input and recurrent products gi, gh [B, 3H] (r, z, n), state h [B, H] -> h_next.
torch::Tensor gru(const torch::Tensor& gi, const torch::Tensor& gh, const torch::Tensor& h);

/// Tanh RNN: input and recurrent products gi, gh [B, H] -> h_next = tanh(gi + gh).
torch::Tensor rnn(const torch::Tensor& gi, const torch::Tensor& gh);

/// Whether fused::cross_entropy takes these logits (CPU, float32 or bfloat16, not turned off).
bool cross_entropy_applies(const torch::Tensor& logits);

/// Softmax cross entropy of each row of logits [..., V] against target [...]: (loss, nll),
/// both [...] float32; loss = (1 - smoothing) nll + smoothing (logsumexp - mean logit), with
/// its gradient (one pass over the logits forward, one backward); nll without. Rows whose
/// target is `pad` give 0 and no gradient. Equal to log_softmax's figures to rounding.
std::pair<torch::Tensor, torch::Tensor> cross_entropy(const torch::Tensor& logits, const torch::Tensor& target,
                                                      int64_t pad, double smoothing);

/// Whether the fused attention functions below take this tensor (CPU, float32 or bfloat16, not turned off).
bool attention_applies(const torch::Tensor& t);

/// Bahdanau's attention weights in one pass over the keys: softmax over the real positions s
/// of v . tanh(keys[b, s] + query[b, g]), with keys [B, S, Q], query [B, G, Q], v [Q] (or
/// [1, Q]) and mask [B, S] (true at real positions); returns [B, G, S] float32, 0 at masked
/// positions. tanh(keys + query), [B, G, S, Q], is neither kept nor written: the backward pass
/// computes it again. Gradients for keys, query and v.
torch::Tensor additive_attention(const torch::Tensor& keys, const torch::Tensor& query, const torch::Tensor& v,
                                 const torch::Tensor& mask);

/// Softmax over the real positions of scores [B, G, S] (mask [B, S]): masked_fill with -inf
/// and softmax in one pass forward and one backward; float32, 0 at masked positions.
torch::Tensor masked_softmax(const torch::Tensor& scores, const torch::Tensor& mask);

/// The capability the kernels run with: "AVX512", "AVX2" or "DEFAULT".
const char* capability();

}  // namespace tandem::model::fused
