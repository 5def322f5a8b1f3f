// Internal to train/: one run of the trainer (Trainer::run): what it holds
// from start to end, and the steps of its loop. The order of the workers'
// collectives is RankProtocol's (rank_protocol.h).
#pragma once

#include <torch/torch.h>

#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tandem/dist/communicator.h"
#include "tandem/io/folder_lock.h"
#include "tandem/io/json_log.h"
#include "tandem/model/checkpoint.h"
#include "tandem/train/lr_schedule.h"
#include "tandem/train/train_options.h"
#include "tandem/train/validator.h"
#include "tandem/util/progress_line.h"
#include "tandem/vocab/tokenizer.h"
#include "gradient_sum.h"
#include "rank_protocol.h"
#include "report.h"
#include "smoothing.h"
#include "training_data.h"

namespace tandem::train {

class TrainingRun {
 public:
  TrainingRun(const TrainOptions& o, dist::Communicator& comm);
  model::TrainState run();
  int interrupted_by() const { return interrupted_by_; }

 private:
  enum class Outcome { applied, skipped };
  std::unique_ptr<TrainingData> make_data(const std::unique_ptr<model::LoadedCheckpoint>& resumed,
                                          const vocab::Tokenizer& source_tok, const vocab::Tokenizer& target_tok);
  void describe() const;
  Outcome update();
  void after_update(const UpdateSums& sums, double lr);
  Outcome skip_update(const std::string& why);
  bool validate();  // returns true when early stopping says stop
  void save_last();
  void snapshot();
  bool sync(bool with_validation);
  void finish();

  const TrainOptions& o_;
  dist::Communicator& comm_;
  RankProtocol protocol_;
  const bool leader_;   // rank 0: validates, writes checkpoints and logs
  const bool verbose_;
  const int64_t world_;
  std::ostream& log_ = std::cerr;
  const std::filesystem::path dir_;
  const std::string last_path_;
  const torch::Device device_;
  // --precision as this machine runs it (model::usable_precision, said by rank 0); the
  // options' fingerprint, which the workers compare, keeps --precision as given.
  const model::Precision precision_;
  std::optional<io::FolderLock> folder_lock_;  // held until the run ends
  model::CheckpointMeta meta_;
  model::Seq2Seq model_{nullptr};
  model::TrainState& state_ = meta_.state;
  bool language_model_ = false;
  std::unique_ptr<TrainingData> data_;
  std::unique_ptr<Validator> validator_;
  bool with_bleu_ = false;
  LrScheduler scheduler_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  std::unique_ptr<SmoothedWeights> smoothed_;
  std::unique_ptr<io::JsonLog> json_;
  std::unique_ptr<TrainReport> report_;
  util::ProgressLine progress_;
  std::vector<torch::Tensor> parameters_;
  std::unique_ptr<GradientSum> gradient_sum_;
  int64_t non_finite_in_a_row_ = 0;
  int64_t epochs_seen_ = 0;  // this worker's finished epochs as of its last applied update
  bool stop_early_ = false;
  bool validated_last_ = false;
  int interrupted_by_ = 0;
};

}  // namespace tandem::train
