// Metrics: what tandem-server counts, in Prometheus's text format (prometheus-cpp,
// Debian's prometheus-cpp-dev) for GET /metrics. Every family carries the model
// and Tandem's version as constant labels.
//
//   tandem_http_requests_total{path, status}        requests answered (unknown paths count as "other")
//   tandem_http_request_duration_seconds{path}      from the request's first byte to its answer being ready
//   tandem_http_open_connections                    connections open now
//   tandem_lines_translated_total, tandem_pieces_translated_total (output pieces of the 1-best)
//   tandem_lines_truncated_total, tandem_lines_failed_total
//   tandem_queued_lines                             lines waiting for the model now
//   tandem_batch_lines                              lines in each batch the model translated
//
// Every method is thread-safe.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <memory>
#include <string>

namespace tandem::serve {

class Metrics {
 public:
  Metrics(const std::string& model, const std::string& version, int64_t mini_batch);

  /// `path` is one of the server's own paths or "other".
  void request(const std::string& path, int status, double seconds);
  void connection_opened() { open_connections_->Increment(); }
  void connection_closed() { open_connections_->Decrement(); }
  void queued_lines(double n) { queued_lines_->Set(n); }
  void batch(int64_t lines) { batch_lines_->Observe(static_cast<double>(lines)); }
  void translated(int64_t lines, int64_t pieces, int64_t truncated);
  void failed(int64_t lines) { lines_failed_->Increment(static_cast<double>(lines)); }

  /// Every family in Prometheus's text exposition format (version 0.0.4).
  std::string text() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* requests_;
  prometheus::Family<prometheus::Histogram>* durations_;
  prometheus::Gauge* open_connections_;
  prometheus::Gauge* queued_lines_;
  prometheus::Histogram* batch_lines_;
  prometheus::Counter* lines_translated_;
  prometheus::Counter* pieces_translated_;
  prometheus::Counter* lines_truncated_;
  prometheus::Counter* lines_failed_;
};

}  // namespace tandem::serve
