#include "tandem/model/int8.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/stack.h>
#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "tandem/error.h"
#include "tandem/util/cpu_kernels.h"

namespace tandem::model {
namespace {

thread_local int int8_depth = 0;

// A weight quantized and packed for quantized::linear_dynamic, valid while the
// weight's tensor lives at the same version.
struct Packed {
  c10::weak_intrusive_ptr<c10::TensorImpl> weight;
  std::optional<c10::weak_intrusive_ptr<c10::TensorImpl>> bias;
  int64_t version = 0;
  int64_t bias_version = 0;
  c10::IValue params;
};

class PackedWeights {
 public:
  // The packed parameters of (weight, bias), packed on first use.
  c10::IValue get(const torch::Tensor& weight, const torch::Tensor& bias) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = cache_.find(weight.unsafeGetTensorImpl());
    if (it != cache_.end() && current(it->second, weight, bias)) return it->second.params;
    Packed p{c10::weak_intrusive_ptr<c10::TensorImpl>(weight.getIntrusivePtr()), std::nullopt, weight._version(),
             bias.defined() ? bias._version() : 0, pack(weight, bias)};
    if (bias.defined()) p.bias.emplace(bias.getIntrusivePtr());
    if (cache_.size() > 4096) forget_dead();
    const auto params = p.params;
    cache_.insert_or_assign(weight.unsafeGetTensorImpl(), std::move(p));
    return params;
  }

 private:
  static bool current(const Packed& p, const torch::Tensor& weight, const torch::Tensor& bias) {
    const auto w = p.weight.lock();
    if (!w || w.get() != weight.unsafeGetTensorImpl() || p.version != weight._version()) return false;
    if (!bias.defined()) return !p.bias.has_value();
    if (!p.bias.has_value()) return false;
    const auto b = p.bias->lock();
    return b && b.get() == bias.unsafeGetTensorImpl() && p.bias_version == bias._version();
  }

  // Symmetric int8, one scale per output row (its largest magnitude maps to 127).
  static c10::IValue pack(const torch::Tensor& weight, const torch::Tensor& bias) {
    const auto w = weight.detach().to(torch::kFloat32).contiguous();
    const auto scales = (w.abs().amax(/*dim=*/1) / 127.0).clamp_min(1e-12).to(torch::kDouble);
    const auto zero_points = torch::zeros({w.size(0)}, torch::kLong);
    const auto q = torch::quantize_per_channel(w, scales, zero_points, /*axis=*/0, torch::kQInt8);
    static const auto op = c10::Dispatcher::singleton().findSchemaOrThrow("quantized::linear_prepack", "");
    torch::jit::Stack stack{q, bias.defined() ? c10::IValue(bias.detach().to(torch::kFloat32).contiguous())
                                              : c10::IValue()};
    op.callBoxed(&stack);
    return stack.at(0);
  }

  void forget_dead() {
    for (auto it = cache_.begin(); it != cache_.end();) {
      it = it->second.weight.expired() ? cache_.erase(it) : std::next(it);
    }
  }

  std::mutex mutex_;
  std::unordered_map<const c10::TensorImpl*, Packed> cache_;
};

PackedWeights& packed_weights() {
  static PackedWeights* cache = new PackedWeights();  // never destroyed: used until exit
  return *cache;
}

// oneDNN prepares a primitive for every count of rows it is given (a search's row
// count changes as hypotheses finish, an encoder's with the batch's length). Rows
// are padded to the next power of two up to 64, then to a multiple of 64, so that
// a few shapes serve the search's steps (7.7 against 8.4 s for Multi30k's test set
// at beam 5, and 534 against 706 MB peak).
int64_t bucket(int64_t rows) {
  if (rows >= 64) return (rows + 63) / 64 * 64;
  int64_t b = 1;
  while (b < rows) b *= 2;
  return b;
}

// oneDNN keeps up to 1024 compiled primitives, one for each shape of product it
// was given, and its int8 ones are large: translating 5,000 Multi30k lines at beam
// 5 peaked at 826 MB (float32: 490), 15,000 lines at 1,277 MB, growing with the
// input's variety of shapes. With at most kPrimitiveCache kept: 493 MB, and no
// slower (31.3 against 32.6 s). A user's ONEDNN_PRIMITIVE_CACHE_CAPACITY (or its
// older name DNNL_...) wins.
constexpr int kPrimitiveCache = 16;

void limit_primitive_cache() {
  if (std::getenv("ONEDNN_PRIMITIVE_CACHE_CAPACITY") != nullptr) return;
  if (std::getenv("DNNL_PRIMITIVE_CACHE_CAPACITY") != nullptr) return;
  using SetCapacity = int (*)(int);
  const auto set = reinterpret_cast<SetCapacity>(dlsym(RTLD_DEFAULT, "dnnl_set_primitive_cache_capacity"));
  if (set != nullptr) set(kPrimitiveCache);
}

bool int8_applies(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias) {
  return int8_depth > 0 && !torch::GradMode::is_enabled() && x.device().is_cpu() && weight.device().is_cpu() &&
         x.scalar_type() == torch::kFloat32 && weight.scalar_type() == torch::kFloat32 && weight.dim() == 2 &&
         (!bias.defined() || bias.scalar_type() == torch::kFloat32) && x.size(-1) == weight.size(1) && x.numel() > 0;
}

}  // namespace

Int8Scope::Int8Scope() {
  static std::once_flag once;
  std::call_once(once, [] {
    const auto& engines = at::globalContext().supportedQEngines();
    if (std::find(engines.begin(), engines.end(), at::QEngine::ONEDNN) == engines.end()) return;
    at::globalContext().setQEngine(at::QEngine::ONEDNN);  // LibTorch's global choice: set once, not per thread
    limit_primitive_cache();
  });
  if (at::globalContext().qEngine() != at::QEngine::ONEDNN) {
    throw Error("--precision int8 needs LibTorch's oneDNN quantized engine, which this LibTorch lacks; "
                "use --precision float32 or bfloat16");
  }
  ++int8_depth;
}

Int8Scope::~Int8Scope() { --int8_depth; }

bool int8_products() { return int8_depth > 0; }

torch::Tensor linear(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias) {
  if (!int8_applies(x, weight, bias)) return torch::nn::functional::linear(x, weight, bias);
  const auto params = packed_weights().get(weight, bias);
  static const auto op = c10::Dispatcher::singleton().findSchemaOrThrow("quantized::linear_dynamic", "");
  auto sizes = x.sizes().vec();
  auto rows = x.reshape({-1, x.size(-1)});
  const int64_t n = rows.size(0);
  if (bucket(n) > n) rows = torch::constant_pad_nd(rows, {0, 0, 0, bucket(n) - n});
  // Without VNNI (AVX2, AVX-512 before Cascade Lake, Zen 3) oneDNN multiplies the
  // unsigned 8-bit activations by the signed 8-bit weights with vpmaddubsw, which
  // adds each pair of products in 16 bits and saturates (255 * 127 * 2 passes
  // 32,767): products came out 10-60% wrong on a Zen 3. There the activations get 7
  // bits (reduce_range, as PyTorch quantizes for fbgemm on such CPUs): a pair stays
  // within 16 bits. With VNNI the pairs are summed in 32 bits.
  static const bool reduce_range = !util::cpu_vector_features().vnni;
  torch::jit::Stack stack{rows.contiguous(), params, reduce_range};
  op.callBoxed(&stack);
  sizes.back() = weight.size(0);
  return stack.at(0).toTensor().narrow(0, 0, n).reshape(sizes);
}

torch::Tensor linear(const torch::Tensor& x, const torch::nn::Linear& layer) {
  return linear(x, layer->weight, layer->bias);
}

}  // namespace tandem::model
