// Internal to train/: the collectives the workers of a run issue, and their
// order, written once.
//
// Every worker must issue the same collectives in the same order, or the run
// waits until --distributed-timeout and fails. So every choice of a collective
// is taken from values that every worker holds alike (the update count, sums
// over the workers, rank 0's published word), never from one worker's own
// clock, epoch count or signal.
//
// Each update, on every worker:
//   1. vote()    all-reduce of [stop, signal]: rank 0's stopping conditions
//                (clock, epochs), anyone's signal. A stop leaves the loop.
//   2. the gradients' sum: GradientSum's buckets, in one order (gradient_sum.h)
//   3. sum()     all-reduce of the update's loss, counts and non-finite losses,
//                with rank 0's count of finished epochs: an update with a
//                non-finite loss is skipped everywhere, and an epoch ends at
//                the same update everywhere (rank 0's epoch).
//   4. sync()    when the update was applied and validation or a checkpoint is
//                due: every worker's batch position gathered, rank 0 validates
//                and saves and publishes the outcome, the others wait for it
//                and adopt it (best scores, stall count, the schedule).
// At the end: sync(), then finish() (a barrier: no worker leaves while rank 0
// writes the last checkpoint).
//
// Usage:
//   RankProtocol protocol(comm);
//   while (!protocol.vote(stop_here, signalled).stop) {
//     ... backward, gradient_sum.finish() ...
//     const UpdateSums sums = protocol.sum(mine);
//     if (sums.non_finite > 0) continue;
//     ... step ...
//     if (due) stop = protocol.sync(state, position, [&] { return validate_and_save(); });
//   }
//   protocol.sync(state, position, save); protocol.finish();
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "tandem/data/batcher.h"
#include "tandem/dist/communicator.h"
#include "tandem/model/checkpoint.h"

namespace tandem::train {

/// The outcome of a vote on stopping.
struct StopVote {
  bool stop = false;         ///< leave the loop
  bool interrupted = false;  ///< because some worker was signalled
};

/// One worker's sums over its mini-batches of an update (after sum(): over all workers).
struct UpdateSums {
  double loss = 0.0;
  double nll = 0.0;
  double tokens = 0.0;
  double sentences = 0.0;
  double non_finite = 0.0;  ///< mini-batches whose loss was not finite
  /// Rank 0's finished epochs, and whether this update finished one (each
  /// worker passes its own; sum() returns rank 0's, so that validation at an
  /// epoch's end comes at the same update everywhere).
  int64_t epochs = 0;
  bool epoch_ended = false;
};

class RankProtocol {
 public:
  explicit RankProtocol(dist::Communicator& comm);

  bool leader() const { return comm_.rank() == 0; }

  /// Step 1. `stop_here` counts on rank 0 only (the others pass theirs, which
  /// is ignored, so that one worker's clock cannot stop it alone); `signalled`
  /// counts on every worker.
  StopVote vote(bool stop_here, bool signalled);

  /// Step 3: the sums over the workers, and rank 0's epoch count.
  UpdateSums sum(const UpdateSums& mine);

  /// Step 4. Every worker's position into state.workers (several workers);
  /// rank 0 runs `leader_work` (validation when due, then the checkpoint; it
  /// returns whether early stopping says stop) and publishes its state; the
  /// others wait for it (`what`: what rank 0 is doing, for the error when it
  /// stops answering) and take its best scores, stall and validation counts
  /// and schedule into `state`. Returns rank 0's stop.
  bool sync(model::TrainState& state, data::BatchPosition position, const std::string& what,
            const std::function<bool()>& leader_work);

  /// The end: every worker waits here for the others (rank 0's last checkpoint written).
  void finish();

  /// Seconds spent in vote() and sum() since the last call (for the report's communication share).
  double take_seconds_waited();

 private:
  dist::Communicator& comm_;
  int64_t syncs_ = 0;
  double seconds_waited_ = 0.0;
};

}  // namespace tandem::train
