// Reading the project's own JSON and MessagePack documents (serialized run
// results, counterexample files) strictly. nlohmann's get<T>() converts
// silently: 1.5 becomes 1, -1 becomes 4294967295, and 1e300 becomes an
// integer by undefined behaviour; a missing array element read with [] is
// read out of bounds. Here a value of the wrong type, a number that is not
// an integer where one is expected, a number outside its destination's range
// and an element that is not there are errors naming the field
// ("full_volumes[0].writes.buckets[3]"). Header-only: nlohmann and fmt.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace mirrorsim::json_read {

using nlohmann::json;

// What a reader refuses: the field and why. An invalid_argument, so that
// the Python bindings raise ValueError.
class Malformed : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// Nesting deeper than any document of the project's (results nest 6 deep,
// counterexamples 4): nlohmann's MessagePack reader and json's copy recurse
// once per level, so an input of nested one-element arrays would otherwise
// overflow the stack.
inline constexpr size_t kDepthMax = 64;

namespace detail {
// nlohmann's DOM builder, refusing to open a level beyond `max_depth`
// (returning false stops the parse).
class DepthLimitedBuilder : public nlohmann::detail::json_sax_dom_parser<json> {
  using Base = nlohmann::detail::json_sax_dom_parser<json>;

 public:
  DepthLimitedBuilder(json& root, size_t max_depth) : Base(root, true), max_depth_(max_depth) {}
  bool start_object(std::size_t n) { return ++depth_ <= max_depth_ && Base::start_object(n); }
  bool end_object() { return --depth_, Base::end_object(); }
  bool start_array(std::size_t n) { return ++depth_ <= max_depth_ && Base::start_array(n); }
  bool end_array() { return --depth_, Base::end_array(); }
  bool too_deep() const { return depth_ > max_depth_; }

 private:
  size_t max_depth_;
  size_t depth_ = 0;
};

template <class Parse>
json parse_limited(Parse&& parse, std::string_view what) {
  json j;
  DepthLimitedBuilder builder(j, kDepthMax);
  bool ok = false;
  try {
    ok = parse(builder);
  } catch (const json::exception& e) {
    throw Malformed(fmt::format("{}: {}", what, e.what()));
  }
  if (!ok && builder.too_deep()) throw Malformed(fmt::format("{}: nested deeper than {} levels", what, kDepthMax));
  if (!ok) throw Malformed(fmt::format("{}: unreadable", what));
  return j;
}
}  // namespace detail

// A whole MessagePack document (nothing after it).
inline json parse_msgpack(std::span<const uint8_t> bytes) {
  return detail::parse_limited(
      [&](auto& builder) {
        return json::sax_parse(bytes.begin(), bytes.end(), &builder, nlohmann::detail::input_format_t::msgpack, true);
      },
      "MessagePack");
}

// A whole JSON text (nothing but whitespace after it).
inline json parse_text(std::string_view text) {
  return detail::parse_limited(
      [&](auto& builder) {
        return json::sax_parse(text.begin(), text.end(), &builder, nlohmann::detail::input_format_t::json, true);
      },
      "JSON");
}

// The length of the longest prefix of `s` that is well-formed UTF-8 (RFC
// 3629: no overlong forms, no surrogates, nothing beyond U+10FFFF): s.size()
// when all of it is. JSON strings must be UTF-8; nlohmann's dump() throws
// on anything else.
inline size_t utf8_prefix(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto lead = static_cast<unsigned char>(s[i]);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    size_t n = 0;  // continuation bytes
    uint32_t cp = 0;
    if (lead >= 0xC2 && lead <= 0xDF) n = 1, cp = lead & 0x1F;
    else if (lead >= 0xE0 && lead <= 0xEF) n = 2, cp = lead & 0x0F;
    else if (lead >= 0xF0 && lead <= 0xF4) n = 3, cp = lead & 0x07;
    else return i;
    if (s.size() - i <= n) return i;
    for (size_t k = 1; k <= n; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (c & 0x3F);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return i;
    i += n + 1;
  }
  return i;
}
inline bool valid_utf8(std::string_view s) { return utf8_prefix(s) == s.size(); }

inline const char* type_of(const json& j) { return j.type_name(); }

// `where` names a value by its path from the document's root, "" for the root.
inline std::string_view name(std::string_view where) { return where.empty() ? "the document" : where; }

// The member `key` of the object `j` (named `where`).
inline const json& member(const json& j, std::string_view key, std::string_view where) {
  if (!j.is_object()) throw Malformed(fmt::format("{}: an object expected, found {}", name(where), type_of(j)));
  const auto it = j.find(key);
  if (it == j.end()) throw Malformed(fmt::format("{}: '{}' is missing", name(where), key));
  return *it;
}

inline std::string path(std::string_view where, std::string_view key) {
  return where.empty() ? std::string(key) : fmt::format("{}.{}", where, key);
}
inline std::string path(std::string_view where, size_t index) { return fmt::format("{}[{}]", where, index); }

// An array, optionally of exactly `size` elements.
inline const json& array(const json& j, std::string_view where, std::optional<size_t> size = std::nullopt) {
  if (!j.is_array()) throw Malformed(fmt::format("{}: an array expected, found {}", where, type_of(j)));
  if (size && j.size() != *size)
    throw Malformed(fmt::format("{}: {} elements expected, found {}", where, *size, j.size()));
  return j;
}

// An integer of type T: a JSON integer within T's range (never a float, a
// boolean or a string).
template <class T>
T integer(const json& j, std::string_view where) {
  static_assert(std::is_integral_v<T> && !std::is_same_v<T, bool>);
  if (j.is_number_unsigned()) {
    const uint64_t v = j.get<uint64_t>();
    if (v <= static_cast<uint64_t>(std::numeric_limits<T>::max())) return static_cast<T>(v);
  } else if (j.is_number_integer()) {
    const int64_t v = j.get<int64_t>();
    if constexpr (std::is_signed_v<T>) {
      if (v >= std::numeric_limits<T>::min() && v <= std::numeric_limits<T>::max()) return static_cast<T>(v);
    } else if (v >= 0 && static_cast<uint64_t>(v) <= std::numeric_limits<T>::max()) {
      return static_cast<T>(v);
    }
  } else {
    throw Malformed(fmt::format("{}: an integer expected, found {}", where, type_of(j)));
  }
  throw Malformed(fmt::format("{}: {} is outside [{}, {}]", where, j.dump(), std::numeric_limits<T>::min(),
                              std::numeric_limits<T>::max()));
}

// A number (integers are read as the nearest double). NaN and infinities
// are accepted when `finite` is false: results hold them (a mean of nothing).
inline double number(const json& j, std::string_view where, bool finite = false) {
  if (!j.is_number()) throw Malformed(fmt::format("{}: a number expected, found {}", where, type_of(j)));
  const double v = j.get<double>();
  if (finite && !std::isfinite(v)) throw Malformed(fmt::format("{}: a finite number expected", where));
  return v;
}

inline bool boolean(const json& j, std::string_view where) {
  if (!j.is_boolean()) throw Malformed(fmt::format("{}: true or false expected, found {}", where, type_of(j)));
  return j.get<bool>();
}

inline std::string string(const json& j, std::string_view where) {
  if (!j.is_string()) throw Malformed(fmt::format("{}: a string expected, found {}", where, type_of(j)));
  const auto& text = j.get_ref<const std::string&>();
  if (const size_t ok = utf8_prefix(text); ok != text.size())
    throw Malformed(fmt::format("{}: not UTF-8 text (byte {})", where, ok));
  return text;
}

// Every string and key in `j` UTF-8 (MessagePack does not enforce it; JSON
// text does). Recursive: parse_msgpack bounds the depth.
inline void check_utf8(const json& j, std::string_view where) {
  if (j.is_string()) {
    (void)string(j, where);
  } else if (j.is_object()) {
    for (const auto& [key, value] : j.items()) {
      if (!valid_utf8(key)) throw Malformed(fmt::format("{}: a key that is not UTF-8 text", where));
      check_utf8(value, path(where, key));
    }
  } else if (j.is_array()) {
    for (size_t i = 0; i < j.size(); ++i) check_utf8(j[i], path(where, i));
  }
}

// The same, reading the member `key` of the object `where`.
template <class T>
T integer_at(const json& j, std::string_view key, std::string_view where) {
  return integer<T>(member(j, key, where), path(where, key));
}
inline double number_at(const json& j, std::string_view key, std::string_view where, bool finite = false) {
  return number(member(j, key, where), path(where, key), finite);
}
inline bool boolean_at(const json& j, std::string_view key, std::string_view where) {
  return boolean(member(j, key, where), path(where, key));
}
inline std::string string_at(const json& j, std::string_view key, std::string_view where) {
  return string(member(j, key, where), path(where, key));
}
inline const json& array_at(const json& j, std::string_view key, std::string_view where) {
  return array(member(j, key, where), path(where, key));
}

}  // namespace mirrorsim::json_read
