// tandem-server against clients that are not polite: bodies without a length or
// past the limit, slow clients at the headers and at the body, floods of
// connections and of lines, a line whose translation fails, a stop with lines
// queued; and what the open network needs: LibreTranslate's API, API keys, the
// Origin/Host check, CORS, /metrics. Every wait is bounded (a few seconds), so a
// regression fails instead of hanging.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "tandem/serve/server.h"
#include "test_support.h"

namespace tandem::serve {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// A client on a raw socket: it sends exactly what the test says, when it says.
class RawClient {
 public:
  explicit RawClient(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
    timeval timeout{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  }
  ~RawClient() { ::close(fd_); }
  bool connected() const { return connected_; }
  /// False when the server has closed or reset the connection.
  bool send(const std::string& bytes) {
    size_t sent = 0;
    while (sent < bytes.size()) {
      const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<size_t>(n);
    }
    return true;
  }
  /// Everything the server sends within `seconds`, until it closes (closed() then true)
  /// or, with `one_answer`, until one whole answer (headers and Content-Length body) is in.
  std::string receive(double seconds, bool one_answer = true) {
    const auto until = Clock::now() + std::chrono::duration<double>(seconds);
    while (Clock::now() < until) {
      if (one_answer && whole_answer()) break;
      pollfd p{fd_, POLLIN, 0};
      const int wait = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count());
      if (::poll(&p, 1, std::max(wait, 0)) <= 0) break;
      char chunk[65536];
      const ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
      if (n <= 0) {
        closed_ = true;
        break;
      }
      got_.append(chunk, static_cast<size_t>(n));
    }
    return got_;
  }
  bool closed() const { return closed_; }
  /// The status code of the first answer received, or 0.
  int status() const { return got_.rfind("HTTP/1.1 ", 0) == 0 ? std::atoi(got_.c_str() + 9) : 0; }
  std::string header(const std::string& name) const {
    const auto at = got_.find("\r\n" + name + ": ");
    if (at == std::string::npos) return "";
    const auto start = at + 4 + name.size();
    return got_.substr(start, got_.find("\r\n", start) - start);
  }

 private:
  bool whole_answer() const {
    const auto end = got_.find("\r\n\r\n");
    if (end == std::string::npos) return false;
    const std::string length = header("Content-Length");
    return got_.size() >= end + 4 + static_cast<size_t>(length.empty() ? 0 : std::stoul(length));
  }
  int fd_ = -1;
  bool connected_ = false;
  bool closed_ = false;
  std::string got_;
};

std::string post_head(const std::string& extra = "") {
  return "POST /translate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" + extra;
}

class ServerLimitsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(test::small_dates_work_dir());
    translator_ = new Translator(Translator::load({*dir_ + "/model"}, torch::kCPU));
  }
  static void TearDownTestSuite() {
    delete translator_;
    delete dir_;
  }
  static std::vector<std::string> date_lines(size_t n) {
    std::vector<std::string> lines;
    std::istringstream in(test::read_file(*dir_ + "/data/test.src"));
    for (std::string line; lines.size() < n && std::getline(in, line);) lines.push_back(line);
    return lines;
  }
  static std::string translate(const std::string& line, int64_t beam = 5) {
    TranslateOptions options;
    options.search.beam_size = beam;
    return translator_->translate({line}, options).front().texts.front();
  }

  void start(ServerOptions options) {
    options.port = 0;
    server_ = std::make_unique<Server>(*translator_, options);
    listen_done_ = std::async(std::launch::async, [this] { server_->listen(); });
    port_ = server_->port();
    ASSERT_GT(port_, 0);
  }
  // Stops the server; listen() must return within `seconds`.
  void stop(double seconds = 10) {
    if (!server_) return;
    server_->stop();
    ASSERT_EQ(listen_done_.wait_for(std::chrono::duration<double>(seconds)), std::future_status::ready)
        << "listen() did not return within " << seconds << " s of stop()";
    listen_done_.get();
    server_.reset();
  }
  void TearDown() override { stop(); }

  httplib::Result post(const std::string& body, const std::string& type = "application/json",
                       const httplib::Headers& headers = {}) {
    httplib::Client client("127.0.0.1", port_);
    client.set_read_timeout(20, 0);
    return client.Post("/translate", headers, body, type.c_str());
  }
  httplib::Result get(const std::string& path, const httplib::Headers& headers = {}) {
    httplib::Client client("127.0.0.1", port_);
    client.set_read_timeout(20, 0);
    return client.Get(path.c_str(), headers);
  }

  static std::string* dir_;
  static Translator* translator_;
  std::unique_ptr<Server> server_;
  std::future<void> listen_done_;
  int port_ = 0;
};
std::string* ServerLimitsTest::dir_ = nullptr;
Translator* ServerLimitsTest::translator_ = nullptr;

TEST_F(ServerLimitsTest, APostWithoutALengthGets411BeforeItsBody) {
  ServerOptions options;
  options.max_body_bytes = 1024;
  start(options);
  RawClient client(port_);
  ASSERT_TRUE(client.connected());
  const auto t = Clock::now();
  ASSERT_TRUE(client.send(post_head() + "\r\n"));
  client.send(std::string(64 << 10, 'a'));  // the start of a body of no stated length
  client.receive(5);
  EXPECT_EQ(client.status(), 411) << client.receive(0);
  EXPECT_NE(client.receive(0).find("Content-Length"), std::string::npos);
  EXPECT_LT(seconds_since(t), 3.0);
  client.receive(5, false);
  EXPECT_TRUE(client.closed()) << "the connection stays open after 411";
}

TEST_F(ServerLimitsTest, AContentLengthOverTheLimitGets413WithoutSendingTheBody) {
  ServerOptions options;
  options.max_body_bytes = 1024;
  start(options);
  RawClient client(port_);
  ASSERT_TRUE(client.send(post_head("Content-Length: 314572800\r\n") + "\r\n"));
  client.receive(5);
  EXPECT_EQ(client.status(), 413) << client.receive(0);
  EXPECT_NE(client.receive(0).find("--max-body-bytes"), std::string::npos);
}

TEST_F(ServerLimitsTest, AChunkedBodyPastTheLimitGets413) {
  ServerOptions options;
  options.max_body_bytes = 1024;
  start(options);
  RawClient client(port_);
  ASSERT_TRUE(client.send(post_head("Transfer-Encoding: chunked\r\n") + "\r\n"));
  const std::string chunk = "300\r\n" + std::string(0x300, 'a') + "\r\n";
  client.send(chunk);
  client.send(chunk);  // 1536 bytes: past 1024
  client.receive(5);
  EXPECT_EQ(client.status(), 413) << client.receive(0);
  // A chunked body within the limit is taken.
  RawClient good(port_);
  const std::string body = "{\"text\": [\"le 3 mars 2001\"]}";
  std::ostringstream size;
  size << std::hex << body.size();
  ASSERT_TRUE(good.send(post_head("Transfer-Encoding: chunked\r\n") + "\r\n" + size.str() + "\r\n" + body + "\r\n0\r\n\r\n"));
  good.receive(20);
  EXPECT_EQ(good.status(), 200) << good.receive(0);
}

TEST_F(ServerLimitsTest, HeadersOverTheLimitGet431) {
  ServerOptions options;
  options.max_header_bytes = 2048;
  start(options);
  RawClient client(port_);
  ASSERT_TRUE(client.send(post_head("X-Filler: " + std::string(4096, 'x') + "\r\n")));
  client.receive(5);
  EXPECT_EQ(client.status(), 431) << client.receive(0);
}

TEST_F(ServerLimitsTest, ASlowClientAtTheHeadersGets408AtTheRequestDeadline) {
  ServerOptions options;
  options.request_timeout_ms = 1000;
  start(options);
  RawClient client(port_);
  const auto t = Clock::now();
  const std::string head = post_head("Content-Length: 10\r\n");
  // One byte every 200 ms: each byte comes well within any idle timeout, the whole never in time.
  for (size_t i = 0; i < head.size() && seconds_since(t) < 4 && client.send(head.substr(i, 1)); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (!client.receive(0.01).empty()) break;
  }
  client.receive(3);
  EXPECT_EQ(client.status(), 408) << client.receive(0);
  EXPECT_LT(seconds_since(t), 2.5);
  client.receive(3, false);
  EXPECT_TRUE(client.closed());
}

TEST_F(ServerLimitsTest, ASlowClientAtTheBodyGets408AtTheRequestDeadline) {
  ServerOptions options;
  options.request_timeout_ms = 1000;
  start(options);
  RawClient client(port_);
  const auto t = Clock::now();
  ASSERT_TRUE(client.send(post_head("Content-Length: 100\r\n") + "\r\n{\"text\""));
  for (int i = 0; i < 20 && client.send(" "); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (!client.receive(0.01).empty()) break;
  }
  client.receive(3);
  EXPECT_EQ(client.status(), 408) << client.receive(0);
  EXPECT_LT(seconds_since(t), 2.5);
}

TEST_F(ServerLimitsTest, ASilentConnectionIsClosedAfterTheKeepAliveTimeout) {
  ServerOptions options;
  options.keep_alive_timeout_ms = 500;
  start(options);
  RawClient silent(port_);
  const auto t = Clock::now();
  EXPECT_EQ(silent.receive(5, false), "");
  EXPECT_TRUE(silent.closed());
  EXPECT_LT(seconds_since(t), 2.0);
  // After an answer the connection waits the same time for the next request, then closes.
  RawClient kept(port_);
  ASSERT_TRUE(kept.send("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  kept.receive(5);
  EXPECT_EQ(kept.status(), 200);
  kept.receive(5, false);
  EXPECT_TRUE(kept.closed());
}

TEST_F(ServerLimitsTest, SixtyFourSlowClientsDoNotDelayAPoliteOne) {
  ServerOptions options;
  options.request_timeout_ms = 20000;
  options.keep_alive_timeout_ms = 20000;
  options.max_connections = 100;
  start(options);
  std::vector<std::unique_ptr<RawClient>> slow;
  for (int i = 0; i < 64; ++i) {
    slow.push_back(std::make_unique<RawClient>(port_));
    ASSERT_TRUE(slow.back()->send("POST /translate HTTP/1.1\r\n"));
  }
  std::atomic<bool> dripping{true};
  std::thread drip([&] {
    for (int round = 0; dripping && round < 100; ++round) {
      for (auto& c : slow) c->send("X");
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  const std::string line = "le 14 juillet 1989";
  for (int i = 0; i < 5; ++i) {
    const auto t = Clock::now();
    const auto res = post(json{{"text", {line}}}.dump());
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(json::parse(res->body)["translations"][0], translate(line));
    EXPECT_LT(seconds_since(t), 2.0) << "a polite client waited behind slow ones";
    const auto t2 = Clock::now();
    const auto health = get("/health");
    ASSERT_TRUE(health);
    EXPECT_EQ(health->status, 200);
    EXPECT_LT(seconds_since(t2), 1.0);
  }
  dripping = false;
  drip.join();
}

TEST_F(ServerLimitsTest, VanishingClientsLeaveNothingBehind) {
  ServerOptions options;
  options.mini_batch = 4;
  options.max_latency_ms = 50;
  start(options);
  const std::string body = "{\"text\": [\"le 14 juillet 1989\", \"3 mars 2001\"]}";
  for (int i = 0; i < 30; ++i) {
    RawClient client(port_);
    switch (i % 3) {
      case 0:  // hangs up mid-headers
        client.send("POST /translate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le");
        break;
      case 1:  // hangs up mid-body
        client.send(post_head("Content-Length: " + std::to_string(body.size()) + "\r\n") + "\r\n" + body.substr(0, 10));
        break;
      default:  // hangs up while its lines are translated
        client.send(post_head("Content-Length: " + std::to_string(body.size()) + "\r\n") + "\r\n" + body);
        break;
    }
  }  // each RawClient closes its socket here
  // Every connection is gone within a few seconds, and the server still translates.
  int connections = -1;
  for (int i = 0; i < 50; ++i) {
    const auto health = get("/health");
    ASSERT_TRUE(health);
    connections = json::parse(health->body)["connections"].get<int>();
    if (connections <= 1) break;  // the /health request's own
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_LE(connections, 1);
  const auto res = post(body);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(json::parse(res->body)["translations"][0], translate("le 14 juillet 1989"));
}

TEST_F(ServerLimitsTest, ConnectionsPastTheLimitGet503AtOnce) {
  ServerOptions options;
  options.max_connections = 4;
  start(options);
  std::vector<std::unique_ptr<RawClient>> held;
  for (int i = 0; i < 4; ++i) {
    held.push_back(std::make_unique<RawClient>(port_));
    ASSERT_TRUE(held.back()->send("POST /translate HTTP/1.1\r\n"));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the server has accepted them
  RawClient extra(port_);
  const auto t = Clock::now();
  extra.send("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  extra.receive(5);
  EXPECT_EQ(extra.status(), 503) << extra.receive(0);
  EXPECT_EQ(extra.header("Retry-After"), "1");
  EXPECT_LT(seconds_since(t), 1.0);
  held.clear();
  // The held connections gone, the server answers again.
  bool answered = false;
  for (int i = 0; i < 50 && !answered; ++i) {
    const auto res = get("/health");
    answered = res && res->status == 200;
    if (!answered) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(answered);
}

TEST_F(ServerLimitsTest, LinesPastTheQueueBoundGet503WithRetryAfter) {
  ServerOptions options;
  options.max_queued_lines = 4;
  options.mini_batch = 1;
  options.max_latency_ms = 0;
  options.translate_batch = [](const std::vector<std::string>& lines, const TranslateOptions& o) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    return translator_->translate(lines, o);
  };
  start(options);
  std::vector<std::future<std::pair<int, std::string>>> answers;
  for (int i = 0; i < 10; ++i) {
    answers.push_back(std::async(std::launch::async, [this] {
      httplib::Client client("127.0.0.1", port_);
      client.set_read_timeout(30, 0);
      const auto res = client.Post("/translate", "{\"text\": [\"le 3 mars 2001\", \"le 4 mars 2001\"]}",
                                   "application/json");
      return res ? std::make_pair(res->status, res->get_header_value("Retry-After")) : std::make_pair(0, std::string());
    }));
  }
  int ok = 0;
  int busy = 0;
  for (auto& a : answers) {
    ASSERT_EQ(a.wait_for(std::chrono::seconds(30)), std::future_status::ready);
    const auto [status, retry] = a.get();
    if (status == 200) ++ok;
    if (status == 503) {
      ++busy;
      EXPECT_EQ(retry, "1");
    }
  }
  EXPECT_GE(ok, 2);
  EXPECT_GE(busy, 1);
  EXPECT_EQ(ok + busy, 10);
}

TEST_F(ServerLimitsTest, ALineThatFailsFailsOnlyItsOwnRequest) {
  std::atomic<int> failed_batches{0};
  ServerOptions options;
  options.mini_batch = 8;
  options.max_latency_ms = 500;  // the three requests meet in one batch
  options.translate_batch = [&](const std::vector<std::string>& lines, const TranslateOptions& o) {
    for (const auto& line : lines) {
      if (line == "FAIL") {
        if (lines.size() > 1) ++failed_batches;
        throw std::runtime_error("this line cannot be translated");
      }
    }
    return translator_->translate(lines, o);
  };
  start(options);
  const auto lines = date_lines(2);
  auto ask = [this](const std::string& line) {
    return std::async(std::launch::async, [this, line] {
      const auto res = post(json{{"text", {line}}}.dump());
      return res ? std::make_pair(res->status, res->body) : std::make_pair(0, std::string());
    });
  };
  auto first = ask(lines[0]);
  auto bad = ask("FAIL");
  auto second = ask(lines[1]);
  const auto [s1, b1] = first.get();
  const auto [s2, b2] = bad.get();
  const auto [s3, b3] = second.get();
  EXPECT_GE(failed_batches.load(), 1) << "the failing line was never in a batch with others";
  EXPECT_EQ(s1, 200) << b1;
  EXPECT_EQ(s3, 200) << b3;
  EXPECT_EQ(json::parse(b1)["translations"][0], translate(lines[0]));
  EXPECT_EQ(json::parse(b3)["translations"][0], translate(lines[1]));
  EXPECT_EQ(s2, 500);
  EXPECT_NE(b2.find("this line cannot be translated"), std::string::npos) << b2;
  // The worker is still there.
  const auto after = post(json{{"text", {lines[0]}}}.dump());
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 200);
}

TEST_F(ServerLimitsTest, StopFinishesTheQueuedLinesAndReturns) {
  ServerOptions options;
  options.mini_batch = 1;
  options.max_latency_ms = 0;
  options.translate_batch = [](const std::vector<std::string>& lines, const TranslateOptions& o) {
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    return translator_->translate(lines, o);
  };
  start(options);
  const auto lines = date_lines(4);
  auto answer = std::async(std::launch::async, [&] { return post(json{{"text", lines}}.dump()); });
  RawClient idle(port_);  // a connection that never sends a request
  for (int i = 0; i < 100; ++i) {  // the lines are queued
    const auto health = get("/health");
    if (health && json::parse(health->body)["queued"].get<int>() > 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const auto t = Clock::now();
  stop(10);
  EXPECT_LT(seconds_since(t), 5.0);
  ASSERT_EQ(answer.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  const auto res = answer.get();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  const auto got = json::parse(res->body)["translations"];
  ASSERT_EQ(got.size(), lines.size());
  for (size_t i = 0; i < lines.size(); ++i) EXPECT_EQ(got[i], translate(lines[i]));
  idle.receive(3, false);
  EXPECT_TRUE(idle.closed());
}

TEST_F(ServerLimitsTest, ALineCutAtTheInputLengthIsFlaggedTruncated) {
  ServerOptions options;
  options.translate.max_input_length = 4;
  start(options);
  const auto res = post("{\"text\": [\"le 14 juillet 1989 et le 3 mars 2001\", \"\", \"14\"]}");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(json::parse(res->body)["truncated"], json({true, false, false})) << res->body;
}

TEST_F(ServerLimitsTest, LibreTranslatesApiAsJsonAndForm) {
  ServerOptions options;
  options.source_lang = "fr";
  options.target_lang = "en";
  start(options);
  const auto lines = date_lines(3);
  // A string.
  auto res = post(json{{"q", lines[0]}, {"source", "fr"}, {"target", "en"}, {"format", "text"}}.dump());
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(json::parse(res->body)["translatedText"], translate(lines[0]));
  // A list, source "auto", and text of two lines.
  res = post(json{{"q", {lines[1], lines[0] + "\n" + lines[2]}}, {"source", "auto"}, {"target", "en"}}.dump());
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const auto answer = json::parse(res->body);
  EXPECT_EQ(answer["translatedText"], json({translate(lines[1]), translate(lines[0]) + "\n" + translate(lines[2])}));
  EXPECT_EQ(answer["detectedLanguage"]["language"], "fr");
  // Form-encoded.
  httplib::Params form = {{"q", lines[2]}, {"source", "fr"}, {"target", "en"}};
  httplib::Client client("127.0.0.1", port_);
  res = client.Post("/translate", form);
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(json::parse(res->body)["translatedText"], translate(lines[2]));
  // The languages, and a pair the model does not serve.
  res = get("/languages");
  ASSERT_TRUE(res);
  const auto languages = json::parse(res->body);
  ASSERT_FALSE(languages.empty());
  EXPECT_EQ(languages[0]["code"], "fr");
  EXPECT_EQ(languages[0]["name"], "French");
  EXPECT_EQ(languages[0]["targets"], json({"en"}));
  res = post(json{{"q", "x"}, {"source", "fr"}, {"target", "de"}}.dump());
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  EXPECT_NE(res->body.find("this server translates fr to en"), std::string::npos) << res->body;
  res = post(json{{"q", "x"}, {"source", "fr"}, {"target", "en"}, {"format", "html"}}.dump());
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  res = post(json{{"source", "fr"}, {"target", "en"}}.dump());
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  // Tandem's own format on the same path.
  res = post(json{{"text", {lines[0]}}}.dump());
  ASSERT_TRUE(res);
  EXPECT_EQ(json::parse(res->body)["translations"][0], translate(lines[0]));
}

TEST_F(ServerLimitsTest, ApiKeysAreNeededWhenGiven) {
  ServerOptions options;
  options.source_lang = "fr";
  options.target_lang = "en";
  options.api_keys = {"k1", "k2"};
  start(options);
  const std::string line = date_lines(1).front();
  auto res = post(json{{"q", line}, {"source", "fr"}, {"target", "en"}}.dump());
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 403);
  res = post(json{{"q", line}, {"source", "fr"}, {"target", "en"}, {"api_key", "wrong"}}.dump());
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 403);
  EXPECT_NE(res->body.find("Invalid API key"), std::string::npos);
  res = post(json{{"q", line}, {"source", "fr"}, {"target", "en"}, {"api_key", "k2"}}.dump());
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  res = post(json{{"text", {line}}}.dump(), "application/json", {{"Authorization", "Bearer k1"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  res = post(json{{"text", {line}}}.dump());
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 403);
}

TEST_F(ServerLimitsTest, CrossSiteRequestsAreRefusedUnlessAllowed) {
  ServerOptions options;
  options.allowed_origins = {"http://intranet.example:9000"};
  start(options);
  const std::string body = "{\"text\": [\"le 3 mars 2001\"]}";
  const std::string own = "http://127.0.0.1:" + std::to_string(port_);
  // Another site's page.
  auto res = post(body, "application/json", {{"Origin", "http://evil.example"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 403);
  EXPECT_NE(res->body.find("--allowed-origins"), std::string::npos);
  // A name that resolves to this machine by DNS rebinding.
  res = post(body, "application/json", {{"Host", "evil.example:" + std::to_string(port_)}, {"Origin", "http://evil.example:" + std::to_string(port_)}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 403);
  // The server's own page and an allowed origin.
  res = post(body, "application/json", {{"Origin", own}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  res = post(body, "application/json", {{"Origin", "http://intranet.example:9000"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_FALSE(res->has_header("Access-Control-Allow-Origin"));
  stop();
  // CORS: the header on every answer, and the preflight.
  options.cors_origin = "https://app.example";
  start(options);
  res = post(body, "application/json", {{"Origin", "https://app.example"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Access-Control-Allow-Origin"), "https://app.example");
  httplib::Client client("127.0.0.1", port_);
  res = client.Options("/translate", {{"Origin", "https://app.example"}, {"Access-Control-Request-Method", "POST"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 204);
  EXPECT_NE(res->get_header_value("Access-Control-Allow-Methods").find("POST"), std::string::npos);
}

TEST_F(ServerLimitsTest, MetricsAreInPrometheusTextFormat) {
  ServerOptions options;
  options.model_name = "dates";
  start(options);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(post("{\"text\": [\"le 3 mars 2001\", \"le 4 mars 2001\"]}"));
  ASSERT_TRUE(post("not json"));
  ASSERT_TRUE(get("/nope"));
  const auto res = get("/metrics");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  EXPECT_NE(res->get_header_value("Content-Type").find("text/plain; version=0.0.4"), std::string::npos);
  const std::string& m = res->body;
  for (const char* want : {
           "# TYPE tandem_http_requests_total counter",
           "tandem_http_requests_total{model=\"dates\",version=\"" TANDEM_VERSION "\",path=\"/translate\",status=\"200\"} 3",
           "tandem_http_requests_total{model=\"dates\",version=\"" TANDEM_VERSION "\",path=\"/translate\",status=\"400\"} 1",
           "tandem_http_requests_total{model=\"dates\",version=\"" TANDEM_VERSION "\",path=\"other\",status=\"404\"} 1",
           "# TYPE tandem_http_request_duration_seconds histogram",
           "tandem_http_request_duration_seconds_count{model=\"dates\",version=\"" TANDEM_VERSION "\",path=\"/translate\"} 4",
           "tandem_http_request_duration_seconds_bucket{model=\"dates\",version=\"" TANDEM_VERSION "\",path=\"/translate\",le=\"+Inf\"} 4",
           "# TYPE tandem_http_open_connections gauge",
           "# TYPE tandem_queued_lines gauge",
           "# TYPE tandem_batch_lines histogram",
           "# TYPE tandem_lines_translated_total counter",
           "# TYPE tandem_pieces_translated_total counter",
       }) {
    EXPECT_NE(m.find(want), std::string::npos) << "missing: " << want << "\n" << m;
  }
  EXPECT_NE(m.find("tandem_lines_translated_total{model=\"dates\",version=\"" TANDEM_VERSION "\"} 6\n"),
            std::string::npos) << m;
}

}  // namespace
}  // namespace tandem::serve
