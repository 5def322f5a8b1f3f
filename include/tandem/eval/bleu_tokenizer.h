// The tokenizers of sacreBLEU 2.x, reproduced exactly for BLEU.
//
// Usage:
//   auto tok = tandem::eval::parse_bleu_tokenizer("13a");
//   std::string tokens = tandem::eval::tokenize_for_bleu("Hello, world!", tok);  // "Hello , world !"
//
// - none: the text as it is.
// - 13a:  mteval-v13a (WMT's default): unescapes &quot; &amp; &lt; &gt;, splits
//         ASCII punctuation and symbols, and periods/commas not next to digits.
// - intl: mteval-v14 international: splits Unicode punctuation (\p{P}) not
//         between digits and every symbol (\p{S}); categories come from ICU.
// - zh:   spaces around each CJK character (sacreBLEU's ranges, quirks
//         included), then the 13a rules without the unescaping.
// - char: every character is a token.
// Whitespace is Python's (str.split()): the result has single spaces between
// tokens and none at either end. Input must be valid UTF-8.
#pragma once

#include <string>
#include <string_view>

namespace tandem::eval {

enum class BleuTokenizer { kNone, k13a, kIntl, kZh, kChar };

/// Parses "none", "13a", "intl", "zh" or "char"; throws tandem::Error otherwise.
BleuTokenizer parse_bleu_tokenizer(const std::string& name);

/// The name used in signatures ("13a", ...).
std::string bleu_tokenizer_name(BleuTokenizer tokenizer);

/// Tokenizes one line (already right-stripped, as sacreBLEU does).
std::string tokenize_for_bleu(std::string_view line, BleuTokenizer tokenizer);

/// Python's str.isspace() for one code point.
bool is_python_space(char32_t c);

/// Python's str.rstrip(): removes trailing Unicode whitespace.
std::string python_rstrip(std::string_view text);

/// Python's str.lower() (full Unicode lowercasing, via ICU's root locale).
std::string python_lower(std::string_view text);

}  // namespace tandem::eval
