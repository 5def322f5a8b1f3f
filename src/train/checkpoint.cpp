#include "tandem/train/checkpoint.h"

#include <ATen/CPUGeneratorImpl.h>
#include <fcntl.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <sstream>
#include <vector>

#include "tandem/error.h"

namespace tandem::train {
namespace {

constexpr const char* kFormat = "tandem-checkpoint 1";

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

std::string TrainState::to_text() const {
  std::ostringstream out;
  out.precision(17);
  out << "updates " << updates << "\nepoch " << position.epoch << "\nbatch " << position.index << "\nsentences "
      << sentences << "\ntarget-tokens " << target_tokens << "\nseconds " << seconds << "\nvalidations "
      << validations << "\nstalled " << stalled << "\ncorpus-pairs " << corpus_pairs << "\nscheduler "
      << scheduler << "\n";
  for (const auto& [metric, value] : best) out << "best " << metric << " " << value << "\n";
  return out.str();
}

TrainState TrainState::from_text(const std::string& text, const std::string& origin) {
  TrainState s;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string key;
    fields >> key;
    bool ok = true;
    if (key == "updates") ok = static_cast<bool>(fields >> s.updates);
    else if (key == "epoch") ok = static_cast<bool>(fields >> s.position.epoch);
    else if (key == "batch") ok = static_cast<bool>(fields >> s.position.index);
    else if (key == "sentences") ok = static_cast<bool>(fields >> s.sentences);
    else if (key == "target-tokens") ok = static_cast<bool>(fields >> s.target_tokens);
    else if (key == "seconds") ok = static_cast<bool>(fields >> s.seconds);
    else if (key == "validations") ok = static_cast<bool>(fields >> s.validations);
    else if (key == "stalled") ok = static_cast<bool>(fields >> s.stalled);
    else if (key == "corpus-pairs") ok = static_cast<bool>(fields >> s.corpus_pairs);
    else if (key == "scheduler") std::getline(fields >> std::ws, s.scheduler);
    else if (key == "best") {
      std::string metric;
      double value = 0;
      ok = static_cast<bool>(fields >> metric >> value);
      s.best[metric] = value;
    }
    if (!ok) throw Error(origin + ": the checkpoint's training state is damaged (line '" + line + "')");
  }
  return s;
}

void save_checkpoint(const std::string& path, model::Seq2Seq& model, torch::optim::Optimizer* optimizer,
                     const CheckpointMeta& meta) {
  torch::serialize::OutputArchive root;
  root.write("format", bytes_tensor(kFormat));
  root.write("options", bytes_tensor(meta.options.to_text()));
  root.write("source_vocab", bytes_tensor(meta.source_vocab));
  root.write("target_vocab", bytes_tensor(meta.target_vocab));
  root.write("train_state", bytes_tensor(meta.state.to_text()));
  root.write("rng_cpu", at::detail::getDefaultCPUGenerator().get_state());
  torch::serialize::OutputArchive weights;
  model->save(weights);
  root.write("model", weights);
  if (optimizer != nullptr) {
    torch::serialize::OutputArchive optimizer_state;
    optimizer->save(optimizer_state);
    root.write("optimizer", optimizer_state);
  }
  // Weights that are not finite would poison every run resumed from them.
  for (const auto& item : model->named_parameters()) {
    if (!torch::isfinite(item.value()).all().template item<bool>()) {
      throw Error(path + ": not written: parameter '" + item.key() +
                  "' holds NaN or infinite values; the previous checkpoint is intact; lower --learn-rate "
                  "or --clip-norm and resume from it");
    }
  }
  // Serialized in memory first: LibTorch's file writer cannot report a failed
  // write (a full disk) as an error it recovers from. Then written, checked,
  // synced, and renamed over the previous checkpoint, which stays intact until then.
  std::ostringstream buffer;
  root.save_to(buffer);
  const std::string bytes = buffer.str();
  const std::string staging = path + ".tmp";
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

LoadedCheckpoint load_checkpoint(const std::string& path, torch::Device device) {
  LoadedCheckpoint ckpt;
  try {
    ckpt.archive.load_from(path, device);
  } catch (const c10::Error& e) {
    throw Error(path + ": cannot read it as a Tandem checkpoint (" + std::string(e.what_without_backtrace()) +
                "); the file is missing, truncated or of another kind");
  }
  if (read_string(ckpt.archive, "format", path) != kFormat) {
    throw Error(path + ": unknown checkpoint format; it was written by another version of Tandem");
  }
  ckpt.meta.options = model::ModelOptions::from_text(read_string(ckpt.archive, "options", path), path);
  ckpt.meta.options.validate();
  ckpt.meta.source_vocab = read_string(ckpt.archive, "source_vocab", path);
  ckpt.meta.target_vocab = read_string(ckpt.archive, "target_vocab", path);
  ckpt.meta.state = TrainState::from_text(read_string(ckpt.archive, "train_state", path), path);
  ckpt.model = model::Seq2Seq(ckpt.meta.options);
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

void restore_random_state(LoadedCheckpoint& checkpoint, const std::string& path) {
  torch::Tensor state;
  try {
    checkpoint.archive.read("rng_cpu", state);
  } catch (const c10::Error&) {
    throw Error(path + ": the checkpoint lacks the random generator state");
  }
  auto generator = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_state(state.to(torch::kCPU));
}

}  // namespace tandem::train
