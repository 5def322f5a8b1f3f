// int8 matrix products for translation (--precision int8).
//
// Inside an Int8Scope on the CPU (PrecisionScope opens one for Precision::kInt8),
// model::linear multiplies with weights quantized to int8, one scale per output row
// (symmetric), and the activations quantized per call (dynamic quantization), through
// the quantized engine of LibTorch's oneDNN (quantized::linear_dynamic); the result
// is float32. The weights are quantized and packed once and kept while the tensor
// lives and is unchanged (a cache keyed by the tensor, checked by its version).
// Outside a scope, with gradients on, or for a weight the engine cannot take,
// model::linear is torch::nn::functional::linear.
//
// Usage:
//   torch::NoGradGuard no_grad;
//   model::Int8Scope int8;                              // throws without oneDNN's engine
//   auto y = model::linear(x, layer->weight, layer->bias);   // int8 products
#pragma once

#include <torch/torch.h>

namespace tandem::model {

/// int8 products for this thread's model::linear calls for the scope's lifetime.
/// Throws tandem::Error when LibTorch has no oneDNN quantized engine, which the
/// first scope makes LibTorch's quantized engine for the process. Scopes nest.
class Int8Scope {
 public:
  Int8Scope();
  ~Int8Scope();
  Int8Scope(const Int8Scope&) = delete;
  Int8Scope& operator=(const Int8Scope&) = delete;
};

/// Whether this thread is inside an Int8Scope.
bool int8_products();

/// x W^T + b (b may be undefined), as torch::nn::functional::linear; in int8 inside
/// an Int8Scope when gradients are off and x and W are float32 CPU tensors.
torch::Tensor linear(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias = {});
/// The same for a Linear layer.
torch::Tensor linear(const torch::Tensor& x, const torch::nn::Linear& layer);

}  // namespace tandem::model
