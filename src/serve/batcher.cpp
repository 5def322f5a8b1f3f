#include "serve/batcher.h"

#include <chrono>
#include <exception>

#include "serve/metrics.h"

namespace tandem::serve {

Batcher::Batcher(BatchTranslate translate, TranslateOptions base, int64_t mini_batch, int max_latency_ms,
                 int64_t max_queued_lines, Metrics* metrics)
    : translate_(std::move(translate)),
      base_(std::move(base)),
      mini_batch_(mini_batch),
      max_latency_ms_(max_latency_ms),
      max_queued_lines_(max_queued_lines),
      metrics_(metrics) {
  worker_ = std::thread([this] { work(); });
}

Batcher::~Batcher() { finish(); }

bool Batcher::submit(const std::shared_ptr<Job>& job) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (finishing_ || static_cast<int64_t>(queue_.size() + job->lines.size()) > max_queued_lines_) return false;
    job->answers.assign(job->lines.size(), LineAnswer{});
    job->remaining = static_cast<int64_t>(job->lines.size());
    for (size_t i = 0; i < job->lines.size(); ++i) queue_.push_back({job, i});
    if (metrics_) metrics_->queued_lines(static_cast<double>(queue_.size()));
  }
  wake_.notify_all();
  return true;
}

size_t Batcher::queued() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return queue_.size();
}

void Batcher::finish() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    finishing_ = true;
  }
  wake_.notify_all();
  if (worker_.joinable() && worker_.get_id() != std::this_thread::get_id()) worker_.join();
}

void Batcher::work() {
  while (true) {
    std::vector<Entry> batch;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return !queue_.empty() || finishing_; });
      if (queue_.empty()) return;  // finishing, nothing left
      wake_.wait_until(lock, std::chrono::steady_clock::now() + std::chrono::milliseconds(max_latency_ms_),
                       [&] { return static_cast<int64_t>(queue_.size()) >= mini_batch_ || finishing_; });
      const int64_t beam = queue_.front().job->beam_size;
      for (auto it = queue_.begin(); it != queue_.end() && static_cast<int64_t>(batch.size()) < mini_batch_;) {
        if (it->job->beam_size == beam) {
          batch.push_back(std::move(*it));
          it = queue_.erase(it);
        } else {
          ++it;
        }
      }
      if (metrics_) metrics_->queued_lines(static_cast<double>(queue_.size()));
    }
    translate(batch);
  }
}

namespace {
std::string what_of(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown error";
  }
}
}  // namespace

void Batcher::translate(std::vector<Entry>& batch) {
  if (metrics_) metrics_->batch(static_cast<int64_t>(batch.size()));
  TranslateOptions options = base_;
  options.search.beam_size = batch.front().job->beam_size;
  auto run = [&](const std::vector<Entry*>& entries) {
    std::vector<std::string> lines;
    bool attention = false;
    for (const auto* e : entries) {
      lines.push_back(e->job->lines[e->line]);
      attention = attention || e->job->attention;
    }
    TranslateOptions o = options;
    o.mini_batch = static_cast<int64_t>(lines.size());
    o.search.keep_attention = o.search.keep_attention || attention;
    auto results = translate_(lines, o);
    if (results.size() != lines.size()) throw std::runtime_error("the translator returned a wrong number of results");
    return results;
  };
  // A line's answer from its result.
  auto answered = [](TranslationResult result) {
    LineAnswer a;
    a.ok = true;
    a.text = result.texts.empty() ? std::string() : result.texts.front();
    a.truncated = result.truncated;
    a.result = std::move(result);
    return a;
  };
  std::vector<Entry*> all;
  for (auto& e : batch) all.push_back(&e);
  std::vector<TranslationResult> results;
  std::exception_ptr failure;
  try {
    results = run(all);
  } catch (...) {
    failure = std::current_exception();
  }
  if (!failure) {
    for (size_t i = 0; i < batch.size(); ++i) answer(batch[i], answered(std::move(results[i])));
    return;
  }
  // One line at a time: only the lines that fail on their own carry the error
  // (a batch of one has failed on its own already).
  for (auto& entry : batch) {
    LineAnswer a;
    try {
      if (batch.size() == 1) std::rethrow_exception(failure);
      a = answered(std::move(run({&entry}).front()));
    } catch (...) {
      a.ok = false;
      a.error = what_of(std::current_exception());
    }
    answer(entry, std::move(a));
  }
}

void Batcher::answer(Entry& entry, LineAnswer a) {
  auto& job = *entry.job;
  if (metrics_) {
    if (a.ok) {
      const int64_t pieces =
          a.result.hypotheses.empty() ? 0 : static_cast<int64_t>(a.result.hypotheses.front().tokens.size());
      metrics_->translated(1, pieces, a.truncated ? 1 : 0);
    } else {
      metrics_->failed(1);
    }
  }
  job.answers[entry.line] = std::move(a);
  if (--job.remaining == 0 && job.done) {
    try {
      job.done(job);
    } catch (...) {
      // The answer could not be handed on (the server is going away): nothing else to do with it.
    }
  }
}

}  // namespace tandem::serve
