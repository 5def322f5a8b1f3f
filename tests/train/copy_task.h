// A tiny training run shared by the trainer's tests: a copy task on the first
// `pairs` multilingual sample sentences (all of them by default), tiny sizes,
// two validation pairs, quiet.
#pragma once

#include <string>

#include "tandem/train/train_options.h"
#include "test_support.h"

namespace tandem::train {

inline TrainOptions copy_task(const std::string& dir, size_t pairs = test::sample_sentences().size()) {
  std::string text;
  for (size_t i = 0; i < pairs && i < test::sample_sentences().size(); ++i) text += test::sample_sentences()[i] + "\n";
  test::write_file(dir + "/train.src", text);
  test::write_file(dir + "/train.tgt", text);
  test::write_file(dir + "/valid.src", "Ein Mann fährt.\nZwei Hunde spielen.\n");
  test::write_file(dir + "/valid.tgt", "Ein Mann fährt.\nZwei Hunde spielen.\n");
  TrainOptions o;
  o.model_dir = dir + "/model";
  o.train_sets = {dir + "/train.src", dir + "/train.tgt"};
  o.valid_sets = {dir + "/valid.src", dir + "/valid.tgt"};
  o.vocabs = {test::sample_model_path()};
  o.model.dim_emb(8).dim_rnn(16);
  o.batching.max_sentences = 4;
  o.batching.window = 2;
  o.valid_freq = 4;
  o.disp_freq = 1;
  o.early_stopping = 0;
  o.seed = 3;
  o.lr.base = 0.01;
  o.verbose = false;
  return o;
}

}  // namespace tandem::train
