// Batcher: every line of every request in one bounded queue, translated in
// batches by one worker thread (up to mini_batch lines of one beam size, waiting
// at most max_latency_ms for a batch to fill).
//
// Failures stay with their lines: when a batch throws, its lines are translated
// one at a time, so only the line that fails carries an error (its request gets
// 500 with the reason) and the others get their translations. Nothing the
// translation throws leaves the worker thread.
//
// Usage:
//   Batcher batcher(translate_fn, options, &metrics);
//   auto job = std::make_shared<Job>();  job->lines = {...};  job->done = [](Job& j) { ... };
//   if (!batcher.submit(job)) { ... 503: the queue is full ... }
//   batcher.finish();   // lets every queued line finish, then the worker ends
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tandem/serve/server.h"

namespace tandem::serve {

class Metrics;

struct LineAnswer {
  bool ok = false;
  std::string text;            ///< the 1-best translation
  bool truncated = false;      ///< the line was cut at max_input_length
  std::string error;           ///< why it failed, when !ok
  TranslationResult result;    ///< the whole result (attention), when ok
};

/// One request's lines. `done` is called once, from the worker thread, when every
/// line has its answer.
struct Job {
  std::vector<std::string> lines;
  int64_t beam_size = 5;
  bool attention = false;
  std::vector<LineAnswer> answers;
  std::function<void(Job&)> done;
  int64_t remaining = 0;  // the worker's count of lines still to answer
};

class Batcher {
 public:
  Batcher(BatchTranslate translate, TranslateOptions base, int64_t mini_batch, int max_latency_ms,
          int64_t max_queued_lines, Metrics* metrics);
  ~Batcher();
  Batcher(const Batcher&) = delete;
  Batcher& operator=(const Batcher&) = delete;

  /// Queues the job's lines; false (nothing queued) when they would take the queue
  /// past max_queued_lines or the batcher is finishing.
  bool submit(const std::shared_ptr<Job>& job);
  /// Lines waiting now.
  size_t queued() const;
  /// Translates every queued line, then ends the worker. Idempotent.
  void finish();

 private:
  struct Entry {
    std::shared_ptr<Job> job;
    size_t line = 0;
  };
  void work();
  void translate(std::vector<Entry>& batch);
  void answer(Entry& entry, LineAnswer answer);

  BatchTranslate translate_;
  TranslateOptions base_;
  int64_t mini_batch_;
  int max_latency_ms_;
  int64_t max_queued_lines_;
  Metrics* metrics_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Entry> queue_;
  bool finishing_ = false;
  std::thread worker_;
};

}  // namespace tandem::serve
