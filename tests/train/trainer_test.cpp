#include "tandem/train/trainer.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "tandem/error.h"
#include "tandem/eval/bleu.h"
#include "tandem/vocab/vocab_trainer.h"
#include "test_support.h"
#include "train/copy_task.h"

namespace tandem::train {
namespace {

// update -> logged training loss, exactly as written.
std::map<int64_t, double> logged_losses(const std::string& model_dir) {
  std::ifstream in(model_dir + "/train.log.jsonl");
  std::map<int64_t, double> losses;
  std::string line;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line);
    if (j["type"] == "train") losses[j["update"].get<int64_t>()] = j["loss"].get<double>();
  }
  return losses;
}

TEST(TrainerTest, StoppedAndResumedEqualsUninterrupted) {
  torch::set_num_threads(1);
  // Plain; with layer normalization; with it, the conditional decoder of 3 transitions and 2 encoder cells a step.
  for (const int variant : {0, 1, 2}) {
  const bool layer_norm = variant >= 1;
  const int64_t transitions = variant == 2 ? 3 : 1;
  SCOPED_TRACE("variant " + std::to_string(variant));
  const std::string dir = test::temp_dir();
  auto straight = copy_task(dir);
  straight.model.layer_norm(layer_norm).dec_cell_base_depth(transitions).enc_cell_depth(transitions == 1 ? 1 : 2);
  straight.model_dir = dir + "/straight";
  straight.after_updates = 12;
  EXPECT_EQ(Trainer(straight).run().updates, 12);

  auto interrupted = copy_task(dir);
  interrupted.model.layer_norm(layer_norm).dec_cell_base_depth(transitions).enc_cell_depth(transitions == 1 ? 1 : 2);
  interrupted.model_dir = dir + "/interrupted";
  interrupted.after_updates = 5;  // not a validation point
  EXPECT_EQ(Trainer(interrupted).run().updates, 5);
  interrupted.after_updates = 9;
  EXPECT_EQ(Trainer(interrupted).run().updates, 9);
  interrupted.after_updates = 12;
  EXPECT_EQ(Trainer(interrupted).run().updates, 12);

  const auto expected = logged_losses(straight.model_dir);
  ASSERT_EQ(expected.size(), 12u);
  EXPECT_EQ(logged_losses(interrupted.model_dir), expected);
  auto a = model::load_checkpoint(straight.model_dir + "/model.ckpt", torch::kCPU);
  auto b = model::load_checkpoint(interrupted.model_dir + "/model.ckpt", torch::kCPU);
  const auto pa = a.model->named_parameters();
  const auto pb = b.model->named_parameters();
  for (const auto& p : pa) EXPECT_TRUE(torch::equal(p.value(), pb[p.key()])) << p.key();
  b.meta.state.seconds = a.meta.state.seconds;  // wall-clock time is the one thing allowed to differ
  EXPECT_EQ(a.meta.state.to_json(), b.meta.state.to_json());
  EXPECT_EQ(a.meta.options.layer_norm(), layer_norm);
  EXPECT_EQ(a.meta.options.dec_cell_base_depth(), transitions);
  }
}

TEST(TrainerTest, KeepsBestCheckpointsPerMetricAndTheLastOne) {
  const std::string dir = test::temp_dir();
  auto o = copy_task(dir);
  o.after_updates = 8;
  Trainer(o).run();
  for (const char* name : {"model.ckpt", "model.best-cross-entropy.ckpt", "model.best-perplexity.ckpt",
                           "model.best-bleu.ckpt", "train.log.jsonl", "valid.output"}) {
    EXPECT_TRUE(std::filesystem::exists(o.model_dir + "/" + name)) << name;
  }
  auto best = model::load_checkpoint(o.model_dir + "/model.best-bleu.ckpt", torch::kCPU);
  EXPECT_EQ(best.meta.options.dim_rnn(), 16);
  std::ifstream in(o.model_dir + "/valid.output");
  int lines = 0;
  for (std::string line; std::getline(in, line);) ++lines;
  EXPECT_EQ(lines, 2);
}

TEST(TrainerTest, StopsAfterEpochs) {
  const std::string dir = test::temp_dir();
  auto o = copy_task(dir);
  o.after_epochs = 2;
  o.valid_freq = 0;
  std::vector<int64_t> ones(test::sample_sentences().size(), 1);
  const auto state = Trainer(o).run();
  EXPECT_EQ(state.position.epoch, 1);
  EXPECT_EQ(state.sentences, 2 * static_cast<int64_t>(test::sample_sentences().size()));
}

TEST(TrainerTest, EarlyStoppingAfterValidationsWithoutImprovement) {
  const std::string dir = test::temp_dir();
  auto o = copy_task(dir);
  o.optimizer = OptimizerType::kSgd;
  o.lr.base = 1e-30;  // the weights cannot change: nothing improves after the first validation
  o.lr.minimum = 1e-30;
  o.valid_freq = 1;
  o.early_stopping = 2;
  o.valid_metrics = {eval::Metric::kCrossEntropy};
  const auto state = Trainer(o).run();
  EXPECT_EQ(state.updates, 3);
  EXPECT_EQ(state.stalled, 2);
}

TEST(TrainerTest, ResumingOnAChangedCorpusIsAnError) {
  const std::string dir = test::temp_dir();
  auto o = copy_task(dir);
  o.after_updates = 2;
  Trainer(o).run();
  test::write_file(dir + "/train.src", "Nur eine Zeile.\n");
  test::write_file(dir + "/train.tgt", "Nur eine Zeile.\n");
  o.after_updates = 4;
  try {
    Trainer(o).run();
    FAIL() << "resumed on another corpus";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("corpus changed"), std::string::npos) << e.what();
  }
}

TEST(TrainerTest, AnInfiniteGradientWithAFiniteLossSkipsTheUpdate) {
  const std::string dir = test::temp_dir();
  auto o = copy_task(dir);
  o.after_updates = 6;
  o.valid_freq = 0;
  o.valid_sets.clear();
  int64_t injected = 0;
  o.gradient_hook = [&](model::Seq2Seq& m, int64_t update) {
    if (update != 3 || injected > 0) return;  // the third update, once
    ++injected;
    m->parameters().front().grad().view(-1)[0] = std::numeric_limits<float>::infinity();
  };
  for (const double clip : {1.0, 0.0}) {  // with and without clipping
    o.clip_norm = clip;
    o.model_dir = dir + "/model-" + std::to_string(clip);
    injected = 0;
    const auto state = Trainer(o).run();
    EXPECT_EQ(injected, 1);
    EXPECT_EQ(state.updates, 6);  // the skipped batch is consumed, six updates are applied
    EXPECT_EQ(state.skipped_updates, 1);
    const auto last = model::load_checkpoint(o.model_dir + "/model.ckpt", torch::kCPU);
    EXPECT_EQ(last.meta.state.skipped_updates, 1);
    for (const auto& p : last.model->parameters()) EXPECT_TRUE(torch::isfinite(p).all().item<bool>());
  }
  // Infinite every time: training stops after --max-nonfinite-updates in a row.
  o.model_dir = dir + "/always";
  o.max_nonfinite_updates = 2;
  o.gradient_hook = [](model::Seq2Seq& m, int64_t) {
    m->parameters().front().grad().view(-1)[0] = std::numeric_limits<float>::infinity();
  };
  try {
    Trainer(o).run();
    FAIL() << "trained on infinite gradients";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not finite 2 times in a row"), std::string::npos) << e.what();
  }
}

// The copy task without validation, trained for `updates` into DIR/model: a model to fine-tune.
TrainOptions pretrained_copy_task(const std::string& dir, int64_t updates, const model::ModelOptions& model) {
  auto o = copy_task(dir);
  o.valid_freq = 0;
  o.valid_sets.clear();
  o.after_updates = updates;
  o.model = model;
  Trainer(o).run();
  return o;
}

TEST(TrainerTest, FineTuningStartsFromThePretrainedWeightsWithANewOptimizerAndRecordsWhere) {
  const std::string dir = test::temp_dir();
  const auto o = pretrained_copy_task(dir, 6, copy_task(dir).model.dim_rnn(12).cell(model::CellType::kLstm));
  const std::string pretrained = dir + "/model/model.ckpt";
  const auto before = model::load_checkpoint(pretrained, torch::kCPU);

  auto tune = o;
  tune.model = model::ModelOptions(1, 1).dropout_rnn(0.3);  // defaults: not given, so the checkpoint's shapes count
  tune.model_dir = dir + "/tuned";
  tune.pretrained_model = pretrained;
  tune.after_updates = 3;
  tune.lr.base = 0.002;
  tune.train_sets = {dir + "/train.tgt", dir + "/train.src"};
  bool compared = false;
  tune.gradient_hook = [&](model::Seq2Seq& m, int64_t update) {
    if (update != 1) return;
    const auto now = m->parameters();
    const auto then = before.model->parameters();
    ASSERT_EQ(now.size(), then.size());
    for (size_t i = 0; i < now.size(); ++i) EXPECT_TRUE(torch::equal(now[i], then[i])) << "parameter " << i;
    compared = true;
  };
  const auto state = Trainer(tune).run();
  EXPECT_TRUE(compared);
  EXPECT_EQ(state.updates, 3);  // a new run: its own update count
  const auto tuned = model::load_checkpoint(tune.model_dir + "/model.ckpt", torch::kCPU);
  EXPECT_EQ(tuned.meta.state.pretrained_from, pretrained + " (update 6)");
  EXPECT_EQ(tuned.meta.options.dim_rnn(), 12);
  EXPECT_EQ(tuned.meta.options.cell(), model::CellType::kLstm);
  EXPECT_DOUBLE_EQ(tuned.meta.options.dropout_rnn(), 0.3);
  EXPECT_EQ(tuned.meta.target_vocab, before.meta.target_vocab);
  // The same command again resumes the fine-tuning run.
  tune.after_updates = 5;
  tune.gradient_hook = nullptr;
  EXPECT_EQ(Trainer(tune).run().updates, 5);
  EXPECT_EQ(model::load_checkpoint(tune.model_dir + "/model.ckpt", torch::kCPU).meta.state.pretrained_from,
            pretrained + " (update 6)");
}

TEST(TrainerTest, FineTuningWithAnotherShapeOrVocabularyIsAnErrorNamingBothValues) {
  const std::string dir = test::temp_dir();
  const auto o = pretrained_copy_task(dir, 1, copy_task(dir).model);
  auto tune = o;
  tune.model_dir = dir + "/tuned";
  tune.pretrained_model = dir + "/model/model.ckpt";
  const auto error_of = [&](const TrainOptions& options) -> std::string {
    try {
      Trainer(options).run();
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  auto wider = tune;
  wider.model.dim_rnn(32);
  wider.given_architecture = {"dim-rnn"};
  EXPECT_NE(error_of(wider).find("--dim-rnn 32 differs from the pretrained model's 16"), std::string::npos)
      << error_of(wider);
  auto cell = tune;
  cell.model.cell(model::CellType::kLstm);
  cell.given_architecture = {"cell"};
  EXPECT_NE(error_of(cell).find("--cell lstm differs from the pretrained model's gru"), std::string::npos);
  auto lm = tune;
  lm.model.type(model::ModelType::kLanguageModel).attention(model::AttentionType::kNone).decoder_init(model::DecoderInit::kZeros);
  lm.train_sets = {dir + "/train.tgt"};
  lm.valid_metrics = {eval::Metric::kCrossEntropy};
  const std::string lm_error = error_of(lm);
  EXPECT_NE(lm_error.find("--type lm differs from the pretrained model's s2s"), std::string::npos) << lm_error;
  auto other_vocab = tune;
  std::string text;
  for (int i = 0; i < 200; ++i) text += "abc def ghi " + std::to_string(i) + "\n";
  test::write_file(dir + "/other.txt", text);
  vocab::VocabOptions vocab_options;
  vocab_options.inputs = {dir + "/other.txt"};
  vocab_options.vocab_size = 40;
  vocab::train_vocab(vocab_options, dir + "/other.spm");
  other_vocab.vocabs = {dir + "/other.spm"};
  EXPECT_NE(error_of(other_vocab).find("is not the vocabulary of the pretrained model"), std::string::npos)
      << error_of(other_vocab);
  auto missing = tune;
  missing.pretrained_model = dir + "/nothing.ckpt";
  EXPECT_NE(error_of(missing).find("--pretrained-model " + dir + "/nothing.ckpt: no such file"), std::string::npos);
  // The same shapes given explicitly are fine.
  auto same = tune;
  same.given_architecture = {"dim-rnn", "cell", "dim-emb"};
  same.after_updates = 1;
  EXPECT_EQ(error_of(same), "");
}

TEST(TrainerTest, CheckpointsRecordTheThreadCountAndAnotherCountOnResumeIsReported) {
  const std::string dir = test::temp_dir();
  auto o = copy_task(dir);
  o.after_updates = 2;
  o.cpu_threads = 3;
  Trainer(o).run();
  EXPECT_EQ(model::load_checkpoint(o.model_dir + "/model.ckpt", torch::kCPU).meta.state.cpu_threads, 3);
  o.after_updates = 3;
  o.cpu_threads = 1;
  o.verbose = true;
  testing::internal::CaptureStderr();
  Trainer(o).run();
  const std::string log = testing::internal::GetCapturedStderr();
  EXPECT_NE(log.find("written by a run with 3 CPU threads and this one has 1"), std::string::npos) << log;
  EXPECT_NE(log.find("only approximately"), std::string::npos) << log;
  EXPECT_EQ(model::load_checkpoint(o.model_dir + "/model.ckpt", torch::kCPU).meta.state.cpu_threads, 1);
}

// A language model on the sample sentences: one file, the decoder stack alone.
TrainOptions language_model_task(const std::string& dir) {
  auto o = copy_task(dir);
  o.train_sets = {dir + "/train.tgt"};
  o.valid_sets = {dir + "/valid.tgt"};
  o.model.type(model::ModelType::kLanguageModel)
      .attention(model::AttentionType::kNone)
      .decoder_init(model::DecoderInit::kZeros)
      .cell(model::CellType::kLstm);
  o.valid_metrics = {eval::Metric::kPerplexity, eval::Metric::kCrossEntropy};
  return o;
}

TEST(TrainerTest, ALanguageModelTrainsValidatesAndResumesExactly) {
  const std::string dir = test::temp_dir();
  auto straight = language_model_task(dir);
  straight.model_dir = dir + "/straight";
  straight.after_updates = 12;
  const auto state = Trainer(straight).run();
  EXPECT_EQ(state.updates, 12);
  EXPECT_EQ(state.validations, 3);
  EXPECT_NEAR(state.best.at(eval::Metric::kPerplexity), std::exp(state.best.at(eval::Metric::kCrossEntropy)), 1e-9);
  EXPECT_FALSE(std::filesystem::exists(straight.model_dir + "/valid.output"));  // nothing is translated
  auto interrupted = language_model_task(dir);
  interrupted.model_dir = dir + "/interrupted";
  for (const int64_t stop : {5, 9, 12}) {
    interrupted.after_updates = stop;
    EXPECT_EQ(Trainer(interrupted).run().updates, stop);
  }
  EXPECT_EQ(logged_losses(interrupted.model_dir), logged_losses(straight.model_dir));
  auto a = model::load_checkpoint(straight.model_dir + "/model.ckpt", torch::kCPU);
  auto b = model::load_checkpoint(interrupted.model_dir + "/model.ckpt", torch::kCPU);
  EXPECT_TRUE(a.meta.options.is_language_model());
  const auto pb = b.model->named_parameters();
  for (const auto& p : a.model->named_parameters()) EXPECT_TRUE(torch::equal(p.value(), pb[p.key()])) << p.key();
  b.meta.state.seconds = a.meta.state.seconds;
  EXPECT_EQ(a.meta.state, b.meta.state);
  // The folder holds a language model: training a translation model into it is refused, naming the file.
  auto other = copy_task(dir);
  other.model_dir = straight.model_dir;
  other.after_updates = 14;
  try {
    Trainer(other).run();
    FAIL() << "resumed a language model as a translation model";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(straight.model_dir + "/model.ckpt: a lm checkpoint"), std::string::npos)
        << e.what();
  }
  auto bleu = language_model_task(dir);
  bleu.valid_metrics = {eval::Metric::kBleu};
  EXPECT_THROW(Trainer{bleu}, Error);  // no translations, no BLEU
}

using Architecture = std::tuple<model::CellType, model::AttentionType>;
class TrainerArchitectureTest : public ::testing::TestWithParam<Architecture> {};

TEST_P(TrainerArchitectureTest, TrainsAndValidates) {
  const std::string dir = test::temp_dir();
  auto o = copy_task(dir);
  const auto [cell, attention] = GetParam();
  o.model.cell(cell).attention(attention).bidirectional(attention != model::AttentionType::kLuongDot);
  o.after_updates = 4;
  const auto state = Trainer(o).run();
  EXPECT_EQ(state.updates, 4);
  EXPECT_EQ(state.validations, 1);
  const double cross_entropy = state.best.at(eval::Metric::kCrossEntropy);
  EXPECT_TRUE(std::isfinite(cross_entropy) && cross_entropy > 0.0) << cross_entropy;
  EXPECT_NEAR(state.best.at(eval::Metric::kPerplexity), std::exp(cross_entropy), 1e-9);
  // One validation: the best BLEU is that of valid.output against the references.
  std::vector<std::string> hypotheses;
  std::ifstream in(o.model_dir + "/valid.output");
  for (std::string line; std::getline(in, line);) hypotheses.push_back(line);
  ASSERT_EQ(hypotheses.size(), 2u);
  const auto bleu = eval::Bleu().corpus_score(hypotheses, {{"Ein Mann fährt."}, {"Zwei Hunde spielen."}});
  EXPECT_DOUBLE_EQ(state.best.at(eval::Metric::kBleu), bleu.score);
}

INSTANTIATE_TEST_SUITE_P(
    CellsAndAttention, TrainerArchitectureTest,
    ::testing::Combine(::testing::Values(model::CellType::kRnn, model::CellType::kGru, model::CellType::kLstm),
                       ::testing::Values(model::AttentionType::kBahdanau, model::AttentionType::kLuongDot,
                                         model::AttentionType::kLuongGeneral, model::AttentionType::kNone)),
    [](const ::testing::TestParamInfo<Architecture>& info) {  // e.g. gru_bahdanau
      std::string name = model::cell_type_name(std::get<0>(info.param)) + "_" +
                         model::attention_type_name(std::get<1>(info.param));
      std::replace(name.begin(), name.end(), '-', '_');
      return name;
    });

}  // namespace
}  // namespace tandem::train
