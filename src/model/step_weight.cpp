#include "tandem/model/step_weight.h"

#include <ATen/autocast_mode.h>
#include <torch/torch.h>

#include <stdexcept>

namespace tandem::model {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Two kinds of step product: kLinear, y = x W^T with x [B, in] and the buffers
// [T, B, in] and [T, B, out]; kBatched, y = bmm(x, A) with x [B, G, P] and the
// buffers [B, T, G, P] and [B, T, G, Q].
enum Kind : int64_t { kLinear = 0, kBatched = 1 };

// The buffers hold one backward pass: a second pass through the same graph
// (retain_graph) could mix its output gradients with the first's, so it is an
// error. `used` is a one-element tensor shared by the gather node and the steps:
// 1 once the gather node has made the weight's gradient.
void check_first_pass(const torch::Tensor& used) {
  if (used.item<int64_t>() != 0) {
    throw std::logic_error(
        "a StepWeight/StepMemory gradient can be computed once: a second backward pass through the same graph "
        "(retain_graph) is not supported; run the forward pass again");
  }
}

// The weight as the steps see it: a copy forward; backward (run after every
// step's node) returns the sum over steps of the weight's gradients as one product.
struct GatherSteps : public torch::autograd::Function<GatherSteps> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& weight, const torch::Tensor& inputs,
                               const torch::Tensor& output_grads, const torch::Tensor& used, int64_t kind) {
    // In saved_data, not save_for_backward: the steps write the buffers after this.
    ctx->saved_data["inputs"] = inputs;
    ctx->saved_data["output_grads"] = output_grads;
    ctx->saved_data["used"] = used;
    ctx->saved_data["kind"] = kind;
    // The steps give the copy no gradient (undefined, not zeros): a defined one
    // means something else used it, whose gradient the product would not hold.
    ctx->set_materialize_grads(false);
    return weight.clone();  // a copy, not a view: the steps save it, and views of custom outputs are fragile
  }
  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto used = ctx->saved_data["used"].toTensor();
    check_first_pass(used);
    if (!grad_outputs.empty() && grad_outputs[0].defined()) {
      throw std::logic_error(
          "a gradient reached a StepWeight/StepMemory's gather node: its weight was used outside linear()/times(), "
          "and that gradient would be lost");
    }
    used.fill_(1);
    const auto x = ctx->saved_data["inputs"].toTensor();
    const auto dy = ctx->saved_data["output_grads"].toTensor();
    torch::Tensor grad;
    if (ctx->saved_data["kind"].toInt() == kLinear) {
      grad = dy.reshape({-1, dy.size(-1)}).t().mm(x.reshape({-1, x.size(-1)}));  // sum_t dY_t^T X_t
    } else {
      const int64_t batch = x.size(0);
      grad = torch::bmm(x.reshape({batch, -1, x.size(-1)}).transpose(1, 2), dy.reshape({batch, -1, dy.size(-1)}));
    }
    return {grad, torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

// One step's product: keeps x in the inputs buffer; backward keeps dY in the
// output-gradient buffer and gives x its gradient, the weight none (GatherSteps gives it).
struct StepProduct : public torch::autograd::Function<StepProduct> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& alias,
                               const torch::Tensor& inputs, const torch::Tensor& output_grads, const torch::Tensor& used,
                               int64_t t, int64_t kind) {
    const int64_t step_dim = kind == kLinear ? 0 : 1;
    inputs.select(step_dim, t).copy_(x);
    ctx->saved_data["output_grads"] = output_grads;
    ctx->saved_data["used"] = used;
    ctx->saved_data["t"] = t;
    ctx->saved_data["kind"] = kind;
    ctx->save_for_backward({alias});
    return kind == kLinear ? x.mm(alias.t()) : torch::bmm(x, alias);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    check_first_pass(ctx->saved_data["used"].toTensor());
    const auto& dy = grad_outputs[0];
    const auto alias = ctx->get_saved_variables()[0];
    const bool linear = ctx->saved_data["kind"].toInt() == kLinear;
    ctx->saved_data["output_grads"].toTensor().select(linear ? 0 : 1, ctx->saved_data["t"].toInt()).copy_(dy);
    const auto dx = linear ? dy.mm(alias) : torch::bmm(dy, alias.transpose(1, 2));
    return {dx, torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
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
  used_ = torch::zeros({1}, torch::kInt64);
  alias_ = GatherSteps::apply(weight, inputs_, output_grads_, used_, static_cast<int64_t>(kLinear));
}

torch::Tensor StepWeight::linear(const torch::Tensor& x, int64_t t) const {
  if (!deferred()) return x.mm(weight_.t());
  return StepProduct::apply(x, alias_, inputs_, output_grads_, used_, t, static_cast<int64_t>(kLinear));
}

StepMemory::StepMemory(const torch::Tensor& memory, int64_t steps, int64_t group) : memory_(memory) {
  if (!StepWeight::defers(memory, steps)) return;
  const int64_t batch = memory.size(0);
  inputs_ = torch::zeros({batch, steps, group, memory.size(1)}, memory.options());
  output_grads_ = torch::zeros({batch, steps, group, memory.size(2)}, memory.options());
  used_ = torch::zeros({1}, torch::kInt64);
  alias_ = GatherSteps::apply(memory, inputs_, output_grads_, used_, static_cast<int64_t>(kBatched));
}

torch::Tensor StepMemory::times(const torch::Tensor& x, int64_t t) const {
  if (!deferred()) return torch::bmm(x, memory_);
  return StepProduct::apply(x, alias_, inputs_, output_grads_, used_, t, static_cast<int64_t>(kBatched));
}

}  // namespace tandem::model
