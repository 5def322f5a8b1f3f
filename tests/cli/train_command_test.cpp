// tandem-train, run as a user runs it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "test_support.h"

namespace tandem {
namespace {

using test::run_program;

TEST(TrainProgramTest, TrainsResumesAndReadsAConfigFile) {
  const std::string dir = test::temp_dir();
  std::string text;
  for (const auto& s : test::sample_sentences()) text += s + "\n";
  test::write_file(dir + "/train.src", text);
  test::write_file(dir + "/train.tgt", text);
  test::write_file(dir + "/config.ini", "dim-emb = 8\ndim-rnn = 16\nmini-batch = 4\ncell = rnn\nafter-updates = 99\n");
  const std::string common = "--model " + dir + "/m --train-sets " + dir + "/train.src " + dir + "/train.tgt --vocabs " +
                             test::sample_model_path() + " --valid-sets " + dir + "/train.src " + dir +
                             "/train.tgt --valid-freq 2 --disp-freq 1 --cpu-threads 1 --config " + dir + "/config.ini";
  auto r = run_program("tandem-train", common + " --after-updates 2 --cell lstm");  // the command line wins
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("1 CPU thread"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("lstm"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("valid · up 2"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("token id cache: " + dir + "/m/corpus-"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(".ids (built"), std::string::npos) << r.err;
  r = run_program("tandem-train", common + " --after-updates 4");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("resuming from"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(".ids (reused"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("stopped after 4 updates"), std::string::npos) << r.err;
  r = run_program("tandem-train", common + " --dump-config");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("dim-rnn = 16"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("after-updates = 99"), std::string::npos) << r.out;
}

// A configuration may start from another (include = FILE, relative to its folder),
// and several --config files merge: a later file wins, a file's own lines win over
// what it includes, the command line over all; cycles and missing files are errors
// that name the files.
TEST(TrainProgramTest, ConfigFilesIncludeOthersAndMergeInOrder) {
  const std::string dir = test::temp_dir();
  std::filesystem::create_directories(dir + "/configs/base");
  test::write_file(dir + "/configs/base/base.ini", "dim-emb = 8\ndim-rnn = 16\ncell = rnn\nafter-updates = 99\n");
  test::write_file(dir + "/configs/variant.ini", "# the base with a wider state\ninclude = base/base.ini\ndim-rnn = 12\n");
  test::write_file(dir + "/override.ini", "after-updates = 7\ncell = gru\n");
  const auto dump = [&](const std::string& args) {
    const auto r = run_program("tandem-train", args + " --dump-config");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  };
  auto out = dump("--config " + dir + "/configs/variant.ini " + dir + "/override.ini");
  EXPECT_NE(out.find("dim-emb = 8\n"), std::string::npos) << out;        // from the included base
  EXPECT_NE(out.find("dim-rnn = 12\n"), std::string::npos) << out;       // the file's own line wins
  EXPECT_NE(out.find("after-updates = 7\n"), std::string::npos) << out;  // the later file wins
  EXPECT_NE(out.find("cell = gru\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("include"), std::string::npos) << out;
  out = dump("--config " + dir + "/override.ini " + dir + "/configs/variant.ini");
  EXPECT_NE(out.find("after-updates = 99\n"), std::string::npos) << out;  // now the variant (and its base) win
  EXPECT_NE(out.find("cell = rnn\n"), std::string::npos) << out;
  out = dump("--config " + dir + "/configs/variant.ini --dim-rnn 20 --after-updates 3");
  EXPECT_NE(out.find("dim-rnn = 20\n"), std::string::npos) << out;  // the command line wins over all
  EXPECT_NE(out.find("after-updates = 3\n"), std::string::npos) << out;

  test::write_file(dir + "/a.ini", "include = b.ini\ndim-emb = 4\n");
  test::write_file(dir + "/b.ini", "include = a.ini\n");
  auto r = run_program("tandem-train", "--config " + dir + "/a.ini --dump-config");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("includes itself"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("a.ini -> "), std::string::npos) << r.err;
  test::write_file(dir + "/c.ini", "include = missing.ini\n");
  r = run_program("tandem-train", "--config " + dir + "/c.ini --dump-config");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("missing.ini: cannot open the configuration file (included by "), std::string::npos) << r.err;
  test::write_file(dir + "/d.ini", "include = base.ini\nno-such-option = 1\n");
  r = run_program("tandem-train", "--config " + dir + "/d.ini --dump-config");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("d.ini: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("no-such-option"), std::string::npos) << r.err;
}

TEST(TrainProgramTest, FineTunesAPretrainedModelAndRefusesAnotherShape) {
  const std::string dir = test::temp_dir();
  std::string text;
  for (const auto& s : test::sample_sentences()) text += s + "\n";
  test::write_file(dir + "/train.src", text);
  test::write_file(dir + "/train.tgt", text);
  const std::string data = " --train-sets " + dir + "/train.src " + dir + "/train.tgt --mini-batch 4 --cpu-threads 1 "
                           "--valid-freq 0 --disp-freq 1";
  auto r = run_program("tandem-train", "--model " + dir + "/base --vocabs " + test::sample_model_path() + data +
                                           " --dim-emb 8 --dim-rnn 16 --layer-normalization --dec-cell-base-depth 2 --enc-cell-depth 2 --after-updates 2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string pretrained = " --pretrained-model " + dir + "/base/model.ckpt";
  r = run_program("tandem-train", "--model " + dir + "/tuned" + pretrained + data + " --dim-rnn 32 --after-updates 2");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--dim-rnn 32 differs from the pretrained model's 16"), std::string::npos) << r.err;
  r = run_program("tandem-train", "--model " + dir + "/tuned" + pretrained + data +
                                      " --dim-rnn 16 --layer-normalization --dropout-rnn 0.2 --dropout-src 0.1 "
                                      "--dropout-trg 0.2 --learn-rate 0.001 --after-updates 2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("fine-tuning from " + dir + "/base/model.ckpt (update 2)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("stopped after 2 updates"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir + "/tuned/vocab.spm"));  // the checkpoint's vocabulary, none trained
  // A model with layer normalization translates; the option is recorded in the checkpoint.
  r = run_program("tandem-translate", "-m " + dir + "/tuned/model.ckpt --cpu-threads 1 --quiet",
                  "Ein Mann fährt.\nZwei Hunde spielen.\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 2) << r.out;
  r = run_program("tandem-checkpoint", dir + "/tuned/model.ckpt");
  EXPECT_NE(r.out.find("\"layer-normalization\":true"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"dec-cell-base-depth\":2,\"enc-cell-depth\":2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("pretrained-from"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"dropout-src\":0.1,\"dropout-trg\":0.2"), std::string::npos) << r.out;  // this run's
}

TEST(TrainProgramTest, BadOptionsAndFilesGiveClearErrors) {
  const std::string dir = test::temp_dir();
  auto r = run_program("tandem-train", "--model " + dir + "/m");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--train-sets"), std::string::npos) << r.err;
  r = run_program("tandem-train", "--model " + dir + "/m -t a b --cell transformer");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("transformer"), std::string::npos) << r.err;
  r = run_program("tandem-train", "--model " + dir + "/m -t a b --valid-normalize=-1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--valid-normalize must be 0 (off) or more, got -1"), std::string::npos) << r.err;
  test::write_file(dir + "/s", "a\nb\n");
  test::write_file(dir + "/t", "a\n");
  r = run_program("tandem-train", "--model " + dir + "/m -t " + dir + "/s " + dir + "/t --vocabs " +
                                      test::sample_model_path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("not line-aligned"), std::string::npos) << r.err;
  test::write_file(dir + "/m2.ckpt", "garbage");
  std::filesystem::create_directories(dir + "/m2");
  test::write_file(dir + "/m2/model.ckpt", "garbage");
  r = run_program("tandem-train", "--model " + dir + "/m2 -t " + dir + "/s " + dir + "/s");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("model.ckpt"), std::string::npos) << r.err;
}

// On a terminal (script(1) gives it one) training shows a progress line with the
// epoch's share, speed and the time left to --after-updates; through a pipe or into
// a file it does not, so logs stay clean.
TEST(TrainProgramTest, AProgressLineOnATerminalOnly) {
  if (std::system("command -v script > /dev/null 2>&1") != 0) GTEST_SKIP() << "script(1) is not installed";
  const std::string dir = test::temp_dir();
  const std::string text = test::sample_model_path() + ".txt";  // the sample sentences, a line each
  const std::string args = "--train-sets " + text + " " + text + " --vocabs " +
                           test::sample_model_path() +
                           " --dim-emb 8 --dim-rnn 8 --mini-batch 2 --after-updates 30 --disp-freq 10 --valid-freq 0"
                           " --cpu-threads 1";
  const std::string command = std::string(TANDEM_BIN_DIR) + "/tandem-train --model " + dir + "/tty " + args;
  ASSERT_EQ(std::system(("script -qec " + test::shell_quote(command) + " " + dir + "/typescript > /dev/null").c_str()), 0);
  const std::string typescript = test::read_file(dir + "/typescript");
  EXPECT_NE(typescript.find("\rep 1 "), std::string::npos) << typescript;
  EXPECT_NE(typescript.find(" up/s · "), std::string::npos) << typescript;
  EXPECT_NE(typescript.find(" tok/s · "), std::string::npos) << typescript;
  EXPECT_NE(typescript.find(" left\033[K"), std::string::npos) << typescript;
  // Each log line starts on a wiped line.
  EXPECT_NE(typescript.find(" left\033[K\r\033[Kep "), std::string::npos) << typescript;
  const auto piped = run_program("tandem-train", "--model " + dir + "/pipe " + args);
  ASSERT_EQ(piped.exit_code, 0) << piped.err;
  EXPECT_EQ(piped.err.find('\r'), std::string::npos) << piped.err;
  EXPECT_EQ(piped.err.find("up/s"), std::string::npos) << piped.err;
  EXPECT_NE(piped.err.find("stopped after 30 updates"), std::string::npos) << piped.err;
}

}  // namespace
}  // namespace tandem

