// The FLOP count (tandem/model/flops.h) and the tandem-bench program.
#include "tandem/model/flops.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

#include "tandem/error.h"
#include "test_support.h"

namespace tandem::model {
namespace {

// Worked by hand from the rules in flops.h: E 2, H 3, V 5, GRU (3 gates),
// bidirectional (M 6), Bahdanau, bridge, one layer each; S 4, T 2.
TEST(FlopsTest, MatchesAHandCount) {
  const auto o = ModelOptions(7, 5).dim_emb(2).dim_rnn(3);
  const auto c = count_flops(o, 4, 2);
  // encoder: per source token 2 x 3 x 3 x (2 + 3) = 90, keys 6 x 3 = 18; two source
  // tokens per target token: 216; bridge 6 x 3 over 2 target tokens: 9.
  EXPECT_DOUBLE_EQ(c.encoder, 2 * (216 + 9));
  EXPECT_DOUBLE_EQ(c.attention, 2 * (3 * 3 + 4 * 3 + 4 * 6));  // query, scores, context
  EXPECT_DOUBLE_EQ(c.decoder, 2 * (3 * 3 * ((2 + 6) + 3)));    // GRU over [e; c]
  EXPECT_DOUBLE_EQ(c.features, 2 * ((3 + 6 + 2) * 2));          // [s; c; e] -> E
  EXPECT_DOUBLE_EQ(c.output, 2 * (2 * 5));
  EXPECT_DOUBLE_EQ(c.forward(), 802);
  EXPECT_DOUBLE_EQ(c.training(), 3 * 802);
}

TEST(FlopsTest, LayersCellsAndAttentionCount) {
  // LSTM (4 gates), two unidirectional layers each side, Luong general, zeros init.
  const auto o = ModelOptions(7, 5)
                     .dim_emb(2)
                     .dim_rnn(3)
                     .cell(CellType::kLstm)
                     .bidirectional(false)
                     .enc_depth(2)
                     .dec_depth(2)
                     .attention(AttentionType::kLuongGeneral)
                     .decoder_init(DecoderInit::kZeros);
  const auto c = count_flops(o, 3, 3);
  EXPECT_DOUBLE_EQ(c.encoder, 2 * (4 * 3 * (2 + 3) + 4 * 3 * (3 + 3) + 3 * 3));  // two layers, keys
  EXPECT_DOUBLE_EQ(c.attention, 2 * (3 * 3 + 3 * 3));                           // scores, context
  EXPECT_DOUBLE_EQ(c.decoder, 2 * (4 * 3 * (2 * 2 + 3) + 4 * 3 * (3 + 3)));     // input feeding [e; f]
  EXPECT_DOUBLE_EQ(c.features, 2 * ((3 + 3) * 2));                              // [c; s] -> E
  // The output layer grows with the vocabulary and nothing else does.
  const auto big = count_flops(ModelOptions(7, 50).dim_emb(2).dim_rnn(3), 4, 2);
  const auto small = count_flops(ModelOptions(7, 5).dim_emb(2).dim_rnn(3), 4, 2);
  EXPECT_DOUBLE_EQ(big.output, 10 * small.output);
  EXPECT_DOUBLE_EQ(big.forward() - big.output, small.forward() - small.output);
  EXPECT_THROW(count_flops(o, 0, 3), Error);
}

// The reference peer's sizes (E 256, H 512, V 8000, bidirectional GRU, Bahdanau)
// in Tandem's architecture: the output layer reads 256-wide features, so a
// target token costs less than the peer's 121 MFLOP (whose output layer reads
// the 1792-wide [s; c; e]: 2 x 1792 x 8000 = 28.7 MFLOP forward of its 40.5).
TEST(FlopsTest, ReferenceSizes) {
  const auto c = count_flops(ModelOptions(8000, 8000), 14, 14);
  EXPECT_NEAR(c.output / 1e6, 2 * 256 * 8000 / 1e6, 1e-9);
  EXPECT_NEAR(c.forward() / 1e6, 16.93, 0.01);
  const double peer_output = 2.0 * 1792 * 8000;
  EXPECT_NEAR((c.forward() - c.output - c.features + peer_output) * 3 / 1e6, 121.5, 0.5);
}

TEST(BenchProgramTest, MeasuresMatrixProductsAndCountsACheckpoint) {
  auto r = test::run_program("tandem-bench", "mm --size 64 --seconds 0.05 --cpu-threads 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  double rate = 0;
  ASSERT_EQ(std::sscanf(r.out.c_str(), "mm float32 64x64 on cpu: %lf GFLOP/s", &rate), 1) << r.out;
  EXPECT_GT(rate, 0);

  const std::string d = test::temp_dir();
  std::string text;
  for (const auto& s : test::sample_sentences()) text += s + "\n";
  test::write_file(d + "/train.txt", text);
  r = test::run_program("tandem-train", "--model " + d + "/model -t " + d + "/train.txt " + d +
                                            "/train.txt --vocabs " + test::sample_model_path() +
                                            " --dim-emb 8 --dim-rnn 16 --after-updates 1 --valid-freq 0"
                                            " --cpu-threads 1 --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = test::run_program("tandem-bench", "flops -m " + d + "/model/model.ckpt --source-length 4 --target-length 2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto at = r.out.find("\nforward ");
  ASSERT_NE(at, std::string::npos) << r.out;
  double forward = 0;
  double training = 0;
  ASSERT_EQ(std::sscanf(r.out.c_str() + at, "\nforward %lf MFLOP\ntraining %lf MFLOP", &forward, &training), 2)
      << r.out;
  EXPECT_GT(forward, 0);
  EXPECT_NEAR(training, 3 * forward, 1e-3);
  for (const char* part : {"encoder", "attention", "decoder", "features", "output"}) {
    EXPECT_NE(r.out.find(part), std::string::npos) << part;
  }

  r = test::run_program("tandem-bench", "flops -m " + d + "/missing.ckpt --source-length 4 --target-length 2");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("missing.ckpt"), std::string::npos) << r.err;
  r = test::run_program("tandem-bench", "speed");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("use mm, flops, allreduce or adam"), std::string::npos) << r.err;
  r = test::run_program("tandem-bench", "mm --dtype float64");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--dtype"), std::string::npos) << r.err;
}

// allreduce: the time of one gradient-sized all-reduce among workers started
// as tandem-train's are; a single process is told how to start several.
TEST(BenchProgramTest, MeasuresAnAllReduceAmongWorkers) {
  auto r = test::run_program("tandem-bench", "allreduce");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("allreduce measures several workers"), std::string::npos) << r.err;
  const std::string d = test::temp_dir();
  const std::string port = std::to_string(20000 + ::getpid() % 20000);
  const std::string worker = "WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=" + port + " timeout 60 " +
                             std::string(TANDEM_BIN_DIR) + "/tandem-bench allreduce --megabytes 2 --repeats 2 " +
                             "--distributed-timeout 30";
  const int status = std::system(("RANK=1 " + worker + " > " + d + "/rank1.out 2>&1 & RANK=0 " + worker + " > " + d +
                                  "/rank0.out 2>&1; code=$?; wait $!; exit $((code + $?))")
                                     .c_str());
  const std::string out = test::read_file(d + "/rank0.out");
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << out << test::read_file(d + "/rank1.out");
  EXPECT_NE(out.find("allreduce 2.0 MB float32, 2 workers: mean "), std::string::npos) << out;
  EXPECT_EQ(test::read_file(d + "/rank1.out").find("allreduce 2.0 MB"), std::string::npos);  // rank 0 reports
}

}  // namespace
}  // namespace tandem::model
