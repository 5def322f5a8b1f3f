// Shared by the sacreBLEU case tests: one case of ../shared/peers run through
// tandem-bleu's command line with the case's sacreBLEU flags.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "test_support.h"

namespace tandem::test {

/// Writes the case's hypotheses and reference streams to files and runs
/// `tandem-bleu REF... -i HYP CLI_ARGS -b -w 12 -q`; the score is the standard output.
inline ProgramResult run_bleu_cli_case(const nlohmann::json& c) {
  const std::string dir = temp_dir();
  const auto write_lines = [&](const std::string& path, const nlohmann::json& lines) {
    std::string text;
    for (const auto& line : lines) text += line.get<std::string>() + "\n";
    write_file(path, text);
  };
  std::string args;
  for (size_t r = 0; r < c["refs"].size(); ++r) {
    const std::string path = dir + "/ref" + std::to_string(r);
    write_lines(path, c["refs"][r]);
    args += shell_quote(path) + " ";
  }
  write_lines(dir + "/hyp", c["hyps"]);
  args += "-i " + shell_quote(dir + "/hyp");
  for (const auto& a : c["cli_args"]) args += " " + shell_quote(a.get<std::string>());
  return run_program("tandem-bleu", args + " -b -w 12 -q");
}

}  // namespace tandem::test
