#include "serve/metrics.h"

#include <prometheus/text_serializer.h>

#include <sstream>

namespace tandem::serve {

Metrics::Metrics(const std::string& model, const std::string& version, int64_t mini_batch)
    : registry_(std::make_shared<prometheus::Registry>()) {
  const prometheus::Labels constant = {{"model", model}, {"version", version}};
  requests_ = &prometheus::BuildCounter()
                   .Name("tandem_http_requests_total")
                   .Help("HTTP requests answered, by path and status")
                   .Labels(constant)
                   .Register(*registry_);
  durations_ = &prometheus::BuildHistogram()
                    .Name("tandem_http_request_duration_seconds")
                    .Help("Time from a request's first byte to its answer, by path")
                    .Labels(constant)
                    .Register(*registry_);
  open_connections_ = &prometheus::BuildGauge()
                           .Name("tandem_http_open_connections")
                           .Help("Client connections open now")
                           .Labels(constant)
                           .Register(*registry_)
                           .Add({});
  queued_lines_ = &prometheus::BuildGauge()
                       .Name("tandem_queued_lines")
                       .Help("Lines waiting for the model now")
                       .Labels(constant)
                       .Register(*registry_)
                       .Add({});
  prometheus::Histogram::BucketBoundaries sizes;
  for (int64_t b = 1; b < mini_batch; b *= 2) sizes.push_back(static_cast<double>(b));
  sizes.push_back(static_cast<double>(mini_batch));
  batch_lines_ = &prometheus::BuildHistogram()
                      .Name("tandem_batch_lines")
                      .Help("Lines in each batch the model translated")
                      .Labels(constant)
                      .Register(*registry_)
                      .Add({}, sizes);
  auto counter = [&](const char* name, const char* help) {
    return &prometheus::BuildCounter().Name(name).Help(help).Labels(constant).Register(*registry_).Add({});
  };
  lines_translated_ = counter("tandem_lines_translated_total", "Lines translated");
  pieces_translated_ = counter("tandem_pieces_translated_total", "Output pieces of the translations (1-best)");
  lines_truncated_ = counter("tandem_lines_truncated_total", "Lines cut at --max-input-length before translation");
  lines_failed_ = counter("tandem_lines_failed_total", "Lines whose translation failed (500 to their request)");
}

void Metrics::request(const std::string& path, int status, double seconds) {
  requests_->Add({{"path", path}, {"status", std::to_string(status)}}).Increment();
  static const prometheus::Histogram::BucketBoundaries kSeconds = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                                    0.5,   1.0,  2.5,   5.0,  10.0};
  durations_->Add({{"path", path}}, kSeconds).Observe(seconds);
}

void Metrics::translated(int64_t lines, int64_t pieces, int64_t truncated) {
  lines_translated_->Increment(static_cast<double>(lines));
  pieces_translated_->Increment(static_cast<double>(pieces));
  lines_truncated_->Increment(static_cast<double>(truncated));
}

std::string Metrics::text() const {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, registry_->Collect());
  return out.str();
}

}  // namespace tandem::serve
