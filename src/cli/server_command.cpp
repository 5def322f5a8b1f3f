// tandem-server: translation over HTTP, with a web page.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "cli/common_options.h"
#include "cli/model_program.h"
#include "cli/option_parsers.h"
#include "tandem/error.h"
#include "tandem/io/read_file.h"
#include "tandem/serve/server.h"
#include "tandem/util/allocator.h"
#include "tandem/util/cpu_threads.h"

namespace tandem::cli {
namespace {

constexpr const char* kProgram = "tandem-server";
constexpr const char* kUsage =
    "Usage: tandem-server --models MODEL [MODEL ...] [--port 8080] [--host 127.0.0.1] [options]\n"
    "Translates over HTTP: POST /translate {\"text\": [\"line\", ...], \"beam_size\": 5} returns\n"
    "{\"translations\": [...], \"truncated\": [...]}; LibreTranslate's API on the same path ({\"q\": ...,\n"
    "\"source\": \"en\", \"target\": \"de\"} -> {\"translatedText\": ...}) and GET /languages; GET /health;\n"
    "GET /metrics (Prometheus); GET / is a web page (text box, translation, attention).\n"
    "Requests from all clients are translated together (--mini-batch, --max-latency-ms).\n"
    "SIGTERM or Ctrl-C stops accepting, finishes what is queued and exits; a second one exits at once.\n"
    "No TLS and no rate limits per client: on an open network put it behind a reverse proxy (README).\n"
    "Example: tandem-server -m model --port 8080 & curl -d '{\"text\": [\"Ein Hund.\"]}' localhost:8080/translate";

// Signals: SIGTERM and SIGINT are blocked in every thread from the first line
// of main (threads started later inherit the mask) and taken by one thread with
// sigwait, so a signal at any moment is seen: during the model's loading it ends
// the program at once (exit 0: nothing was served), later it stops the server
// (queued lines finished), and a second one exits at once.
class SignalThread {
 public:
  explicit SignalThread(bool quiet) : quiet_(quiet) {
    sigemptyset(&signals_);
    sigaddset(&signals_, SIGTERM);
    sigaddset(&signals_, SIGINT);
    thread_ = std::thread([this] { run(); });
  }
  ~SignalThread() {
    done_ = true;
    pthread_kill(thread_.native_handle(), SIGTERM);
    thread_.join();
  }
  /// From now on a signal stops `server`.
  void serve(serve::Server* server) { server_ = server; }
  /// The server has stopped: signals are ignored until the end.
  void finished() { done_ = true; }

  static void block() {
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  }

 private:
  void run() {
    bool stopping = false;
    while (true) {
      int number = 0;
      if (sigwait(&signals_, &number) != 0) continue;
      if (done_) return;
      serve::Server* server = server_.load();
      if (server == nullptr) {
        if (!quiet_) std::cerr << kProgram << ": signal " << number << " while starting: exiting" << std::endl;
        std::_Exit(0);
      }
      if (stopping) {
        std::cerr << kProgram << ": second signal " << number << ": exiting at once" << std::endl;
        std::_Exit(128 + number);
      }
      stopping = true;
      if (!quiet_) {
        std::cerr << kProgram << ": signal " << number << ": finishing the queued requests, then exiting" << std::endl;
      }
      server->stop();
    }
  }

  bool quiet_;
  sigset_t signals_;
  std::atomic<bool> done_{false};
  std::atomic<serve::Server*> server_{nullptr};
  std::thread thread_;
};

std::vector<std::string> read_api_keys(const std::string& path) {
  std::istringstream in(io::read_file(path));
  std::vector<std::string> keys;
  for (std::string line; std::getline(in, line);) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
    const auto start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#') continue;
    keys.push_back(line.substr(start));
  }
  if (keys.empty()) throw Error(path + ": no API key in it (one a line; lines starting with # are comments)");
  return keys;
}

// The model's languages from MODEL/languages.json ({"source": "en", "target": "de"}, written by the
// recipes), when the command line gives none.
void read_languages(const std::string& model, serve::ServerOptions& s) {
  std::filesystem::path dir(model);
  if (!std::filesystem::is_directory(dir)) dir = dir.parent_path();
  const auto file = dir / "languages.json";
  if (!std::filesystem::exists(file)) return;
  nlohmann::json languages;
  try {
    languages = nlohmann::json::parse(io::read_file(file.string()));
  } catch (const nlohmann::json::exception& e) {
    throw Error(file.string() + ": not valid JSON (" + e.what() + "); expected {\"source\": \"en\", \"target\": \"de\"}");
  }
  if (s.source_lang.empty()) s.source_lang = languages.value("source", "");
  if (s.target_lang.empty()) s.target_lang = languages.value("target", "");
}

int run(int argc, char** argv) {
  ModelProgramOptions c;
  serve::ServerOptions s;
  double request_timeout = s.request_timeout_ms / 1000.0;
  double keep_alive_timeout = s.keep_alive_timeout_ms / 1000.0;
  std::string api_keys;
  po::options_description options("Options");
  add_model_program_options(options, c);
  const bool& quiet = c.quiet;
  options.add_options()
      ("host", po::value<std::string>(&s.host)->default_value(s.host),
       "address to listen on (0.0.0.0: every interface; see the README before you do)")
      ("port", po::value<int>(&s.port)->default_value(s.port), "TCP port; 0 = any free one (printed)")
      ("io-threads", po::value<int>(&s.io_threads)->default_value(s.io_threads), "threads serving the connections")
      ("mini-batch", po::value<int64_t>(&s.mini_batch)->default_value(s.mini_batch), "lines translated together at most")
      ("max-latency-ms", po::value<int>(&s.max_latency_ms)->default_value(s.max_latency_ms),
       "longest wait for a batch to fill")
      ("max-connections", po::value<int>(&s.max_connections)->default_value(s.max_connections),
       "connections open at once; the next gets 503")
      ("max-queued-lines", po::value<int64_t>(&s.max_queued_lines)->default_value(s.max_queued_lines),
       "lines waiting for the model at most; past it 503 with Retry-After")
      ("request-timeout", po::value<double>(&request_timeout)->default_value(request_timeout),
       "seconds for a whole request, headers and body, from its first byte; then 408")
      ("keep-alive-timeout", po::value<double>(&keep_alive_timeout)->default_value(keep_alive_timeout),
       "seconds a connection may wait silent for its next request")
      ("max-header-bytes", po::value<int64_t>(&s.max_header_bytes)->default_value(s.max_header_bytes),
       "request line and headers, bytes at most (431)")
      ("max-lines", po::value<int64_t>(&s.max_lines)->default_value(s.max_lines), "lines a request at most")
      ("max-line-chars", po::value<int64_t>(&s.max_line_chars)->default_value(s.max_line_chars),
       "characters a line at most")
      ("max-body-bytes", po::value<int64_t>(&s.max_body_bytes)->default_value(s.max_body_bytes),
       "request body bytes at most (413; a POST without a length: 411)")
      ("max-beam-size", po::value<int64_t>(&s.max_beam_size)->default_value(s.max_beam_size),
       "largest beam_size a request may ask for")
      ("beam-size,b", po::value<int64_t>(&s.translate.search.beam_size)->default_value(s.translate.search.beam_size),
       "beam size of requests that give none")
      ("normalize,n", defaulted(&s.translate.search.normalize), "divide scores by length^ALPHA")
      ("max-input-length", po::value<int64_t>(&s.translate.max_input_length),
       "source pieces kept a line; longer lines are cut and flagged \"truncated\" (256, 1024 for characters)")
      ("source-lang", po::value<std::string>(&s.source_lang),
       "the model's source language code (LibreTranslate's API); default: MODEL/languages.json")
      ("target-lang", po::value<std::string>(&s.target_lang), "the model's target language code")
      ("api-keys", po::value<std::string>(&api_keys), "file of API keys, one a line: POST /translate needs one (403)")
      ("cors-origin", po::value<std::string>(&s.cors_origin),
       "Access-Control-Allow-Origin of the answers (an origin, or *) for pages of other sites")
      ("allowed-origins", po::value<std::vector<std::string>>(&s.allowed_origins)->multitoken(),
       "origins (http://host:port) whose pages, and host names, may use the server besides its own; * for all");
  auto vm = parse(argc, argv, options, nullptr);
  if (print_help_if_asked(vm, kUsage, options)) return 0;
  po::notify(vm);
  if (request_timeout <= 0 || keep_alive_timeout <= 0) throw Error("--request-timeout and --keep-alive-timeout must be above 0");
  s.request_timeout_ms = std::max(1, static_cast<int>(request_timeout * 1000));
  s.keep_alive_timeout_ms = std::max(1, static_cast<int>(keep_alive_timeout * 1000));
  if (!api_keys.empty()) s.api_keys = read_api_keys(api_keys);
  s.model_name = c.models.front();

  util::share_one_arena();  // before any thread: freed request bodies can go back to the system
  SignalThread signals(quiet);
  signal(SIGPIPE, SIG_IGN);  // a client that hangs up mid-answer is its own loss, not the server's end

  auto translator = start_translator(kProgram, c, /*keep_freed_memory=*/false);
  if (translator.is_language_model()) {
    throw Error(c.models.front() + ": a language model (--type lm) has no source to translate from");
  }
  if (!vm.count("max-input-length") && translator.source_tokenizer().is_character_level()) {
    s.translate.max_input_length = kCharacterMaxInputLength;
  }
  read_languages(c.models.front(), s);
  serve::Server server(translator, s);
  signals.serve(&server);
  // With --quiet only a port the system chose (--port 0) is printed: nothing else tells it.
  std::thread announce([&] {
    const int port = server.port();
    if (port > 0 && (!quiet || s.port == 0)) {
      std::cerr << kProgram << ": listening on http://" << s.host << ":" << port << "/"
                << (s.source_lang.empty() ? "" : " (" + s.source_lang + " to " + s.target_lang + ")") << std::endl;
    }
  });
  try {
    server.listen();
  } catch (...) {
    announce.join();
    signals.finished();
    throw;
  }
  announce.join();
  signals.finished();
  if (!quiet) std::cerr << kProgram << ": stopped\n";
  return 0;
}

}  // namespace

int server_main(int argc, char** argv) {
  SignalThread::block();  // before anything else: a signal at start-up is not lost
  return run_torch_program(kProgram, argc, argv, [&] { return run(argc, argv); });
}

}  // namespace tandem::cli
