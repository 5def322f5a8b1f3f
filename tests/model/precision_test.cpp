// --precision bfloat16: matrix products in bfloat16 on float32 weights; --precision
// int8 (translation): int8 weights, activations quantized per product (model/int8.h).
#include "tandem/model/precision.h"

#include <ATen/autocast_mode.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <string>
#include <tuple>
#include <vector>

#include "tandem/data/batch.h"
#include "tandem/error.h"
#include "tandem/model/checkpoint.h"
#include "tandem/model/int8.h"
#include "tandem/model/seq2seq.h"
#include "tandem/train/loss.h"
#include "tandem/util/cpu_kernels.h"
#include "test_support.h"

namespace tandem::model {
namespace {

data::Batch sample_batch() {
  return data::make_batch({{5, 6, 7, 8}, {9, 10}, {11, 12, 13}}, {{14, 15, 16}, {17, 18, 19, 20}, {21}}, torch::kCPU);
}

double relative_gap(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>() / std::max(b.abs().max().item<double>(), 1e-6);
}

// bfloat16 on a CPU without AVX-512 runs in float32 (LibTorch's bfloat16 products
// there are a generic loop, 16x slower than float32), with a line saying why; on a
// GPU, with AVX-512, and for the other precisions, the request stands.
TEST(PrecisionTest, BFloat16RunsInFloat32OnACpuWithoutAvx512) {
  util::CpuVectorFeatures avx2;
  avx2.avx2_fma = true;
  util::CpuVectorFeatures avx512 = avx2;
  avx512.avx512 = true;
  std::string why;
  EXPECT_EQ(usable_precision(Precision::kBFloat16, torch::kCPU, avx2, &why), Precision::kFloat32);
  EXPECT_NE(why.find("runs in float32"), std::string::npos) << why;
  EXPECT_NE(why.find("AVX-512"), std::string::npos) << why;
  EXPECT_EQ(usable_precision(Precision::kBFloat16, torch::kCPU, avx2, nullptr), Precision::kFloat32);
  for (const auto& [precision, device, cpu] :
       std::vector<std::tuple<Precision, torch::Device, util::CpuVectorFeatures>>{
           {Precision::kBFloat16, torch::kCPU, avx512},
           {Precision::kBFloat16, torch::Device(torch::kCUDA, 0), avx2},
           {Precision::kInt8, torch::kCPU, avx2},
           {Precision::kFloat32, torch::kCPU, avx2}}) {
    std::string none;
    EXPECT_EQ(usable_precision(precision, device, cpu, &none), precision) << precision_name(precision);
    EXPECT_TRUE(none.empty()) << none;
  }
}

TEST(PrecisionTest, NamesParseAndTheScopeRestoresAutocast) {
  EXPECT_EQ(parse_precision("float32"), Precision::kFloat32);
  EXPECT_EQ(parse_precision("bfloat16"), Precision::kBFloat16);
  EXPECT_EQ(precision_name(Precision::kBFloat16), "bfloat16");
  try {
    parse_precision("half");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("use float32, bfloat16 or int8"), std::string::npos);
  }
  EXPECT_FALSE(at::autocast::is_cpu_enabled());
  {
    PrecisionScope outer(Precision::kBFloat16, torch::kCPU);
    EXPECT_TRUE(at::autocast::is_cpu_enabled());
    {
      PrecisionScope inner(Precision::kBFloat16, torch::kCPU);
      EXPECT_TRUE(at::autocast::is_cpu_enabled());
    }
    EXPECT_TRUE(at::autocast::is_cpu_enabled());  // the outer scope still holds
    const auto product = torch::mm(torch::ones({2, 3}), torch::ones({3, 2}));
    EXPECT_EQ(product.scalar_type(), torch::kBFloat16);
  }
  EXPECT_FALSE(at::autocast::is_cpu_enabled());
  {
    PrecisionScope off(Precision::kFloat32, torch::kCPU);
    EXPECT_FALSE(at::autocast::is_cpu_enabled());
    EXPECT_EQ(torch::mm(torch::ones({2, 3}), torch::ones({3, 2})).scalar_type(), torch::kFloat32);
  }
}

// A cell, plain or with layer normalization, deep transitions and the conditional decoder.
class PrecisionCellTest : public ::testing::TestWithParam<std::tuple<CellType, bool>> {};

// The same model in both precisions: close logits (bfloat16 keeps 8 bits of
// mantissa), not equal ones (the products did run in bfloat16); a backward pass
// from a bfloat16 forward leaves float32 gradients on float32 weights.
// The test's model for a cell (plain, or with every new part: layer normalization,
// the conditional decoder, deep transitions), without dropout.
Seq2Seq cell_model(const std::tuple<CellType, bool>& param) {
  torch::manual_seed(3);
  const bool deep = std::get<1>(param);
  return Seq2Seq(ModelOptions(23, 23)
                     .dim_emb(16)
                     .dim_rnn(32)
                     .cell(std::get<0>(param))
                     .layer_norm(deep)
                     .dec_cell_base_depth(deep ? 2 : 1)
                     .enc_cell_depth(deep ? 2 : 1)
                     .dropout_emb(0)
                     .dropout_rnn(0)
                     .dropout_out(0));
}

TEST_P(PrecisionCellTest, BFloat16IsCloseToFloat32AndKeepsFloat32Weights) {
  Seq2Seq model = cell_model(GetParam());
  const auto batch = sample_batch();
  const auto reference = model->forward(batch).detach();  // [B, T, V]
  torch::Tensor low;
  {
    PrecisionScope scope(Precision::kBFloat16, torch::kCPU);
    low = model->forward(batch);
  }
  EXPECT_EQ(reference.scalar_type(), torch::kFloat32);
  const auto gap = (low.to(torch::kFloat32) - reference).abs().max().item<double>();
  const auto range = reference.abs().max().item<double>();
  EXPECT_GT(gap, 0.0);
  EXPECT_LT(gap, 0.05 * std::max(range, 1.0)) << "range " << range;
  torch::Tensor loss;
  {
    PrecisionScope scope(Precision::kBFloat16, torch::kCPU);
    loss = train::batch_loss(model, batch, 0.1).loss;
  }
  EXPECT_EQ(loss.scalar_type(), torch::kFloat32);
  loss.backward();
  for (const auto& p : model->named_parameters()) {
    EXPECT_EQ(p.value().scalar_type(), torch::kFloat32) << p.key();
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_EQ(p.value().grad().scalar_type(), torch::kFloat32) << p.key();
    EXPECT_TRUE(torch::isfinite(p.value().grad()).all().item<bool>()) << p.key();
  }
}

// int8 (translation): the search's path, the encoder's states and a decoder step's
// logits, close to float32's and not equal; padding stays zero.
TEST_P(PrecisionCellTest, Int8SearchIsCloseToFloat32) {
  Seq2Seq model = cell_model(GetParam());
  model->eval();
  torch::NoGradGuard no_grad;
  const auto batch = sample_batch();
  const auto run = [&](Precision precision) {
    PrecisionScope scope(precision, torch::kCPU);
    const auto encoded = model->encode(batch.source, batch.source_lengths);
    auto state = model->start(encoded);
    model->step(torch::tensor({1, 1, 1}, torch::kLong), state);
    const auto second = model->step(torch::tensor({7, 8, 9}, torch::kLong), state);
    return std::make_pair(encoded.memory, model->logits(second.features));
  };
  const auto [memory, logits] = run(Precision::kFloat32);
  const auto [memory8, logits8] = run(Precision::kInt8);
  // Without VNNI the activations have 7 bits (model/int8.cpp): twice their rounding,
  // which the layer-normalized deep transitions carry further (0.07 seen on a Zen 3).
  const double bound = util::cpu_vector_features().vnni ? 0.05 : 0.1;
  EXPECT_GT(relative_gap(memory8, memory), 0.0);
  EXPECT_LT(relative_gap(memory8, memory), bound);
  EXPECT_LT(relative_gap(logits8, logits), bound);
  EXPECT_TRUE(torch::equal(memory8.eq(0), memory.eq(0))) << "padding stays zero";
  // A shortlist's logits in int8: the full int8 layer's columns, close to float32's.
  const auto rows = torch::tensor({0, 4, 9, 22}, torch::kLong);
  const auto features = torch::randn({3, 16});
  torch::Tensor full8;
  torch::Tensor short8;
  {
    PrecisionScope scope(Precision::kInt8, torch::kCPU);
    full8 = model->logits(features);
    short8 = model->logits(features, rows);
  }
  EXPECT_TRUE(torch::equal(short8, full8.index_select(-1, rows)));
  EXPECT_LT(relative_gap(short8, model->logits(features, rows)), 0.05);
}

INSTANTIATE_TEST_SUITE_P(Cells, PrecisionCellTest,
                         ::testing::Combine(::testing::Values(CellType::kGru, CellType::kLstm, CellType::kRnn),
                                            ::testing::Bool()),
                         [](const auto& info) {
                           return cell_type_name(std::get<0>(info.param)) +
                                  (std::get<1>(info.param) ? "_ln_conditional_deep" : "");
                         });

// The programs: training and translation in bfloat16; checkpoints stay float32.
TEST(PrecisionProgramTest, TrainAndTranslateInBFloat16) {
  const std::string dir = test::temp_dir();
  const std::string text = test::sample_model_path() + ".txt";  // the sample sentences, a line each
  auto r = test::run_program("tandem-train", "--model " + dir + "/m -t " + text + " " + text + " --vocabs " +
                                                 test::sample_model_path() +
                                                 " --dim-emb 8 --dim-rnn 16 --after-updates 3 --valid-freq 3 --valid-sets " +
                                                 text + " " + text + " --precision bfloat16 --cpu-threads 1 --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto loaded = load_checkpoint(dir + "/m/model.ckpt", torch::kCPU);
  for (const auto& p : loaded.model->parameters()) EXPECT_EQ(p.scalar_type(), torch::kFloat32);
  const std::string input = "Ein Mann fährt.\n\nZwei Hunde.\n";
  r = test::run_program("tandem-translate", "-m " + dir + "/m --precision bfloat16 -b 3 --alignment soft --cpu-threads 1 --quiet",
                        input);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 3) << r.out;
  r = test::run_program("tandem-score",
                        "-m " + dir + "/m --precision bfloat16 -t " + text + " " + text + " --summary --cpu-threads 1");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = test::run_program("tandem-translate", "-m " + dir + "/m --precision half --cpu-threads 1", input);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("unknown --precision 'half'; use float32, bfloat16 or int8"), std::string::npos) << r.err;
}

// Inside a scope, without gradients: close to float32 (one scale per output row,
// 8 bits), not equal (the products did run in int8), for every row count (a few
// rows are padded to a power of two) and for 3-D inputs. Outside a scope or with
// gradients on: exactly torch's linear.
TEST(Int8Test, LinearIsCloseInsideAScopeAndExactOutside) {
  torch::manual_seed(1);
  const auto weight = torch::randn({40, 24});
  const auto bias = torch::randn({40});
  for (const auto& shape : std::vector<std::vector<int64_t>>{{1, 24}, {5, 24}, {64, 24}, {70, 24}, {3, 7, 24}}) {
    const auto x = torch::randn(shape);
    const auto exact = torch::nn::functional::linear(x, weight, bias);
    EXPECT_TRUE(torch::equal(model::linear(x, weight, bias), exact));
    torch::NoGradGuard no_grad;
    Int8Scope int8;
    EXPECT_TRUE(int8_products());
    const auto low = model::linear(x, weight, bias);
    EXPECT_EQ(low.sizes(), exact.sizes());
    EXPECT_EQ(low.scalar_type(), torch::kFloat32);
    EXPECT_GT(relative_gap(low, exact), 0.0);
    EXPECT_LT(relative_gap(low, exact), 0.03) << x.sizes();
    const auto no_bias = model::linear(x, weight);
    EXPECT_LT(relative_gap(no_bias, torch::nn::functional::linear(x, weight)), 0.03);
    {
      torch::AutoGradMode with_grad(true);
      EXPECT_TRUE(torch::equal(model::linear(x, weight, bias), exact)) << "gradients need the float32 product";
    }
  }
  EXPECT_FALSE(int8_products());
}

// Products whose pairs of terms pass 16 bits: activations at the top of their range
// times weights at the top of theirs. oneDNN without VNNI adds each pair in 16 bits
// and saturates; with 8-bit activations these came out about half as large on a Zen 3.
TEST(Int8Test, ProductsOfTheLargestValuesDoNotSaturate) {
  const auto weight = torch::ones({8, 64});
  const auto x = torch::ones({4, 64});
  torch::NoGradGuard no_grad;
  Int8Scope int8;
  const auto low = model::linear(x, weight);
  EXPECT_LT(relative_gap(low, torch::full({4, 8}, 64.0)), 0.01) << low[0][0].item<float>() << " for 64";
  const auto mixed = model::linear(x, torch::cat({weight, -weight}, /*dim=*/0));
  EXPECT_LT(relative_gap(mixed.narrow(1, 8, 8), torch::full({4, 8}, -64.0)), 0.01) << "negative weights";
}

// The packed weights are kept while the tensor is unchanged: a weight changed in
// place (a new version) is packed again.
TEST(Int8Test, AChangedWeightIsPackedAgain) {
  torch::manual_seed(2);
  const auto weight = torch::randn({16, 8});
  const auto x = torch::randn({4, 8});
  torch::NoGradGuard no_grad;
  Int8Scope int8;
  const auto before = model::linear(x, weight);
  weight.mul_(-2);
  const auto after = model::linear(x, weight);
  EXPECT_LT(relative_gap(after, before * -2), 0.03);
  EXPECT_LT(relative_gap(after, torch::nn::functional::linear(x, weight)), 0.03);
}

// The programs: tandem-translate and tandem-score take --precision int8 (a line out
// for every line in); tandem-train refuses it, naming what to use.
TEST(Int8ProgramTest, TranslateAndScoreInInt8TrainRefuses) {
  const std::string dir = test::temp_dir();
  const std::string text = test::sample_model_path() + ".txt";
  const std::string train = "--model " + dir + "/m -t " + text + " " + text + " --vocabs " + test::sample_model_path() +
                            " --dim-emb 8 --dim-rnn 16 --after-updates 3 --cpu-threads 1 --quiet";
  auto r = test::run_program("tandem-train", train + " --precision int8");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--precision int8 is for translation"), std::string::npos) << r.err;
  r = test::run_program("tandem-train", train);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string input = "Ein Mann fährt.\n\nZwei Hunde.\n";
  r = test::run_program("tandem-translate", "-m " + dir + "/m --precision int8 -b 3 --cpu-threads 1 --quiet", input);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 3) << r.out;
  r = test::run_program("tandem-score", "-m " + dir + "/m --precision int8 -t " + text + " " + text +
                                            " --summary --cpu-threads 1");
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

}  // namespace
}  // namespace tandem::model
