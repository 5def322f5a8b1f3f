#include "cli/config_file.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <vector>

#include "tandem/error.h"

namespace tandem::cli {
namespace {

// One --config file into vm, then the files it includes (`include = FILE`, relative
// to its folder): values already in vm stay, so the command line and the file's own
// lines win over what it includes, and a later include over an earlier one. `chain`
// holds the files that include this one (a cycle is an error naming it).
void load_config(const std::filesystem::path& path, const po::options_description& options, po::variables_map& vm,
                 std::vector<std::string> chain) {
  const auto shown = [&] {
    std::string text;
    for (const auto& file : chain) text += file + " -> ";
    return text + path.string();
  };
  std::error_code ec;
  const auto canonical = std::filesystem::weakly_canonical(path, ec).string();
  if (std::find(chain.begin(), chain.end(), canonical) != chain.end()) {
    throw Error(path.string() + ": the configuration includes itself (" + shown() + "); remove one include line");
  }
  if (chain.size() >= 16) throw Error(path.string() + ": includes nested more than 16 deep (" + shown() + ")");
  std::ifstream in(path);
  if (!in) {
    throw Error(path.string() + ": cannot open the configuration file" +
                (chain.empty() ? std::string() : " (included by " + chain.back() + ")"));
  }
  po::options_description with_include;
  with_include.add(options).add_options()("include", po::value<std::vector<std::string>>(), "");
  po::parsed_options parsed(&with_include);
  try {
    parsed = po::parse_config_file(in, with_include);
  } catch (const po::error& e) {
    throw Error(path.string() + ": " + e.what());
  }
  std::vector<std::string> includes;
  auto& lines = parsed.options;
  for (auto it = lines.begin(); it != lines.end();) {
    if (it->string_key == "include") {
      includes.insert(includes.end(), it->value.begin(), it->value.end());
      it = lines.erase(it);
    } else {
      ++it;
    }
  }
  try {
    po::store(parsed, vm);  // values already given stay
  } catch (const po::error& e) {
    throw Error(path.string() + ": " + e.what());
  }
  chain.push_back(canonical);
  for (auto it = includes.rbegin(); it != includes.rend(); ++it) {  // the later include wins
    const std::filesystem::path included(*it);
    load_config(included.is_absolute() ? included : path.parent_path() / included, options, vm, chain);
  }
}

}  // namespace

void load_config_files(const std::vector<std::string>& files, const po::options_description& options,
                       po::variables_map& vm) {
  for (auto it = files.rbegin(); it != files.rend(); ++it) load_config(*it, options, vm, {});  // the last first
}

// The effective configuration as INI, loadable with --config.
void dump_config(const po::variables_map& vm) {
  for (const auto& [name, value] : vm) {
    if (name == "dump-config" || name == "config" || name == "help") continue;
    const auto& any = value.value();
    if (const auto* s = boost::any_cast<std::string>(&any)) {
      std::cout << name << " = " << *s << "\n";
    } else if (const auto* list = boost::any_cast<std::vector<std::string>>(&any)) {
      for (const auto& item : *list) std::cout << name << " = " << item << "\n";
    } else if (const auto* i = boost::any_cast<int64_t>(&any)) {
      std::cout << name << " = " << *i << "\n";
    } else if (const auto* i32 = boost::any_cast<int32_t>(&any)) {
      std::cout << name << " = " << *i32 << "\n";
    } else if (const auto* i = boost::any_cast<int>(&any)) {
      std::cout << name << " = " << *i << "\n";
    } else if (const auto* u = boost::any_cast<uint64_t>(&any)) {
      std::cout << name << " = " << *u << "\n";
    } else if (const auto* d = boost::any_cast<double>(&any)) {
      std::cout << name << " = " << shortest_text(*d) << "\n";
    } else if (const auto* b = boost::any_cast<bool>(&any)) {
      std::cout << name << " = " << (*b ? "true" : "false") << "\n";
    } else if (any.empty()) {
      std::cout << name << " = true\n";
    }
  }
}

}  // namespace tandem::cli
