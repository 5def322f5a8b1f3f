// The trainer's validation translations (--valid-normalize).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>
#include <string>
#include <vector>

#include "tandem/train/trainer.h"
#include "tandem/translator.h"
#include "test_support.h"
#include "train/copy_task.h"

namespace tandem::train {
namespace {

// --valid-normalize: valid.output is what tandem-translate --normalize gives with the
// validated weights (here the last checkpoint's), not what the unnormalized search gives.
TEST(ValidationTest, TranslatesWithTheGivenLengthNormalization) {
  const std::string dir = test::temp_dir();
  auto o = copy_task(dir);
  std::string sources;
  for (const auto& line : test::sample_sentences()) sources += line + "\n";
  test::write_file(dir + "/valid.src", sources);
  test::write_file(dir + "/valid.tgt", sources);
  o.after_updates = 400;  // half-trained: the hypotheses' lengths vary, and normalization changes some
  o.valid_freq = 400;     // one validation, of the weights saved last
  o.valid_normalize = 1.0;
  Trainer(o).run();
  std::ifstream in(o.model_dir + "/valid.output");
  std::vector<std::string> validated;
  for (std::string line; std::getline(in, line);) validated.push_back(line);

  auto translator = Translator::load({o.model_dir + "/model.ckpt"}, torch::kCPU);
  TranslateOptions options;
  options.search.beam_size = o.valid_beam_size;
  const auto translate = [&](double alpha) {
    options.search.normalize = alpha;
    std::vector<std::string> translated;
    for (auto& result : translator.translate(test::sample_sentences(), options)) {
      translated.push_back(result.texts.front());
    }
    return translated;
  };
  EXPECT_EQ(validated, translate(1.0));
  EXPECT_NE(validated, translate(0.0));  // the option reaches the search
}

}  // namespace
}  // namespace tandem::train
