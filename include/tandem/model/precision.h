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
#include <ostream>
#include <string>

#include "tandem/util/cpu_kernels.h"

namespace tandem::model {

class Int8Scope;

enum class Precision { kFloat32, kBFloat16, kInt8 };

/// "float32", "bfloat16" or "int8"; throws tandem::Error naming the choices otherwise.
Precision parse_precision(const std::string& name);
std::string precision_name(Precision precision);

/// The precision a program runs when `requested` is asked for on `device`: the
/// same, except bfloat16 on a CPU without AVX-512 (F, BW, VL, DQ), which runs in
/// float32. There oneDNN has no bfloat16 products and LibTorch multiplies bfloat16
/// with a generic loop about 16 times slower than float32 (4.6 against 76.4
/// GFLOP/s, 512^3 on one thread of a Zen 3), so bfloat16 would make training and
/// translation several times slower, not faster (as CTranslate2 falls back to a
/// compute type the device supports). `why`, when not null, gets a line saying
/// so, or stays empty.
Precision usable_precision(Precision requested, torch::Device device, const util::CpuVectorFeatures& cpu,
                           std::string* why);

/// The same for this machine's CPU; the line, when there is one, goes to `notice`
/// (when not null) as "PROGRAM: ...".
Precision usable_precision(Precision requested, torch::Device device, const std::string& program,
                           std::ostream* notice);

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
