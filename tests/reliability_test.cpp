// Reliability: interrupted training, full disks, non-finite losses, hostile files.
// (SIGKILL at random moments: tools/kill_resume.py, registered with CTest.)
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "tandem/data/parallel_corpus.h"
#include "tandem/error.h"
#include "tandem/model/checkpoint.h"
#include "tandem/train/trainer.h"
#include "test_support.h"

namespace tandem {
namespace {

namespace fs = std::filesystem;
using namespace std::string_literals;
using test::run_program;

// A small training task on the sample sentences; `extra` is appended to the options.
std::string train_args(const std::string& dir, const std::string& extra) {
  if (!fs::exists(dir + "/train.txt")) {
    std::string text;
    for (int copy = 0; copy < 4; ++copy) {
      for (const auto& s : test::sample_sentences()) text += s + "\n";
    }
    test::write_file(dir + "/train.txt", text);
  }
  return "--model " + dir + "/m --train-sets " + dir + "/train.txt " + dir + "/train.txt --vocabs " +
         test::sample_model_path() + (extra.find("--dim-rnn") == std::string::npos ? " --dim-rnn 32" : "") +
         " --dim-emb 16 --mini-batch 4 --disp-freq 1 --cpu-threads 1 " + extra;
}

// update -> the logged training record (loss etc.), the last time it was logged.
std::map<int64_t, std::string> logged_updates(const std::string& model_dir) {
  std::ifstream in(model_dir + "/train.log.jsonl");
  std::map<int64_t, std::string> records;
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line);
    if (j["type"] != "train") continue;
    j.erase("seconds");
    j.erase("target_tokens_per_second");
    records[j["update"].get<int64_t>()] = j.dump();
  }
  return records;
}

// Starts a built program in the background, stderr into `err_path`.
pid_t spawn(const std::string& name, const std::string& args, const std::string& err_path) {
  const std::string command =
      "exec " + std::string(TANDEM_BIN_DIR) + "/" + name + " " + args + " < /dev/null > /dev/null 2> " + err_path;
  const pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

int wait_exit_code(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

// Waits until the training log shows `update` (or gives up after 60 s).
bool wait_for_update(const std::string& model_dir, int64_t update) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream in(model_dir + "/train.log.jsonl");
    for (std::string line; std::getline(in, line);) {
      const auto record = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);  // a line being written is not JSON yet
      if (record.is_object() && record.value("type", "") == "train" && record.value("update", int64_t{-1}) == update) {
        return true;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

TEST(InterruptTest, SigtermWritesACheckpointAndTheResumedRunEqualsOneNeverStopped) {
  const std::string dir = test::temp_dir();
  const std::string straight_dir = test::temp_dir();
  auto r = run_program("tandem-train", train_args(straight_dir, "--after-updates 150 --valid-freq 0"));
  ASSERT_EQ(r.exit_code, 0) << r.err;

  const pid_t pid = spawn("tandem-train", train_args(dir, "--after-updates 150 --valid-freq 0"), dir + "/err");
  ASSERT_TRUE(wait_for_update(dir + "/m", 3));
  kill(pid, SIGTERM);
  EXPECT_EQ(wait_exit_code(pid), 128 + SIGTERM);
  const auto err = test::read_file(dir + "/err");
  EXPECT_NE(err.find("interrupted (signal 15) after"), std::string::npos) << err;
  EXPECT_NE(err.find("run the same command again to resume"), std::string::npos) << err;
  const auto stopped = model::load_checkpoint(dir + "/m/model.ckpt", torch::kCPU);
  EXPECT_GE(stopped.meta.state.updates, 3);
  EXPECT_LT(stopped.meta.state.updates, 150) << "the signal came too late to test anything";

  r = run_program("tandem-train", train_args(dir, "--after-updates 150 --valid-freq 0"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("resuming from"), std::string::npos) << r.err;
  EXPECT_EQ(logged_updates(dir + "/m"), logged_updates(straight_dir + "/m"));
  const auto a = model::load_checkpoint(dir + "/m/model.ckpt", torch::kCPU);
  const auto b = model::load_checkpoint(straight_dir + "/m/model.ckpt", torch::kCPU);
  const auto pb = b.model->named_parameters();
  for (const auto& p : a.model->named_parameters()) EXPECT_TRUE(torch::equal(p.value(), pb[p.key()])) << p.key();
}

TEST(InterruptTest, ASecondSignalExitsAtOnceAndTheLastCheckpointStaysIntact) {
  const std::string dir = test::temp_dir();
  // A first checkpoint, then a long run that gets two signals in a row.
  auto r = run_program("tandem-train", train_args(dir, "--after-updates 2 --valid-freq 0 --dim-rnn 512"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Wide layers make each update and checkpoint slow enough for the second
  // signal to land while the first is still being honoured.
  const pid_t pid = spawn("tandem-train", train_args(dir, "--after-updates 100000 --valid-freq 1"), dir + "/err");
  ASSERT_TRUE(wait_for_update(dir + "/m", 3));
  kill(pid, SIGINT);
  for (int i = 0; i < 500 && test::read_file(dir + "/err").find("stopping after this update") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  kill(pid, SIGINT);
  const int code = wait_exit_code(pid);
  const auto err = test::read_file(dir + "/err");
  EXPECT_EQ(code, 128 + SIGINT) << err;
  EXPECT_NE(err.find("second signal: exiting now"), std::string::npos) << err;
  const auto last = model::load_checkpoint(dir + "/m/model.ckpt", torch::kCPU);  // loads: not half-written
  EXPECT_GE(last.meta.state.updates, 2);
  r = run_program("tandem-train", train_args(dir, "--after-updates " + std::to_string(last.meta.state.updates + 2) +
                                                      " --valid-freq 0"));
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST(DiskTest, AFullDiskIsAClearErrorAndThePreviousCheckpointStillLoads) {
  const std::string dir = test::temp_dir();
  auto r = run_program("tandem-train", train_args(dir, "--after-updates 2 --valid-freq 0"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto size_kb = fs::file_size(dir + "/m/model.ckpt") / 1024;
  // The file-size limit makes writing the next checkpoint fail as a full disk does.
  const std::string command = "ulimit -f " + std::to_string(size_kb / 2) + "; exec " + TANDEM_BIN_DIR +
                              "/tandem-train " + train_args(dir, "--after-updates 4 --valid-freq 0") + " 2> " + dir +
                              "/err";
  const int status = std::system(("/bin/bash -c " + test::shell_quote(command)).c_str());
  const auto err = test::read_file(dir + "/err");
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << err;
  EXPECT_NE(err.find("model.ckpt: cannot write the checkpoint"), std::string::npos) << err;
  EXPECT_NE(err.find("the previous checkpoint is intact"), std::string::npos) << err;
  for (const auto& e : fs::directory_iterator(dir + "/m")) {  // no staging file left behind
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
  }
  EXPECT_EQ(model::load_checkpoint(dir + "/m/model.ckpt", torch::kCPU).meta.state.updates, 2);
}

// Two trainings on one model folder (a second terminal, a requeued job whose
// first run still shuts down): the second stops at once, naming the holder.
TEST(DiskTest, ASecondTrainingOnTheSameFolderStopsAtOnceNamingTheHolder) {
  const std::string dir = test::temp_dir();
  const pid_t first = spawn("tandem-train", train_args(dir, "--after-updates 1000000 --quiet"), dir + "/first.err");
  ASSERT_TRUE(wait_for_update(dir + "/m", 1)) << test::read_file(dir + "/first.err");
  const auto started = std::chrono::steady_clock::now();
  const auto second = run_program("tandem-train", train_args(dir, "--after-updates 5"));
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(20));
  kill(first, SIGKILL);
  wait_exit_code(first);
  EXPECT_EQ(second.exit_code, 1) << second.err;
  EXPECT_NE(second.err.find(dir + "/m: another training holds this model folder (host "), std::string::npos)
      << second.err;
  EXPECT_NE(second.err.find("process " + std::to_string(first) + ")"), std::string::npos) << second.err;
  // The first one's end (even by SIGKILL) frees the folder: the run resumes there.
  const auto third = run_program("tandem-train", train_args(dir, "--after-updates 3"));
  EXPECT_EQ(third.exit_code, 0) << third.err;
}

TEST(DiskTest, AModelFolderThatCannotBeWrittenIsAnErrorBeforeTraining) {
  const std::string dir = test::temp_dir();
  test::write_file(dir + "/a-file", "x");
  auto r = run_program("tandem-train", train_args(dir, "--after-updates 2").replace(
                                           0, std::string("--model " + dir + "/m").size(), "--model " + dir + "/a-file/m"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("a-file/m: cannot create the model folder"), std::string::npos) << r.err;
  // A folder that exists but takes no files, for root too: /proc/self (a
  // read-only permission bit would not stop root, who runs the README's setup).
  r = run_program("tandem-train", "--model /proc/self -t " + dir + "/train.txt " + dir + "/train.txt");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("/proc/self: cannot write in the model folder"), std::string::npos) << r.err;
  if (geteuid() != 0) {  // and, where permissions bind, a folder without write permission
    fs::create_directories(dir + "/ro");
    fs::permissions(dir + "/ro", fs::perms::owner_read | fs::perms::owner_exec);
    r = run_program("tandem-train", "--model " + dir + "/ro -t " + dir + "/train.txt " + dir + "/train.txt");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("cannot write in the model folder"), std::string::npos) << r.err;
  }
}

TEST(NonFiniteTest, NonFiniteLossesAreSkippedThenStopAndNoNonFiniteWeightIsSaved) {
  const std::string dir = test::temp_dir();
  auto r = run_program("tandem-train", train_args(dir, "--after-updates 4 --valid-freq 2"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Adam moves every weight by about the learning rate an update: at 1e38 the
  // weights pass float's largest value (3.4e38) within a few updates, whatever
  // the order in which gradients are summed. (At 1e30 they stayed finite, and
  // whether a product overflowed depended on that order.)
  // No checkpoint is due before the losses stop training (--valid-freq 0), so the
  // outcome is one: three skipped updates, then a stop, the last good state kept.
  // (Saving weights that are not finite is refused: the next test.)
  r = run_program("tandem-train", train_args(dir, "--after-updates 50 --valid-freq 0 --learn-rate 1e38 --clip-norm 0 "
                                                  "--max-nonfinite-updates 3"));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("the update is skipped"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("not finite 3 times in a row"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("holds NaN or infinite values"), std::string::npos) << r.err;
  const auto last = model::load_checkpoint(dir + "/m/model.ckpt", torch::kCPU);
  EXPECT_EQ(last.meta.state.updates, 4);
  for (const auto& p : last.model->parameters()) EXPECT_TRUE(torch::isfinite(p).all().item<bool>());
  const auto inspected = run_program("tandem-checkpoint", dir + "/m/model.ckpt");
  EXPECT_EQ(inspected.exit_code, 0) << inspected.err;
  EXPECT_NE(inspected.out.find("non-finite 0"), std::string::npos) << inspected.out;
}

TEST(NonFiniteTest, SaveCheckpointRefusesNonFiniteWeightsAndKeepsTheOldFile) {
  const std::string dir = test::temp_dir();
  model::CheckpointMeta meta;
  const auto& tok = test::sample_tokenizer();
  meta.options = model::ModelOptions(tok.vocab_size(), tok.vocab_size()).dim_emb(8).dim_rnn(8);
  meta.source_vocab = meta.target_vocab = tok.model_bytes();
  model::Seq2Seq model(meta.options);
  model::save_checkpoint(dir + "/m.ckpt", model, nullptr, meta);
  const auto before = test::read_file(dir + "/m.ckpt");
  {
    torch::NoGradGuard no_grad;
    model->parameters()[0].view(-1)[0] = std::numeric_limits<float>::quiet_NaN();
  }
  try {
    model::save_checkpoint(dir + "/m.ckpt", model, nullptr, meta);
    FAIL() << "saved NaN weights";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("NaN or infinite"), std::string::npos) << e.what();
  }
  EXPECT_EQ(test::read_file(dir + "/m.ckpt"), before);
  const auto inspected = run_program("tandem-checkpoint", dir + "/m.ckpt");
  EXPECT_EQ(inspected.exit_code, 0) << inspected.err;
}

TEST(HostileFilesTest, EmptyWrongVersionAndTruncatedModelsNameTheFile) {
  const std::string dir = test::temp_dir();
  test::write_file(dir + "/empty.ckpt", "");
  torch::serialize::OutputArchive future;
  future.write("format", torch::tensor(std::vector<uint8_t>{'t', 'a', 'n', 'd', 'e', 'm', '-', 'c', 'h', 'e', 'c', 'k', 'p', 'o', 'i', 'n', 't', ' ', '2'}));
  future.save_to(dir + "/future.ckpt");
  std::filesystem::create_directories(dir + "/empty-folder");
  for (const auto& name : {"empty.ckpt", "future.ckpt", "empty-folder"}) {
    for (const auto& program : {"tandem-translate", "tandem-checkpoint"}) {
      const auto r = run_program(program, std::string(program) == "tandem-checkpoint"
                                               ? dir + "/" + name
                                               : "-m " + dir + "/" + name,
                                 "Ein Mann.\n");
      EXPECT_EQ(r.exit_code, 1) << program << " " << name;
      EXPECT_NE(r.err.find(name), std::string::npos) << program << ": " << r.err;
      EXPECT_EQ(r.err.find("terminate"), std::string::npos) << r.err;
    }
  }
  const auto vocab = test::read_file(test::sample_model_path());
  test::write_file(dir + "/s.txt", "Ein Mann.\n");
  for (const auto& [name, bytes] : std::vector<std::pair<std::string, std::string>>{
           {"empty.spm", ""}, {"half.spm", vocab.substr(0, vocab.size() / 2)}, {"noise.spm", std::string(500, '\x07')}}) {
    test::write_file(dir + "/" + name, bytes);
    const auto r = run_program("tandem-train", "-m " + dir + "/m-" + name + " -t " + dir + "/s.txt " + dir +
                                                   "/s.txt --vocabs " + dir + "/" + name);
    EXPECT_EQ(r.exit_code, 1) << name;
    EXPECT_NE(r.err.find(name), std::string::npos) << r.err;
  }
}

TEST(HostileFilesTest, HostileCorporaGiveErrorsOrCountedSkips) {
  const std::string dir = test::temp_dir();
  const auto& tok = test::sample_tokenizer();
  const auto load = [&](const std::string& source, const std::string& target, bool skip) {
    test::write_file(dir + "/s", source);
    test::write_file(dir + "/t", target);
    data::CorpusOptions o;
    o.source_path = dir + "/s";
    o.target_path = dir + "/t";
    o.skip_invalid_utf8 = skip;
    return data::ParallelCorpus::load(o, tok, tok);
  };
  // A BOM and CRLF line ends are not text.
  auto corpus = load("\xEF\xBB\xBFZwei Hunde.\r\nEin Mann.\r\n", "Two dogs.\r\nA man.", false);
  ASSERT_EQ(corpus.size(), 2);
  EXPECT_EQ(tok.decode(corpus.pair(0).source), "Zwei Hunde.");
  EXPECT_EQ(tok.decode(corpus.pair(1).target), "A man.");
  // A line of a megabyte is skipped as too long and counted.
  const std::string huge(1 << 20, 'a');
  corpus = load("Ein Mann.\n" + huge + "\n", "A man.\nlong\n", false);
  EXPECT_EQ(corpus.size(), 1);
  EXPECT_EQ(corpus.report().skipped_too_long, 1);
  // Only empty lines: nothing to train on, said by the trainer.
  corpus = load("\n\n\n", "\n\n\n", false);
  EXPECT_EQ(corpus.size(), 0);
  EXPECT_EQ(corpus.report().skipped_empty, 3);
  const auto r = run_program("tandem-train", "-m " + dir + "/m -t " + dir + "/s " + dir + "/t --vocabs " +
                                                 test::sample_model_path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no usable training pair"), std::string::npos) << r.err;
  // NUL bytes and invalid UTF-8: an error naming file and line, or counted skips.
  EXPECT_THROW(load("ok\nbad\0byte\n"s, "ok\nok\n", false), Error);
  corpus = load("ok\nbad\0byte\nbad \xff\n"s, "ok\nok\nok\n", true);
  EXPECT_EQ(corpus.size(), 1);
  EXPECT_EQ(corpus.report().skipped_invalid, 2);
}

TEST(HostileFilesTest, BleuOnEmptyUnterminatedAndMismatchedFiles) {
  const std::string dir = test::temp_dir();
  test::write_file(dir + "/ref", "Ein Hund läuft im Park.\nZwei Kinder spielen.\n");
  test::write_file(dir + "/ref-unterminated", "Ein Hund läuft im Park.\nZwei Kinder spielen.");
  test::write_file(dir + "/empty", "");
  const std::string hyp = "Ein Hund rennt im Park.\nZwei Kinder spielen.\n";
  const auto with_newline = run_program("tandem-bleu", dir + "/ref -b -w 6", hyp);
  const auto without = run_program("tandem-bleu", dir + "/ref-unterminated -b -w 6", hyp.substr(0, hyp.size() - 1));
  ASSERT_EQ(with_newline.exit_code, 0) << with_newline.err;
  EXPECT_EQ(with_newline.out, without.out);  // a missing final newline changes nothing
  auto r = run_program("tandem-bleu", dir + "/ref", "");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("hold no line"), std::string::npos) << r.err;
  r = run_program("tandem-bleu", dir + "/empty", "a\n");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("has 0"), std::string::npos) << r.err;
  r = run_program("tandem-bleu", dir + "/ref", "one line\n");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("line-aligned"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace tandem
