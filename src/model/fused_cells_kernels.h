// The fused recurrent cells' loops, compiled once for each CPU capability
// (fused_cells_kernels.cpp with CPU_CAPABILITY = DEFAULT, AVX2, AVX512; see
// CMakeLists.txt) and chosen at run time by fused_cells.cpp. Row-major float32
// buffers, `rows` x `hidden` (gates: rows x G*hidden, in LibTorch's order).
#pragma once

#include <cstdint>

namespace tandem::model::fused {

struct LstmForward {
  const float* gi;  // [rows, 4H] input products and bias (i, f, g, o)
  const float* gh;  // [rows, 4H] recurrent products and bias
  const float* c;   // [rows, H] memory cell before the step
  float* act;       // [rows, 4H] out: sigmoid(i), sigmoid(f), tanh(g), sigmoid(o)
  float* c_next;    // [rows, H] out: f c + i g
  float* tanh_c;    // [rows, H] out: tanh(c_next)
  float* h;         // [rows, H] out: o tanh(c_next)
};

struct LstmBackward {
  const float* dh;      // [rows, H]
  const float* dc_next; // [rows, H] or nullptr (zero)
  const float* act;     // as saved by the forward step
  const float* c;
  const float* tanh_c;
  float* dgates;        // [rows, 4H] out: the gradient of gi and of gh (they are summed)
  float* dc;            // [rows, H] out
};

struct GruForward {
  const float* gi;  // [rows, 3H] input products and bias (r, z, n)
  const float* gh;  // [rows, 3H] recurrent products and bias
  const float* h;   // [rows, H] state before the step
  float* act;       // [rows, 3H] out: r, z, n
  float* h_next;    // [rows, H] out: n + z (h - n)
};

struct GruBackward {
  const float* dh_next;  // [rows, H]
  const float* act;      // as saved by the forward step
  const float* gh;       // the forward step's recurrent products (their n part)
  const float* h;        // the state before the step
  float* dgi;            // [rows, 3H] out
  float* dgh;            // [rows, 3H] out
  float* dh;             // [rows, H] out
};

struct RnnForward {
  const float* gi;  // [rows, H] input products and bias
  const float* gh;  // [rows, H] recurrent products and bias
  float* h_next;    // [rows, H] out: tanh(gi + gh)
};

struct RnnBackward {
  const float* dh_next;  // [rows, H]
  const float* h_next;   // as the forward step wrote it
  float* dgates;         // [rows, H] out: the gradient of gi and of gh (they are summed)
};

// Softmax cross entropy over rows of `classes` logits (train/loss.h). A row whose
// target is `pad` predicts nothing: loss and nll 0, gradient 0.
struct CrossEntropyForward {
  const float* logits;    // [rows, classes]
  const int64_t* target;  // [rows]
  int64_t pad;
  float smoothing;        // label smoothing: that share of the target spread evenly
  float* lse;             // [rows] out: log of the sum of exp(logits)
  float* loss;            // [rows] out: (1 - smoothing) nll + smoothing (lse - mean logit)
  float* nll;             // [rows] out: lse - logit of the target
};

struct CrossEntropyBackward {
  const float* logits;    // as in the forward pass
  const int64_t* target;
  int64_t pad;
  float smoothing;
  const float* lse;       // as the forward pass wrote it
  const float* grad;      // [rows] the gradient of each row's loss
  float* dlogits;         // [rows, classes] out: grad (softmax - smoothed one-hot)
};

// Attention's scores and softmax over the real source positions (model/attention.h):
// `sentences` x `group` query rows, each over `positions` memory rows of `width`.
// Masked positions get weight 0; a row with no real position gets all zeros.
struct AdditiveAttentionForward {
  const float* keys;   // [B, S, Q] the memory's keys W_k m
  const float* query;  // [B, G, Q] the projected queries W_q q
  const float* v;      // [Q] the score vector
  const bool* mask;    // [B, S] true at real positions
  float* weights;      // [B, G, S] out: softmax over s of v . tanh(keys_s + query)
};

struct AdditiveAttentionBackward {
  const float* keys;      // as in the forward pass
  const float* query;
  const float* v;
  const float* weights;   // as the forward pass wrote them
  const float* dweights;  // [B, G, S] the weights' gradient
  float* dkeys;           // [B, S, Q] out
  float* dquery;          // [B, G, Q] out
  float* dv;              // [B, Q] out: each sentence's share of v's gradient
};

struct MaskedSoftmaxForward {
  const float* scores;  // [B, G, S]
  const bool* mask;     // [B, S]
  float* weights;       // [B, G, S] out
};

struct MaskedSoftmaxBackward {
  const float* weights;   // as the forward pass wrote them
  const float* dweights;  // [B, G, S]
  float* dscores;         // [B, G, S] out
};

#define TANDEM_FUSED_KERNELS(capability)                                                                 \
  namespace capability {                                                                                 \
  void lstm_forward(const LstmForward& a, int64_t rows, int64_t hidden);                                 \
  void lstm_backward(const LstmBackward& a, int64_t rows, int64_t hidden);                               \
  void gru_forward(const GruForward& a, int64_t rows, int64_t hidden);                                   \
  void gru_backward(const GruBackward& a, int64_t rows, int64_t hidden);                                 \
  void rnn_forward(const RnnForward& a, int64_t rows, int64_t hidden);                                   \
  void rnn_backward(const RnnBackward& a, int64_t rows, int64_t hidden);                                 \
  void cross_entropy_forward(const CrossEntropyForward& a, int64_t rows, int64_t classes);               \
  void cross_entropy_backward(const CrossEntropyBackward& a, int64_t rows, int64_t classes);             \
  void additive_attention_forward(const AdditiveAttentionForward& a, int64_t sentences, int64_t group,   \
                                  int64_t positions, int64_t width);                                     \
  void additive_attention_backward(const AdditiveAttentionBackward& a, int64_t sentences, int64_t group, \
                                   int64_t positions, int64_t width);                                    \
  void masked_softmax_forward(const MaskedSoftmaxForward& a, int64_t sentences, int64_t group,           \
                              int64_t positions);                                                        \
  void masked_softmax_backward(const MaskedSoftmaxBackward& a, int64_t rows, int64_t positions);         \
  }
TANDEM_FUSED_KERNELS(DEFAULT)
TANDEM_FUSED_KERNELS(AVX2)
TANDEM_FUSED_KERNELS(AVX512)
#undef TANDEM_FUSED_KERNELS

}  // namespace tandem::model::fused
