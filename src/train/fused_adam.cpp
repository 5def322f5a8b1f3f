#include "fused_adam.h"

#include <ATen/Parallel.h>
#include <c10/util/string_utils.h>
#include <torch/torch.h>

#include <cmath>

namespace tandem::train {
namespace {

struct AdamScalars {
  float b1, one_minus_b1, b2, one_minus_b2, root_bc2, eps, step_size;
};

// The element-wise update, compiled for AVX-512, AVX2 and the baseline, picked
// at load time by the CPU (GCC's target_clones); -fno-math-errno (CMakeLists.txt)
// lets the square root vectorize.
#if defined(__x86_64__) && defined(__GNUC__)
#define TANDEM_CPU_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define TANDEM_CPU_CLONES
#endif
TANDEM_CPU_CLONES void adam_update(float* __restrict param,
                                                                                const float* __restrict grad,
                                                                                float* __restrict m,
                                                                                float* __restrict v, int64_t n,
                                                                                AdamScalars s) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = grad[i];
    const float mi = m[i] * s.b1 + s.one_minus_b1 * g;
    const float vi = v[i] * s.b2 + s.one_minus_b2 * (g * g);
    m[i] = mi;
    v[i] = vi;
    param[i] += s.step_size * (mi / (std::sqrt(vi) / s.root_bc2 + s.eps));
  }
}

}  // namespace

bool FusedAdam::fuses() const {
  for (const auto& group : param_groups()) {
    const auto& options = static_cast<const torch::optim::AdamOptions&>(group.options());
    if (options.amsgrad() || options.weight_decay() != 0) return false;
    for (const auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      if (!p.device().is_cpu() || p.scalar_type() != torch::kFloat32 || !p.is_contiguous() ||
          p.grad().is_sparse() || !p.grad().is_contiguous() || p.grad().scalar_type() != torch::kFloat32) {
        return false;
      }
    }
  }
  return true;
}

torch::Tensor FusedAdam::step(LossClosure closure) {
  if (!fuses()) return torch::optim::Adam::step(closure);
  torch::NoGradGuard no_grad;
  torch::Tensor loss;
  if (closure != nullptr) {
    at::AutoGradMode enable_grad(true);
    loss = closure();
  }
  for (auto& group : param_groups()) {
    const auto& options = static_cast<const torch::optim::AdamOptions&>(group.options());
    const double beta1 = std::get<0>(options.betas());
    const double beta2 = std::get<1>(options.betas());
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      const std::string key = c10::guts::to_string(p.unsafeGetTensorImpl());
      auto found = state().find(key);
      if (found == state().end()) {
        auto fresh = std::make_unique<torch::optim::AdamParamState>();
        fresh->step(0);
        fresh->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        fresh->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        found = state().emplace(key, std::move(fresh)).first;
      }
      auto& s = static_cast<torch::optim::AdamParamState&>(*found->second);
      s.step(s.step() + 1);
      const double bias_correction1 = 1 - std::pow(beta1, static_cast<double>(s.step()));
      const double bias_correction2 = 1 - std::pow(beta2, static_cast<double>(s.step()));
      // Adam's operations, as LibTorch runs them on float32 tensors (scalars in float):
      // m = m*b1 + (1-b1)*g; v = v*b2 + (1-b2)*g*g; d = sqrt(v)/sqrt(bc2) + eps; p += -lr/bc1 * m/d.
      const float b1 = static_cast<float>(beta1);
      const float one_minus_b1 = static_cast<float>(1 - beta1);
      const float b2 = static_cast<float>(beta2);
      const float one_minus_b2 = static_cast<float>(1 - beta2);
      const float root_bc2 = static_cast<float>(std::sqrt(bias_correction2));
      const float eps = static_cast<float>(options.eps());
      const float step_size = static_cast<float>(-options.lr() / bias_correction1);
      float* param = p.data_ptr<float>();
      const float* grad = p.grad().data_ptr<float>();
      float* m = s.exp_avg().data_ptr<float>();
      float* v = s.exp_avg_sq().data_ptr<float>();
      at::parallel_for(0, p.numel(), 32768, [&](int64_t begin, int64_t end) {
        adam_update(param + begin, grad + begin, m + begin, v + begin, end - begin,
                    {b1, one_minus_b1, b2, one_minus_b2, root_bc2, eps, step_size});
      });
    }
  }
  return loss;
}

}  // namespace tandem::train
