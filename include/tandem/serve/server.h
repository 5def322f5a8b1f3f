// Server: translation over HTTP/1.1 on Boost.Beast (Boost.Asio): a few I/O
// threads serve every connection, and a connection that waits costs no thread.
// Requests from many clients are translated together.
//
// Usage:
//   auto translator = tandem::Translator::load({"model_dir"}, torch::kCPU);
//   tandem::serve::Server server(translator, options);   // options.port 0: any free port
//   std::thread t([&] { server.listen(); });
//   ... server.port() ...
//   server.stop();                                       // finishes what is queued, then listen() returns
//
// API:
//   POST /translate  Tandem's: {"text": ["line", ...], "beam_size": 5, "attention": false}
//                    -> {"translations": [...], "truncated": [false, ...]} in order (with
//                       "attention": true also "attention": [{"source": [pieces], "target": [pieces],
//                       "weights": [[...]]}, ...]); "truncated" says which lines were cut at
//                       max_input_length pieces.
//                    LibreTranslate's: {"q": "text" or [...], "source": "en" or "auto", "target": "de",
//                       "format": "text", "api_key": "..."} as JSON or form-encoded
//                    -> {"translatedText": "..." or [...]} (serve/api.h)
//   GET  /languages  LibreTranslate's: [{"code": "en", "name": "English", "targets": ["de"]}, ...]
//   GET  /health     -> {"status": "ok", "queued": N}
//   GET  /metrics    Prometheus's text format (serve/metrics.h)
//   GET  /           a web page: a text box, the translation, the time it took, its attention heat map
//   OPTIONS *        CORS preflight (with cors_origin)
//
// Limits that hold for every client (each answer is JSON {"error": "..."}):
//   - request_timeout_ms for a whole request, headers and body, from its first byte: 408, closed;
//   - keep_alive_timeout_ms of silence before a request's first byte: closed;
//   - max_header_bytes: 431; max_body_bytes: 413 for a Content-Length over it (before the body
//     is read) and for a chunked body past it; a POST with neither length nor chunks: 411;
//   - max_connections open at once: the next connection gets 503 at once and is closed;
//   - max_queued_lines waiting for the model: 503 with Retry-After;
//   - 400 for a bad body (what is wrong said), 403 for a missing or unknown API key (api_keys)
//     or a cross-site request (an Origin or Host not allowed: see allowed_origins).
// A batch that fails is translated again line by line: only a line that fails
// on its own fails its request (500 with the reason).
//
// Batching: every line of every request goes into one queue; a worker thread
// takes up to mini_batch lines of one beam size, waiting at most
// max_latency_ms for the batch to fill. Translations are those tandem-translate
// gives for the same lines and options.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tandem/translator.h"

namespace tandem::serve {

/// How a batch of lines is translated; the default calls Translator::translate.
/// Tests replace it (slow or failing translations).
using BatchTranslate =
    std::function<std::vector<TranslationResult>(const std::vector<std::string>&, const TranslateOptions&)>;

struct ServerOptions {
  /// Address to listen on (--host). Default 127.0.0.1 (this machine only).
  std::string host = "127.0.0.1";
  /// Port (--port); 0 = any free port (see Server::port()). Default 8080.
  int port = 8080;
  /// Threads that serve the connections (--io-threads). Default 2.
  int io_threads = 2;
  /// Lines translated together at most (--mini-batch). Default 32.
  int64_t mini_batch = 32;
  /// Longest wait for a batch to fill, in milliseconds (--max-latency-ms). Default 10.
  int max_latency_ms = 10;
  /// Connections open at once; the next gets 503 (--max-connections). Default 256.
  int max_connections = 256;
  /// Lines waiting for the model at most; a request past it gets 503 (--max-queued-lines). Default 4096.
  int64_t max_queued_lines = 4096;
  /// Deadline of a whole request, headers and body, in milliseconds (--request-timeout, in s). Default 10 s.
  int request_timeout_ms = 10000;
  /// Silence allowed before a request's first byte (--keep-alive-timeout, in s). Default 5 s.
  int keep_alive_timeout_ms = 5000;
  /// Request line and headers, bytes at most (--max-header-bytes). Default 8 KiB.
  int64_t max_header_bytes = 8192;
  /// Lines in one request at most (--max-lines). Default 64.
  int64_t max_lines = 64;
  /// Characters (code points) in one line at most (--max-line-chars). Default 2000.
  int64_t max_line_chars = 2000;
  /// Request body bytes at most (--max-body-bytes). Default 1 MiB.
  int64_t max_body_bytes = int64_t{1} << 20;
  /// Largest beam a request may ask for (--max-beam-size). Default 16.
  int64_t max_beam_size = 16;
  /// Keys one of which POST /translate must carry (--api-keys FILE); empty: none needed.
  std::vector<std::string> api_keys;
  /// Access-Control-Allow-Origin of every answer (--cors-origin); empty: no CORS headers.
  std::string cors_origin;
  /// Origins (scheme://host[:port]) whose pages may call the server besides its own
  /// (--allowed-origins); "*" allows every origin and host.
  std::vector<std::string> allowed_origins;
  /// The model's languages as codes ("en", "de") for LibreTranslate's API (--source-lang, --target-lang).
  std::string source_lang;
  std::string target_lang;
  /// The model's name in /metrics' labels (the model path).
  std::string model_name;
  /// Everything else of the translation (beam 5 unless a request says otherwise).
  TranslateOptions translate;
  /// How batches are translated; empty: the translator.
  BatchTranslate translate_batch;
};

class Server {
 public:
  Server(Translator& translator, ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Binds and serves until stop(); throws tandem::Error when the address cannot be bound.
  void listen();
  /// Stops accepting and closes connections that wait for a request, lets queued
  /// lines finish and their answers go out, and makes listen() return. Safe from
  /// any thread, before or during listen().
  void stop();
  /// Waits until listen() has bound its port (or failed); the bound port, or -1.
  int port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tandem::serve
