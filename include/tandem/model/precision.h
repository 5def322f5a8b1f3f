// Numeric precision of the matrix products (--precision, Marian's option name).
//
// int8 (translation and scoring on the CPU): see int8.h.
//
// bfloat16: inside a PrecisionScope, LibTorch's autocast runs matrix products
// (linear, matmul, bmm, the recurrent cells' products) in bfloat16 on
// float32 weights, each weight cast once per scope; everything else, and the
// weights, gradients and optimizer state, stay float32. Losses and softmaxes
// are taken in float32 by their callers (logits.to(kFloat32)).
//
// Usage:
//   {
//     model::PrecisionScope scope(model::Precision::kBFloat16, device);
//     auto logits = model->forward(batch);   // bfloat16 products
//   }                                        // autocast off again, its cast cache cleared
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>

namespace tandem::model {

class Int8Scope;

enum class Precision { kFloat32, kBFloat16, kInt8 };

/// "float32", "bfloat16" or "int8"; throws tandem::Error naming the choices otherwise.
Precision parse_precision(const std::string& name);
std::string precision_name(Precision precision);

/// Autocast to bfloat16 on `device` for the scope's lifetime (nothing for float32;
/// for int8, an Int8Scope: int8 products through model::linear, CPU only, no
/// gradients: translation and scoring). Scopes nest; the state is per thread.
class PrecisionScope {
 public:
  PrecisionScope(Precision precision, torch::Device device);
  ~PrecisionScope();
  PrecisionScope(const PrecisionScope&) = delete;
  PrecisionScope& operator=(const PrecisionScope&) = delete;

 private:
  bool active_ = false;
  bool cuda_ = false;
  bool was_enabled_ = false;
  at::ScalarType previous_dtype_ = at::kBFloat16;
  std::unique_ptr<Int8Scope> int8_;  // with Precision::kInt8
};

}  // namespace tandem::model
