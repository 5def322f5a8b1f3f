// The fused cells' loops for one CPU capability: CMake compiles this file three
// times, with CPU_CAPABILITY = DEFAULT, AVX2 or AVX512 and the matching compiler
// flags, as LibTorch compiles its own kernels; ATen's Vectorized<float> (with
// SLEEF's exp and tanh) gives the vector width. Each step's element-wise work is
// one pass over its rows: gates, state update and the values backward needs.
#include <ATen/Parallel.h>
#include <ATen/cpu/vec/vec.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "model/fused_cells_kernels.h"

namespace tandem::model::fused::CPU_CAPABILITY {
namespace {

using Vec = at::vec::Vectorized<float>;

inline Vec sigmoid(const Vec& x) { return Vec(1.0f) / (Vec(1.0f) + x.neg().exp()); }

// f(column, count) over [0, n) a vector at a time, the last one partial.
template <typename F>
inline void columns(int64_t n, const F& f) {
  const int64_t width = Vec::size();
  for (int64_t j = 0; j < n; j += width) f(j, static_cast<int>(std::min(width, n - j)));
}

inline Vec load(const float* p, int count) { return count == Vec::size() ? Vec::loadu(p) : Vec::loadu(p, count); }
inline void store(const Vec& v, float* p, int count) {
  if (count == Vec::size()) {
    v.store(p);
  } else {
    v.store(p, count);
  }
}

// Rows in parallel (LibTorch's threads), about 16k elements a task.
template <typename F>
inline void rows_of(int64_t rows, int64_t hidden, const F& f) {
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, hidden));
  at::parallel_for(0, rows, grain, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) f(b);
  });
}

}  // namespace

void lstm_forward(const LstmForward& a, int64_t rows, int64_t H) {
  rows_of(rows, H, [&](int64_t b) {
    const float* gi = a.gi + b * 4 * H;
    const float* gh = a.gh + b * 4 * H;
    float* act = a.act + b * 4 * H;
    const int64_t row = b * H;
    columns(H, [&](int64_t j, int n) {
      const Vec i = sigmoid(load(gi + j, n) + load(gh + j, n));
      const Vec f = sigmoid(load(gi + H + j, n) + load(gh + H + j, n));
      const Vec g = (load(gi + 2 * H + j, n) + load(gh + 2 * H + j, n)).tanh();
      const Vec o = sigmoid(load(gi + 3 * H + j, n) + load(gh + 3 * H + j, n));
      const Vec c = f * load(a.c + row + j, n) + i * g;
      const Vec tc = c.tanh();
      store(i, act + j, n);
      store(f, act + H + j, n);
      store(g, act + 2 * H + j, n);
      store(o, act + 3 * H + j, n);
      store(c, a.c_next + row + j, n);
      store(tc, a.tanh_c + row + j, n);
      store(o * tc, a.h + row + j, n);
    });
  });
}

void lstm_backward(const LstmBackward& a, int64_t rows, int64_t H) {
  const Vec one(1.0f);
  rows_of(rows, H, [&](int64_t b) {
    const float* act = a.act + b * 4 * H;
    float* dg = a.dgates + b * 4 * H;
    const int64_t row = b * H;
    columns(H, [&](int64_t j, int n) {
      const Vec i = load(act + j, n);
      const Vec f = load(act + H + j, n);
      const Vec g = load(act + 2 * H + j, n);
      const Vec o = load(act + 3 * H + j, n);
      const Vec tc = load(a.tanh_c + row + j, n);
      const Vec dh = load(a.dh + row + j, n);
      Vec dc = dh * o * (one - tc * tc);
      if (a.dc_next != nullptr) dc = dc + load(a.dc_next + row + j, n);
      store(dc * g * i * (one - i), dg + j, n);
      store(dc * load(a.c + row + j, n) * f * (one - f), dg + H + j, n);
      store(dc * i * (one - g * g), dg + 2 * H + j, n);
      store(dh * tc * o * (one - o), dg + 3 * H + j, n);
      store(dc * f, a.dc + row + j, n);
    });
  });
}

void gru_forward(const GruForward& a, int64_t rows, int64_t H) {
  rows_of(rows, H, [&](int64_t b) {
    const float* gi = a.gi + b * 3 * H;
    const float* gh = a.gh + b * 3 * H;
    float* act = a.act + b * 3 * H;
    const int64_t row = b * H;
    columns(H, [&](int64_t j, int n) {
      const Vec r = sigmoid(load(gi + j, n) + load(gh + j, n));
      const Vec z = sigmoid(load(gi + H + j, n) + load(gh + H + j, n));
      const Vec candidate = (load(gi + 2 * H + j, n) + r * load(gh + 2 * H + j, n)).tanh();
      const Vec h = load(a.h + row + j, n);
      store(r, act + j, n);
      store(z, act + H + j, n);
      store(candidate, act + 2 * H + j, n);
      store(candidate + z * (h - candidate), a.h_next + row + j, n);
    });
  });
}

void gru_backward(const GruBackward& a, int64_t rows, int64_t H) {
  const Vec one(1.0f);
  rows_of(rows, H, [&](int64_t b) {
    const float* act = a.act + b * 3 * H;
    const float* gh = a.gh + b * 3 * H;
    float* dgi = a.dgi + b * 3 * H;
    float* dgh = a.dgh + b * 3 * H;
    const int64_t row = b * H;
    columns(H, [&](int64_t j, int n) {
      const Vec r = load(act + j, n);
      const Vec z = load(act + H + j, n);
      const Vec candidate = load(act + 2 * H + j, n);
      const Vec h = load(a.h + row + j, n);
      const Vec dh = load(a.dh_next + row + j, n);
      const Vec dn = dh * (one - z) * (one - candidate * candidate);  // through tanh
      const Vec dz = dh * (h - candidate) * z * (one - z);
      const Vec dr = dn * load(gh + 2 * H + j, n) * r * (one - r);
      store(dr, dgi + j, n);
      store(dz, dgi + H + j, n);
      store(dn, dgi + 2 * H + j, n);
      store(dr, dgh + j, n);
      store(dz, dgh + H + j, n);
      store(dn * r, dgh + 2 * H + j, n);
      store(dh * z, a.dh + row + j, n);
    });
  });
}

void rnn_forward(const RnnForward& a, int64_t rows, int64_t H) {
  rows_of(rows, H, [&](int64_t b) {
    const int64_t row = b * H;
    columns(H, [&](int64_t j, int n) {
      store((load(a.gi + row + j, n) + load(a.gh + row + j, n)).tanh(), a.h_next + row + j, n);
    });
  });
}

void rnn_backward(const RnnBackward& a, int64_t rows, int64_t H) {
  const Vec one(1.0f);
  rows_of(rows, H, [&](int64_t b) {
    const int64_t row = b * H;
    columns(H, [&](int64_t j, int n) {
      const Vec h = load(a.h_next + row + j, n);
      store(load(a.dh_next + row + j, n) * (one - h * h), a.dgates + row + j, n);
    });
  });
}

namespace {

// Largest element of x[0, n).
inline float row_max(const float* x, int64_t n) {
  const int64_t width = Vec::size();
  int64_t j = 0;
  float best = -std::numeric_limits<float>::infinity();
  if (n >= width) {
    Vec m = Vec::loadu(x);
    for (j = width; j + width <= n; j += width) {
      const Vec v = Vec::loadu(x + j);
      m = Vec::blendv(m, v, v > m);  // (not vec::maximum: GCC 12 sees its AVX-512 intrinsic as uninitialized)
    }
    float lanes[Vec::size()];
    m.store(lanes);
    for (int k = 0; k < width; ++k) best = std::max(best, lanes[k]);
  }
  for (; j < n; ++j) best = std::max(best, x[j]);
  return best;
}

inline float sum_of(const Vec& v) {
  float lanes[Vec::size()];
  v.store(lanes);
  float s = 0;
  for (int k = 0; k < Vec::size(); ++k) s += lanes[k];
  return s;
}

}  // namespace

void cross_entropy_forward(const CrossEntropyForward& a, int64_t rows, int64_t V) {
  rows_of(rows, V, [&](int64_t b) {
    const float* x = a.logits + b * V;
    const float top = row_max(x, V);
    const int64_t width = Vec::size();
    Vec exps(0.0f), values(0.0f);
    const Vec shift(top);
    int64_t j = 0;
    for (; j + width <= V; j += width) {
      const Vec v = Vec::loadu(x + j);
      exps = exps + (v - shift).exp();
      values = values + v;
    }
    float sum_exp = sum_of(exps), sum = sum_of(values);
    for (; j < V; ++j) {
      sum_exp += std::exp(x[j] - top);
      sum += x[j];
    }
    const float lse = top + std::log(sum_exp);
    a.lse[b] = lse;
    const int64_t t = a.target[b];
    if (t == a.pad) {
      a.loss[b] = a.nll[b] = 0.0f;
      return;
    }
    const float nll = lse - x[t];
    a.nll[b] = nll;
    a.loss[b] = a.smoothing > 0.0f ? (1.0f - a.smoothing) * nll + a.smoothing * (lse - sum / static_cast<float>(V))
                                   : nll;
  });
}

void cross_entropy_backward(const CrossEntropyBackward& a, int64_t rows, int64_t V) {
  rows_of(rows, V, [&](int64_t b) {
    float* d = a.dlogits + b * V;
    const int64_t t = a.target[b];
    if (t == a.pad) {
      std::fill(d, d + V, 0.0f);
      return;
    }
    const float* x = a.logits + b * V;
    const float g = a.grad[b];
    const Vec scale(g), lse(a.lse[b]), uniform(g * a.smoothing / static_cast<float>(V));
    columns(V, [&](int64_t j, int n) { store((load(x + j, n) - lse).exp() * scale - uniform, d + j, n); });
    d[t] -= g * (1.0f - a.smoothing);
  });
}


namespace {

// tanh(x) = 1 - 2 / (exp(2x) + 1): SLEEF's exp is a third of the cost of its
// tanh, within 1e-7 of tanh absolutely (relatively less precise only near 0,
// where attention's sums of v tanh(.) do not see it); exp's overflow to inf
// gives 1, its underflow to 0 gives -1.
inline Vec attention_tanh(const Vec& x) {
  const Vec one(1.0f), two(2.0f);
  return one - two / ((x + x).exp() + one);
}

// Softmax over the real positions of one row of scores, in place: masked
// positions (and every position of a row without a real one) get 0.
inline void softmax_over_real(float* w, const bool* mask, int64_t S) {
  float top = -std::numeric_limits<float>::infinity();
  for (int64_t s = 0; s < S; ++s) {
    if (mask[s]) top = std::max(top, w[s]);
  }
  if (top == -std::numeric_limits<float>::infinity()) {
    std::fill(w, w + S, 0.0f);
    return;
  }
  float sum = 0;
  for (int64_t s = 0; s < S; ++s) {
    w[s] = mask[s] ? std::exp(w[s] - top) : 0.0f;
    sum += w[s];
  }
  const float scale = 1.0f / sum;
  for (int64_t s = 0; s < S; ++s) w[s] *= scale;
}

// The gradient of a softmax row's scores, w (dw - w . dw), written to ds.
inline void softmax_row_backward(const float* w, const float* dw, float* ds, int64_t S) {
  float dot = 0;
  for (int64_t s = 0; s < S; ++s) dot += w[s] * dw[s];
  for (int64_t s = 0; s < S; ++s) ds[s] = w[s] * (dw[s] - dot);
}

}  // namespace

void additive_attention_forward(const AdditiveAttentionForward& a, int64_t B, int64_t G, int64_t S, int64_t Q) {
  rows_of(B, G * S * Q, [&](int64_t b) {
    const bool* mask = a.mask + b * S;
    for (int64_t g = 0; g < G; ++g) {
      const float* q = a.query + (b * G + g) * Q;
      float* w = a.weights + (b * G + g) * S;
      for (int64_t s = 0; s < S; ++s) {
        if (!mask[s]) continue;  // softmax_over_real writes its 0
        const float* k = a.keys + (b * S + s) * Q;
        Vec sum(0.0f);
        // A partial vector loads zeros past its end: tanh(0) v(0) adds nothing.
        columns(Q, [&](int64_t j, int n) { sum = sum + load(a.v + j, n) * attention_tanh(load(k + j, n) + load(q + j, n)); });
        w[s] = sum_of(sum);
      }
      softmax_over_real(w, mask, S);
    }
  });
}

void additive_attention_backward(const AdditiveAttentionBackward& a, int64_t B, int64_t G, int64_t S, int64_t Q) {
  const Vec one(1.0f);
  rows_of(B, G * S * Q, [&](int64_t b) {
    float* dkeys = a.dkeys + b * S * Q;
    float* dv = a.dv + b * Q;
    std::fill(dkeys, dkeys + S * Q, 0.0f);
    std::fill(dv, dv + Q, 0.0f);
    std::vector<float> dscores(static_cast<size_t>(S));
    for (int64_t g = 0; g < G; ++g) {
      const int64_t row = b * G + g;
      const float* q = a.query + row * Q;
      float* dq = a.dquery + row * Q;
      std::fill(dq, dq + Q, 0.0f);
      softmax_row_backward(a.weights + row * S, a.dweights + row * S, dscores.data(), S);
      for (int64_t s = 0; s < S; ++s) {
        const float d = dscores[static_cast<size_t>(s)];
        if (d == 0.0f) continue;  // masked positions (weight 0) among them
        const float* k = a.keys + (b * S + s) * Q;
        float* dk = dkeys + s * Q;
        const Vec ds(d);
        columns(Q, [&](int64_t j, int n) {
          const Vec t = attention_tanh(load(k + j, n) + load(q + j, n));  // again, rather than kept: S x Q a row
          const Vec dpre = ds * load(a.v + j, n) * (one - t * t);
          store(load(dk + j, n) + dpre, dk + j, n);
          store(load(dq + j, n) + dpre, dq + j, n);
          store(load(dv + j, n) + ds * t, dv + j, n);
        });
      }
    }
  });
}

void masked_softmax_forward(const MaskedSoftmaxForward& a, int64_t B, int64_t G, int64_t S) {
  rows_of(B * G, S, [&](int64_t row) {
    float* w = a.weights + row * S;
    std::copy(a.scores + row * S, a.scores + (row + 1) * S, w);
    softmax_over_real(w, a.mask + (row / G) * S, S);
  });
}

void masked_softmax_backward(const MaskedSoftmaxBackward& a, int64_t rows, int64_t S) {
  rows_of(rows, S, [&](int64_t row) {
    softmax_row_backward(a.weights + row * S, a.dweights + row * S, a.dscores + row * S, S);
  });
}

}  // namespace tandem::model::fused::CPU_CAPABILITY
