// Checkpoint averaging: the mean of several checkpoints' weights.
//
// Usage:
//   model::LoadedCheckpoint mean = model::average_checkpoints({"m/model.iter-9000.ckpt", "m/model.iter-10000.ckpt"});
//   model::save_checkpoint("m/model.avg.ckpt", mean.model, nullptr, mean.meta);
//
// Every checkpoint must have the same options (architecture, sizes, type) and
// the same vocabularies, else tandem::Error names the file that differs. The
// sums are taken in float64 and divided by the count; options, vocabularies
// and training state are the last checkpoint's.
#pragma once

#include <string>
#include <vector>

#include "tandem/model/checkpoint.h"

namespace tandem::model {

LoadedCheckpoint average_checkpoints(const std::vector<std::string>& paths);

}  // namespace tandem::model
