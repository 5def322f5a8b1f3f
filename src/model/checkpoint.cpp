#include "tandem/model/checkpoint.h"

#include <ATen/CPUGeneratorImpl.h>
#include <fcntl.h>
#include <torch/torch.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "tandem/error.h"

namespace tandem::model {
namespace {

constexpr const char* kFormat = "tandem-checkpoint 2";  // 2: options and training state as JSON

// The CUDA generator of `device` (LibTorch's default one for that GPU).
at::Generator cuda_generator(torch::Device device) {
  return at::globalContext().defaultGenerator(c10::Device(c10::kCUDA, device.has_index() ? device.index() : 0));
}

torch::Tensor bytes_tensor(const std::string& s) {
  auto t = torch::empty({static_cast<int64_t>(s.size())}, torch::kUInt8);
  if (!s.empty()) std::memcpy(t.data_ptr<uint8_t>(), s.data(), s.size());
  return t;
}

std::string tensor_bytes(const torch::Tensor& t) {
  const auto c = t.to(torch::kCPU).contiguous();
  return std::string(reinterpret_cast<const char*>(c.data_ptr<uint8_t>()), static_cast<size_t>(c.numel()));
}

std::string read_string(torch::serialize::InputArchive& archive, const char* key, const std::string& path) {
  torch::Tensor t;
  try {
    archive.read(key, t);
  } catch (const c10::Error&) {
    throw Error(path + ": the checkpoint lacks '" + key + "'; it is damaged or not a Tandem checkpoint");
  }
  return tensor_bytes(t);
}

// fsync: the data (and, for a folder, the rename in it) is on the disk when it returns true.
bool sync_path(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return false;
  const bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

std::string TrainState::to_json() const {
  nlohmann::ordered_json best_json = nlohmann::ordered_json::object();
  for (const auto& [metric, value] : best) best_json[eval::metric_name(metric)] = value;
  nlohmann::ordered_json j = {{"updates", updates},
                                    {"epoch", position.epoch},
                                    {"batch", position.index},
                                    {"sentences", sentences},
                                    {"target-tokens", target_tokens},
                                    {"seconds", seconds},
                                    {"validations", validations},
                                    {"stalled", stalled},
                                    {"corpus-pairs", corpus_pairs},
                                    {"cpu-threads", cpu_threads},
                                    {"skipped-updates", skipped_updates},
                                    {"world-size", world_size},
                                    {"optimizer-delay", optimizer_delay},
                                    {"scheduler", scheduler},
                                    {"best", best_json}};
  if (!workers.empty()) {
    auto list = nlohmann::ordered_json::array();
    for (const auto& w : workers) list.push_back({{"epoch", w.epoch}, {"batch", w.index}});
    j["workers"] = list;
  }
  if (!pretrained_from.empty()) j["pretrained-from"] = pretrained_from;
  return j.dump();
}

TrainState TrainState::from_json(const std::string& json, const std::string& origin) {
  TrainState s;
  try {
    const auto j = nlohmann::json::parse(json);
    s.updates = j.at("updates").get<int64_t>();
    s.position.epoch = j.at("epoch").get<int64_t>();
    s.position.index = j.at("batch").get<int64_t>();
    s.sentences = j.at("sentences").get<int64_t>();
    s.target_tokens = j.at("target-tokens").get<int64_t>();
    s.seconds = j.at("seconds").get<double>();
    s.validations = j.at("validations").get<int64_t>();
    s.stalled = j.at("stalled").get<int64_t>();
    s.corpus_pairs = j.at("corpus-pairs").get<int64_t>();
    s.cpu_threads = j.at("cpu-threads").get<int64_t>();
    s.skipped_updates = j.at("skipped-updates").get<int64_t>();
    s.scheduler = j.at("scheduler").get<std::string>();
    s.world_size = j.value("world-size", int64_t{1});  // absent: written before data-parallel training
    s.optimizer_delay = j.value("optimizer-delay", int64_t{1});
    s.pretrained_from = j.value("pretrained-from", std::string());
    if (j.contains("workers")) {
      for (const auto& w : j.at("workers")) s.workers.push_back({w.at("epoch").get<int64_t>(), w.at("batch").get<int64_t>()});
    }
    for (const auto& [name, value] : j.at("best").items()) s.best[eval::parse_metric(name)] = value.get<double>();
  } catch (const nlohmann::json::exception& e) {
    throw Error(origin + ": the checkpoint's training state is damaged (" + e.what() + ")");
  } catch (const Error& e) {
    throw Error(origin + ": the checkpoint's training state is damaged (" + e.what() + ")");
  }
  return s;
}

std::string checkpoint_bytes(const std::string& path, Seq2Seq& model, torch::optim::Optimizer* optimizer,
                             const CheckpointMeta& meta, torch::Device device,
                             const std::vector<torch::Tensor>* smoothed) {
  torch::serialize::OutputArchive root;
  root.write("format", bytes_tensor(kFormat));
  root.write("options", bytes_tensor(meta.options.to_json()));
  root.write("source_vocab", bytes_tensor(meta.source_vocab));
  root.write("target_vocab", bytes_tensor(meta.target_vocab));
  root.write("train_state", bytes_tensor(meta.state.to_json()));
  root.write("rng_cpu", at::detail::getDefaultCPUGenerator().get_state());
  if (device.is_cuda()) root.write("rng_cuda", cuda_generator(device).get_state());
  torch::serialize::OutputArchive weights;
  model->save(weights);
  root.write("model", weights);
  if (optimizer != nullptr) {
    torch::serialize::OutputArchive optimizer_state;
    optimizer->save(optimizer_state);
    root.write("optimizer", optimizer_state);
  }
  if (smoothed != nullptr && !smoothed->empty()) {
    torch::serialize::OutputArchive smoothed_weights;
    for (size_t i = 0; i < smoothed->size(); ++i) smoothed_weights.write(std::to_string(i), (*smoothed)[i]);
    root.write("smoothed", smoothed_weights);
  }
  if (!meta.stream_state.empty()) {
    torch::serialize::OutputArchive carried;
    for (size_t i = 0; i < meta.stream_state.size(); ++i) carried.write(std::to_string(i), meta.stream_state[i].cpu());
    root.write("stream_state", carried);
  }
  // Weights that are not finite would poison every run resumed from them.
  for (const auto& item : model->named_parameters()) {
    if (!torch::isfinite(item.value()).all().template item<bool>()) {
      throw Error(path + ": not written: parameter '" + item.key() +
                  "' holds NaN or infinite values; the previous checkpoint is intact; lower --learn-rate "
                  "or --clip-norm and resume from it");
    }
  }
  std::ostringstream buffer;
  root.save_to(buffer);
  return buffer.str();
}

void save_checkpoint(const std::string& path, Seq2Seq& model, torch::optim::Optimizer* optimizer,
                     const CheckpointMeta& meta, torch::Device device, const std::vector<torch::Tensor>* smoothed) {
  // Serialized in memory first: LibTorch's file writer cannot report a failed
  // write (a full disk) as an error it recovers from. Then written, checked,
  // synced, and renamed over the previous checkpoint, which stays intact until then.
  const std::string bytes = checkpoint_bytes(path, model, optimizer, meta, device, smoothed);
  // A name of this process's own: two writers never share a staging file.
  static std::atomic<uint64_t> counter{0};
  const std::string staging = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
  const auto fail = [&](const std::string& what) {
    std::remove(staging.c_str());
    return Error(path + ": cannot write the checkpoint (" + what +
                 "); check free space and permissions; the previous checkpoint is intact");
  };
  const int fd = ::open(staging.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw fail(std::strerror(errno));
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = n < 0 ? std::strerror(errno) : "nothing written";
      ::close(fd);
      throw fail(why);
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    const std::string why = std::strerror(errno);
    ::close(fd);
    throw fail(why);
  }
  if (::close(fd) != 0) throw fail(std::strerror(errno));
  if (std::rename(staging.c_str(), path.c_str()) != 0) {
    std::remove(staging.c_str());
    throw Error(path + ": cannot move the new checkpoint into place; the previous checkpoint is intact");
  }
  const auto folder = std::filesystem::path(path).parent_path();
  sync_path(folder.empty() ? "." : folder.string());  // the rename itself survives a power cut
}

namespace {

// The checkpoint in `ckpt.archive`, read into the rest of `ckpt`.
void read_checkpoint(LoadedCheckpoint& ckpt, const std::string& path, torch::Device device) {
  const std::string format = read_string(ckpt.archive, "format", path);
  if (format == "tandem-checkpoint 1") {
    throw Error(path + ": a checkpoint of an earlier Tandem (format 1, options as text); this version reads format 2: "
                "train the model again with this version");
  }
  if (format != kFormat) {
    throw Error(path + ": unknown checkpoint format '" + format + "'; it was written by another version of Tandem");
  }
  ckpt.meta.options = ModelOptions::from_json(read_string(ckpt.archive, "options", path), path);
  ckpt.meta.options.validate();
  ckpt.meta.source_vocab = read_string(ckpt.archive, "source_vocab", path);
  ckpt.meta.target_vocab = read_string(ckpt.archive, "target_vocab", path);
  ckpt.meta.state = TrainState::from_json(read_string(ckpt.archive, "train_state", path), path);
  ckpt.model = Seq2Seq(ckpt.meta.options);
  // Module::load replaces tensors whatever their shape: compare with the shapes
  // the options imply.
  std::map<std::string, std::vector<int64_t>> expected;
  for (const auto& p : ckpt.model->named_parameters()) expected[p.key()] = p.value().sizes().vec();
  try {
    torch::serialize::InputArchive weights;
    ckpt.archive.read("model", weights);
    ckpt.model->load(weights);
  } catch (const c10::Error& e) {
    throw Error(path + ": the weights do not match the model options (" + std::string(e.what_without_backtrace()) +
                "); the checkpoint is damaged");
  }
  for (const auto& p : ckpt.model->named_parameters()) {
    if (p.value().sizes().vec() != expected[p.key()]) {
      throw Error(path + ": the weights do not match the model options (" + p.key() + " has shape " +
                  c10::str(p.value().sizes()) + ", the options need " + c10::str(c10::IntArrayRef(expected[p.key()])) +
                  "); the checkpoint is damaged");
    }
  }
  ckpt.model->to(device);
  torch::serialize::InputArchive smoothed;
  if (ckpt.archive.try_read("smoothed", smoothed)) {
    const auto parameters = ckpt.model->parameters();
    for (size_t i = 0; i < parameters.size(); ++i) {
      torch::Tensor t;
      if (!smoothed.try_read(std::to_string(i), t) || t.sizes() != parameters[i].sizes()) {
        throw Error(path + ": the smoothed weights do not match the model; the checkpoint is damaged");
      }
      ckpt.smoothed.push_back(t.to(device));
    }
  }
  torch::serialize::InputArchive carried;
  if (ckpt.archive.try_read("stream_state", carried)) {
    for (size_t i = 0;; ++i) {
      torch::Tensor t;  // a new tensor each time: try_read writes into the one it is given
      if (!carried.try_read(std::to_string(i), t)) break;
      ckpt.meta.stream_state.push_back(t.to(device));
    }
  }
}

}  // namespace

LoadedCheckpoint load_checkpoint(const std::string& path, torch::Device device) {
  LoadedCheckpoint ckpt;
  try {
    ckpt.archive.load_from(path, device);
  } catch (const c10::Error& e) {
    throw Error(path + ": cannot read it as a Tandem checkpoint (" + std::string(e.what_without_backtrace()) +
                "); the file is missing, truncated or of another kind");
  }
  read_checkpoint(ckpt, path, device);
  return ckpt;
}

LoadedCheckpoint load_checkpoint_bytes(const std::string& bytes, const std::string& origin, torch::Device device) {
  LoadedCheckpoint ckpt;
  try {
    std::istringstream in(bytes);
    ckpt.archive.load_from(in, device);
  } catch (const c10::Error& e) {
    throw Error(origin + ": cannot read it as a Tandem checkpoint (" + std::string(e.what_without_backtrace()) + ")");
  }
  read_checkpoint(ckpt, origin, device);
  return ckpt;
}

void restore_optimizer(LoadedCheckpoint& checkpoint, torch::optim::Optimizer& optimizer, const std::string& path) {
  try {
    torch::serialize::InputArchive state;
    checkpoint.archive.read("optimizer", state);
    optimizer.load(state);
  } catch (const c10::Error& e) {
    throw Error(path + ": cannot restore the optimizer (" + std::string(e.what_without_backtrace()) +
                "); was the checkpoint written with another --optim?");
  }
}

void restore_random_state(LoadedCheckpoint& checkpoint, const std::string& path, torch::Device device) {
  torch::Tensor state;
  try {
    checkpoint.archive.read("rng_cpu", state);
  } catch (const c10::Error&) {
    throw Error(path + ": the checkpoint lacks the random generator state");
  }
  {
    auto generator = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_state(state.to(torch::kCPU));
  }
  if (!device.is_cuda()) return;
  torch::Tensor cuda_state;
  try {
    checkpoint.archive.read("rng_cuda", cuda_state);
  } catch (const c10::Error&) {
    return;  // written on a CPU: the CUDA generator starts from the seed
  }
  auto generator = cuda_generator(device);
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_state(cuda_state.to(torch::kCPU));
}

}  // namespace tandem::model
