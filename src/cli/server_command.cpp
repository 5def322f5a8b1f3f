// tandem-server: translation over HTTP, with a web page.
#include <pthread.h>
#include <signal.h>

#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "cli/common_options.h"
#include "cli/model_program.h"
#include "cli/option_parsers.h"
#include "tandem/error.h"
#include "tandem/serve/server.h"
#include "tandem/util/allocator.h"
#include "tandem/util/cpu_threads.h"

namespace tandem::cli {
namespace {

constexpr const char* kProgram = "tandem-server";
constexpr const char* kUsage =
    "Usage: tandem-server --models MODEL [MODEL ...] [--port 8080] [--host 127.0.0.1] [options]\n"
    "Translates over HTTP: POST /translate {\"text\": [\"line\", ...], \"beam_size\": 5} returns\n"
    "{\"translations\": [...]}; GET /health; GET / is a web page (text box, translation, attention).\n"
    "Requests from all clients are translated together (--mini-batch, --max-latency-ms).\n"
    "SIGTERM or Ctrl-C stops accepting, finishes what is queued and exits.\n"
    "Example: tandem-server -m model --port 8080 & curl -d '{\"text\": [\"Ein Hund.\"]}' localhost:8080/translate";

int run(int argc, char** argv) {
  ModelProgramOptions c;
  serve::ServerOptions s;
  po::options_description options("Options");
  add_model_program_options(options, c);
  const bool& quiet = c.quiet;
  options.add_options()
      ("host", po::value<std::string>(&s.host)->default_value(s.host), "address to listen on (0.0.0.0: every interface)")
      ("port", po::value<int>(&s.port)->default_value(s.port), "TCP port; 0 = any free one (printed)")
      ("mini-batch", po::value<int64_t>(&s.mini_batch)->default_value(s.mini_batch), "lines translated together at most")
      ("max-latency-ms", po::value<int>(&s.max_latency_ms)->default_value(s.max_latency_ms),
       "longest wait for a batch to fill")
      ("max-connections", po::value<int>(&s.max_connections)->default_value(s.max_connections),
       "requests handled at once; more get 503")
      ("max-lines", po::value<int64_t>(&s.max_lines)->default_value(s.max_lines), "lines a request at most")
      ("max-line-chars", po::value<int64_t>(&s.max_line_chars)->default_value(s.max_line_chars),
       "characters a line at most")
      ("max-body-bytes", po::value<int64_t>(&s.max_body_bytes)->default_value(s.max_body_bytes),
       "request body bytes at most")
      ("max-beam-size", po::value<int64_t>(&s.max_beam_size)->default_value(s.max_beam_size),
       "largest beam_size a request may ask for")
      ("beam-size,b", po::value<int64_t>(&s.translate.search.beam_size)->default_value(s.translate.search.beam_size),
       "beam size of requests that give none")
      ("normalize,n", defaulted(&s.translate.search.normalize), "divide scores by length^ALPHA");
  auto vm = parse(argc, argv, options, nullptr);
  if (print_help_if_asked(vm, kUsage, options)) return 0;
  po::notify(vm);

  // SIGTERM and SIGINT go to one thread, which stops the server; every other
  // thread (started after this) has them blocked.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a client that hangs up mid-answer is its own loss, not the server's end

  auto translator = start_translator(kProgram, c);
  if (translator.is_language_model()) {
    throw Error(c.models.front() + ": a language model (--type lm) has no source to translate from");
  }
  if (translator.source_tokenizer().is_character_level()) s.translate.max_input_length = kCharacterMaxInputLength;
  serve::Server server(translator, s);
  std::thread signals([&] {
    int signal_number = 0;
    sigwait(&stop_signals, &signal_number);
    if (signal_number != 0 && !quiet) {
      std::cerr << kProgram << ": signal " << signal_number << ": finishing the queued requests, then exiting\n";
    }
    server.stop();
  });
  // With --quiet only a port the system chose (--port 0) is printed: nothing else tells it.
  std::thread announce([&] {
    const int port = server.port();
    if (port > 0 && (!quiet || s.port == 0)) std::cerr << kProgram << ": listening on http://" << s.host << ":" << port << "/" << std::endl;
  });
  try {
    server.listen();
  } catch (...) {
    announce.join();
    pthread_kill(signals.native_handle(), SIGTERM);
    signals.join();
    throw;
  }
  announce.join();
  pthread_kill(signals.native_handle(), SIGTERM);  // ends the signal thread when stop() came from elsewhere
  signals.join();
  if (!quiet) std::cerr << kProgram << ": stopped\n";
  return 0;
}

}  // namespace

int server_main(int argc, char** argv) {
  return run_guarded(kProgram, argc, argv, [&] { return run(argc, argv); }, torch_build_info);
}

}  // namespace tandem::cli
