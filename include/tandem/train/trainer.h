// Trainer: teacher-forced training with validation, checkpoints and exact resume.
//
// Usage:
//   TrainOptions options;  // model_dir, train_sets, valid_sets, ... (see train_options.h)
//   model::TrainState final_state = Trainer(options).run();
//
// In model_dir: model.ckpt (the last state, for resuming), model.best-METRIC.ckpt
// (best weights per validation metric), train.log.jsonl (every log line as JSON),
// valid.output (the last validation translations), vocab.spm when Tandem
// trained the vocabulary. Running again on a model_dir that holds model.ckpt
// resumes: with a fixed seed on CPU, the losses continue update by update as
// if the run had never stopped.
#pragma once

#include "tandem/model/checkpoint.h"
#include "tandem/train/train_options.h"

namespace tandem::train {

class Trainer {
 public:
  explicit Trainer(TrainOptions options);

  /// Trains until a stopping condition holds; returns where training stands.
  model::TrainState run();

  /// The signal number that stopped the last run() through options.stop_request; 0 = none.
  int interrupted_by() const { return interrupted_by_; }

 private:
  TrainOptions options_;
  int interrupted_by_ = 0;
};

}  // namespace tandem::train
