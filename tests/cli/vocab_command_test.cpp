// tandem-vocab, run as a user runs it.
#include <gtest/gtest.h>

#include "tandem/vocab/tokenizer.h"
#include "test_support.h"

namespace tandem {
namespace {

using test::run_program;

TEST(VocabProgramTest, TrainsAModelTheTokenizerLoads) {
  const std::string dir = test::temp_dir();
  std::string text;
  for (int i = 0; i < 10; ++i) {
    for (const auto& s : test::sample_sentences()) text += s + "\n";
  }
  test::write_gzip(dir + "/text.gz", text);
  const auto r = run_program("tandem-vocab", "-i " + dir + "/text.gz -o " + dir + "/v.spm --vocab-size 160 "
                                             "--model-type bpe --cpu-threads 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("160 pieces"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("1 CPU thread"), std::string::npos) << r.err;
  const auto tok = vocab::Tokenizer::load(dir + "/v.spm");
  EXPECT_EQ(tok.vocab_size(), 160);
}

TEST(VocabProgramTest, MissingArgumentsAndBadFiles) {
  auto r = run_program("tandem-vocab", "-o x.spm");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("input"), std::string::npos) << r.err;
  r = run_program("tandem-vocab", "-i /nonexistent/text -o /tmp/x.spm");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("/nonexistent/text"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace tandem
