#include "tandem/eval/bleu_tokenizer.h"

#include <unicode/uchar.h>
#include <unicode/ustring.h>

#include <vector>

#include "tandem/error.h"
#include "tandem/util/utf8.h"

namespace tandem::eval {
namespace {

using Text = std::u32string;

bool is_ascii_digit(char32_t c) { return c >= U'0' && c <= U'9'; }

// Python's re.sub for a two-character pattern (first)(second) -> replacement:
// non-overlapping matches, scanning left to right.
template <typename First, typename Second, typename Emit>
Text substitute_pairs(const Text& line, First first, Second second, Emit emit) {
  Text out;
  out.reserve(line.size() + line.size() / 2);
  size_t i = 0;
  while (i < line.size()) {
    if (i + 1 < line.size() && first(line[i]) && second(line[i + 1])) {
      emit(out, line[i], line[i + 1]);
      i += 2;
    } else {
      out.push_back(line[i]);
      ++i;
    }
  }
  return out;
}

// Python's re.sub for a one-character pattern (c) -> " c ".
template <typename Match>
Text pad_chars(const Text& line, Match match) {
  Text out;
  out.reserve(line.size() + 8);
  for (const char32_t c : line) {
    if (match(c)) {
      out.push_back(U' ');
      out.push_back(c);
      out.push_back(U' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// Python's ' '.join(line.split()).
Text join_words(const Text& line) {
  Text out;
  out.reserve(line.size());
  bool pending_space = false;
  for (const char32_t c : line) {
    if (is_python_space(c)) {
      pending_space = !out.empty();
    } else {
      if (pending_space) out.push_back(U' ');
      pending_space = false;
      out.push_back(c);
    }
  }
  return out;
}

// Python's str.replace(from, to): all non-overlapping occurrences, left to right.
void replace_all(Text& line, const Text& from, const Text& to) {
  Text out;
  size_t pos = 0;
  while (true) {
    const size_t hit = line.find(from, pos);
    if (hit == Text::npos) break;
    out.append(line, pos, hit - pos);
    out += to;
    pos = hit + from.size();
  }
  if (pos == 0) return;
  out.append(line, pos, Text::npos);
  line.swap(out);
}

// sacreBLEU's TokenizerRegexp, shared by 13a and zh.
Text regexp_tokenize(Text line) {
  // ([\{-\~\[-\` -\&\(-\+\:-\@\/]) -> ' \1 '
  line = pad_chars(line, [](char32_t c) {
    return (c >= U'{' && c <= U'~') || (c >= U'[' && c <= U'`') || (c >= U' ' && c <= U'&') ||
           (c >= U'(' && c <= U'+') || (c >= U':' && c <= U'@') || c == U'/';
  });
  const auto period_comma = [](char32_t c) { return c == U'.' || c == U','; };
  const auto non_digit = [](char32_t c) { return !is_ascii_digit(c); };
  // ([^0-9])([\.,]) -> '\1 \2 '
  line = substitute_pairs(line, non_digit, period_comma, [](Text& out, char32_t a, char32_t b) {
    out.push_back(a), out.push_back(U' '), out.push_back(b), out.push_back(U' ');
  });
  // ([\.,])([^0-9]) -> ' \1 \2'
  line = substitute_pairs(line, period_comma, non_digit, [](Text& out, char32_t a, char32_t b) {
    out.push_back(U' '), out.push_back(a), out.push_back(U' '), out.push_back(b);
  });
  // ([0-9])(-) -> '\1 \2 '
  line = substitute_pairs(line, is_ascii_digit, [](char32_t c) { return c == U'-'; },
                          [](Text& out, char32_t a, char32_t b) {
                            out.push_back(a), out.push_back(U' '), out.push_back(b), out.push_back(U' ');
                          });
  return join_words(line);
}

Text tokenize_13a(Text line) {
  replace_all(line, U"<skipped>", U"");
  replace_all(line, U"-\n", U"");
  replace_all(line, U"\n", U" ");
  replace_all(line, U"&quot;", U"\"");
  replace_all(line, U"&amp;", U"&");
  replace_all(line, U"&lt;", U"<");
  replace_all(line, U"&gt;", U">");
  return regexp_tokenize(U" " + line + U" ");
}

bool in_category(char32_t c, uint32_t mask) {
  return (U_GET_GC_MASK(static_cast<UChar32>(c)) & mask) != 0;
}

Text tokenize_intl(const Text& line) {
  const auto punct = [](char32_t c) { return in_category(c, U_GC_P_MASK); };
  const auto non_number = [](char32_t c) { return !in_category(c, U_GC_N_MASK); };
  // (\P{N})(\p{P}) -> '\1 \2 '
  Text out = substitute_pairs(line, non_number, punct, [](Text& o, char32_t a, char32_t b) {
    o.push_back(a), o.push_back(U' '), o.push_back(b), o.push_back(U' ');
  });
  // (\p{P})(\P{N}) -> ' \1 \2'
  out = substitute_pairs(out, punct, non_number, [](Text& o, char32_t a, char32_t b) {
    o.push_back(U' '), o.push_back(a), o.push_back(U' '), o.push_back(b);
  });
  // (\p{S}) -> ' \1 '
  out = pad_chars(out, [](char32_t c) { return in_category(c, U_GC_S_MASK); });
  return join_words(out);
}

// sacreBLEU's _UCODE_RANGES as Python evaluates them. Two entries there are
// written '\u20000'..'\u2a6d6' and '\u2f800'..'\u2fa1d': Python reads \u with
// four hex digits, so these are two-character strings, and comparing one
// character against them gives U+2001..U+2A6D and U+2F81..U+2FA1.
bool is_chinese_char(char32_t c) {
  static const char32_t ranges[][2] = {
      {0x3400, 0x4DB5}, {0x4E00, 0x9FA5}, {0x9FA6, 0x9FBB}, {0xF900, 0xFA2D}, {0xFA30, 0xFA6A},
      {0xFA70, 0xFAD9}, {0x2001, 0x2A6D}, {0x2F81, 0x2FA1}, {0xFF00, 0xFFEF}, {0x2E80, 0x2EFF},
      {0x3000, 0x303F}, {0x31C0, 0x31EF}, {0x2F00, 0x2FDF}, {0x2FF0, 0x2FFF}, {0x3100, 0x312F},
      {0x31A0, 0x31BF}, {0xFE10, 0xFE1F}, {0xFE30, 0xFE4F}, {0x2600, 0x26FF}, {0x2700, 0x27BF},
      {0x3200, 0x32FF}, {0x3300, 0x33FF}};
  for (const auto& range : ranges) {
    if (c >= range[0] && c <= range[1]) return true;
  }
  return false;
}

Text tokenize_zh(const Text& line) {
  // line.strip()
  size_t begin = 0;
  size_t end = line.size();
  while (begin < end && is_python_space(line[begin])) ++begin;
  while (end > begin && is_python_space(line[end - 1])) --end;
  return regexp_tokenize(pad_chars(line.substr(begin, end - begin), is_chinese_char));
}

Text tokenize_char(const Text& line) {
  Text out;
  out.reserve(line.size() * 2);
  for (const char32_t c : line) {
    if (!out.empty()) out.push_back(U' ');
    out.push_back(c);
  }
  return join_words(out);
}

}  // namespace

BleuTokenizer parse_bleu_tokenizer(const std::string& name) {
  for (const auto t : {BleuTokenizer::kNone, BleuTokenizer::k13a, BleuTokenizer::kIntl,
                       BleuTokenizer::kZh, BleuTokenizer::kChar}) {
    if (name == bleu_tokenizer_name(t)) return t;
  }
  throw Error("unknown BLEU tokenizer '" + name + "'; use 13a, intl, zh, char or none");
}

std::string bleu_tokenizer_name(BleuTokenizer tokenizer) {
  switch (tokenizer) {
    case BleuTokenizer::kNone: return "none";
    case BleuTokenizer::k13a: return "13a";
    case BleuTokenizer::kIntl: return "intl";
    case BleuTokenizer::kZh: return "zh";
    case BleuTokenizer::kChar: return "char";
  }
  return "13a";
}

bool is_python_space(char32_t c) {
  switch (c) {
    case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x1C: case 0x1D: case 0x1E:
    case 0x1F: case 0x20: case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029:
    case 0x202F: case 0x205F: case 0x3000:
      return true;
    default:
      return c >= 0x2000 && c <= 0x200A;
  }
}

std::string python_rstrip(std::string_view text) {
  Text line = util::decode_utf8(text);
  size_t end = line.size();
  while (end > 0 && is_python_space(line[end - 1])) --end;
  if (end == line.size()) return std::string(text);
  line.resize(end);
  return util::encode_utf8(line);
}

std::string python_lower(std::string_view text) {
  // UTF-8 -> UTF-16 -> lowercase -> UTF-8, all through ICU.
  UErrorCode status = U_ZERO_ERROR;
  int32_t length16 = 0;
  u_strFromUTF8(nullptr, 0, &length16, text.data(), static_cast<int32_t>(text.size()), &status);
  status = U_ZERO_ERROR;
  std::vector<UChar> source(static_cast<size_t>(length16) + 1);
  u_strFromUTF8(source.data(), static_cast<int32_t>(source.size()), &length16, text.data(),
                static_cast<int32_t>(text.size()), &status);
  if (U_FAILURE(status)) throw Error("cannot lowercase text: invalid UTF-8");
  std::vector<UChar> lowered(static_cast<size_t>(length16) * 3 + 4);
  status = U_ZERO_ERROR;
  const int32_t lowered_length = u_strToLower(lowered.data(), static_cast<int32_t>(lowered.size()),
                                              source.data(), length16, "", &status);
  if (U_FAILURE(status)) throw Error("cannot lowercase text (ICU error)");
  std::string out(static_cast<size_t>(lowered_length) * 4 + 4, '\0');
  int32_t length8 = 0;
  status = U_ZERO_ERROR;
  u_strToUTF8(out.data(), static_cast<int32_t>(out.size()), &length8, lowered.data(), lowered_length,
              &status);
  if (U_FAILURE(status)) throw Error("cannot lowercase text (ICU error)");
  out.resize(static_cast<size_t>(length8));
  return out;
}

std::string tokenize_for_bleu(std::string_view line, BleuTokenizer tokenizer) {
  const Text text = util::decode_utf8(line);
  switch (tokenizer) {
    case BleuTokenizer::kNone: return std::string(line);
    case BleuTokenizer::k13a: return util::encode_utf8(tokenize_13a(text));
    case BleuTokenizer::kIntl: return util::encode_utf8(tokenize_intl(text));
    case BleuTokenizer::kZh: return util::encode_utf8(tokenize_zh(text));
    case BleuTokenizer::kChar: return util::encode_utf8(tokenize_char(text));
  }
  return std::string(line);
}

}  // namespace tandem::eval
