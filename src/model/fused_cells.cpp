#include "model/fused_cells.h"

#include <cstdlib>
#include <cstring>

#include "model/fused_cells_kernels.h"
#include "tandem/util/cpu_kernels.h"

namespace tandem::model::fused {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

enum class Capability { kDefault, kAvx2, kAvx512 };

Capability chosen() {
  static const Capability c = [] {
    const auto cpu = util::cpu_vector_features();
    // LibTorch's own variable narrows the choice as it narrows LibTorch's kernels.
    const char* aten = std::getenv("ATEN_CPU_CAPABILITY");
    const std::string limit = aten == nullptr ? "" : aten;
    if (cpu.avx512 && (limit.empty() || limit == "avx512")) return Capability::kAvx512;
    if (cpu.avx2_fma && limit != "default") return Capability::kAvx2;
    return Capability::kDefault;
  }();
  return c;
}

#define TANDEM_DISPATCH(function, ...)          \
  switch (chosen()) {                           \
    case Capability::kAvx512:                   \
      AVX512::function(__VA_ARGS__);            \
      break;                                    \
    case Capability::kAvx2:                     \
      AVX2::function(__VA_ARGS__);              \
      break;                                    \
    case Capability::kDefault:                  \
      DEFAULT::function(__VA_ARGS__);           \
      break;                                    \
  }

torch::Tensor float32(const torch::Tensor& t) { return t.to(torch::kFloat32).contiguous(); }

class LstmStep : public torch::autograd::Function<LstmStep> {
 public:
  static variable_list forward(AutogradContext* ctx, const torch::Tensor& gi, const torch::Tensor& gh,
                               const torch::Tensor& c) {
    const int64_t rows = c.size(0);
    const int64_t hidden = c.size(1);
    auto act = torch::empty_like(gi);
    auto c_next = torch::empty_like(c);
    auto tanh_c = torch::empty_like(c);
    auto h = torch::empty_like(c);
    TANDEM_DISPATCH(lstm_forward,
                    LstmForward{gi.data_ptr<float>(), gh.data_ptr<float>(), c.data_ptr<float>(), act.data_ptr<float>(),
                                c_next.data_ptr<float>(), tanh_c.data_ptr<float>(), h.data_ptr<float>()},
                    rows, hidden);
    ctx->save_for_backward({act, c, tanh_c});
    return {h, c_next};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto& c = saved[1];
    const int64_t rows = c.size(0);
    const int64_t hidden = c.size(1);
    const auto dh = grads[0].defined() ? grads[0].contiguous() : torch::zeros_like(c);
    const auto dc_next = grads[1].defined() ? grads[1].contiguous() : torch::Tensor();
    auto dgates = torch::empty_like(saved[0]);
    auto dc = torch::empty_like(c);
    TANDEM_DISPATCH(lstm_backward,
                    LstmBackward{dh.data_ptr<float>(), dc_next.defined() ? dc_next.data_ptr<float>() : nullptr,
                                 saved[0].data_ptr<float>(), c.data_ptr<float>(), saved[2].data_ptr<float>(),
                                 dgates.data_ptr<float>(), dc.data_ptr<float>()},
                    rows, hidden);
    return {dgates, dgates, dc};  // gi and gh are summed: one gradient for both, as an addition's
  }
};

class GruStep : public torch::autograd::Function<GruStep> {
 public:
  static variable_list forward(AutogradContext* ctx, const torch::Tensor& gi, const torch::Tensor& gh,
                               const torch::Tensor& h) {
    const int64_t rows = h.size(0);
    const int64_t hidden = h.size(1);
    auto act = torch::empty_like(gi);
    auto h_next = torch::empty_like(h);
    TANDEM_DISPATCH(gru_forward,
                    GruForward{gi.data_ptr<float>(), gh.data_ptr<float>(), h.data_ptr<float>(), act.data_ptr<float>(),
                               h_next.data_ptr<float>()},
                    rows, hidden);
    ctx->save_for_backward({act, gh, h});
    return {h_next};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto& h = saved[2];
    const int64_t rows = h.size(0);
    const int64_t hidden = h.size(1);
    const auto dh_next = grads[0].contiguous();
    auto dgi = torch::empty_like(saved[0]);
    auto dgh = torch::empty_like(saved[0]);
    auto dh = torch::empty_like(h);
    TANDEM_DISPATCH(gru_backward,
                    GruBackward{dh_next.data_ptr<float>(), saved[0].data_ptr<float>(), saved[1].data_ptr<float>(),
                                h.data_ptr<float>(), dgi.data_ptr<float>(), dgh.data_ptr<float>(),
                                dh.data_ptr<float>()},
                    rows, hidden);
    return {dgi, dgh, dh};
  }
};

class RnnStep : public torch::autograd::Function<RnnStep> {
 public:
  static variable_list forward(AutogradContext* ctx, const torch::Tensor& gi, const torch::Tensor& gh) {
    auto h_next = torch::empty_like(gi);
    TANDEM_DISPATCH(rnn_forward,
                    RnnForward{gi.data_ptr<float>(), gh.data_ptr<float>(), h_next.data_ptr<float>()},
                    gi.size(0), gi.size(1));
    ctx->save_for_backward({h_next});  // an output: tanh's gradient needs only it
    return {h_next};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto h_next = ctx->get_saved_variables()[0];
    const auto dh_next = grads[0].contiguous();
    auto dgates = torch::empty_like(h_next);
    TANDEM_DISPATCH(
        rnn_backward,
        RnnBackward{dh_next.data_ptr<float>(), h_next.data_ptr<float>(), dgates.data_ptr<float>()},
        h_next.size(0), h_next.size(1));
    return {dgates, dgates};  // gi and gh are summed: one gradient for both
  }
};

// Whether the environment variable `name` is "0" (the A/B switches).
bool set_to_zero(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && std::strcmp(v, "0") == 0;
}

bool turned_off() {
  static const bool off = set_to_zero("TANDEM_FUSED_CELLS");
  return off;
}

class CrossEntropyRows : public torch::autograd::Function<CrossEntropyRows> {
 public:
  static variable_list forward(AutogradContext* ctx, const torch::Tensor& logits, const torch::Tensor& target,
                               int64_t pad, double smoothing) {
    const int64_t rows = logits.size(0);
    const auto options = logits.options();
    auto lse = torch::empty({rows}, options);
    auto loss = torch::empty({rows}, options);
    auto nll = torch::empty({rows}, options);
    TANDEM_DISPATCH(cross_entropy_forward,
                    CrossEntropyForward{logits.data_ptr<float>(), target.data_ptr<int64_t>(), pad,
                                        static_cast<float>(smoothing), lse.data_ptr<float>(), loss.data_ptr<float>(),
                                        nll.data_ptr<float>()},
                    rows, logits.size(1));
    ctx->save_for_backward({logits, target, lse});
    ctx->saved_data["pad"] = pad;
    ctx->saved_data["smoothing"] = smoothing;
    ctx->mark_non_differentiable({nll});
    return {loss, nll};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto& logits = saved[0];
    const auto grad = grads[0].defined() ? grads[0].to(torch::kFloat32).contiguous()
                                         : torch::zeros({logits.size(0)}, logits.options());
    auto dlogits = torch::empty_like(logits);
    TANDEM_DISPATCH(cross_entropy_backward,
                    CrossEntropyBackward{logits.data_ptr<float>(), saved[1].data_ptr<int64_t>(),
                                         ctx->saved_data["pad"].toInt(),
                                         static_cast<float>(ctx->saved_data["smoothing"].toDouble()),
                                         saved[2].data_ptr<float>(), grad.data_ptr<float>(),
                                         dlogits.data_ptr<float>()},
                    logits.size(0), logits.size(1));
    return {dlogits, torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

class AdditiveAttentionScores : public torch::autograd::Function<AdditiveAttentionScores> {
 public:
  static variable_list forward(AutogradContext* ctx, const torch::Tensor& keys, const torch::Tensor& query,
                               const torch::Tensor& v, const torch::Tensor& mask) {
    const int64_t B = keys.size(0), S = keys.size(1), Q = keys.size(2), G = query.size(1);
    auto weights = torch::empty({B, G, S}, keys.options());
    TANDEM_DISPATCH(additive_attention_forward,
                    AdditiveAttentionForward{keys.data_ptr<float>(), query.data_ptr<float>(), v.data_ptr<float>(),
                                             mask.data_ptr<bool>(), weights.data_ptr<float>()},
                    B, G, S, Q);
    ctx->save_for_backward({keys, query, v, weights});
    return {weights};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto& keys = saved[0];
    const auto& query = saved[1];
    const int64_t B = keys.size(0), S = keys.size(1), Q = keys.size(2), G = query.size(1);
    const auto dweights = grads[0].to(torch::kFloat32).contiguous();
    auto dkeys = torch::empty_like(keys);
    auto dquery = torch::empty_like(query);
    auto dv = torch::empty({B, Q}, keys.options());
    TANDEM_DISPATCH(additive_attention_backward,
                    AdditiveAttentionBackward{keys.data_ptr<float>(), query.data_ptr<float>(), saved[2].data_ptr<float>(),
                                              saved[3].data_ptr<float>(), dweights.data_ptr<float>(),
                                              dkeys.data_ptr<float>(), dquery.data_ptr<float>(), dv.data_ptr<float>()},
                    B, G, S, Q);
    return {dkeys, dquery, dv.sum(0), torch::Tensor()};
  }
};

class MaskedSoftmax : public torch::autograd::Function<MaskedSoftmax> {
 public:
  static variable_list forward(AutogradContext* ctx, const torch::Tensor& scores, const torch::Tensor& mask) {
    const int64_t B = scores.size(0), G = scores.size(1), S = scores.size(2);
    auto weights = torch::empty_like(scores);
    TANDEM_DISPATCH(masked_softmax_forward,
                    MaskedSoftmaxForward{scores.data_ptr<float>(), mask.data_ptr<bool>(), weights.data_ptr<float>()}, B,
                    G, S);
    ctx->save_for_backward({weights});
    return {weights};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto weights = ctx->get_saved_variables()[0];
    const auto dweights = grads[0].to(torch::kFloat32).contiguous();
    auto dscores = torch::empty_like(weights);
    TANDEM_DISPATCH(masked_softmax_backward,
                    MaskedSoftmaxBackward{weights.data_ptr<float>(), dweights.data_ptr<float>(),
                                          dscores.data_ptr<float>()},
                    weights.size(0) * weights.size(1), weights.size(2));
    return {dscores, torch::Tensor()};
  }
};

#undef TANDEM_DISPATCH

}  // namespace

bool applies(const torch::Tensor& gi, const torch::Tensor& gh, const torch::Tensor& state) {
  return !turned_off() && state.defined() && state.dim() == 2 && gi.dim() == 2 && gh.dim() == 2 &&
         state.device().is_cpu() && gi.device().is_cpu() && gh.device().is_cpu() &&
         state.scalar_type() == torch::kFloat32 &&
         (gi.scalar_type() == torch::kFloat32 || gi.scalar_type() == torch::kBFloat16) &&
         (gh.scalar_type() == torch::kFloat32 || gh.scalar_type() == torch::kBFloat16) &&
         gi.size(0) == state.size(0) && gh.size(0) == state.size(0);
}

std::pair<torch::Tensor, torch::Tensor> lstm(const torch::Tensor& gi, const torch::Tensor& gh, const torch::Tensor& c) {
  const auto out = LstmStep::apply(float32(gi), float32(gh), float32(c));
  return {out[0], out[1]};
}

torch::Tensor gru(const torch::Tensor& gi, const torch::Tensor& gh, const torch::Tensor& h) {
  return GruStep::apply(float32(gi), float32(gh), float32(h))[0];
}

torch::Tensor rnn(const torch::Tensor& gi, const torch::Tensor& gh) {
  TORCH_CHECK(gi.sizes() == gh.sizes(), "fused RNN step: input products ", gi.sizes(),
              " and recurrent products ", gh.sizes(), " differ");
  return RnnStep::apply(float32(gi), float32(gh))[0];
}

bool cross_entropy_applies(const torch::Tensor& logits) {
  return !turned_off() && logits.device().is_cpu() && logits.dim() >= 1 && logits.size(-1) > 0 &&
         (logits.scalar_type() == torch::kFloat32 || logits.scalar_type() == torch::kBFloat16);
}

std::pair<torch::Tensor, torch::Tensor> cross_entropy(const torch::Tensor& logits, const torch::Tensor& target,
                                                      int64_t pad, double smoothing) {
  if (target.numel() > 0) {  // the kernels index the logits by target: never outside them
    const auto [low, high] = torch::aminmax(target);
    TORCH_CHECK(low.item<int64_t>() >= 0 && high.item<int64_t>() < logits.size(-1), "cross entropy: a target id (",
                low.item<int64_t>(), " to ", high.item<int64_t>(), ") outside the ", logits.size(-1), " classes");
  }
  const auto out = CrossEntropyRows::apply(float32(logits.reshape({-1, logits.size(-1)})),
                                           target.reshape({-1}).to(torch::kInt64).contiguous(), pad, smoothing);
  return {out[0].view(target.sizes()), out[1].view(target.sizes())};
}

bool attention_applies(const torch::Tensor& t) {
  static const bool attention_off = set_to_zero("TANDEM_FUSED_ATTENTION");
  return !turned_off() && !attention_off && t.defined() && t.device().is_cpu() &&
         (t.scalar_type() == torch::kFloat32 || t.scalar_type() == torch::kBFloat16);
}

namespace {

torch::Tensor checked_mask(const torch::Tensor& mask, int64_t sentences, int64_t positions) {
  TORCH_CHECK(mask.dim() == 2 && mask.size(0) == sentences && mask.size(1) == positions, "attention: a mask of ",
              mask.sizes(), " for ", sentences, " sentences of ", positions, " positions");
  return mask.to(torch::kBool).contiguous();
}

}  // namespace

torch::Tensor additive_attention(const torch::Tensor& keys, const torch::Tensor& query, const torch::Tensor& v,
                                 const torch::Tensor& mask) {
  TORCH_CHECK(keys.dim() == 3 && query.dim() == 3 && query.size(0) == keys.size(0) && query.size(2) == keys.size(2) &&
                  v.numel() == keys.size(2),
              "additive attention: keys ", keys.sizes(), ", queries ", query.sizes(), " and a score vector of ",
              v.numel(), " do not fit");
  return AdditiveAttentionScores::apply(float32(keys), float32(query), float32(v.reshape({-1})),
                                        checked_mask(mask, keys.size(0), keys.size(1)))[0];
}

torch::Tensor masked_softmax(const torch::Tensor& scores, const torch::Tensor& mask) {
  TORCH_CHECK(scores.dim() == 3, "masked softmax: scores of ", scores.sizes(), ", not [B, G, S]");
  return MaskedSoftmax::apply(float32(scores), checked_mask(mask, scores.size(0), scores.size(2)))[0];
}

const char* capability() {
  switch (chosen()) {
    case Capability::kAvx512:
      return "AVX512";
    case Capability::kAvx2:
      return "AVX2";
    case Capability::kDefault:
      break;
  }
  return "DEFAULT";
}

}  // namespace tandem::model::fused
