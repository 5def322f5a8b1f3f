#include "test_support.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "tandem/io/read_file.h"
#include "tandem/util/cpu_kernels.h"
#include "tandem/vocab/vocab_trainer.h"

namespace tandem::test {
namespace fs = std::filesystem;

namespace {

struct TempRoot {
  fs::path path;
  TempRoot() {
    std::string pattern = (fs::temp_directory_path() / "tandem-test-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path = pattern;
  }
  ~TempRoot() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
};

TempRoot& root() {
  static TempRoot r;
  return r;
}

}  // namespace

std::string temp_dir() {
  static int counter = 0;
  const fs::path dir = root().path / std::to_string(counter++);
  fs::create_directories(dir);
  return dir.string();
}

void write_file(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
}

void write_gzip(const std::string& path, const std::string& content) {
  gzFile f = gzopen(path.c_str(), "wb");
  gzwrite(f, content.data(), static_cast<unsigned>(content.size()));
  gzclose(f);
}

std::string read_file(const std::string& path) {
  // A file that is not there (yet) reads as empty: tests poll for output.
  if (!std::filesystem::exists(path)) return "";
  return io::read_file(path);
}

const std::vector<std::string>& sample_sentences() {
  static const std::vector<std::string> sentences = {
      "Ein Mann fährt mit dem Fahrrad über die Straße.",
      "Zwei Hunde spielen im Schnee, und die Kinder lachen.",
      "Größere Häuser stehen am Fluss; Übermorgen regnet es.",
      "Un homme âgé lit le journal près de la fenêtre.",
      "Les enfants jouent dans le jardin à côté de l'église.",
      "Où est le café ? Il coûte trois euros, n'est-ce pas ?",
      "Muž v červené bundě jde po ulici s pejskem.",
      "Děti si hrají na hřišti a ptáci zpívají.",
      "Příliš žluťoučký kůň úpěl ďábelské ódy.",
      "A young woman is reading a book in the park.",
      "Two dogs are running on the beach at sunset.",
      "The quick brown fox jumps over the lazy dog.",
      "I love pizza 🍕 and coffee ☕ with friends 😀.",
      "Party time 🎉🎉 — see you at 8 pm! 👍",
      "我喜欢学习中文。今天天气很好。",
      "東京は日本の首都です。桜がきれいです。",
      "서울은 한국의 수도입니다.",
  };
  return sentences;
}

const std::string& sample_model_path() {
  static const std::string path = [] {
    const std::string dir = temp_dir();
    std::string text;
    for (int copy = 0; copy < 20; ++copy) {
      for (const auto& s : sample_sentences()) text += s + "\n";
    }
    write_file(dir + "/sample.spm.txt", text);  // kept for tests that train other vocabularies
    vocab::VocabOptions options;
    options.inputs = {dir + "/sample.spm.txt"};
    options.vocab_size = 200;
    options.character_coverage = 1.0;
    const std::string model = dir + "/sample.spm";
    vocab::train_vocab(options, model);
    return model;
  }();
  return path;
}

const vocab::Tokenizer& sample_tokenizer() {
  static const vocab::Tokenizer tokenizer = vocab::Tokenizer::load(sample_model_path());
  return tokenizer;
}

namespace {

// The dates recipe run once per build of tandem-train into BUILD/test-cache/NAME,
// with `settings` (environment assignments) before it.
std::string cached_dates_run(const std::string& name, const std::string& settings) {
  const std::filesystem::path bin(TANDEM_BIN_DIR);
  const std::filesystem::path cache = bin.parent_path() / "test-cache";
  std::filesystem::create_directories(cache);
  const std::string dir = (cache / name).string();
  // The cache stands for one build of tandem-train: its size and time.
  const auto trainer = bin / "tandem-train";
  const std::string key = std::to_string(std::filesystem::file_size(trainer)) + " " +
                          std::to_string(std::filesystem::last_write_time(trainer).time_since_epoch().count());
  const std::string lock_path = (cache / (name + ".lock")).string();
  const int lock = ::open(lock_path.c_str(), O_CREAT | O_RDWR, 0644);
  if (lock < 0 || ::flock(lock, LOCK_EX) != 0) throw std::runtime_error("cannot lock " + lock_path);
  const std::string done = dir + "/done";
  if (!std::filesystem::exists(done) || read_file(done) != key) {
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    // One thread: CTest runs tests side by side, and OpenMP threads of two
    // processes that outnumber the cores wait on each other (5x slower).
    const std::string command = "TANDEM_SKIP_SETUP=1 CPU_THREADS=1 " + settings +
                                " TANDEM_DATES_WORK=" + shell_quote(dir) + " bash " + std::string(TANDEM_SOURCE_DIR) +
                                "/recipes/dates/run.sh > " + shell_quote(dir) + "/run.log 2>&1";
    if (std::system(command.c_str()) == 0) write_file(done, key);
  }
  ::close(lock);  // releases the lock
  if (!std::filesystem::exists(done)) {
    throw std::runtime_error("recipes/dates/run.sh failed:\n" + read_file(dir + "/run.log"));
  }
  return dir;
}

}  // namespace

std::string dates_work_dir(const std::string& precision) {
  return cached_dates_run(precision == "float32" ? "dates" : "dates-" + precision, "PRECISION=" + shell_quote(precision));
}

std::string small_dates_work_dir(const std::string& precision) {
  return cached_dates_run(precision == "float32" ? "dates-small" : "dates-small-" + precision,
                          "PRECISION=" + shell_quote(precision) + " TRAIN_SIZE=" + std::to_string(kSmallDatesPairs) +
                              " TRAIN_UPDATES=" + std::to_string(kSmallDatesUpdates));
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (const char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out.push_back(c);
    }
  }
  return out + "'";
}

ProgramResult run_recipe(const std::string& recipe, const std::string& work, const std::string& args) {
  const std::string command = "bash " + std::string(TANDEM_SOURCE_DIR) + "/recipes/" + recipe +
                              "/run.sh --skip-setup --work " + work + " " + args + " > " + work + "/out.txt 2>&1";
  fs::create_directories(work);
  const int status = std::system(command.c_str());
  ProgramResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.out = read_file(work + "/out.txt");
  return result;
}

ProgramResult run_program(const std::string& name, const std::string& args, const std::string& input) {
  const std::string dir = temp_dir();
  write_file(dir + "/stdin", input);
  const std::string command = std::string(TANDEM_BIN_DIR) + "/" + name + " " + args + " < " +
                              dir + "/stdin > " + dir + "/stdout 2> " + dir + "/stderr";
  const int status = std::system(command.c_str());
  ProgramResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.out = read_file(dir + "/stdout");
  result.err = read_file(dir + "/stderr");
  return result;
}

std::string peers_dir() {
  const fs::path dir = fs::path(TANDEM_SOURCE_DIR) / ".." / "shared" / "peers";
  return fs::exists(dir) ? fs::canonical(dir).string() : std::string();
}

bool missing_shared_allowed() {
  const char* value = std::getenv("TANDEM_ALLOW_MISSING_SHARED");
  return value != nullptr && std::string(value) == "1";
}

namespace {

// The test binary embeds the library as a program does, so it chooses the CPU
// kernels as the programs do (first thing, before any test): a figure a test
// computes in this process and one a program prints are then computed alike.
// CpuKernelsTest's child process (TANDEM_KERNELS_CHILD) checks the library
// without the call.
class CpuKernelsEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    if (std::getenv("TANDEM_KERNELS_CHILD") == nullptr) util::use_best_cpu_kernels();
  }
};
[[maybe_unused]] ::testing::Environment* const kCpuKernels =
    ::testing::AddGlobalTestEnvironment(new CpuKernelsEnvironment);

}  // namespace

}  // namespace tandem::test
