// Server: translation over HTTP/1.1 (cpp-httplib), requests from many clients
// translated together.
//
// Usage:
//   auto translator = tandem::Translator::load({"model_dir"}, torch::kCPU);
//   tandem::serve::Server server(translator, options);   // options.port 0: any free port
//   std::thread t([&] { server.listen(); });
//   ... server.port() ...
//   server.stop();                                       // finishes what is queued, then listen() returns
//
// API:
//   POST /translate  {"text": ["line", ...], "beam_size": 5, "attention": false}
//                    -> {"translations": ["...", ...]} in order (with "attention": true also
//                       "attention": [{"source": [pieces], "target": [pieces], "weights": [[...]]}, ...])
//   GET  /health     -> {"status": "ok", "queued": N}
//   GET  /           -> a web page: a text box, a translate button, the result and its attention heat map
// Bad requests get 400 and {"error": "..."}: a body that is not JSON (or nested
// deeper than 32), a missing or non-string "text" item, a line break inside an
// item, more than max_lines items or max_line_chars characters in one, a
// beam_size outside 1..max_beam_size, unknown fields, invalid UTF-8 (the JSON
// parser rejects it). A body over max_body_bytes gets 413; more than
// max_connections requests at once get 503.
//
// Batching: every line of every request goes into one queue; a worker thread
// takes up to mini_batch lines of one beam size, waiting at most
// max_latency_ms for the batch to fill, and translates them with the one model
// in memory. Translations are those tandem-translate gives for the same lines
// and options.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "tandem/translator.h"

namespace tandem::serve {

struct ServerOptions {
  /// Address to listen on (--host). Default 127.0.0.1 (this machine only).
  std::string host = "127.0.0.1";
  /// Port (--port); 0 = any free port (see Server::port()). Default 8080.
  int port = 8080;
  /// Lines translated together at most (--mini-batch). Default 32.
  int64_t mini_batch = 32;
  /// Longest wait for a batch to fill, in milliseconds (--max-latency-ms). Default 10.
  int max_latency_ms = 10;
  /// Requests handled at once; more get 503 (--max-connections). Default 64.
  int max_connections = 64;
  /// Lines in one request at most (--max-lines). Default 64.
  int64_t max_lines = 64;
  /// Characters (code points) in one line at most (--max-line-chars). Default 2000.
  int64_t max_line_chars = 2000;
  /// Request body bytes at most (--max-body-bytes). Default 1 MiB.
  int64_t max_body_bytes = int64_t{1} << 20;
  /// Largest beam a request may ask for (--max-beam-size). Default 16.
  int64_t max_beam_size = 16;
  /// Everything else of the translation (beam 5 unless a request says otherwise).
  TranslateOptions translate;
};

class Server {
 public:
  Server(Translator& translator, ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Binds and serves until stop(); throws tandem::Error when the address cannot be bound.
  void listen();
  /// Stops accepting, lets queued lines finish, and makes listen() return. Safe from any thread.
  void stop();
  /// Waits until listen() has bound its port (or failed); the bound port, or -1.
  int port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tandem::serve
