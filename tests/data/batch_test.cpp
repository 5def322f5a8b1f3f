#include "tandem/data/batch.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "tandem/vocab/special_ids.h"
#include "test_support.h"

namespace tandem::data {
namespace {

TEST(BatchTest, PadsAndShiftsForTeacherForcing) {
  const std::string dir = test::temp_dir();
  test::write_file(dir + "/src.txt", "Zwei Hunde spielen im Schnee.\nEin Mann.\n");
  test::write_file(dir + "/tgt.txt", "Two dogs.\nA young woman is reading a book in the park.\n");
  CorpusOptions options;
  options.source_path = dir + "/src.txt";
  options.target_path = dir + "/tgt.txt";
  const auto& tok = test::sample_tokenizer();
  const auto corpus = ParallelCorpus::load(options, tok, tok);
  const auto batch = make_batch(corpus, {1, 0});
  const auto& p0 = corpus.pair(1);  // row 0
  const auto& p1 = corpus.pair(0);  // row 1
  const auto s_len = static_cast<int64_t>(std::max(p0.source.size(), p1.source.size())) + 1;
  const auto t_len = static_cast<int64_t>(std::max(p0.target.size(), p1.target.size())) + 1;
  ASSERT_EQ(batch.source.sizes(), (std::vector<int64_t>{2, s_len}));
  ASSERT_EQ(batch.target_input.sizes(), (std::vector<int64_t>{2, t_len}));
  ASSERT_EQ(batch.target_output.sizes(), (std::vector<int64_t>{2, t_len}));
  EXPECT_EQ(batch.source.scalar_type(), torch::kInt64);
  EXPECT_EQ(batch.source_lengths[0].item<int64_t>(), static_cast<int64_t>(p0.source.size()) + 1);
  EXPECT_EQ(batch.source[0][static_cast<int64_t>(p0.source.size())].item<int64_t>(), vocab::kEosId);
  EXPECT_EQ(batch.target_input[1][0].item<int64_t>(), vocab::kBosId);
  // target_input is target_output shifted right by one.
  for (int64_t r = 0; r < 2; ++r) {
    const auto& pair = r == 0 ? p0 : p1;
    const auto n = static_cast<int64_t>(pair.target.size());
    for (int64_t t = 0; t < n; ++t) {
      EXPECT_EQ(batch.target_input[r][t + 1].item<int64_t>(), batch.target_output[r][t].item<int64_t>());
    }
    EXPECT_EQ(batch.target_output[r][n].item<int64_t>(), vocab::kEosId);
    for (int64_t t = n + 1; t < t_len; ++t) EXPECT_EQ(batch.target_output[r][t].item<int64_t>(), vocab::kPadId);
  }
  EXPECT_EQ(batch.target_tokens(), static_cast<int64_t>(p0.target.size() + p1.target.size() + 2));
  EXPECT_EQ(batch.indices, (std::vector<int64_t>{1, 0}));
}

}  // namespace
}  // namespace tandem::data
