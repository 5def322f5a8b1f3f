#include "cli/option_parsers.h"

#include <gtest/gtest.h>

#include "tandem/error.h"

namespace tandem::cli {
namespace {

TEST(OptionParsersTest, NamesBecomeTypes) {
  EXPECT_EQ(parse_device("cpu"), torch::Device(torch::kCPU));
  EXPECT_EQ(parse_optimizer("sgd"), train::OptimizerType::kSgd);
  EXPECT_EQ(parse_lr_schedule("inverse-sqrt"), train::LrScheduleType::kInverseSqrt);
  EXPECT_EQ(parse_metrics({"bleu", "cross-entropy"}),
            (std::vector<eval::Metric>{eval::Metric::kBleu, eval::Metric::kCrossEntropy}));
}

TEST(OptionParsersTest, UnknownNamesAreErrorsThatSayWhatToUse) {
  const auto message = [](const auto& parse) {
    try {
      parse();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message([] { parse_device("tpu"); }).find("use cpu, cuda or cuda:N"), std::string::npos);
  EXPECT_NE(message([] { parse_optimizer("adagrad"); }).find("use adam or sgd"), std::string::npos);
  EXPECT_NE(message([] { parse_lr_schedule("cosine"); }).find("'cosine'"), std::string::npos);
  EXPECT_NE(message([] { parse_metrics({"bleu", "ter"}); }).find("'ter'"), std::string::npos);
  EXPECT_EQ(parse_metrics({"chrf", "bleu"}), (std::vector<eval::Metric>{eval::Metric::kChrf, eval::Metric::kBleu}));
  EXPECT_NE(message([] { parse_metrics({"bleu", "bleu"}); }).find("twice"), std::string::npos);
  EXPECT_NE(message([] { parse_metrics({}); }).find("at least one"), std::string::npos);
}

}  // namespace
}  // namespace tandem::cli
