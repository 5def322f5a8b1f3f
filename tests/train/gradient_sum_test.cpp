// GradientSum with two workers in one process (two threads, loopback Gloo):
// sums started during backward, bucket by bucket, equal the plain sum.
#include "train/gradient_sum.h"

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tandem/dist/communicator.h"

namespace tandem::train {
namespace {

torch::nn::Sequential small_net() {
  return torch::nn::Sequential(torch::nn::Linear(6, 5), torch::nn::Tanh(), torch::nn::Linear(5, 4),
                               torch::nn::Tanh(), torch::nn::Linear(4, 3));
}

torch::Tensor input_of(int64_t rank, int64_t micro) {
  return torch::arange(12, torch::kFloat32).reshape({2, 6}).mul(0.1 * static_cast<double>(rank + 1)).add(micro);
}

// Each rank: two mini-batches an update; `skip_last` leaves the last backward
// out (a loss that was not finite), as the trainer does.
void run_rank(int64_t rank, int port, bool overlap, bool skip_last, torch::nn::Sequential net,
              std::vector<torch::Tensor>* out, std::string* error) {
  try {
    dist::LaunchInfo launch;
    launch.rank = rank;
    launch.world_size = 2;
    launch.master_addr = "127.0.0.1";
    launch.master_port = port;
    launch.launcher = "test";
    dist::CommunicatorOptions options;
    options.timeout = std::chrono::seconds(30);
    auto comm = dist::Communicator::connect(launch, options, torch::kCPU);
    GradientSum sums(*comm, net->parameters(), overlap, /*bucket_bytes=*/64);
    for (int update = 0; update < 2; ++update) {
      for (auto& p : net->parameters()) p.mutable_grad() = torch::zeros_like(p);
      for (int64_t micro = 0; micro < 2; ++micro) {
        if (micro == 1) sums.arm();
        if (micro == 1 && skip_last && rank == 1) continue;
        net->forward(input_of(rank, micro)).pow(2).sum().backward();
      }
      // With overlap, every bucket's sum started during the last backward pass.
      if (overlap && !(skip_last && rank == 1) && sums.started() != sums.buckets()) {
        throw std::runtime_error(std::to_string(sums.started()) + " of " + std::to_string(sums.buckets()) +
                                 " buckets started during backward");
      }
      if (sums.buckets() < 4) throw std::runtime_error("the test wants several buckets");
      sums.finish();
    }
    for (const auto& p : net->parameters()) out->push_back(p.grad().clone());
  } catch (const std::exception& e) {
    *error = e.what();
  }
}

void expect_plain_sum(bool overlap, bool skip_last, int port) {
  torch::manual_seed(11);
  auto original = small_net();
  // The reference: both ranks' gradients, computed alone and added.
  std::vector<torch::Tensor> expected;
  for (const auto& p : original->parameters()) expected.push_back(torch::zeros_like(p));
  for (int64_t rank = 0; rank < 2; ++rank) {
    for (int64_t micro = 0; micro < 2; ++micro) {
      if (micro == 1 && skip_last && rank == 1) continue;
      auto net = std::dynamic_pointer_cast<torch::nn::SequentialImpl>(original->clone());
      torch::nn::Sequential copy(net);
      copy->forward(input_of(rank, micro)).pow(2).sum().backward();
      const auto params = copy->parameters();
      for (size_t i = 0; i < params.size(); ++i) expected[i] += params[i].grad();
    }
  }
  std::vector<torch::Tensor> got[2];
  std::string errors[2];
  std::vector<std::thread> threads;
  for (int64_t rank = 0; rank < 2; ++rank) {
    auto net = std::dynamic_pointer_cast<torch::nn::SequentialImpl>(original->clone());
    threads.emplace_back(run_rank, rank, port, overlap, skip_last, torch::nn::Sequential(net), &got[rank],
                         &errors[rank]);
  }
  for (auto& t : threads) t.join();
  for (int rank = 0; rank < 2; ++rank) {
    ASSERT_TRUE(errors[rank].empty()) << "rank " << rank << ": " << errors[rank];
    ASSERT_EQ(got[rank].size(), expected.size());
    for (size_t i = 0; i < expected.size(); ++i) {
      EXPECT_TRUE(torch::allclose(got[rank][i], expected[i], 1e-5, 1e-6)) << "rank " << rank << ", parameter " << i;
    }
  }
}

int port_for(int offset) { return 21000 + static_cast<int>(::getpid() % 9000) * 4 + offset; }

TEST(GradientSumTest, SumsStartedDuringBackwardInManyBucketsEqualThePlainSum) {
  expect_plain_sum(/*overlap=*/true, /*skip_last=*/false, port_for(0));
}

TEST(GradientSumTest, AWorkerThatSkipsItsLastBackwardStillSumsWithTheOthers) {
  expect_plain_sum(/*overlap=*/true, /*skip_last=*/true, port_for(1));
}

TEST(GradientSumTest, WithoutOverlapTheSumIsTheSame) {
  expect_plain_sum(/*overlap=*/false, /*skip_last=*/false, port_for(2));
}

}  // namespace
}  // namespace tandem::train
