// Internal to train/: where each mini-batch comes from. Sentence pairs of a
// corpus cut by the Batcher (worker r of W takes batches r, r + W, ...), or a
// language model's continuous stream cut into columns (--lm-stream), whose
// recurrent state carries, detached, from one segment to the next and starts
// from zeros at each epoch.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <vector>

#include "tandem/data/batcher.h"
#include "tandem/data/parallel_corpus.h"
#include "tandem/data/token_stream.h"
#include "tandem/model/recurrent_state.h"
#include "tandem/model/seq2seq.h"
#include "tandem/train/loss.h"
#include "tandem/train/train_options.h"

namespace tandem::train {

class TrainingData {
 public:
  virtual ~TrainingData() = default;

  struct MiniBatch {
    LossResult loss;
    int64_t sentences = 0;  ///< pairs, or the stream's line ends among the targets
  };
  /// This worker's next mini-batch: its loss, the forward pass run in `precision`
  /// (backward follows the graph it built).
  virtual MiniBatch next(model::Seq2Seq& model, torch::Device device, model::Precision precision,
                         double label_smoothing) = 0;

  /// Where this worker's data stands (the next mini-batch).
  virtual data::BatchPosition position() const = 0;
  /// Epochs whose every mini-batch was taken.
  virtual int64_t completed_epochs() = 0;
  /// How far into its epoch the data stands, in [0, 1]: for progress lines.
  virtual double epoch_share() const = 0;
  /// Pairs, or stream ids: a resumed run checks that the data did not change.
  virtual int64_t size() const = 0;
  /// Gives back the pages of a mapped id cache (bounded resident memory).
  virtual void release_pages() const {}
  /// What a checkpoint holds beyond the position to continue exactly (the
  /// stream's carried state), and its restoring on resume.
  virtual std::vector<torch::Tensor> carried() const { return {}; }
  virtual void restore(const std::vector<torch::Tensor>& carried) { (void)carried; }
};

/// Sentence pairs: the corpus of `o.train_sets` and its batches; worker `rank`
/// of `world` starts at `position` (its own when `own_position`, else rank 0's,
/// from which it skips to its share).
class CorpusData : public TrainingData {
 public:
  CorpusData(data::ParallelCorpus corpus, const data::BatchOptions& batching, int64_t rank, int64_t world,
             data::BatchPosition position, bool own_position);

  MiniBatch next(model::Seq2Seq& model, torch::Device device, model::Precision precision,
                 double label_smoothing) override;
  data::BatchPosition position() const override { return batcher_.position(); }
  int64_t completed_epochs() override { return batcher_.completed_epochs(); }
  double epoch_share() const override { return batcher_.epoch_share(); }
  int64_t size() const override { return corpus_.size(); }
  void release_pages() const override { corpus_.release_pages(); }
  const data::ParallelCorpus& corpus() const { return corpus_; }

 private:
  data::ParallelCorpus corpus_;
  data::Batcher batcher_;
  int64_t world_;
};

/// A language model's stream (--lm-stream): `o.train_sets` read as one text,
/// cut into --mini-batch columns, --bptt steps a mini-batch.
class StreamData : public TrainingData {
 public:
  StreamData(const data::TokenStream& stream, int64_t columns, int64_t bptt, data::BatchPosition position);

  MiniBatch next(model::Seq2Seq& model, torch::Device device, model::Precision precision,
                 double label_smoothing) override;
  data::BatchPosition position() const override { return batches_.position(); }
  int64_t completed_epochs() override { return batches_.completed_epochs(); }
  double epoch_share() const override { return batches_.epoch_share(); }
  int64_t size() const override { return size_; }
  std::vector<torch::Tensor> carried() const override;
  void restore(const std::vector<torch::Tensor>& carried) override;
  const data::StreamBatches& batches() const { return batches_; }

 private:
  data::StreamBatches batches_;
  int64_t size_;
  model::RecurrentState state_;  // carried from the last segment; undefined at an epoch's start
};

}  // namespace tandem::train
