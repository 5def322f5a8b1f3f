#include "tandem/model/precision.h"

#include <ATen/autocast_mode.h>

#include "tandem/error.h"
#include "tandem/model/int8.h"

namespace tandem::model {

Precision parse_precision(const std::string& name) {
  if (name == "float32") return Precision::kFloat32;
  if (name == "bfloat16") return Precision::kBFloat16;
  if (name == "int8") return Precision::kInt8;
  throw Error("unknown --precision '" + name + "'; use float32, bfloat16 or int8");
}

std::string precision_name(Precision precision) {
  switch (precision) {
    case Precision::kBFloat16:
      return "bfloat16";
    case Precision::kInt8:
      return "int8";
    case Precision::kFloat32:
      break;
  }
  return "float32";
}

Precision usable_precision(Precision requested, torch::Device device, const util::CpuVectorFeatures& cpu,
                           std::string* why) {
  if (requested != Precision::kBFloat16 || !device.is_cpu() || cpu.avx512) return requested;
  if (why != nullptr) {
    *why = "--precision bfloat16 runs in float32 on this CPU: it has no AVX-512, without which LibTorch multiplies "
           "bfloat16 about 16 times slower than float32 (oneDNN's bfloat16 products need AVX-512 BW, VL and DQ)";
  }
  return Precision::kFloat32;
}

Precision usable_precision(Precision requested, torch::Device device, const std::string& program,
                           std::ostream* notice) {
  std::string why;
  const auto precision = usable_precision(requested, device, util::cpu_vector_features(), &why);
  if (notice != nullptr && !why.empty()) *notice << program << ": " << why << "\n";
  return precision;
}

PrecisionScope::PrecisionScope(Precision precision, torch::Device device) {
  if (precision == Precision::kInt8) {
    if (!device.is_cpu()) throw Error("--precision int8 runs on the CPU; on " + device.str() + " use bfloat16");
    int8_ = std::make_unique<Int8Scope>();
    return;
  }
  if (precision != Precision::kBFloat16) return;
  active_ = true;
  cuda_ = device.is_cuda();
  if (cuda_) {
    was_enabled_ = at::autocast::is_enabled();
    previous_dtype_ = at::autocast::get_autocast_gpu_dtype();
    at::autocast::set_enabled(true);
    at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
  } else {
    was_enabled_ = at::autocast::is_cpu_enabled();
    previous_dtype_ = at::autocast::get_autocast_cpu_dtype();
    at::autocast::set_cpu_enabled(true);
    at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
  }
  at::autocast::increment_nesting();
}

PrecisionScope::~PrecisionScope() {
  if (!active_) return;
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  if (cuda_) {
    at::autocast::set_enabled(was_enabled_);
    at::autocast::set_autocast_gpu_dtype(previous_dtype_);
  } else {
    at::autocast::set_cpu_enabled(was_enabled_);
    at::autocast::set_autocast_cpu_dtype(previous_dtype_);
  }
}

}  // namespace tandem::model
