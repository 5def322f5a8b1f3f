// The folders form floors (../shared/STYLE.md): an include only ever points to
// a lower floor or into its own folder, so no two folders include each other.
// This test reads every #include of include/, src/ and tools/ and checks it.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <string>
#include <vector>

namespace tandem {
namespace {

namespace fs = std::filesystem;

// Floor of each folder, ground first; folders on one floor may not include each other.
const std::map<std::string, int>& floors() {
  static const std::map<std::string, int> kFloors = {
      {"error", 0},  {"util", 1},  {"io", 2},      {"plot", 2},  {"vocab", 3}, {"eval", 3}, {"data", 4},
      {"model", 5},  {"search", 6}, {"translator", 7}, {"dist", 8},  {"train", 9}, {"serve", 10},
      {"cli", 11},   {"tools", 12}};
  return kFloors;
}

// The folder a file belongs to: include/tandem/X/..., src/X/..., tandem/X.h, src/X.cpp.
std::string folder_of(const fs::path& relative) {
  std::vector<std::string> parts;
  for (const auto& part : relative) parts.push_back(part.string());
  if (parts.empty()) return {};
  if (parts[0] == "tools") return "tools";
  size_t start = 0;
  if (parts[0] == "include" || parts[0] == "src") start = 1;
  if (start < parts.size() && parts[start] == "tandem") ++start;
  if (start >= parts.size()) return {};
  if (start + 1 == parts.size()) return fs::path(parts[start]).stem().string();  // tandem/translator.h, src/translator.cpp
  return parts[start];
}

struct Include {
  std::string file;
  int line;
  std::string from;
  std::string to;
};

std::vector<Include> project_includes() {
  const fs::path root = TANDEM_SOURCE_DIR;
  const std::regex directive(R"(^\s*#\s*include\s*"((tandem|cli)/[^"]+)\")");
  std::vector<Include> includes;
  for (const char* top : {"include", "src", "tools"}) {
    for (const auto& entry : fs::recursive_directory_iterator(root / top)) {
      const auto ext = entry.path().extension().string();
      if (!entry.is_regular_file() || (ext != ".h" && ext != ".cpp")) continue;
      const auto relative = fs::relative(entry.path(), root);
      std::ifstream in(entry.path());
      std::string text;
      int number = 0;
      while (std::getline(in, text)) {
        ++number;
        std::smatch match;
        if (!std::regex_search(text, match, directive)) continue;
        const std::string target = match[1];
        const std::string to = target.rfind("cli/", 0) == 0 ? "cli" : folder_of(fs::path("include") / target);
        includes.push_back({relative.string(), number, folder_of(relative), to});
      }
    }
  }
  return includes;
}

TEST(LayeringTest, EveryFolderHasAFloor) {
  const auto includes = project_includes();
  ASSERT_GT(includes.size(), 100u);  // the scan found the project's includes
  for (const auto& inc : includes) {
    EXPECT_EQ(floors().count(inc.from), 1u) << inc.file << ": folder '" << inc.from << "' has no floor";
    EXPECT_EQ(floors().count(inc.to), 1u) << inc.file << ":" << inc.line << ": folder '" << inc.to << "' has no floor";
  }
}

TEST(LayeringTest, IncludesOnlyPointDown) {
  for (const auto& inc : project_includes()) {
    if (inc.from == inc.to || floors().count(inc.from) == 0 || floors().count(inc.to) == 0) continue;
    EXPECT_LT(floors().at(inc.to), floors().at(inc.from))
        << inc.file << ":" << inc.line << ": " << inc.from << "/ includes " << inc.to << "/, which is not below it";
  }
}

TEST(LayeringTest, TheFloorRuleCatchesAnUpwardInclude) {
  // The rule itself, on paths: data/ reading vocab/ is down; vocab/ reading data/ is up.
  EXPECT_EQ(folder_of("src/vocab/vocab_trainer.cpp"), "vocab");
  EXPECT_EQ(folder_of("include/tandem/translator.h"), "translator");
  EXPECT_EQ(folder_of("src/translator.cpp"), "translator");
  EXPECT_EQ(folder_of("include/tandem/error.h"), "error");
  EXPECT_EQ(folder_of("tools/tandem_train.cpp"), "tools");
  EXPECT_LT(floors().at("vocab"), floors().at("data"));
  EXPECT_LT(floors().at("model"), floors().at("translator"));
  EXPECT_LT(floors().at("translator"), floors().at("train"));
}

}  // namespace
}  // namespace tandem
