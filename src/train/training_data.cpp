#include "training_data.h"

#include <torch/torch.h>

#include "tandem/data/batch.h"
#include "tandem/error.h"
#include "tandem/vocab/special_ids.h"

namespace tandem::train {

CorpusData::CorpusData(data::ParallelCorpus corpus, const data::BatchOptions& batching, int64_t rank, int64_t world,
                       data::BatchPosition position, bool own_position)
    : corpus_(std::move(corpus)),
      batcher_(
          corpus_.size(), [this](int64_t i) { return corpus_.source_length(i); },
          [this](int64_t i) { return corpus_.target_length(i); }, batching),
      world_(world) {
  batcher_.seek(position);
  if (!own_position) {
    for (int64_t r = 0; r < rank; ++r) batcher_.next();
  }
}

TrainingData::MiniBatch CorpusData::next(model::Seq2Seq& model, torch::Device device, model::Precision precision,
                                         double label_smoothing) {
  const std::vector<int64_t> indices = batcher_.next();
  for (int64_t r = 1; r < world_; ++r) batcher_.next();  // the other workers' batches
  const auto batch = data::make_batch(corpus_, indices, device);
  model::PrecisionScope scope(precision, device);
  return {batch_loss(model, batch, label_smoothing), static_cast<int64_t>(indices.size())};
}

StreamData::StreamData(const data::TokenStream& stream, int64_t columns, int64_t bptt, data::BatchPosition position)
    : batches_(stream.ids, columns, bptt), size_(static_cast<int64_t>(stream.ids.size())) {
  batches_.seek(position);
}

TrainingData::MiniBatch StreamData::next(model::Seq2Seq& model, torch::Device device, model::Precision precision,
                                         double label_smoothing) {
  const auto segment = batches_.next(device);
  if (segment.starts_epoch) {
    state_ = {};
  } else if (state_.defined()) {  // truncated backpropagation: the state carries, its history does not
    state_.h = state_.h.detach();
    if (state_.c.defined()) state_.c = state_.c.detach();
  }
  MiniBatch batch;
  {
    model::PrecisionScope scope(precision, device);
    const auto features = model->stream_features(segment.input, state_);  // [C, n, E]
    batch.loss = cross_entropy(model->logits(features), segment.target, label_smoothing);
  }
  batch.sentences = segment.target.eq(vocab::kEosId).sum().item<int64_t>();
  return batch;
}

std::vector<torch::Tensor> StreamData::carried() const {
  std::vector<torch::Tensor> tensors;
  if (state_.defined()) tensors.push_back(state_.h.detach());
  if (state_.c.defined()) tensors.push_back(state_.c.detach());
  return tensors;
}

void StreamData::restore(const std::vector<torch::Tensor>& carried) {
  state_ = {};
  if (carried.empty()) return;
  if (carried.size() > 2) throw Error("the checkpoint's carried stream state is damaged");
  state_.h = carried[0];
  if (carried.size() == 2) state_.c = carried[1];
}

}  // namespace tandem::train
