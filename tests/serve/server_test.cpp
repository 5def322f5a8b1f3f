// tandem-server as its clients see it: concurrent clients on loopback each get
// their own translations, equal to tandem-translate's; hostile requests get 400
// (or 413/404) with a JSON error and the server stays up; SIGTERM stops it.
#include "tandem/serve/server.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "test_support.h"

namespace tandem::serve {
namespace {

using nlohmann::json;

class ServerTest : public ::testing::Test {
 protected:
  // The dates recipe's small model (seconds), trained once per build and shared.
  static void SetUpTestSuite() { dir_ = new std::string(test::small_dates_work_dir()); }
  // Dates as the recipe's test split writes them, never seen in training.
  static std::vector<std::string> date_lines(size_t n) {
    std::vector<std::string> lines;
    std::istringstream in(test::read_file(*dir_ + "/data/test.src"));
    for (std::string line; lines.size() < n && std::getline(in, line);) lines.push_back(line);
    return lines;
  }
  static void TearDownTestSuite() { delete dir_; }

  void start(ServerOptions options) {
    options.port = 0;
    translator_ = std::make_unique<Translator>(Translator::load({*dir_ + "/model"}, torch::kCPU));
    server_ = std::make_unique<Server>(*translator_, options);
    thread_ = std::thread([this] { server_->listen(); });
    port_ = server_->port();
    ASSERT_GT(port_, 0);
  }
  void TearDown() override {
    if (server_) server_->stop();
    if (thread_.joinable()) thread_.join();
  }
  httplib::Result post(const std::string& body) {
    httplib::Client client("127.0.0.1", port_);
    client.set_read_timeout(60, 0);
    return client.Post("/translate", body, "application/json");
  }

  static std::string* dir_;
  std::unique_ptr<Translator> translator_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
  int port_ = 0;
};
std::string* ServerTest::dir_ = nullptr;

TEST_F(ServerTest, ConcurrentClientsGetTheirOwnTranslationsEqualToTandemTranslate) {
  // The lines and tandem-translate's translations of them (beam 5 and beam 1).
  std::vector<std::string> lines = date_lines(24);
  lines.push_back("");
  std::string input;
  for (const auto& l : lines) input += l + "\n";
  std::map<int64_t, std::vector<std::string>> expected;
  for (const int64_t beam : {1, 5}) {
    const auto r = test::run_program("tandem-translate", "--models " + *dir_ + "/model --quiet --cpu-threads 1 -b " +
                                                             std::to_string(beam), input);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::istringstream out(r.out);
    for (std::string line; std::getline(out, line);) expected[beam].push_back(line);
    ASSERT_EQ(expected[beam].size(), lines.size());
  }
  ServerOptions options;
  options.mini_batch = 8;
  options.max_latency_ms = 5;
  start(options);
  constexpr int kClients = 32;
  constexpr int kRequests = 50;
  std::atomic<int> right{0};
  std::atomic<int> wrong{0};
  std::vector<std::thread> clients;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      httplib::Client client("127.0.0.1", port_);
      client.set_read_timeout(60, 0);
      for (int r = 0; r < kRequests && std::chrono::steady_clock::now() < deadline; ++r) {
        const size_t i = static_cast<size_t>(c * kRequests + r) % lines.size();
        const int64_t beam = (c + r) % 3 == 0 ? 1 : 5;
        // Some requests carry two lines: answers come back in their order.
        const size_t j = (i + 1) % lines.size();
        const bool two = r % 4 == 0;
        json body = {{"text", two ? json{lines[i], lines[j]} : json{lines[i]}}, {"beam_size", beam}};
        const auto res = client.Post("/translate", body.dump(), "application/json");
        if (!res || res->status != 200) {
          ++wrong;
          ADD_FAILURE() << "request failed: " << (res ? res->body : httplib::to_string(res.error()));
          continue;
        }
        const auto got = json::parse(res->body)["translations"];
        const bool ok = got.size() == (two ? 2u : 1u) && got[0] == expected[beam][i] &&
                        (!two || got[1] == expected[beam][j]);
        ++(ok ? right : wrong);
        if (!ok) {
          ADD_FAILURE() << "line " << i << " beam " << beam << ": got " << got.dump() << ", tandem-translate: "
                        << json(expected[beam][i]).dump() << (two ? " + " + json(expected[beam][j]).dump() : "");
        }
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(right.load(), kClients * kRequests);
}

TEST_F(ServerTest, HostileRequestsGetClearErrorsAndTheServerStaysUp) {
  ServerOptions options;
  options.max_lines = 4;
  options.max_line_chars = 50;
  options.max_body_bytes = 4096;
  start(options);
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"not json", "not valid JSON"},
      {"{\"text\": [\"a\"]", "not valid JSON"},                      // truncated
      {"", "not valid JSON"},
      {"[\"a\"]", "must be a JSON object"},
      {"{\"text\": \"a\"}", "must be an array"},
      {"{\"text\": [1]}", "text[0] is not a string"},
      {"{\"text\": []}", "holds no line"},
      {"{\"text\": [\"a\",\"b\",\"c\",\"d\",\"e\"]}", "at most 4"},
      {"{\"text\": [\"" + std::string(51, 'x') + "\"]}", "longer than 50 characters"},
      {"{\"text\": [\"a\\nb\"]}", "line break"},
      {"{\"text\": [\"a\"], \"beam_size\": 0}", "beam_size"},
      {"{\"text\": [\"a\"], \"beam_size\": 1e300}", "beam_size"},
      {"{\"text\": [\"a\"], \"beam_size\": 99999999999999999999999}", "beam_size"},
      {"{\"text\": [\"a\"], \"beam_size\": \"5\"}", "beam_size"},
      {"{\"text\": [\"a\"], \"attention\": 1}", "attention"},
      {"{\"text\": [\"a\"], \"evil\": 1}", "unknown field 'evil'"},
      {"{\"text\": [\"\xff\xfe\"]}", "not valid JSON"},               // invalid UTF-8
      {std::string(40, '[') + std::string(40, ']'), "nested deeper"},
      {"{\"text\": [\"" + std::string(3000, '[') + "\"]}", "longer than 50"},  // brackets inside a string are text
  };
  for (const auto& [body, why] : bad) {
    const auto res = post(body);
    ASSERT_TRUE(res) << body.substr(0, 60);
    EXPECT_EQ(res->status, 400) << body.substr(0, 60);
    const auto error = json::parse(res->body);
    EXPECT_NE(error.value("error", "").find(why), std::string::npos) << body.substr(0, 60) << " -> " << res->body;
  }
  const auto huge = post("{\"text\": [\"" + std::string(5000, 'a') + "\"]}");
  ASSERT_TRUE(huge);
  EXPECT_EQ(huge->status, 413);
  httplib::Client client("127.0.0.1", port_);
  const auto missing = client.Get("/nope");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_NE(missing->body.find("error"), std::string::npos);
  // Still up, still right.
  const auto health = client.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  const auto good = post("{\"text\": [\"Ein Mann fährt.\"], \"beam_size\": 2, \"attention\": true}");
  ASSERT_TRUE(good);
  EXPECT_EQ(good->status, 200) << good->body;
  const auto answer = json::parse(good->body);
  ASSERT_EQ(answer["translations"].size(), 1u);
  const auto& attention = answer["attention"][0];
  EXPECT_FALSE(attention["source"].empty());
  ASSERT_EQ(attention["weights"].size(), attention["target"].size());
  for (const auto& row : attention["weights"]) EXPECT_EQ(row.size(), attention["source"].size());
  const auto page = client.Get("/");
  ASSERT_TRUE(page);
  EXPECT_NE(page->body.find("<button id=\"translate\">"), std::string::npos);
}

// The web page in headless Chromium (Debian's): the link fills the text box and
// presses the button; the page's result is the translation, and a screenshot is saved.
// The page with the main job's model (recipes/dates/run.sh at its defaults), which
// gets the date right.
class ServerPageTest : public ServerTest {
 protected:
  static void SetUpTestSuite() { dir_ = new std::string(test::dates_work_dir()); }
};

TEST_F(ServerPageTest, TheWebPageTranslatesInHeadlessChromium) {
  if (std::system("command -v chromium > /dev/null 2>&1") != 0) {
    GTEST_SKIP() << "chromium is not installed (tools/run-tests.sh installs it)";
  }
  start(ServerOptions{});
  const std::string line = "le 14 juillet 1989";
  TranslateOptions options;
  options.search.beam_size = 2;
  const std::string expected = translator_->translate({line}, options).front().texts.front();
  EXPECT_EQ(expected, "1989-07-14");
  const std::string url = "http://127.0.0.1:" + std::to_string(port_) + "/?text=le%2014%20juillet%201989&beam=2";
  const std::string dir = test::temp_dir();
  const std::string chromium = "timeout 120 chromium --headless=new --no-sandbox --disable-gpu "
                               "--virtual-time-budget=10000 --user-data-dir=" + dir + "/profile ";
  ASSERT_EQ(std::system((chromium + "--dump-dom '" + url + "' > " + dir + "/dom.html 2> /dev/null").c_str()), 0);
  const std::string dom = test::read_file(dir + "/dom.html");
  const std::string open = "<div id=\"result\">";
  const auto at = dom.find(open);
  ASSERT_NE(at, std::string::npos) << dom;
  std::string shown = dom.substr(at + open.size(), dom.find("</div>", at) - at - open.size());
  for (const auto& [entity, text] : std::vector<std::pair<std::string, std::string>>{
           {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&#39;", "'"}, {"&amp;", "&"}}) {
    for (size_t p; (p = shown.find(entity)) != std::string::npos;) shown.replace(p, entity.size(), text);
  }
  EXPECT_EQ(shown, expected);
  EXPECT_NE(dom.find("<table id=\"attention\" class=\"heat\"><thead>"), std::string::npos) << dom;
  // The screenshot stays next to the dates model for people to look at: BUILD/test-cache/server-page.png.
  const std::string screenshot = std::filesystem::path(*dir_).parent_path().string() + "/server-page.png";
  ASSERT_EQ(std::system((chromium + "--window-size=900,700 --screenshot=" + screenshot + " '" + url +
                         "' > /dev/null 2>&1").c_str()),
            0);
  const std::string png = test::read_file(screenshot);
  EXPECT_GT(png.size(), 1000u);
  EXPECT_EQ(png.substr(1, 3), "PNG");
}

TEST(ServerProgramTest, SigtermFinishesAndExits) {
  const std::string dir = test::temp_dir();
  std::string text;
  for (const auto& s : test::sample_sentences()) text += s + "\n";
  test::write_file(dir + "/train.txt", text);
  auto r = test::run_program("tandem-train", "--model " + dir + "/model --train-sets " + dir + "/train.txt " + dir +
                                                 "/train.txt --vocabs " + test::sample_model_path() +
                                                 " --dim-emb 8 --dim-rnn 8 --after-updates 2 --valid-freq 0 "
                                                 "--cpu-threads 1 --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string err = dir + "/server.err";
  const pid_t pid = ::fork();
  if (pid == 0) {
    const std::string command = "exec " + std::string(TANDEM_BIN_DIR) + "/tandem-server -m " + dir +
                                "/model --port 0 --cpu-threads 1 2> " + err;
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int port = 0;
  for (int i = 0; i < 300 && port == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const std::string log = test::read_file(err);
    const auto at = log.find("127.0.0.1:");
    if (at != std::string::npos) port = std::atoi(log.c_str() + at + 10);
  }
  ASSERT_GT(port, 0) << test::read_file(err);
  httplib::Client client("127.0.0.1", port);
  const auto res = client.Post("/translate", "{\"text\": [\"Ein Mann.\", \"\"]}", "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(json::parse(res->body)["translations"].size(), 2u);
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << test::read_file(err);
  EXPECT_NE(test::read_file(err).find("tandem-server: stopped"), std::string::npos) << test::read_file(err);
}

}  // namespace
}  // namespace tandem::serve
