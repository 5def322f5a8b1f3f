// FusedAdam equals torch::optim::Adam: the same values to float rounding after
// several steps, the same state (a checkpoint of one loads into the other), and
// Adam's own step for what it does not fuse.
#include "train/fused_adam.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <sstream>

namespace tandem::train {
namespace {

std::vector<torch::Tensor> parameters(uint64_t seed) {
  torch::manual_seed(static_cast<int64_t>(seed));
  return {torch::randn({300, 70}).requires_grad_(), torch::randn({50001}).requires_grad_(),
          torch::randn({3}).requires_grad_()};
}

// Five steps of `optimizer` over `params` with gradients drawn from a fixed stream.
void run(torch::optim::Optimizer& optimizer, std::vector<torch::Tensor>& params, int steps = 5) {
  torch::manual_seed(11);
  for (int s = 0; s < steps; ++s) {
    for (auto& p : params) p.mutable_grad() = torch::randn_like(p) * (s + 1);
    optimizer.step();
  }
}

TEST(FusedAdamTest, ValuesEqualAdamsToRounding) {
  for (const double lr : {1e-3, 3e-2}) {
    auto a = parameters(3);
    auto b = parameters(3);
    torch::optim::Adam adam(a, torch::optim::AdamOptions(lr));
    FusedAdam fused(b, torch::optim::AdamOptions(lr));
    EXPECT_TRUE(fused.fuses());
    run(adam, a);
    run(fused, b);
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_TRUE(torch::allclose(a[i], b[i], 1e-5, 1e-6)) << "parameter " << i << ", lr " << lr << ": largest difference "
                                                          << (a[i] - b[i]).abs().max().item<double>();
    }
  }
}

TEST(FusedAdamTest, StateLoadsIntoAdamAndBack) {
  auto a = parameters(5);
  auto b = parameters(5);
  FusedAdam fused(a, torch::optim::AdamOptions(1e-2));
  torch::optim::Adam adam(b, torch::optim::AdamOptions(1e-2));
  run(fused, a, 3);
  run(adam, b, 3);
  // Fused's state into a plain Adam over a's copy, and on: both continue alike.
  std::ostringstream bytes;
  {
    torch::serialize::OutputArchive archive;
    fused.save(archive);
    archive.save_to(bytes);
  }
  auto c = a;
  for (auto& p : c) p = p.detach().clone().requires_grad_();
  torch::optim::Adam resumed(c, torch::optim::AdamOptions(1e-2));
  {
    std::istringstream in(bytes.str());
    torch::serialize::InputArchive archive;
    archive.load_from(in);
    resumed.load(archive);
  }
  run(fused, a, 2);
  run(resumed, c, 2);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::allclose(a[i], c[i], 1e-5, 1e-6)) << i;
}

TEST(FusedAdamTest, WhatItDoesNotFuseTakesAdamsStep) {
  auto a = parameters(7);
  auto b = parameters(7);
  torch::optim::Adam adam(a, torch::optim::AdamOptions(1e-2).weight_decay(0.1));
  FusedAdam fused(b, torch::optim::AdamOptions(1e-2).weight_decay(0.1));
  EXPECT_FALSE(fused.fuses());
  run(adam, a);
  run(fused, b);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], b[i])) << i;
  auto d = std::vector<torch::Tensor>{torch::randn({4}, torch::kFloat64).requires_grad_()};
  FusedAdam doubles(d, torch::optim::AdamOptions(1e-2));
  d[0].mutable_grad() = torch::ones_like(d[0]);
  EXPECT_FALSE(doubles.fuses());
  doubles.step();
}

}  // namespace
}  // namespace tandem::train
