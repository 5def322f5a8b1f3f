#include "tandem/search/greedy_search.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "tandem/vocab/special_ids.h"

namespace tandem::search {
namespace {

TEST(GreedySearchTest, BatchedEqualsOneByOneAndRespectsTheLimit) {
  torch::manual_seed(9);
  model::Seq2Seq model(model::ModelOptions(30, 30).dim_emb(8).dim_rnn(12));
  model->eval();
  const std::vector<std::vector<int64_t>> sources = {{5, 6, 7, 8, 3}, {9, 3}, {10, 11, 12, 3}};
  auto batch = torch::full({3, 5}, vocab::kPadId, torch::kInt64);
  auto lengths = torch::empty({3}, torch::kInt64);
  for (int64_t r = 0; r < 3; ++r) {
    const auto& s = sources[static_cast<size_t>(r)];
    for (size_t i = 0; i < s.size(); ++i) batch[r][static_cast<int64_t>(i)] = s[i];
    lengths[r] = static_cast<int64_t>(s.size());
  }
  GreedyOptions options;
  options.max_length_factor = 1.0;
  options.max_length_extra = 2;
  const auto together = greedy_search(model, batch, lengths, options);
  for (int64_t r = 0; r < 3; ++r) {
    const auto& s = sources[static_cast<size_t>(r)];
    const auto alone = greedy_search(model, torch::tensor(s, torch::kInt64).unsqueeze(0),
                                     torch::tensor({static_cast<int64_t>(s.size())}, torch::kInt64), options);
    EXPECT_EQ(together[static_cast<size_t>(r)], alone[0]) << "row " << r;
    EXPECT_LE(together[static_cast<size_t>(r)].size(), s.size() + 2);
    for (const int32_t id : together[static_cast<size_t>(r)]) EXPECT_NE(id, vocab::kEosId);
  }
}

}  // namespace
}  // namespace tandem::search
