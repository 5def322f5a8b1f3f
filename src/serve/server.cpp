#include "tandem/serve/server.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <condition_variable>
#include <future>
#include <list>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "tandem/error.h"
#include "tandem/serve/page.h"
#include "tandem/util/utf8.h"

namespace tandem::serve {
namespace {

using nlohmann::json;

constexpr int kMaxDepth = 32;

// Nesting depth of a JSON text (brackets outside strings), without parsing it:
// a deeply nested body is refused before the parser recurses into it.
int nesting_depth(const std::string& body) {
  int depth = 0;
  int deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
      if (deepest > kMaxDepth) return deepest;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

struct Answer {
  std::string text;
  json attention;  // null unless asked for
};

struct Item {
  std::string line;
  int64_t beam_size = 5;
  bool attention = false;
  std::promise<Answer> answer;
};

// Debian's cpp-httplib listens with a backlog of 5 (compiled into the library):
// bursts of new connections from many clients would be refused. The listening
// socket of `port` gets a deeper queue (listen() again on it sets a new backlog).
void deepen_backlog(int port) {
  for (int fd = 0; fd < 4096; ++fd) {
    int accepting = 0;
    socklen_t size = sizeof(accepting);
    if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &size) != 0 || accepting == 0) continue;
    sockaddr_storage address{};
    socklen_t length = sizeof(address);
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) continue;
    const int bound = address.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&address)->sin6_port)
                                                    : ntohs(reinterpret_cast<sockaddr_in*>(&address)->sin_port);
    if (bound == port) ::listen(fd, SOMAXCONN);
  }
}

class BadRequest : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace

struct Server::Impl {
  Translator& translator;
  ServerOptions options;
  httplib::Server http;
  std::mutex mutex;
  std::condition_variable wake;
  std::list<Item> queue;
  bool stopping = false;
  std::thread worker;
  std::atomic<int> active{0};
  mutable std::mutex port_mutex;
  mutable std::condition_variable port_known;
  int bound_port = -2;  // -2: not bound yet, -1: failed

  Impl(Translator& t, ServerOptions o) : translator(t), options(std::move(o)) {}

  void set_port(int port) {
    {
      std::lock_guard<std::mutex> lock(port_mutex);
      bound_port = port;
    }
    port_known.notify_all();
  }

  // The worker: batches of one beam size, up to mini_batch lines, waiting at most max_latency_ms to fill.
  void work() {
    while (true) {
      std::vector<Item> batch;
      {
        std::unique_lock<std::mutex> lock(mutex);
        wake.wait(lock, [&] { return !queue.empty() || stopping; });
        if (queue.empty()) return;  // stopping, nothing left
        wake.wait_until(lock, std::chrono::steady_clock::now() + std::chrono::milliseconds(options.max_latency_ms),
                        [&] { return static_cast<int64_t>(queue.size()) >= options.mini_batch || stopping; });
        const int64_t beam = queue.front().beam_size;
        for (auto it = queue.begin(); it != queue.end() && static_cast<int64_t>(batch.size()) < options.mini_batch;) {
          if (it->beam_size == beam) {
            batch.push_back(std::move(*it));
            it = queue.erase(it);
          } else {
            ++it;
          }
        }
      }
      translate(batch);
    }
  }

  void translate(std::vector<Item>& batch) {
    try {
      TranslateOptions o = options.translate;
      o.search.beam_size = batch.front().beam_size;
      o.mini_batch = static_cast<int64_t>(batch.size());
      bool attention = false;
      std::vector<std::string> lines;
      for (const auto& item : batch) {
        lines.push_back(item.line);
        attention = attention || item.attention;
      }
      o.search.keep_attention = o.search.keep_attention || attention;
      const auto results = translator.translate(lines, o);
      for (size_t i = 0; i < batch.size(); ++i) {
        Answer answer;
        answer.text = results[i].texts.front();
        if (batch[i].attention) answer.attention = attention_json(lines[i], results[i]);
        batch[i].answer.set_value(std::move(answer));
      }
    } catch (...) {
      for (auto& item : batch) item.answer.set_exception(std::current_exception());
    }
  }

  // Source and target pieces and the weights of each target piece over the source pieces (eos left out).
  json attention_json(const std::string& line, const TranslationResult& result) const {
    json out = {{"source", json::array()}, {"target", json::array()}, {"weights", json::array()}};
    if (result.hypotheses.empty()) return out;
    const auto& source_tok = translator.source_tokenizer();
    const auto& target_tok = translator.target_tokenizer();
    const auto source_ids = source_tok.encode(line);
    for (int64_t s = 0; s < result.source_pieces && s < static_cast<int64_t>(source_ids.size()); ++s) {
      out["source"].push_back(source_tok.piece(source_ids[static_cast<size_t>(s)]));
    }
    const auto& h = result.hypotheses.front();
    for (size_t t = 0; t < h.tokens.size() && t < h.attention.size(); ++t) {
      out["target"].push_back(target_tok.piece(h.tokens[t]));
      json row = json::array();
      for (size_t s = 0; s < out["source"].size() && s < h.attention[t].size(); ++s) row.push_back(h.attention[t][s]);
      out["weights"].push_back(row);
    }
    return out;
  }

  // Parses and checks a /translate body into items; throws BadRequest saying what is wrong.
  std::vector<Item> parse(const std::string& body) const {
    if (nesting_depth(body) > kMaxDepth) {
      throw BadRequest("the JSON is nested deeper than " + std::to_string(kMaxDepth) + " levels");
    }
    json request;
    try {
      request = json::parse(body);
    } catch (const json::exception& e) {
      throw BadRequest(std::string("the body is not valid JSON (UTF-8): ") + e.what());
    }
    if (!request.is_object()) throw BadRequest("the body must be a JSON object: {\"text\": [\"line\", ...]}");
    for (const auto& [key, value] : request.items()) {
      if (key != "text" && key != "beam_size" && key != "attention") {
        throw BadRequest("unknown field '" + key + "'; the fields are text, beam_size and attention");
      }
    }
    if (!request.contains("text") || !request["text"].is_array()) {
      throw BadRequest("\"text\" must be an array of strings, one line each");
    }
    const auto& text = request["text"];
    if (text.empty()) throw BadRequest("\"text\" holds no line");
    if (static_cast<int64_t>(text.size()) > options.max_lines) {
      throw BadRequest("\"text\" holds " + std::to_string(text.size()) + " lines; at most " +
                       std::to_string(options.max_lines) + " a request");
    }
    int64_t beam = options.translate.search.beam_size;
    if (request.contains("beam_size")) {
      const auto& b = request["beam_size"];
      if (!b.is_number_integer() || b.get<int64_t>() < 1 || b.get<int64_t>() > options.max_beam_size) {
        throw BadRequest("\"beam_size\" must be a whole number from 1 to " + std::to_string(options.max_beam_size));
      }
      beam = b.get<int64_t>();
    }
    bool attention = false;
    if (request.contains("attention")) {
      if (!request["attention"].is_boolean()) throw BadRequest("\"attention\" must be true or false");
      attention = request["attention"].get<bool>();
    }
    std::vector<Item> items(text.size());
    for (size_t i = 0; i < text.size(); ++i) {
      if (!text[i].is_string()) throw BadRequest("text[" + std::to_string(i) + "] is not a string");
      auto line = text[i].get<std::string>();
      if (line.find('\n') != std::string::npos || line.find('\r') != std::string::npos) {
        throw BadRequest("text[" + std::to_string(i) + "] holds a line break; send one line an item");
      }
      if (static_cast<int64_t>(util::decode_utf8(line).size()) > options.max_line_chars) {
        throw BadRequest("text[" + std::to_string(i) + "] is longer than " + std::to_string(options.max_line_chars) +
                         " characters");
      }
      items[i].line = std::move(line);
      items[i].beam_size = beam;
      items[i].attention = attention;
    }
    return items;
  }

  void reply(httplib::Response& res, int status, const json& body) const {
    res.status = status;
    res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json; charset=utf-8");
  }

  void handle_translate(const httplib::Request& req, httplib::Response& res) {
    struct Count {
      std::atomic<int>& n;
      ~Count() { --n; }
    } count{active};
    if (++active > options.max_connections) {
      return reply(res, 503, {{"error", "the server is busy (" + std::to_string(options.max_connections) +
                                            " requests at once); try again"}});
    }
    std::vector<Item> items;
    try {
      items = parse(req.body);
    } catch (const BadRequest& e) {
      return reply(res, 400, {{"error", e.what()}});
    }
    std::vector<std::future<Answer>> answers;
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (stopping) return reply(res, 503, {{"error", "the server is stopping"}});
      for (auto& item : items) {
        answers.push_back(item.answer.get_future());
        queue.push_back(std::move(item));
      }
    }
    wake.notify_all();
    json translations = json::array();
    json attention = json::array();
    try {
      for (auto& a : answers) {
        auto answer = a.get();
        translations.push_back(std::move(answer.text));
        attention.push_back(std::move(answer.attention));
      }
    } catch (const std::exception& e) {
      return reply(res, 500, {{"error", std::string("translation failed: ") + e.what()}});
    }
    json body = {{"translations", translations}};
    if (!attention.empty() && !attention.front().is_null()) body["attention"] = attention;
    reply(res, 200, body);
  }
};

Server::Server(Translator& translator, ServerOptions options)
    : impl_(std::make_unique<Impl>(translator, std::move(options))) {
  auto& o = impl_->options;
  if (o.mini_batch < 1 || o.max_latency_ms < 0 || o.max_connections < 1 || o.max_lines < 1 || o.max_line_chars < 1 ||
      o.max_body_bytes < 1 || o.max_beam_size < 1) {
    throw Error("server limits must be at least 1 (--max-latency-ms at least 0)");
  }
  if (o.translate.search.beam_size < 1 || o.translate.search.beam_size > o.max_beam_size) {
    throw Error("--beam-size must be from 1 to --max-beam-size");
  }
  auto& http = impl_->http;
  const int threads = o.max_connections + 4;  // the extra ones answer 503 while all others wait
  http.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  http.set_payload_max_length(static_cast<size_t>(o.max_body_bytes));
  http.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    size_t queued = 0;
    {
      std::lock_guard<std::mutex> lock(impl_->mutex);
      queued = impl_->queue.size();
    }
    impl_->reply(res, 200, {{"status", "ok"}, {"queued", queued}});
  });
  http.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(page_html(), "text/html; charset=utf-8");
  });
  http.Post("/translate", [this](const httplib::Request& req, httplib::Response& res) {
    impl_->handle_translate(req, res);
  });
  http.set_error_handler([this](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    const std::string why = res.status == 413   ? "the body is larger than the server takes (--max-body-bytes)"
                            : res.status == 404 ? "no such page: use POST /translate, GET /health or GET /"
                                                : "the request was not understood";
    impl_->reply(res, res.status, {{"error", why}});
  });
  http.set_exception_handler([this](const httplib::Request&, httplib::Response& res, std::exception_ptr error) {
    std::string what = "internal error";
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    impl_->reply(res, 500, {{"error", what}});
  });
}

Server::~Server() {
  stop();
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->wake.notify_all();
  if (impl_->worker.joinable()) impl_->worker.join();
}

void Server::listen() {
  auto& o = impl_->options;
  const int port = o.port == 0 ? impl_->http.bind_to_any_port(o.host) : (impl_->http.bind_to_port(o.host, o.port) ? o.port : -1);
  if (port > 0) deepen_backlog(port);
  impl_->set_port(port < 0 ? -1 : port);
  if (port < 0) {
    throw Error("cannot listen on " + o.host + ":" + std::to_string(o.port) +
                " (the port is in use or the address is not this machine's); choose another --port or --host");
  }
  impl_->worker = std::thread([this] { impl_->work(); });
  impl_->http.listen_after_bind();
  // Every handler has returned, so nothing waits on the queue any more: stop the worker.
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->wake.notify_all();
  impl_->worker.join();
}

void Server::stop() { impl_->http.stop(); }

int Server::port() const {
  std::unique_lock<std::mutex> lock(impl_->port_mutex);
  impl_->port_known.wait(lock, [&] { return impl_->bound_port != -2; });
  return impl_->bound_port;
}

}  // namespace tandem::serve
