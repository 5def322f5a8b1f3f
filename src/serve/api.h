// The two request formats of POST /translate and their answers:
//
// Tandem's own:   {"text": ["line", ...], "beam_size": 5, "attention": false, "api_key": "..."}
//                 -> {"translations": [...], "truncated": [false, ...]} (+ "attention" when asked)
// LibreTranslate: {"q": "text" | ["text", ...], "source": "en" | "auto", "target": "de",
//                  "format": "text", "api_key": "..."} as JSON or form-encoded (q, source, target,
//                 format, api_key fields); unknown fields are ignored as LibreTranslate does.
//                 -> {"translatedText": "..." | [...]} (+ "detectedLanguage" for source "auto")
//                 A q holding line breaks is translated line by line and joined again.
//
// A JSON object with "q" is LibreTranslate's; with "text", Tandem's. Anything
// wrong is an ApiError with the HTTP status and a sentence for {"error": ...}.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "serve/batcher.h"
#include "tandem/serve/server.h"

namespace tandem::serve {

class ApiError : public std::runtime_error {
 public:
  ApiError(int status, const std::string& what) : std::runtime_error(what), status_(status) {}
  int status() const { return status_; }

 private:
  int status_;
};

struct TranslateRequest {
  bool libre = false;                ///< LibreTranslate's format
  bool list = false;                 ///< LibreTranslate: q was a list
  bool auto_source = false;          ///< LibreTranslate: source "auto"
  std::vector<std::string> lines;    ///< every line to translate, in order
  std::vector<size_t> line_counts;   ///< LibreTranslate: lines of each q item, to join them back
  int64_t beam_size = 5;
  bool attention = false;
  std::string api_key;               ///< api_key (or apiKey) of the body, "" if none
};

/// Parses a POST /translate body (`content_type` picks JSON or form encoding).
/// Throws ApiError (400, or 415 for another content type) saying what is wrong.
TranslateRequest parse_translate(const std::string& body, const std::string& content_type,
                                 const ServerOptions& options);

/// The answer's JSON for a request whose lines all have answers (each ok).
nlohmann::json translate_answer(const TranslateRequest& request, const Job& job, const Translator* translator,
                                const std::string& source_lang);

/// GET /languages: LibreTranslate's list, the model's one pair.
nlohmann::json languages_answer(const ServerOptions& options);

/// Decodes application/x-www-form-urlencoded text into name/value pairs; ApiError on a bad escape.
std::vector<std::pair<std::string, std::string>> decode_form(const std::string& text);

/// A language code's English name ("de" -> "German"), or the code itself when unknown.
std::string language_name(const std::string& code);

}  // namespace tandem::serve
