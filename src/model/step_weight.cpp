#include "tandem/model/step_weight.h"

#include <ATen/autocast_mode.h>
#include <torch/torch.h>

namespace tandem::model {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// The weight as the steps see it: the identity forward; backward (run after
// every step's node) returns the sum over steps of dY_t^T X_t as one product.
struct GatherSteps : public torch::autograd::Function<GatherSteps> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& weight, const torch::Tensor& inputs,
                               const torch::Tensor& output_grads) {
    // In saved_data, not save_for_backward: the steps write the buffers after this.
    ctx->saved_data["inputs"] = inputs;
    ctx->saved_data["output_grads"] = output_grads;
    return weight.clone();  // a copy, not a view: the steps save it, and views of custom outputs are fragile
  }
  static variable_list backward(AutogradContext* ctx, variable_list) {
    const auto inputs = ctx->saved_data["inputs"].toTensor();
    const auto output_grads = ctx->saved_data["output_grads"].toTensor();
    const auto grad = output_grads.reshape({-1, output_grads.size(2)}).t().mm(inputs.reshape({-1, inputs.size(2)}));
    return {grad, torch::Tensor(), torch::Tensor()};
  }
};

// One step's x W^T: keeps x in inputs[t]; backward keeps dY in output_grads[t]
// and gives x its gradient, the weight none (GatherSteps gives it).
struct StepProduct : public torch::autograd::Function<StepProduct> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& alias,
                               const torch::Tensor& inputs, const torch::Tensor& output_grads, int64_t t) {
    inputs.select(0, t).copy_(x);
    ctx->saved_data["output_grads"] = output_grads;
    ctx->saved_data["t"] = t;
    ctx->save_for_backward({alias});
    return x.mm(alias.t());
  }
  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto& dy = grad_outputs[0];
    const auto alias = ctx->get_saved_variables()[0];
    ctx->saved_data["output_grads"].toTensor().select(0, ctx->saved_data["t"].toInt()).copy_(dy);
    return {dy.mm(alias), torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

bool StepWeight::defers(const torch::Tensor& weight, int64_t steps) {
  return torch::GradMode::is_enabled() && weight.requires_grad() && weight.device().is_cpu() &&
         !at::autocast::is_cpu_enabled() && steps >= 2;
}

StepWeight::StepWeight(const torch::Tensor& weight, int64_t steps, int64_t batch) : weight_(weight) {
  if (!defers(weight, steps)) return;
  inputs_ = torch::zeros({steps, batch, weight.size(1)}, weight.options());
  output_grads_ = torch::zeros({steps, batch, weight.size(0)}, weight.options());
  alias_ = GatherSteps::apply(weight, inputs_, output_grads_);
}

torch::Tensor StepWeight::linear(const torch::Tensor& x, int64_t t) const {
  if (!deferred()) return x.mm(weight_.t());
  return StepProduct::apply(x, alias_, inputs_, output_grads_, t);
}

}  // namespace tandem::model
