// Checkpoints: one self-contained file with everything to translate or resume.
//
// Usage:
//   save_checkpoint("model/model.ckpt", model, &optimizer, meta);   // atomic
//   LoadedCheckpoint ckpt = load_checkpoint("model/model.ckpt", torch::kCPU);
//   ckpt.model->eval();                         // ready to translate
//   restore_optimizer(ckpt, optimizer);         // to resume training
//
// A checkpoint holds the weights, the model options, both SentencePiece models
// (their bytes), the training state (updates, data position, best metrics,
// schedule), the optimizer state and the random generators' states (CPU, and
// the CUDA device's when there is one); options and training state are JSON. It is
// written to PATH.tmp, flushed to disk, then renamed over PATH, so PATH is
// always a complete checkpoint. Loading a file that is not one gives an error
// naming it.
#pragma once

#include <torch/optim/optimizer.h>
#include <torch/serialize/input-archive.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tandem/data/batcher.h"
#include "tandem/eval/metric.h"
#include "tandem/model/model_options.h"
#include "tandem/model/seq2seq.h"

namespace tandem::model {

/// Where training stands; saved with every checkpoint (as JSON; numbers round-trip exactly).
struct TrainState {
  int64_t updates = 0;                  ///< optimizer steps done
  data::BatchPosition position;         ///< the next batch
  int64_t sentences = 0;                ///< sentence pairs trained on
  int64_t target_tokens = 0;            ///< target tokens trained on
  double seconds = 0.0;                 ///< training time so far
  int64_t validations = 0;              ///< validations done
  int64_t stalled = 0;                  ///< validations since the first metric last improved
  std::map<eval::Metric, double> best;  ///< best value of each validation metric
  std::string scheduler;                ///< LrScheduler::state()
  int64_t corpus_pairs = 0;             ///< training pairs, to detect a changed corpus
  int64_t cpu_threads = 0;              ///< LibTorch CPU threads of the run that wrote it (0 = unknown)
  int64_t skipped_updates = 0;          ///< updates skipped for a NaN or infinite loss or gradient
  int64_t world_size = 1;               ///< data-parallel workers of the run that wrote it
  int64_t optimizer_delay = 1;          ///< mini-batches per worker summed into one update
  /// Each worker's next batch (rank order; `position` is rank 0's, where the
  /// batches of all workers stand). Empty for a single process.
  std::vector<data::BatchPosition> workers;
  /// Where a fine-tuning run started (--pretrained-model): "PATH (update N)"; empty otherwise.
  std::string pretrained_from;

  std::string to_json() const;
  /// Parses to_json(); `origin` names the file in errors.
  static TrainState from_json(const std::string& json, const std::string& origin);
  bool operator==(const TrainState& other) const { return to_json() == other.to_json(); }
};

struct CheckpointMeta {
  ModelOptions options{1, 1};
  std::string source_vocab;  ///< SentencePiece model bytes
  std::string target_vocab;  ///< SentencePiece model bytes
  TrainState state;
  /// A stream language model's carried recurrent state (h, then c for LSTM; each
  /// [layers, columns, H]) where training stands; empty otherwise.
  std::vector<torch::Tensor> stream_state;
};

struct LoadedCheckpoint {
  CheckpointMeta meta;
  Seq2Seq model{nullptr};
  /// Exponentially smoothed weights, in parameter order, when training kept them (else empty).
  std::vector<torch::Tensor> smoothed;
  torch::serialize::InputArchive archive;
};

/// Writes a checkpoint atomically; `optimizer` may be null (a model only), and so
/// may `smoothed` (exponentially smoothed weights, in parameter order). The
/// random state of `device`'s CUDA generator is saved too when it is a CUDA device.
void save_checkpoint(const std::string& path, Seq2Seq& model, torch::optim::Optimizer* optimizer,
                     const CheckpointMeta& meta, torch::Device device = torch::kCPU,
                     const std::vector<torch::Tensor>* smoothed = nullptr);

/// Loads model and metadata onto `device`; throws tandem::Error naming the file.
LoadedCheckpoint load_checkpoint(const std::string& path, torch::Device device);

/// The bytes save_checkpoint writes, and their reading (data-parallel workers
/// receive rank 0's checkpoint this way); `origin` names them in errors.
std::string checkpoint_bytes(const std::string& origin, Seq2Seq& model, torch::optim::Optimizer* optimizer,
                             const CheckpointMeta& meta, torch::Device device = torch::kCPU,
                             const std::vector<torch::Tensor>* smoothed = nullptr);
LoadedCheckpoint load_checkpoint_bytes(const std::string& bytes, const std::string& origin, torch::Device device);

/// Restores the optimizer state saved with the checkpoint.
void restore_optimizer(LoadedCheckpoint& checkpoint, torch::optim::Optimizer& optimizer, const std::string& path);

/// Restores LibTorch's default CPU random generator as it was when saved, and
/// the CUDA generator of `device` when it is a CUDA device and the checkpoint has one.
void restore_random_state(LoadedCheckpoint& checkpoint, const std::string& path, torch::Device device = torch::kCPU);

}  // namespace tandem::model
