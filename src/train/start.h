// Internal to train/: where a run starts from, and what its workers must agree on.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "tandem/data/parallel_corpus.h"
#include "tandem/data/token_stream.h"
#include "tandem/dist/communicator.h"
#include "tandem/model/checkpoint.h"
#include "tandem/train/train_options.h"
#include "tandem/vocab/tokenizer.h"

namespace tandem::train {

struct StartingPoint {
  model::CheckpointMeta meta;
  model::Seq2Seq model{nullptr};
  /// Set when resuming: the checkpoint whose optimizer and random state are restored next.
  std::unique_ptr<model::LoadedCheckpoint> resumed;
};

/// The model, vocabularies and state a run starts from. Rank 0 reads
/// model.ckpt, or makes a new model (training a joint vocabulary into `dir`
/// when none is given), and sends the checkpoint's bytes to every worker, so
/// all start from the same weights. Checks the model type; on resume, says
/// (when `verbose`) what differs from the run that wrote the checkpoint.
StartingPoint start_from(const TrainOptions& o, dist::Communicator& comm, const std::filesystem::path& dir,
                         torch::Device device, bool verbose, std::ostream& log);

/// The training corpus of `o.train_sets` (the target side alone for a language
/// model), its length limit and token id cache as the options say; reports what
/// was read when `verbose`; throws tandem::Error when no usable pair is left.
data::ParallelCorpus load_training_corpus(const TrainOptions& o, const vocab::Tokenizer& source,
                                          const vocab::Tokenizer& target, bool language_model, bool verbose,
                                          std::ostream& log);

/// A language model's training text as one stream (--lm-stream); reports what
/// was read when `verbose`; throws tandem::Error when the text is empty.
data::TokenStream read_training_stream(const TrainOptions& o, const vocab::Tokenizer& tokenizer, bool verbose,
                                       std::ostream& log);

/// What every worker of a run must agree on, one "name: value" line each.
std::string fingerprint(const TrainOptions& o, const data::ParallelCorpus& corpus, int64_t world_size);

/// Throws tandem::Error when a worker's fingerprint differs from rank 0's, naming the rank and the line.
void check_same_setup(const std::vector<std::string>& fingerprints);

}  // namespace tandem::train
