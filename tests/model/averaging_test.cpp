// Checkpoint averaging, weight smoothing and snapshots, as tandem-train and
// tandem-average give them.
#include "tandem/model/averaging.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "tandem/error.h"
#include "test_support.h"

namespace tandem::model {
namespace {

namespace fs = std::filesystem;

class AveragingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::temp_dir();
    std::string text;
    for (const auto& s : test::sample_sentences()) text += s + "\n";
    test::write_file(dir_ + "/train.src", text);
    test::write_file(dir_ + "/train.tgt", text);
  }
  std::string train(const std::string& model, const std::string& extra) const {
    const auto r = test::run_program(
        "tandem-train", "--model " + dir_ + "/" + model + " --train-sets " + dir_ + "/train.src " + dir_ +
                            "/train.tgt --valid-sets " + dir_ + "/train.src " + dir_ + "/train.tgt --vocabs " +
                            test::sample_model_path() +
                            " --dim-emb 8 --dim-rnn 12 --mini-batch 3 --cell gru --dropout-emb 0 --dropout-rnn 0 "
                            "--dropout-out 0 --cpu-threads 1 --valid-metrics cross-entropy chrf bleu " + extra);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.err;
  }
  static void expect_same_weights(const LoadedCheckpoint& a, const LoadedCheckpoint& b, double tolerance) {
    const auto pb = b.model->named_parameters();
    for (const auto& p : a.model->named_parameters()) {
      EXPECT_LE((p.value() - pb[p.key()]).abs().max().item<double>(), tolerance) << p.key();
    }
  }
  std::string dir_;
};

TEST_F(AveragingTest, TheAverageOfTwoCheckpointsIsTheirMean) {
  train("m", "--after-updates 4 --valid-freq 2 --keep-last 2");
  const std::string a = dir_ + "/m/model.iter-2.ckpt";
  const std::string b = dir_ + "/m/model.iter-4.ckpt";
  ASSERT_TRUE(fs::exists(a) && fs::exists(b));
  const auto r = test::run_program("tandem-average", "-m " + a + " " + b + " -o " + dir_ + "/avg.ckpt");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto avg = load_checkpoint(dir_ + "/avg.ckpt", torch::kCPU);
  const auto x = load_checkpoint(a, torch::kCPU);
  const auto y = load_checkpoint(b, torch::kCPU);
  const auto px = x.model->named_parameters();
  const auto py = y.model->named_parameters();
  double largest_change = 0.0;
  for (const auto& p : avg.model->named_parameters()) {
    const auto mean = (px[p.key()].to(torch::kFloat64) + py[p.key()].to(torch::kFloat64)) / 2;
    EXPECT_LE((p.value().to(torch::kFloat64) - mean).abs().max().item<double>(), 1e-7) << p.key();
    largest_change = std::max(largest_change, (px[p.key()] - py[p.key()]).abs().max().item<double>());
  }
  EXPECT_GT(largest_change, 1e-4);  // the two differ, so the mean is a real check
  EXPECT_EQ(avg.meta.state.updates, 4);
  // The averaged checkpoint translates.
  const auto t = test::run_program("tandem-translate", "--models " + dir_ + "/avg.ckpt --cpu-threads 1 --quiet",
                                   "Ein Mann fährt.\n");
  EXPECT_EQ(t.exit_code, 0) << t.err;
  // Another architecture is refused, naming the file.
  train("other", "--after-updates 1 --valid-freq 1 --enc-type unidirectional");
  const auto bad = test::run_program("tandem-average", "-m " + a + " " + dir_ + "/other/model.ckpt -o " + dir_ + "/x.ckpt");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find(dir_ + "/other/model.ckpt: another architecture"), std::string::npos) << bad.err;
}

TEST_F(AveragingTest, KeepLastKeepsTheNewestSnapshots) {
  train("m", "--after-updates 6 --valid-freq 3 --save-freq 1 --keep-last 2");
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir_ + "/m")) {
    const auto name = e.path().filename().string();
    if (name.rfind("model.iter-", 0) == 0) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"model.iter-5.ckpt", "model.iter-6.ckpt"}));
}

TEST_F(AveragingTest, SmoothingWithFactorZeroIsNoSmoothingAndSmoothedRunsResumeExactly) {
  train("plain", "--after-updates 4 --valid-freq 2");
  train("zero", "--after-updates 4 --valid-freq 2 --exponential-smoothing 0");
  expect_same_weights(load_checkpoint(dir_ + "/plain/model.best-cross-entropy.ckpt", torch::kCPU),
                      load_checkpoint(dir_ + "/zero/model.best-cross-entropy.ckpt", torch::kCPU), 0.0);
  // Factor 1: the smoothed weights are the weights.
  train("one", "--after-updates 4 --valid-freq 2 --exponential-smoothing 1");
  expect_same_weights(load_checkpoint(dir_ + "/plain/model.ckpt", torch::kCPU),
                      load_checkpoint(dir_ + "/one/model.ckpt", torch::kCPU), 0.0);
  // Factor 0.5: the validated weights differ from the raw ones; stopped and resumed equals straight.
  train("half", "--after-updates 4 --valid-freq 2 --exponential-smoothing 0.5");
  const auto half = load_checkpoint(dir_ + "/half/model.ckpt", torch::kCPU);
  ASSERT_EQ(half.smoothed.size(), half.model->parameters().size());
  double gap = 0.0;
  const auto raw = half.model->parameters();
  for (size_t i = 0; i < raw.size(); ++i) gap = std::max(gap, (raw[i] - half.smoothed[i]).abs().max().item<double>());
  EXPECT_GT(gap, 1e-5);
  train("resumed", "--after-updates 2 --valid-freq 2 --exponential-smoothing 0.5");
  train("resumed", "--after-updates 4 --valid-freq 2 --exponential-smoothing 0.5");
  const auto resumed = load_checkpoint(dir_ + "/resumed/model.ckpt", torch::kCPU);
  expect_same_weights(half, resumed, 0.0);
  for (size_t i = 0; i < raw.size(); ++i) EXPECT_TRUE(torch::equal(half.smoothed[i], resumed.smoothed[i]));
  // The best checkpoints hold smoothed weights: equal to model.ckpt's smoothed ones when saved at the last update.
  const auto best = load_checkpoint(dir_ + "/half/model.best-cross-entropy.ckpt", torch::kCPU);
  if (best.meta.state.updates == 4) {
    const auto b = best.model->parameters();
    for (size_t i = 0; i < b.size(); ++i) EXPECT_TRUE(torch::equal(b[i], half.smoothed[i]));
  }
}

TEST_F(AveragingTest, ChrfIsAValidationMetric) {
  const std::string err = train("m", "--after-updates 2 --valid-freq 2");
  EXPECT_NE(err.find("chrf "), std::string::npos) << err;
  const auto state = load_checkpoint(dir_ + "/m/model.ckpt", torch::kCPU).meta.state;
  EXPECT_TRUE(state.best.count(eval::Metric::kChrf) == 1);
  EXPECT_TRUE(fs::exists(dir_ + "/m/model.best-chrf.ckpt"));
}

}  // namespace
}  // namespace tandem::model
