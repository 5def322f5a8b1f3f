// tandem-server as its clients see it: concurrent clients on loopback each get
// their own translations, equal to tandem-translate's; hostile requests get 400
// (or 413/404) with a JSON error and the server stays up; SIGTERM stops it.
#include "tandem/serve/server.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
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

// tandem-server as a process: started with `args`, its stderr in `err`.
pid_t spawn_server(const std::string& args, const std::string& err) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    const std::string command = "exec " + std::string(TANDEM_BIN_DIR) + "/tandem-server " + args + " 2> " + err;
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

// The process's wait status once it has ended, or -1 when it is still running
// after `seconds` (it is then killed: a test never waits for ever).
int wait_bounded(pid_t pid, double seconds) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  int status = 0;
  while (std::chrono::steady_clock::now() < until) {
    if (::waitpid(pid, &status, WNOHANG) == pid) return status;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  return -1;
}

// The port the server printed, or 0 after `seconds`.
int printed_port(const std::string& err, double seconds) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < until) {
    const std::string log = test::read_file(err);
    const auto at = log.find("127.0.0.1:");
    if (at != std::string::npos) return std::atoi(log.c_str() + at + 10);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return 0;
}

long resident_kib(pid_t pid) {
  std::istringstream in(test::read_file("/proc/" + std::to_string(pid) + "/status"));
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
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
  ServerOptions options;
  options.source_lang = "fr";  // what the page shows as the pair (the dates model reads several languages)
  options.target_lang = "en";
  start(options);
  const std::string line = "le 14 juillet 1989";
  TranslateOptions translate_options;
  translate_options.search.beam_size = 2;
  const std::string expected = translator_->translate({line}, translate_options).front().texts.front();
  EXPECT_EQ(expected, "1989-07-14");
  const std::string url = "http://127.0.0.1:" + std::to_string(port_) + "/?text=le%2014%20juillet%201989&beam=2";
  const std::string dir = test::temp_dir();
  const std::string chromium = "timeout 120 chromium --headless=new --no-sandbox --disable-gpu "
                               "--virtual-time-budget=10000 --user-data-dir=" + dir + "/profile ";
  // From a phone's width to a desktop's: the translation, the pair, the time, the
  // heat map, and never a sideways scroll (the page says so in data-sideways).
  for (const int width : {400, 1200}) {
    const std::string dom_file = dir + "/dom-" + std::to_string(width) + ".html";
    ASSERT_EQ(std::system((chromium + "--window-size=" + std::to_string(width) + ",800 --dump-dom '" + url + "' > " +
                           dom_file + " 2> /dev/null").c_str()),
              0);
    const std::string dom = test::read_file(dom_file);
    const std::string open = "<div id=\"result\">";
    const auto at = dom.find(open);
    ASSERT_NE(at, std::string::npos) << dom;
    std::string shown = dom.substr(at + open.size(), dom.find("</div>", at) - at - open.size());
    for (const auto& [entity, text] : std::vector<std::pair<std::string, std::string>>{
             {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&#39;", "'"}, {"&amp;", "&"}}) {
      for (size_t p; (p = shown.find(entity)) != std::string::npos;) shown.replace(p, entity.size(), text);
    }
    EXPECT_EQ(shown, expected) << width;
    EXPECT_NE(dom.find("data-done=\"1\""), std::string::npos) << dom;
    EXPECT_NE(dom.find("data-sideways=\"false\""), std::string::npos) << "the page scrolls sideways at " << width
                                                                        << " pixels:\n" << dom;
    EXPECT_NE(dom.find("<table id=\"attention\" class=\"heat\"><thead>"), std::string::npos) << dom;
    EXPECT_NE(dom.find("French \u2192 English"), std::string::npos) << dom;
    EXPECT_NE(dom.find("translated in "), std::string::npos) << dom;
    EXPECT_NE(dom.find("class=\"legend\""), std::string::npos) << dom;
  }
  // The screenshots stay next to the dates model for people to look at:
  // BUILD/test-cache/server-page.png (900 wide) and server-page-phone.png (400 wide).
  const std::string cache = std::filesystem::path(*dir_).parent_path().string();
  for (const auto& [size, name] : std::vector<std::pair<std::string, std::string>>{
           {"900,700", "server-page.png"}, {"400,800", "server-page-phone.png"}}) {
    const std::string screenshot = cache + "/" + name;
    ASSERT_EQ(std::system((chromium + "--window-size=" + size + " --screenshot=" + screenshot + " '" + url +
                           "' > /dev/null 2>&1").c_str()),
              0);
    const std::string png = test::read_file(screenshot);
    EXPECT_GT(png.size(), 1000u);
    EXPECT_EQ(png.substr(1, 3), "PNG");
  }
}

// LibreTranslate's own JavaScript client (the npm package `libretranslate`, run
// by Node.js; tools/run-tests.sh --all installs both) translates through
// tandem-server and gets tandem-translate's output. The language pair comes
// from the model folder's languages.json, as the recipes write it.
TEST_F(ServerPageTest, LibreTranslatesJavaScriptClientTranslatesThroughTheServer) {
  const std::string client_dir = std::string(TANDEM_BIN_DIR) + "/../npm";
  if (std::system("command -v node > /dev/null 2>&1") != 0 ||
      !std::filesystem::exists(client_dir + "/node_modules/libretranslate/package.json")) {
    GTEST_SKIP() << "Node.js or the libretranslate client is missing (tools/run-tests.sh --all installs them into "
                 << client_dir << ")";
  }
  const std::string dir = test::temp_dir();
  std::filesystem::create_directories(dir + "/model");
  for (const auto& entry : std::filesystem::directory_iterator(*dir_ + "/model")) {
    if (entry.path().extension() == ".ckpt" || entry.path().extension() == ".spm" || entry.path().extension() == ".json") {
      std::filesystem::copy(entry.path(), dir + "/model/" + entry.path().filename().string());
    }
  }
  test::write_file(dir + "/model/languages.json", "{\"source\": \"fr\", \"target\": \"en\"}\n");
  const std::vector<std::string> lines = {"le 14 juillet 1989", "3 mars 2001"};
  std::string input;
  for (const auto& l : lines) input += l + "\n";
  const auto expected = test::run_program("tandem-translate", "--models " + dir + "/model --quiet --cpu-threads 1", input);
  ASSERT_EQ(expected.exit_code, 0) << expected.err;
  const std::string err = dir + "/server.err";
  const pid_t pid = spawn_server("-m " + dir + "/model --port 0 --cpu-threads 1", err);
  const int port = printed_port(err, 30);
  ASSERT_GT(port, 0) << test::read_file(err);
  EXPECT_NE(test::read_file(err).find("(fr to en)"), std::string::npos) << test::read_file(err);
  test::write_file(dir + "/client.js",
                   "const { translate } = require('libretranslate');\n"
                   "(async () => {\n"
                   "  const apiurl = 'http://127.0.0.1:" + std::to_string(port) + "';\n"
                   "  for (const query of process.argv.slice(2)) {\n"
                   "    console.log(await translate({ query, source: 'fr', target: 'en', apiurl }));\n"
                   "  }\n"
                   "  console.log(await translate({ query: process.argv[2], target: 'en', apiurl }));\n"
                   "})().catch(e => { console.error(e); process.exit(1); });\n");
  const int status = std::system(("cd " + dir + " && NODE_PATH=" + client_dir + "/node_modules timeout 60 node client.js " +
                                   test::shell_quote(lines[0]) + " " + test::shell_quote(lines[1]) +
                                   " > client.out 2> client.err").c_str());
  struct {
    int exit_code;
    std::string out, err;
  } r{WIFEXITED(status) ? WEXITSTATUS(status) : -1, test::read_file(dir + "/client.out"),
      test::read_file(dir + "/client.err")};
  ::kill(pid, SIGTERM);
  EXPECT_NE(wait_bounded(pid, 10), -1);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  std::istringstream want(expected.out);
  std::string first;
  std::getline(want, first);
  EXPECT_EQ(r.out, expected.out + first + "\n");  // both lines, then the first with source "auto"
}

class ServerProgramTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { dir_ = new std::string(test::small_dates_work_dir()); }
  static void TearDownTestSuite() { delete dir_; }
  static std::string* dir_;
};
std::string* ServerProgramTest::dir_ = nullptr;

TEST_F(ServerProgramTest, SigtermFinishesAndExits) {
  const std::string err = test::temp_dir() + "/server.err";
  const pid_t pid = spawn_server("-m " + *dir_ + "/model --port 0 --cpu-threads 1", err);
  const int port = printed_port(err, 30);
  ASSERT_GT(port, 0) << test::read_file(err);
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(20, 0);
  const auto res = client.Post("/translate", "{\"text\": [\"le 3 mars 2001\", \"\"]}", "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(json::parse(res->body)["translations"].size(), 2u);
  ::kill(pid, SIGTERM);
  const int status = wait_bounded(pid, 10);
  EXPECT_TRUE(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0) << status << test::read_file(err);
  EXPECT_NE(test::read_file(err).find("tandem-server: stopped"), std::string::npos) << test::read_file(err);
}

// SIGTERM or SIGINT at any moment of start-up (what docker stop, systemctl stop
// and Ctrl-C send): the server stops within seconds. The old server consumed a
// signal that came before listen() and then never stopped. From main's first
// line the server exits 0 (during the model's loading at once); before main
// runs (exec, loading LibTorch's libraries: most of the first second) the
// system's default action ends the process, which systemd also counts as a
// clean stop.
TEST_F(ServerProgramTest, ASignalAtAnyMomentOfStartUpStopsIt) {
  const std::string dir = test::temp_dir();
  int case_number = 0;
  auto check = [&](int signal_number, const std::function<void(pid_t, const std::string&)>& wait_then_signal,
                   bool default_action_allowed) {
    const std::string err = dir + "/server-" + std::to_string(++case_number) + ".err";
    const pid_t pid = spawn_server("-m " + *dir_ + "/model --port 0 --cpu-threads 1", err);
    wait_then_signal(pid, err);
    ::kill(pid, signal_number);
    const int status = wait_bounded(pid, 10);
    const std::string log = test::read_file(err);
    EXPECT_NE(status, -1) << "still running 10 s after signal " << signal_number << "\n" << log;
    const bool exited_0 = status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    const bool default_action = status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == signal_number;
    EXPECT_TRUE(exited_0 || (default_action && default_action_allowed))
        << "case " << case_number << ", signal " << signal_number << ": wait status " << status << "\n" << log;
    return log;
  };
  for (const int signal_number : {SIGTERM, SIGINT}) {
    // While the model loads: the first line main prints comes before the loading.
    const std::string log = check(
        signal_number,
        [](pid_t, const std::string& err) {
          const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
          while (test::read_file(err).find("CPU thread") == std::string::npos && std::chrono::steady_clock::now() < until) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
          }
        },
        false);
    EXPECT_NE(log.find("while starting: exiting"), std::string::npos) << log;
    // Listening, and at fixed moments of the start.
    check(signal_number, [](pid_t, const std::string& err) { ASSERT_GT(printed_port(err, 30), 0); }, false);
    for (const int delay_ms : {5, 100, 300, 700, 1000, 1500}) {
      check(signal_number, [delay_ms](pid_t, const std::string&) {
        std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
      }, true);
    }
  }
}

// A second signal exits at once, even while the first waits for an answer to
// reach a client that does not read (its write deadline is 10 s away).
TEST_F(ServerProgramTest, ASecondSignalExitsAtOnce) {
  const std::string err = test::temp_dir() + "/server.err";
  const pid_t pid = spawn_server("-m " + *dir_ + "/model --port 0 --cpu-threads 1", err);
  const int port = printed_port(err, 30);
  ASSERT_GT(port, 0) << test::read_file(err);
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  const int small = 4096;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  // 3000 pipelined requests for the page (about 30 MB of answers), none read.
  std::string requests;
  for (int i = 0; i < 3000; ++i) requests += "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  timeval timeout{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  ::send(fd, requests.data(), requests.size(), MSG_NOSIGNAL);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the server's writes are stuck
  ::kill(pid, SIGTERM);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, WNOHANG), 0) << "the first signal did not wait for the answer in flight";
  const auto t = std::chrono::steady_clock::now();
  ::kill(pid, SIGTERM);
  status = wait_bounded(pid, 2.0);
  ::close(fd);
  ASSERT_NE(status, -1) << "a second signal did not end the server\n" << test::read_file(err);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count(), 1.0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 128 + SIGTERM) << status;
  EXPECT_NE(test::read_file(err).find("second signal"), std::string::npos) << test::read_file(err);
}

// Memory comes back: a burst of bodies near --max-body-bytes, then resident memory
// is near where it started; a POST of 300 MiB with no length is refused (411)
// before its body is read and costs nothing.
TEST_F(ServerProgramTest, ResidentMemoryReturnsAfterABurstOfLargeBodies) {
  const std::string err = test::temp_dir() + "/server.err";
  const pid_t pid = spawn_server("-m " + *dir_ + "/model --port 0 --cpu-threads 1 --max-body-bytes 4000000", err);
  const int port = printed_port(err, 30);
  ASSERT_GT(port, 0) << test::read_file(err);
  {
    httplib::Client client("127.0.0.1", port);
    client.set_read_timeout(20, 0);
    ASSERT_TRUE(client.Post("/translate", "{\"text\": [\"le 3 mars 2001\"]}", "application/json"));
  }
  const long start = resident_kib(pid);
  std::vector<std::thread> clients;
  std::atomic<int> refused{0};
  for (int c = 0; c < 8; ++c) {
    clients.emplace_back([&, c] {
      httplib::Client client("127.0.0.1", port);
      client.set_read_timeout(20, 0);
      for (int r = 0; r < 6; ++r) {
        // 3.9 MB of one line: read, parsed, refused for its length (400).
        const auto res = client.Post("/translate", "{\"text\": [\"" + std::string(3900000, 'a' + static_cast<char>(c)) + "\"]}",
                                     "application/json");
        if (res && res->status == 400) ++refused;
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(refused.load(), 48);
  // 300 MiB without a length.
  {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    timeval timeout{2, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
    const std::string head = "POST /translate HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    ::send(fd, head.data(), head.size(), MSG_NOSIGNAL);
    const std::string block(1 << 20, 'x');
    for (int i = 0; i < 300; ++i) {
      if (::send(fd, block.data(), block.size(), MSG_NOSIGNAL) <= 0) break;
    }
    ::close(fd);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const long end = resident_kib(pid);
  ASSERT_GT(start, 0);
  EXPECT_LT(end, start + 20 * 1024) << "resident memory " << start << " KiB before the burst, " << end << " after";
  ::kill(pid, SIGTERM);
  EXPECT_NE(wait_bounded(pid, 10), -1);
}

}  // namespace
}  // namespace tandem::serve
