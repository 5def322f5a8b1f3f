#include "tandem/serve/server.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <condition_variable>
#include <list>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "serve/api.h"
#include "serve/batcher.h"
#include "serve/metrics.h"
#include "tandem/error.h"
#include "tandem/serve/page.h"
#include "tandem/util/allocator.h"


#ifndef TANDEM_VERSION
#define TANDEM_VERSION "unknown"
#endif

namespace tandem::serve {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using nlohmann::json;
using Clock = std::chrono::steady_clock;
using Response = http::response<http::string_body>;

// A client that has had its answer gets this long to stop sending before the
// connection is closed (so that the answer is not lost to a reset), and this
// many bytes of what it still sends are read and dropped.
constexpr auto kLinger = std::chrono::seconds(1);
constexpr size_t kLingerBytes = size_t{1} << 20;
// Bodies larger than this give their memory back to the system once answered.
constexpr size_t kTrimAfterBytes = size_t{64} << 10;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// "host:port", "[::1]:port" or "host" -> the host, lower case, without brackets.
std::string host_of(const std::string& authority) {
  std::string host = authority;
  if (!host.empty() && host.front() == '[') {
    host = host.substr(1, host.find(']') == std::string::npos ? std::string::npos : host.find(']') - 1);
  } else if (std::count(host.begin(), host.end(), ':') == 1) {
    host = host.substr(0, host.find(':'));
  }
  return lower(host);
}

// "http://host:port/..." -> "host:port" (lower case).
std::string authority_of(const std::string& origin) {
  const auto scheme = origin.find("://");
  std::string rest = scheme == std::string::npos ? origin : origin.substr(scheme + 3);
  return lower(rest.substr(0, rest.find('/')));
}

std::string path_label(beast::string_view target) {
  const std::string path(target.substr(0, target.find('?')));
  for (const char* known : {"/", "/translate", "/health", "/metrics", "/languages"}) {
    if (path == known) return path;
  }
  return "other";
}

std::string error_body(const std::string& what) {
  return json{{"error", what}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

struct Server::Impl {
  struct Session;

  Translator& translator;
  ServerOptions options;
  Metrics metrics;
  std::unique_ptr<Batcher> batcher;
  asio::io_context ioc;
  asio::executor_work_guard<asio::io_context::executor_type> work{ioc.get_executor()};
  std::optional<tcp::acceptor> acceptor;
  std::optional<asio::steady_timer> accept_retry;
  std::atomic<int> open{0};
  std::atomic<bool> stopping{false};
  std::mutex sessions_mutex;
  std::list<std::weak_ptr<Session>> sessions;
  std::mutex stop_mutex;
  std::condition_variable stop_wanted;
  bool stop_requested = false;
  mutable std::mutex port_mutex;
  mutable std::condition_variable port_known;
  int bound_port = -2;  // -2: not bound yet, -1: failed
  std::string hostname;

  Impl(Translator& t, ServerOptions o)
      : translator(t),
        options(std::move(o)),
        metrics(options.model_name, TANDEM_VERSION, options.mini_batch) {
    if (!options.translate_batch) {
      options.translate_batch = [this](const std::vector<std::string>& lines, const TranslateOptions& opts) {
        return translator.translate(lines, opts);
      };
    }
    batcher = std::make_unique<Batcher>(options.translate_batch, options.translate, options.mini_batch,
                                        options.max_latency_ms, options.max_queued_lines, &metrics);
    char name[256] = {};
    if (::gethostname(name, sizeof(name) - 1) == 0) hostname = lower(name);
  }

  void set_port(int port) {
    {
      std::lock_guard<std::mutex> lock(port_mutex);
      bound_port = port;
    }
    port_known.notify_all();
  }

  // Host names a browser may use for this server: IP addresses, localhost, the
  // machine's name, the listening address, and those of the allowed origins. Any
  // other name (a DNS-rebinding attacker's) is refused.
  bool host_allowed(const std::string& authority) const {
    if (authority.empty()) return true;
    const std::string host = host_of(authority);
    boost::system::error_code ec;
    asio::ip::make_address(host, ec);
    if (!ec || host == "localhost" || host == hostname || host == lower(options.host)) return true;
    for (const auto& origin : options.allowed_origins) {
      if (origin == "*" || host_of(authority_of(origin)) == host) return true;
    }
    return !options.cors_origin.empty() && options.cors_origin != "*" &&
           host_of(authority_of(options.cors_origin)) == host;
  }

  // A page of another site may call the server only when its origin is allowed.
  bool origin_allowed(const std::string& origin, const std::string& authority) const {
    if (origin.empty()) return true;
    if (options.cors_origin == "*" || origin == options.cors_origin) return true;
    for (const auto& allowed : options.allowed_origins) {
      if (allowed == "*" || allowed == origin) return true;
    }
    return origin != "null" && authority_of(origin) == lower(authority);  // the server's own page
  }

  bool key_allowed(const std::string& key) const {
    return options.api_keys.empty() ||
           std::find(options.api_keys.begin(), options.api_keys.end(), key) != options.api_keys.end();
  }

  void accept();
  void track(const std::shared_ptr<Session>& session);
  void close_waiting_sessions();
};

// One client connection. All its handlers run on its own strand.
struct Server::Impl::Session : std::enable_shared_from_this<Session> {
  enum class State { kWaiting, kReading, kAnswering };

  Impl& server;
  beast::tcp_stream stream;
  asio::steady_timer deadline;
  beast::flat_buffer buffer;
  std::optional<http::request_parser<http::string_body>> parser;
  State state = State::kWaiting;
  bool timed_out = false;
  bool closing = false;
  Clock::time_point started;
  std::string path = "other";
  size_t body_bytes = 0;
  unsigned version = 11;  // of the request being answered
  size_t lingered = 0;
  std::array<char, 4096> sink{};

  Session(Impl& s, tcp::socket socket) : server(s), stream(std::move(socket)), deadline(stream.get_executor()) {
    ++server.open;
    server.metrics.connection_opened();
  }
  ~Session() {
    --server.open;
    server.metrics.connection_closed();
  }

  void start() {
    asio::dispatch(stream.get_executor(), [self = shared_from_this()] { self->wait_for_request(); });
  }

  // Beyond --max-connections: 503 at once, nothing read.
  void reject() {
    asio::dispatch(stream.get_executor(), [self = shared_from_this()] {
      self->started = Clock::now();
      self->path = "none";
      self->answer(503, error_body("the server has " + std::to_string(self->server.options.max_connections) +
                                   " connections open (--max-connections); try again"),
                   false, {{"Retry-After", "1"}});
    });
  }

  // Silence before a request is allowed for --keep-alive-timeout; the deadline of
  // the request itself starts at its first byte.
  void wait_for_request() {
    state = State::kWaiting;
    if (server.stopping) return close();
    if (buffer.size() > 0) return read_header();
    stream.expires_after(std::chrono::milliseconds(server.options.keep_alive_timeout_ms));
    stream.async_read_some(buffer.prepare(4096), [self = shared_from_this()](beast::error_code ec, size_t n) {
      self->buffer.commit(n);
      if (ec || n == 0) return self->close();  // silent too long, hung up, or the server stops
      self->read_header();
    });
  }

  void arm_deadline() {
    stream.expires_never();
    timed_out = false;
    deadline.expires_after(std::chrono::milliseconds(server.options.request_timeout_ms));
    deadline.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec || self->state != State::kReading) return;
      self->timed_out = true;
      self->stream.cancel();
    });
  }

  void read_header() {
    state = State::kReading;
    started = Clock::now();
    path = "other";
    version = 11;  // until this request's line says otherwise
    body_bytes = 0;
    parser.emplace();
    parser->header_limit(static_cast<std::uint32_t>(std::min<int64_t>(server.options.max_header_bytes, UINT32_MAX)));
    parser->body_limit(static_cast<std::uint64_t>(server.options.max_body_bytes));
    arm_deadline();
    http::async_read_header(stream, buffer, *parser, [self = shared_from_this()](beast::error_code ec, size_t) {
      self->on_header(ec);
    });
  }

  void on_header(beast::error_code ec) {
    if (ec) return on_read_error(ec);
    auto& request = parser->get();
    path = path_label(request.target());
    const auto length = parser->content_length();
    if (request.method() == http::verb::post && !length && !parser->chunked()) {
      return fail(411, "a POST must give its body's length (Content-Length) or send it chunked");
    }
    if (length && *length > static_cast<std::uint64_t>(server.options.max_body_bytes)) {
      return fail(413, body_too_large());
    }
    if (lower(std::string(request[http::field::expect])) == "100-continue") {
      auto go_on = std::make_shared<http::response<http::empty_body>>(http::status::continue_, request.version());
      return http::async_write(stream, *go_on, [self = shared_from_this(), go_on](beast::error_code e, size_t) {
        if (e) return self->on_read_error(e);
        self->read_body();
      });
    }
    read_body();
  }

  void read_body() {
    http::async_read(stream, buffer, *parser, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->on_read_error(ec);
      self->state = State::kAnswering;
      self->deadline.cancel();
      self->handle(self->parser->release());
    });
  }

  std::string body_too_large() const {
    return "the body is larger than the server takes (" + std::to_string(server.options.max_body_bytes) +
           " bytes, --max-body-bytes)";
  }

  void on_read_error(beast::error_code ec) {
    if (timed_out) {
      return fail(408, "the request was not complete within " +
                           std::to_string(server.options.request_timeout_ms / 1000.0).substr(0, 5) +
                           " s (--request-timeout)");
    }
    if (ec == http::error::header_limit) {
      return fail(431, "the request's headers are larger than " + std::to_string(server.options.max_header_bytes) +
                           " bytes (--max-header-bytes)");
    }
    if (ec == http::error::body_limit) return fail(413, body_too_large());
    if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::operation_aborted ||
        ec == asio::error::connection_reset || ec == beast::error::timeout || server.stopping) {
      return close();
    }
    fail(400, "the request is not HTTP/1.1 as this server reads it (" + ec.message() + ")");
  }

  // An answer after which the connection closes (the request was not read to its end).
  void fail(int status, const std::string& why) {
    state = State::kAnswering;
    deadline.cancel();
    answer(status, error_body(why), false);
  }

  void handle(http::request<http::string_body> request) {
    body_bytes = request.body().size();
    version = request.version();
    const bool keep_alive = request.keep_alive();
    const std::string host(request[http::field::host]);
    const std::string origin(request[http::field::origin]);
    const std::string target(request.target());
    const std::string route = target.substr(0, target.find('?'));
    if (!server.host_allowed(host)) {
      return answer(403, error_body("Host '" + host + "' is not this server's name; start the server with "
                                    "--allowed-origins http://" + host + " to allow it"), keep_alive);
    }
    if (!server.origin_allowed(origin, host)) {
      return answer(403, error_body("requests from pages of " + origin +
                                    " are not allowed; start the server with --allowed-origins " + origin),
                    keep_alive);
    }
    const auto method = request.method();
    if (method == http::verb::options) {
      return answer(204, "", keep_alive,
                    {{"Allow", "GET, POST, OPTIONS"},
                     {"Access-Control-Allow-Methods", "GET, POST, OPTIONS"},
                     {"Access-Control-Allow-Headers", "Content-Type, Authorization"},
                     {"Access-Control-Max-Age", "86400"}});
    }
    auto wrong_method = [&](const char* allowed) {
      answer(405, error_body(std::string("use ") + allowed + " " + route), keep_alive, {{"Allow", allowed}});
    };
    if (route == "/") {
      if (method != http::verb::get) return wrong_method("GET");
      return answer(200, page_html(), keep_alive, {}, "text/html; charset=utf-8");
    }
    if (route == "/health") {
      if (method != http::verb::get) return wrong_method("GET");
      return answer(200, json{{"status", "ok"}, {"queued", server.batcher->queued()}, {"connections", server.open.load()}}.dump(),
                    keep_alive);
    }
    if (route == "/metrics") {
      if (method != http::verb::get) return wrong_method("GET");
      return answer(200, server.metrics.text(), keep_alive, {}, "text/plain; version=0.0.4; charset=utf-8");
    }
    if (route == "/languages") {
      if (method != http::verb::get) return wrong_method("GET");
      return answer(200, languages_answer(server.options).dump(), keep_alive);
    }
    if (route == "/translate") {
      if (method != http::verb::post) return wrong_method("POST");
      return translate(request, keep_alive);
    }
    answer(404, error_body("no such page: use POST /translate, GET /languages, /health, /metrics or /"), keep_alive);
  }

  void translate(const http::request<http::string_body>& request, bool keep_alive) {
    auto parsed = std::make_shared<TranslateRequest>();
    try {
      *parsed = parse_translate(request.body(), std::string(request[http::field::content_type]), server.options);
    } catch (const ApiError& e) {
      return answer(e.status(), error_body(e.what()), keep_alive);
    }
    std::string key = parsed->api_key;
    const std::string authorization(request[http::field::authorization]);
    if (key.empty() && authorization.rfind("Bearer ", 0) == 0) key = authorization.substr(7);
    if (!server.key_allowed(key)) {
      return answer(403, error_body(key.empty() ? "this server needs an API key (api_key)" : "Invalid API key"),
                    keep_alive);
    }
    auto job = std::make_shared<Job>();
    job->lines = parsed->lines;
    job->beam_size = parsed->beam_size;
    job->attention = parsed->attention;
    Impl& s = server;
    job->done = [self = shared_from_this(), parsed, keep_alive, &s](Job& done) {
      int status = 200;
      std::string body;
      for (size_t i = 0; i < done.answers.size() && status == 200; ++i) {
        if (!done.answers[i].ok) {
          status = 500;
          body = error_body("translating line " + std::to_string(i + 1) + " failed: " + done.answers[i].error);
        }
      }
      if (status == 200) {
        try {
          body = translate_answer(*parsed, done, &s.translator, s.options.source_lang)
                     .dump(-1, ' ', false, json::error_handler_t::replace);
        } catch (const std::exception& e) {
          status = 500;
          body = error_body(std::string("building the answer failed: ") + e.what());
        }
      }
      asio::post(self->stream.get_executor(), [self, status, body = std::move(body), keep_alive]() mutable {
        self->answer(status, std::move(body), keep_alive);
      });
    };
    if (server.stopping) return answer(503, error_body("the server is stopping"), false);
    if (!server.batcher->submit(job)) {
      return answer(503,
                    error_body("the server has " + std::to_string(server.batcher->queued()) +
                               " lines waiting (--max-queued-lines " + std::to_string(server.options.max_queued_lines) +
                               "); try again"),
                    keep_alive, {{"Retry-After", "1"}});
    }
  }

  void answer(int status, std::string body, bool keep_alive,
              std::vector<std::pair<std::string, std::string>> headers = {},
              const char* content_type = "application/json; charset=utf-8") {
    state = State::kAnswering;
    keep_alive = keep_alive && !server.stopping;
    auto response = std::make_shared<Response>(static_cast<http::status>(status), version);
    response->set(http::field::server, std::string("tandem-server/") + TANDEM_VERSION);
    if (status != 204) response->set(http::field::content_type, content_type);
    if (status != 200 || std::string(content_type).rfind("application/json", 0) == 0) {
      response->set(http::field::cache_control, "no-store");
    }
    if (!server.options.cors_origin.empty()) {
      response->set(http::field::access_control_allow_origin, server.options.cors_origin);
      response->set(http::field::vary, "Origin");
    }
    for (const auto& [name, value] : headers) response->set(name, value);
    response->body() = std::move(body);
    response->keep_alive(keep_alive);
    response->prepare_payload();
    // Counted when the answer is ready, before it is written: a client that has its
    // answer and then reads /metrics finds its request there.
    server.metrics.request(path, status, std::chrono::duration<double>(Clock::now() - started).count());
    stream.expires_after(std::chrono::milliseconds(server.options.request_timeout_ms));
    http::async_write(stream, *response, [self = shared_from_this(), response, keep_alive](
                                             beast::error_code ec, size_t) {
      if (self->body_bytes > kTrimAfterBytes) {
        // The large body's memory goes back to the system: the connection's read
        // buffer keeps no more than it needs, and the allocator returns free pages.
        self->buffer.shrink_to_fit();
        util::return_free_memory();
      }
      if (ec || !keep_alive) return self->close();
      self->wait_for_request();
    });
  }

  // Closes the connection: our side first, then what the client still sends is
  // read and dropped for a moment, so that the answer reaches it rather than a reset.
  void close() {
    if (closing) return;
    closing = true;
    deadline.cancel();
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream.expires_after(kLinger);
    linger();
  }

  void linger() {
    stream.async_read_some(asio::buffer(sink), [self = shared_from_this()](beast::error_code ec, size_t n) {
      self->lingered += n;
      if (ec || self->lingered > kLingerBytes) {
        beast::error_code ignored;
        self->stream.socket().close(ignored);
        return;
      }
      self->linger();
    });
  }

  // Server stop: a connection waiting for a request, or sending one, is closed.
  void stop_if_waiting() {
    asio::dispatch(stream.get_executor(), [self = shared_from_this()] {
      if (self->state != State::kAnswering && !self->closing) {
        self->deadline.cancel();
        self->stream.cancel();
      }
    });
  }
};

void Server::Impl::track(const std::shared_ptr<Session>& session) {
  std::lock_guard<std::mutex> lock(sessions_mutex);
  if (sessions.size() >= 64 && sessions.size() % 64 == 0) {
    sessions.remove_if([](const std::weak_ptr<Session>& s) { return s.expired(); });
  }
  sessions.push_back(session);
}

void Server::Impl::close_waiting_sessions() {
  std::lock_guard<std::mutex> lock(sessions_mutex);
  for (auto& weak : sessions) {
    if (auto session = weak.lock()) session->stop_if_waiting();
  }
  sessions.clear();
}

void Server::Impl::accept() {
  acceptor->async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (stopping || !acceptor->is_open()) return;
    if (ec) {
      // Out of file descriptors, say: try again shortly rather than spin.
      accept_retry->expires_after(std::chrono::milliseconds(100));
      accept_retry->async_wait([this](beast::error_code e) {
        if (!e) accept();
      });
      return;
    }
    auto session = std::make_shared<Session>(*this, std::move(socket));
    if (open.load() > options.max_connections) {
      session->reject();
    } else {
      track(session);
      session->start();
    }
    accept();
  });
}

Server::Server(Translator& translator, ServerOptions options) {
  auto& o = options;
  if (o.mini_batch < 1 || o.max_latency_ms < 0 || o.max_connections < 1 || o.max_lines < 1 || o.max_line_chars < 1 ||
      o.max_body_bytes < 1 || o.max_beam_size < 1 || o.io_threads < 1 || o.max_queued_lines < 1 ||
      o.request_timeout_ms < 1 || o.keep_alive_timeout_ms < 1 || o.max_header_bytes < 1) {
    throw Error("server limits must be at least 1 (--max-latency-ms at least 0)");
  }
  if (o.translate.search.beam_size < 1 || o.translate.search.beam_size > o.max_beam_size) {
    throw Error("--beam-size must be from 1 to --max-beam-size");
  }
  impl_ = std::make_unique<Impl>(translator, std::move(options));
}

Server::~Server() {
  stop();
  impl_->batcher->finish();
}

void Server::listen() {
  auto& impl = *impl_;
  const auto& o = impl.options;
  int port = -1;
  std::string why;
  try {
    const auto address = asio::ip::make_address(o.host == "localhost" ? "127.0.0.1" : o.host);
    impl.acceptor.emplace(impl.ioc);
    const tcp::endpoint endpoint(address, static_cast<unsigned short>(o.port));
    impl.acceptor->open(endpoint.protocol());
    impl.acceptor->set_option(asio::socket_base::reuse_address(true));
    impl.acceptor->bind(endpoint);
    impl.acceptor->listen(asio::socket_base::max_listen_connections);
    port = impl.acceptor->local_endpoint().port();
  } catch (const std::exception& e) {
    why = e.what();
  }
  impl.set_port(port);
  if (port < 0) {
    throw Error("cannot listen on " + o.host + ":" + std::to_string(o.port) + " (" + why +
                "); choose another --port, or a --host that is an address of this machine");
  }
  impl.accept_retry.emplace(impl.ioc);
  impl.accept();
  std::vector<std::thread> threads;
  for (int i = 0; i < o.io_threads; ++i) threads.emplace_back([&impl] { impl.ioc.run(); });
  {
    std::unique_lock<std::mutex> lock(impl.stop_mutex);
    impl.stop_wanted.wait(lock, [&] { return impl.stop_requested; });
  }
  // No new connections; connections waiting for a request are closed; the
  // queued lines are translated and their answers written; then the threads end.
  impl.stopping = true;
  asio::post(impl.ioc, [&impl] {
    beast::error_code ignored;
    impl.acceptor->close(ignored);
    impl.accept_retry->cancel();
  });
  impl.close_waiting_sessions();
  impl.batcher->finish();
  impl.work.reset();
  for (auto& t : threads) t.join();
}

void Server::stop() {
  {
    std::lock_guard<std::mutex> lock(impl_->stop_mutex);
    impl_->stop_requested = true;
  }
  impl_->stop_wanted.notify_all();
}

int Server::port() const {
  std::unique_lock<std::mutex> lock(impl_->port_mutex);
  impl_->port_known.wait(lock, [&] { return impl_->bound_port != -2; });
  return impl_->bound_port;
}

}  // namespace tandem::serve
