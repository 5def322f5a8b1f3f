#include "serve/api.h"

#include <algorithm>
#include <cctype>

#include "tandem/util/utf8.h"

namespace tandem::serve {
namespace {

using nlohmann::json;

constexpr int kMaxDepth = 32;

// Nesting depth of a JSON text (brackets outside strings), without parsing it:
// a deeply nested body is refused before the parser recurses into it.
int nesting_depth(const std::string& body) {
  int depth = 0;
  int deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
      if (deepest > kMaxDepth) return deepest;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

ApiError bad(const std::string& what) { return ApiError(400, what); }

// The media type of a Content-Type value, lower case, without parameters.
std::string media_type(const std::string& content_type) {
  std::string type = content_type.substr(0, content_type.find(';'));
  type.erase(std::remove_if(type.begin(), type.end(), [](unsigned char c) { return std::isspace(c); }), type.end());
  std::transform(type.begin(), type.end(), type.begin(), [](unsigned char c) { return std::tolower(c); });
  return type;
}

void check_line(const std::string& line, const std::string& name, const ServerOptions& options) {
  if (static_cast<int64_t>(util::decode_utf8(line).size()) > options.max_line_chars) {
    throw bad(name + " is longer than " + std::to_string(options.max_line_chars) + " characters");
  }
}

void check_line_count(size_t lines, const ServerOptions& options) {
  if (static_cast<int64_t>(lines) > options.max_lines) {
    throw bad("the request holds " + std::to_string(lines) + " lines; at most " + std::to_string(options.max_lines) +
              " a request");
  }
}

TranslateRequest parse_tandem(const json& request, const ServerOptions& options) {
  for (const auto& [key, value] : request.items()) {
    if (key != "text" && key != "beam_size" && key != "attention" && key != "api_key") {
      throw bad("unknown field '" + key + "'; the fields are text, beam_size, attention and api_key");
    }
  }
  if (!request["text"].is_array()) throw bad("\"text\" must be an array of strings, one line each");
  const auto& text = request["text"];
  if (text.empty()) throw bad("\"text\" holds no line");
  if (static_cast<int64_t>(text.size()) > options.max_lines) {
    throw bad("\"text\" holds " + std::to_string(text.size()) + " lines; at most " +
              std::to_string(options.max_lines) + " a request");
  }
  TranslateRequest out;
  out.beam_size = options.translate.search.beam_size;
  if (request.contains("beam_size")) {
    const auto& b = request["beam_size"];
    if (!b.is_number_integer() || b.get<int64_t>() < 1 || b.get<int64_t>() > options.max_beam_size) {
      throw bad("\"beam_size\" must be a whole number from 1 to " + std::to_string(options.max_beam_size));
    }
    out.beam_size = b.get<int64_t>();
  }
  if (request.contains("attention")) {
    if (!request["attention"].is_boolean()) throw bad("\"attention\" must be true or false");
    out.attention = request["attention"].get<bool>();
  }
  if (request.contains("api_key")) {
    if (!request["api_key"].is_string()) throw bad("\"api_key\" must be a string");
    out.api_key = request["api_key"].get<std::string>();
  }
  for (size_t i = 0; i < text.size(); ++i) {
    if (!text[i].is_string()) throw bad("text[" + std::to_string(i) + "] is not a string");
    auto line = text[i].get<std::string>();
    if (line.find('\n') != std::string::npos || line.find('\r') != std::string::npos) {
      throw bad("text[" + std::to_string(i) + "] holds a line break; send one line an item");
    }
    check_line(line, "text[" + std::to_string(i) + "]", options);
    out.lines.push_back(std::move(line));
  }
  return out;
}

// LibreTranslate's fields, from JSON or a form; q as strings.
struct LibreFields {
  std::vector<std::string> q;
  bool list = false;
  std::string source, target, format, api_key;
};

TranslateRequest parse_libre(const LibreFields& f, const ServerOptions& options) {
  if (f.q.empty() && !f.list) throw bad("Invalid request: missing q parameter");
  if (f.source.empty()) throw bad("Invalid request: missing source parameter");
  if (f.target.empty()) throw bad("Invalid request: missing target parameter");
  if (options.source_lang.empty() || options.target_lang.empty()) {
    throw bad("this server does not know its model's languages; start it with --source-lang and --target-lang");
  }
  const std::string pair = options.source_lang + " to " + options.target_lang;
  if (f.source != "auto" && f.source != options.source_lang) {
    throw bad("source language '" + f.source + "' is not served: this server translates " + pair);
  }
  if (f.target != options.target_lang) {
    throw bad("target language '" + f.target + "' is not served: this server translates " + pair);
  }
  if (!f.format.empty() && f.format != "text") {
    throw bad("format '" + f.format + "' is not supported; send \"format\": \"text\"");
  }
  TranslateRequest out;
  out.libre = true;
  out.list = f.list;
  out.auto_source = f.source == "auto";
  out.api_key = f.api_key;
  out.beam_size = options.translate.search.beam_size;
  for (size_t i = 0; i < f.q.size(); ++i) {
    // Text with line breaks is translated line by line and joined again with "\n".
    size_t count = 0;
    size_t start = 0;
    while (true) {
      const size_t end = f.q[i].find('\n', start);
      std::string line = f.q[i].substr(start, end == std::string::npos ? std::string::npos : end - start);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      check_line(line, f.list ? "q[" + std::to_string(i) + "]" : "q", options);
      out.lines.push_back(std::move(line));
      ++count;
      if (end == std::string::npos) break;
      start = end + 1;
    }
    out.line_counts.push_back(count);
    check_line_count(out.lines.size(), options);
  }
  return out;
}

std::string string_field(const json& request, const char* name) {
  if (!request.contains(name) || request[name].is_null()) return "";
  if (!request[name].is_string()) throw bad(std::string("\"") + name + "\" must be a string");
  return request[name].get<std::string>();
}

}  // namespace

std::vector<std::pair<std::string, std::string>> decode_form(const std::string& text) {
  auto decode = [](const std::string& s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '+') {
        out += ' ';
      } else if (s[i] == '%') {
        if (i + 2 >= s.size()) throw bad("the form holds a '%' not followed by two hexadecimal digits");
        const auto hex = [](char c) -> int {
          if (c >= '0' && c <= '9') return c - '0';
          if (c >= 'a' && c <= 'f') return c - 'a' + 10;
          if (c >= 'A' && c <= 'F') return c - 'A' + 10;
          return -1;
        };
        const int high = hex(s[i + 1]);
        const int low = hex(s[i + 2]);
        if (high < 0 || low < 0) throw bad("the form holds a '%' not followed by two hexadecimal digits");
        out += static_cast<char>(high * 16 + low);
        i += 2;
      } else {
        out += s[i];
      }
    }
    return out;
  };
  std::vector<std::pair<std::string, std::string>> fields;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('&', start);
    if (end == std::string::npos) end = text.size();
    const std::string part = text.substr(start, end - start);
    if (!part.empty()) {
      const size_t eq = part.find('=');
      fields.emplace_back(decode(part.substr(0, eq)), eq == std::string::npos ? "" : decode(part.substr(eq + 1)));
    }
    start = end + 1;
  }
  return fields;
}

TranslateRequest parse_translate(const std::string& body, const std::string& content_type,
                                 const ServerOptions& options) {
  const std::string type = media_type(content_type);
  if (type == "application/x-www-form-urlencoded") {
    LibreFields f;
    for (auto& [name, value] : decode_form(body)) {
      if (util::find_invalid_utf8(value)) throw bad("the form's field '" + name + "' is not valid UTF-8");
      if (name == "q") {
        f.q.push_back(value);
      } else if (name == "source") {
        f.source = value;
      } else if (name == "target") {
        f.target = value;
      } else if (name == "format") {
        f.format = value;
      } else if (name == "api_key" || name == "apiKey") {
        f.api_key = value;
      }
    }
    f.list = f.q.size() > 1;
    return parse_libre(f, options);
  }
  if (!type.empty() && type != "application/json" && type != "text/plain") {
    throw ApiError(415, "Content-Type '" + type +
                            "' is not taken; send application/json (or a LibreTranslate form, "
                            "application/x-www-form-urlencoded)");
  }
  if (nesting_depth(body) > kMaxDepth) {
    throw bad("the JSON is nested deeper than " + std::to_string(kMaxDepth) + " levels");
  }
  json request;
  try {
    request = json::parse(body);
  } catch (const json::exception& e) {
    throw bad(std::string("the body is not valid JSON (UTF-8): ") + e.what());
  }
  if (!request.is_object()) throw bad("the body must be a JSON object: {\"text\": [\"line\", ...]}");
  if (request.contains("q")) {
    LibreFields f;
    const auto& q = request["q"];
    if (q.is_string()) {
      f.q.push_back(q.get<std::string>());
    } else if (q.is_array()) {
      f.list = true;
      for (size_t i = 0; i < q.size(); ++i) {
        if (!q[i].is_string()) throw bad("q[" + std::to_string(i) + "] is not a string");
        f.q.push_back(q[i].get<std::string>());
      }
      if (f.q.empty()) throw bad("q holds no text");
    } else {
      throw bad("\"q\" must be a string or a list of strings");
    }
    f.source = string_field(request, "source");
    f.target = string_field(request, "target");
    f.format = string_field(request, "format");
    f.api_key = string_field(request, "api_key");
    if (f.api_key.empty()) f.api_key = string_field(request, "apiKey");
    return parse_libre(f, options);
  }
  if (!request.contains("text")) {
    throw bad("\"text\" must be an array of strings, one line each (or LibreTranslate's \"q\")");
  }
  return parse_tandem(request, options);
}

namespace {

// Source and target pieces and the weights of each target piece over the source pieces (eos left out).
json attention_json(const Translator& translator, const std::string& line, const TranslationResult& result) {
  json out = {{"source", json::array()}, {"target", json::array()}, {"weights", json::array()}};
  if (result.hypotheses.empty()) return out;
  const auto& source_tok = translator.source_tokenizer();
  const auto& target_tok = translator.target_tokenizer();
  const auto source_ids = source_tok.encode(line);
  for (int64_t s = 0; s < result.source_pieces && s < static_cast<int64_t>(source_ids.size()); ++s) {
    out["source"].push_back(source_tok.piece(source_ids[static_cast<size_t>(s)]));
  }
  const auto& h = result.hypotheses.front();
  for (size_t t = 0; t < h.tokens.size() && t < h.attention.size(); ++t) {
    out["target"].push_back(target_tok.piece(h.tokens[t]));
    json row = json::array();
    for (size_t s = 0; s < out["source"].size() && s < h.attention[t].size(); ++s) row.push_back(h.attention[t][s]);
    out["weights"].push_back(row);
  }
  return out;
}

}  // namespace

json translate_answer(const TranslateRequest& request, const Job& job, const Translator* translator,
                      const std::string& source_lang) {
  if (request.libre) {
    json texts = json::array();
    size_t at = 0;
    for (const size_t count : request.line_counts) {
      std::string joined;
      for (size_t i = 0; i < count; ++i, ++at) joined += (i ? "\n" : "") + job.answers[at].text;
      texts.push_back(std::move(joined));
    }
    json body = {{"translatedText", request.list ? texts : texts.front()}};
    if (request.auto_source) {
      // The model translates from one language: that is the language "detected".
      body["detectedLanguage"] = {{"confidence", 100}, {"language", source_lang}};
    }
    return body;
  }
  json translations = json::array();
  json truncated = json::array();
  json attention = json::array();
  for (size_t i = 0; i < job.answers.size(); ++i) {
    translations.push_back(job.answers[i].text);
    truncated.push_back(job.answers[i].truncated);
    if (request.attention && translator) attention.push_back(attention_json(*translator, job.lines[i], job.answers[i].result));
  }
  json body = {{"translations", translations}, {"truncated", truncated}};
  if (request.attention) body["attention"] = attention;
  return body;
}

std::string language_name(const std::string& code) {
  static const std::vector<std::pair<std::string, std::string>> kNames = {
      {"ar", "Arabic"},  {"cs", "Czech"},      {"da", "Danish"},  {"de", "German"},     {"el", "Greek"},
      {"en", "English"}, {"es", "Spanish"},    {"et", "Estonian"}, {"fi", "Finnish"},   {"fr", "French"},
      {"hi", "Hindi"},   {"hu", "Hungarian"},  {"it", "Italian"}, {"ja", "Japanese"},   {"ko", "Korean"},
      {"lt", "Lithuanian"}, {"lv", "Latvian"}, {"nl", "Dutch"},   {"pl", "Polish"},     {"pt", "Portuguese"},
      {"ro", "Romanian"}, {"ru", "Russian"},   {"sv", "Swedish"}, {"tr", "Turkish"},    {"uk", "Ukrainian"},
      {"zh", "Chinese"}};
  for (const auto& [c, name] : kNames) {
    if (c == code) return name;
  }
  return code;
}

json languages_answer(const ServerOptions& options) {
  json out = json::array();
  if (options.source_lang.empty() || options.target_lang.empty()) return out;
  out.push_back({{"code", options.source_lang},
                 {"name", language_name(options.source_lang)},
                 {"targets", json::array({options.target_lang})}});
  if (options.target_lang != options.source_lang) {
    out.push_back({{"code", options.target_lang},
                   {"name", language_name(options.target_lang)},
                   {"targets", json::array()}});
  }
  return out;
}

}  // namespace tandem::serve
