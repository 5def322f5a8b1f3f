// UTF-8 checks and conversions, strict as Python's decoder: no overlong forms,
// no surrogates, nothing above U+10FFFF.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace tandem::util {

/// Byte offset of the first invalid sequence, or nullopt when `text` is valid.
std::optional<size_t> find_invalid_utf8(std::string_view text);

/// Decodes valid UTF-8 to code points (check with find_invalid_utf8 first; an
/// invalid byte decodes to U+FFFD).
std::u32string decode_utf8(std::string_view text);

/// Encodes code points as UTF-8.
std::string encode_utf8(std::u32string_view text);

/// Replaces every invalid sequence by U+FFFD; returns how many were replaced.
size_t replace_invalid_utf8(std::string& text);

}  // namespace tandem::util
