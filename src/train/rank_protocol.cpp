#include "rank_protocol.h"

#include <torch/torch.h>

#include <chrono>
#include <sstream>

#include "tandem/error.h"

namespace tandem::train {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

RankProtocol::RankProtocol(dist::Communicator& comm) : comm_(comm) {}

StopVote RankProtocol::vote(bool stop_here, bool signalled) {
  StopVote vote;
  if (!comm_.connected()) {
    vote.interrupted = signalled;
    vote.stop = stop_here || signalled;
    return vote;
  }
  auto votes = torch::zeros({2}, torch::kFloat64);
  votes[0] = leader() && stop_here ? 1.0 : 0.0;
  votes[1] = signalled ? 1.0 : 0.0;
  const auto start = Clock::now();
  comm_.all_reduce_sum({votes}, "the vote on stopping");
  seconds_waited_ += std::chrono::duration<double>(Clock::now() - start).count();
  vote.interrupted = votes[1].item<double>() > 0;
  vote.stop = vote.interrupted || votes[0].item<double>() > 0;
  return vote;
}

UpdateSums RankProtocol::sum(const UpdateSums& mine) {
  if (!comm_.connected()) return mine;
  auto values = torch::tensor({mine.loss, mine.nll, mine.tokens, mine.sentences, mine.non_finite,
                               leader() ? static_cast<double>(mine.epochs) : 0.0,
                               leader() && mine.epoch_ended ? 1.0 : 0.0},
                              torch::kFloat64);
  const auto start = Clock::now();
  comm_.all_reduce_sum({values}, "the sum of the losses");
  seconds_waited_ += std::chrono::duration<double>(Clock::now() - start).count();
  const auto* v = values.data_ptr<double>();
  UpdateSums sums;
  sums.loss = v[0];
  sums.nll = v[1];
  sums.tokens = v[2];
  sums.sentences = v[3];
  sums.non_finite = v[4];
  sums.epochs = static_cast<int64_t>(v[5]);
  sums.epoch_ended = v[6] > 0;
  return sums;
}

bool RankProtocol::sync(model::TrainState& state, data::BatchPosition position, const std::string& what,
                        const std::function<bool()>& leader_work) {
  const std::string key = "sync/" + std::to_string(++syncs_);
  if (comm_.distributed()) {
    state.workers.clear();
    for (const auto& text : comm_.all_gather(key + "/position", std::to_string(position.epoch) + " " +
                                                                    std::to_string(position.index))) {
      data::BatchPosition p;
      std::istringstream(text) >> p.epoch >> p.index;
      state.workers.push_back(p);
    }
  }
  if (leader()) {
    const bool stop = leader_work();
    comm_.publish(key, std::string(stop ? "1" : "0") + state.to_json());
    return stop;
  }
  const std::string answer = comm_.await(key, what);
  if (answer.empty()) throw Error("rank " + std::to_string(comm_.rank()) + ": rank 0 published an empty state at " + key);
  const auto outcome = model::TrainState::from_json(answer.substr(1), "rank 0's training state");
  state.best = outcome.best;
  state.stalled = outcome.stalled;
  state.validations = outcome.validations;
  state.scheduler = outcome.scheduler;
  return answer[0] == '1';
}

void RankProtocol::finish() { comm_.barrier("the last checkpoint"); }

double RankProtocol::take_seconds_waited() {
  const double seconds = seconds_waited_;
  seconds_waited_ = 0.0;
  return seconds;
}

}  // namespace tandem::train
