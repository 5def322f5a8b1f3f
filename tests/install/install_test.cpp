// Installing Tandem and using it as users do: cmake --install into a prefix, the
// installed programs (with --version), and a ten-line consumer project that
// finds the package with find_package(Tandem), loads a model through
// tandem/translator.h and translates a line. Also the Debian package (cpack).
#include <gtest/gtest.h>

#include <filesystem>

#include "test_support.h"

namespace tandem {
namespace {

namespace fs = std::filesystem;

test::ProgramResult shell(const std::string& command) {
  const std::string dir = test::temp_dir();
  const int status = std::system((command + " > " + dir + "/out 2>&1").c_str());
  test::ProgramResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = test::read_file(dir + "/out");
  return r;
}

const std::string& build_dir() {
  static const std::string dir = fs::path(TANDEM_BIN_DIR).parent_path().string();
  return dir;
}

TEST(InstallTest, EveryProgramPrintsItsVersion) {
  for (const std::string program : {"tandem-bleu", "tandem-vocab", "tandem-corpus", "tandem-train", "tandem-translate",
                                    "tandem-score", "tandem-sample", "tandem-checkpoint", "tandem-average",
                                    "tandem-bench", "tandem-server", "tandem-plot"}) {
    const auto r = test::run_program(program, "--version");
    EXPECT_EQ(r.exit_code, 0) << program << ": " << r.err;
    EXPECT_EQ(r.out.rfind(program + " 0.1.0 (commit ", 0), 0u) << r.out;
    EXPECT_NE(r.out.find("LibTorch"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("BLAS: "), std::string::npos) << r.out;
  }
  const auto train = test::run_program("tandem-train", "--version");
  EXPECT_NE(train.out.find("LibTorch 1."), std::string::npos) << train.out;
  EXPECT_NE(train.out.find("CUDA "), std::string::npos) << train.out;
  EXPECT_NE(train.out.find("blas"), std::string::npos) << train.out;  // LibTorch loads a BLAS
  EXPECT_NE(test::run_program("tandem-bleu", "--version").out.find("not linked"), std::string::npos);
}

TEST(InstallTest, AConsumerProjectFindsThePackageAndTranslatesALine) {
  const std::string dir = test::temp_dir();
  const std::string prefix = dir + "/prefix";
  auto r = shell("cmake --install " + test::shell_quote(build_dir()) + " --prefix " + test::shell_quote(prefix));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  for (const std::string file : {"bin/tandem-translate", "bin/tandem-train", "include/tandem/translator.h",
                                 "lib/libtandem.a", "lib/libtandem_text.a", "lib/libtandem_spm_shim.so",
                                 "lib/cmake/Tandem/TandemConfig.cmake", "lib/pkgconfig/tandem.pc"}) {
    EXPECT_TRUE(fs::exists(prefix + "/" + file)) << file;
  }
  // The installed programs work from the prefix: train a tiny model with them.
  std::string text;
  for (const auto& s : test::sample_sentences()) text += s + "\n";
  test::write_file(dir + "/train.txt", text);
  r = shell(prefix + "/bin/tandem-train --model " + dir + "/model --train-sets " + dir + "/train.txt " + dir +
            "/train.txt --vocabs " + test::sample_model_path() +
            " --dim-emb 8 --dim-rnn 8 --after-updates 2 --valid-freq 0 --cpu-threads 1 --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.out;

  // A consumer: find_package(Tandem), one translation through tandem/translator.h.
  const std::string consumer = dir + "/consumer";
  fs::create_directories(consumer);
  test::write_file(consumer + "/CMakeLists.txt",
                   "cmake_minimum_required(VERSION 3.18)\n"
                   "project(consumer CXX)\n"
                   "set(CMAKE_CXX_STANDARD 17)\n"
                   "find_package(Tandem REQUIRED)\n"
                   "add_executable(consumer main.cpp)\n"
                   "target_link_libraries(consumer PRIVATE Tandem::tandem)\n");
  test::write_file(consumer + "/main.cpp",
                   "#include <iostream>\n"
                   "#include \"tandem/translator.h\"\n"
                   "int main(int argc, char** argv) {\n"
                   "  auto translator = tandem::Translator::load({argv[1]}, torch::kCPU);\n"
                   "  tandem::TranslateOptions options;\n"
                   "  const auto results = translator.translate({argv[2]}, options);\n"
                   "  std::cout << \"[\" << results.at(0).texts.at(0) << \"]\\n\";\n"
                   "  return argc == 3 ? 0 : 1;\n"
                   "}\n");
  r = shell("cmake -S " + consumer + " -B " + consumer + "/build -DCMAKE_PREFIX_PATH=" + prefix +
            " -DCMAKE_BUILD_TYPE=Release && cmake --build " + consumer + "/build");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  // Run from elsewhere, with the build folder's bridge library out of the way of its search.
  r = shell("cd " + dir + " && TANDEM_SPM_SHIM= " + consumer + "/build/consumer " + dir + "/model 'Ein Mann fährt.'");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out.front(), '[');
  EXPECT_EQ(r.out.back(), '\n');
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
  // The main job's model (recipes/dates/run.sh) through the installed library: a date it never saw.
  r = shell("cd " + dir + " && TANDEM_SPM_SHIM= " + consumer + "/build/consumer " + test::dates_work_dir() +
            "/model 'le 14 juillet 1989'");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out, "[1989-07-14]\n");
}

TEST(InstallTest, TheDebianPackageHoldsTheProgramsAndNamesDebiansPackages) {
  const std::string dir = test::temp_dir();
  auto r = shell("cd " + dir + " && cpack --config " + test::shell_quote(build_dir() + "/CPackConfig.cmake") +
                 " -G DEB -B " + dir);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  std::string deb;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".deb") deb = e.path().string();
  }
  ASSERT_FALSE(deb.empty()) << r.out;
  EXPECT_NE(fs::path(deb).filename().string().find("tandem_0.1.0_amd64.deb"), std::string::npos) << deb;
  r = shell("dpkg-deb -f " + deb + " Depends");
  EXPECT_NE(r.out.find("libtorch1.13"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("libsentencepiece0"), std::string::npos) << r.out;
  r = shell("dpkg-deb -c " + deb);
  EXPECT_NE(r.out.find("./usr/bin/tandem-translate"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("./usr/lib/libtandem_spm_shim.so"), std::string::npos) << r.out;
  // Unpacked (as apt would place it), its programs run and find their bridge library.
  r = shell("dpkg-deb -x " + deb + " " + dir + "/root && " + dir + "/root/usr/bin/tandem-vocab --input " +
            test::sample_model_path() + ".txt --model " + dir + "/v.spm --vocab-size 200");
  EXPECT_EQ(r.exit_code, 0) << r.out;
}

}  // namespace
}  // namespace tandem
