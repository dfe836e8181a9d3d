// JsonDoc (src/oci/json_dom.h), the runtime's own JSON reader: what RFC 8259 allows is read
// exactly, the rest is refused with its line and column; cross-checked against nlohmann.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

#include "oci/json_dom.h"

namespace berth::oci::detail {
namespace {

std::string error_of(std::string_view text, int depth = 64) {
  auto d = JsonDoc::parse(text, depth);
  return d ? std::string() : d.error().message();
}

// The value of a one-element array, parsed.
struct One {
  std::unique_ptr<std::string> text;  // the document's strings may be views into it
  std::unique_ptr<JsonDoc> doc;
  JsonRef v;
};
One one(const std::string& element) {
  One o;
  o.text = std::make_unique<std::string>("[" + element + "]");
  auto d = JsonDoc::parse(*o.text, 64);
  EXPECT_TRUE(d) << element << ": " << (d ? "" : d.error().message());
  if (!d) return o;
  o.doc = std::move(*d);
  o.v = o.doc->root().first();
  return o;
}

TEST(JsonDom, Structure) {
  std::string text = R"( {"a": [1, "x", true, false, null, {}], "b": {"c": -2}, "a": 3} )";
  auto d = JsonDoc::parse(text, 64);
  ASSERT_TRUE(d) << d.error().message();
  JsonRef root = (*d)->root();
  ASSERT_TRUE(root.is_object());
  EXPECT_EQ(root.size(), 3u);
  std::vector<std::string> keys;
  for (JsonRef m = root.first(); m; m = m.next()) keys.emplace_back(m.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"a", "b", "a"}));
  // A key given twice: the last one counts.
  JsonRef a = root.find("a");
  ASSERT_TRUE(a);
  EXPECT_EQ(a.type(), JsonType::Unsigned);
  EXPECT_EQ(a.unsigned_(), 3u);
  JsonRef arr = root.first();
  ASSERT_TRUE(arr.is_array());
  EXPECT_EQ(arr.size(), 6u);
  std::vector<JsonType> types;
  for (JsonRef e = arr.first(); e; e = e.next()) types.push_back(e.type());
  EXPECT_EQ(types, (std::vector<JsonType>{JsonType::Unsigned, JsonType::String, JsonType::Boolean,
                                          JsonType::Boolean, JsonType::Null, JsonType::Object}));
  EXPECT_EQ(arr.first().next().str(), "x");
  EXPECT_TRUE(arr.first().next().next().boolean());
  EXPECT_FALSE(arr.first().next().next().next().boolean());
  EXPECT_EQ(root.find("b").find("c").integer(), -2);
  EXPECT_FALSE(root.find("nope"));
  EXPECT_FALSE(root.find("b").find("c").next());
}

TEST(JsonDom, StringsAndEscapes) {
  EXPECT_EQ(one(R"("plain")").v.str(), "plain");
  EXPECT_EQ(one(R"("")").v.str(), "");
  EXPECT_EQ(one(R"("a\"b\\c\/d\b\f\n\r\te")").v.str(), "a\"b\\c/d\b\f\n\r\te");
  EXPECT_EQ(one(R"("\u00e9\u65e5")").v.str(), "\xc3\xa9\xe6\x97\xa5");
  EXPECT_EQ(one(R"("\ud83d\ude00!")").v.str(), "\xf0\x9f\x98\x80!");  // a surrogate pair
  EXPECT_EQ(one(R"("a\u0000b")").v.str(), std::string("a\0b", 3));    // NUL: validate's job
  EXPECT_EQ(one("\"\xe6\x97\xa5\xf0\x9f\x98\x80\"").v.str(), "\xe6\x97\xa5\xf0\x9f\x98\x80");
  // Escaped and plain strings side by side keep their own text.
  auto d = JsonDoc::parse(R"({"k\u0031": "v\n", "k2": "w", "k\t3": "x\\"})", 64);
  ASSERT_TRUE(d);
  std::vector<std::string> got;
  for (JsonRef m = (*d)->root().first(); m; m = m.next()) {
    got.emplace_back(m.key());
    got.emplace_back(m.str());
  }
  EXPECT_EQ(got, (std::vector<std::string>{"k1", "v\n", "k2", "w", "k\t3", "x\\"}));
}

TEST(JsonDom, Numbers) {
  EXPECT_EQ(one("0").v.unsigned_(), 0u);
  EXPECT_EQ(one("18446744073709551615").v.unsigned_(), UINT64_MAX);
  EXPECT_EQ(one("-1").v.integer(), -1);
  EXPECT_EQ(one("-9223372036854775808").v.integer(), INT64_MIN);
  EXPECT_EQ(one("-0").v.type(), JsonType::Integer);
  // Beyond 64 bits, fractions and exponents: doubles.
  EXPECT_EQ(one("18446744073709551616").v.type(), JsonType::Float);
  EXPECT_EQ(one("-9223372036854775809").v.type(), JsonType::Float);
  EXPECT_DOUBLE_EQ(one("1.5").v.number(), 1.5);
  EXPECT_DOUBLE_EQ(one("-2.5E-3").v.number(), -0.0025);
  EXPECT_DOUBLE_EQ(one("1e3").v.number(), 1000.0);
  EXPECT_EQ(one("1e-400").v.number(), 0.0);  // underflow is zero, not an error
  EXPECT_NE(error_of("[1e400]").find("number overflow: 1e400"), std::string::npos);
  EXPECT_NE(error_of("[-123.5e999]").find("number overflow"), std::string::npos);
}

TEST(JsonDom, NumbersPrintAsNlohmannPrintsThem) {
  for (const char* n : {"1.0", "1000.0", "0.5", "-0.5", "1e+20", "1.8446744073709552e+19", "0.0001",
                        "1e-05", "123456789012345.0", "1.2345678901234567e+16", "-0.0", "3.14",
                        "2.5e-300", "1.7976931348623157e+308", "-7", "42"}) {
    One o = one(n);
    EXPECT_EQ(o.v.dump(), nlohmann::json::parse(n).dump()) << n;
  }
}

TEST(JsonDom, RefusesWhatRfc8259DoesNotAllow) {
  struct Case {
    const char* text;
    const char* error;
  };
  const Case cases[] = {
      {"", "line 1, column 1: unexpected end of input (expected a value)"},
      {"  \n ", "line 2, column 2: unexpected end of input (expected a value)"},
      {"{", "line 1, column 2: unexpected end of input (expected a member name)"},
      {"{\"a\" 1}", "line 1, column 6: unexpected '1' (expected ':')"},
      {"{\"a\": 1,}", "line 1, column 9: unexpected '}' (expected a member name)"},
      {"[1,]", "line 1, column 4: unexpected ']' (expected a value)"},
      {"[1 2]", "line 1, column 4: unexpected '2' (expected ',' or ']')"},
      {"{} {}", "line 1, column 4: unexpected '{' after the value"},
      {"{/* c */}", "line 1, column 2: unexpected '/' (expected a member name)"},
      {"{'a': 1}", "line 1, column 2: unexpected ''' (expected a member name)"},
      {"[NaN]", "line 1, column 2: unexpected 'N' (expected a value)"},
      {"[tru]", "line 1, column 2: unexpected 't' (expected a value)"},
      {"[01]", "line 1, column 3: unexpected '1' (expected ',' or ']')"},
      {"[-]", "line 1, column 3: unexpected ']' in a number (expected a digit)"},
      {"[1.]", "line 1, column 4: unexpected ']' in a number (expected a digit)"},
      {"[.5]", "line 1, column 2: unexpected '.' (expected a value)"},
      {"[+1]", "line 1, column 2: unexpected '+' (expected a value)"},
      {"[1e]", "line 1, column 4: unexpected ']' in a number (expected a digit)"},
      {"[\"a", "line 1, column 4: unexpected end of input in a string"},
      {"[\"a\nb\"]", "line 1, column 4: control character byte 0x0a in a string (must be escaped)"},
      {"[\"\\x\"]", "line 1, column 3: invalid escape \\x in a string"},
      {"[\"\\u12g4\"]", "line 1, column 7: unexpected 'g' in a \\u escape (expected a hex digit)"},
      {"[\"\\ud800\"]", "line 1, column 3: unpaired surrogate \\ud800 in a string"},
      {"[\"\\ud800\\u0041\"]", "line 1, column 3: unpaired surrogate \\ud800 in a string"},
      {"[\"\\udc00\"]", "line 1, column 3: unpaired surrogate \\udc00 in a string"},
      {"[\"\xc0\xaf\"]", "line 1, column 3: ill-formed UTF-8 (byte 0xc0) in a string"},
      {"[\"\xed\xa0\x80\"]", "line 1, column 3: ill-formed UTF-8 (byte 0xed) in a string"},
      {"[\"\xf4\x90\x80\x80\"]", "line 1, column 3: ill-formed UTF-8 (byte 0xf4) in a string"},
      {"[\"\xe6\x97\"]", "line 1, column 3: ill-formed UTF-8 (byte 0xe6) in a string"},
      {"[\"\x80\"]", "line 1, column 3: ill-formed UTF-8 (byte 0x80) in a string"},
      {"\xef\xbb\xbf{}", "line 1, column 1: unexpected byte 0xef (expected a value)"},
  };
  for (const Case& c : cases)
    EXPECT_EQ(error_of(c.text), std::string("invalid JSON: ") + c.error) << c.text;
}

TEST(JsonDom, DepthLimit) {
  EXPECT_EQ(error_of("[[[]]]", 3), "");
  EXPECT_EQ(error_of("[[[[]]]]", 3), "invalid JSON: line 1, column 4: nested deeper than 3 levels");
  EXPECT_EQ(error_of(std::string(100000, '['), 64),
            "invalid JSON: line 1, column 65: nested deeper than 64 levels");
}

// Random documents written by nlohmann read back the same; random mutations of them are either
// read as nlohmann reads them or refused by both.
void same_value(JsonRef a, const nlohmann::json& b, const std::string& where) {
  using t = nlohmann::json::value_t;
  switch (b.type()) {
    case t::null: EXPECT_TRUE(a.is_null()) << where; break;
    case t::boolean: EXPECT_EQ(a.is_boolean() && a.boolean(), b.get<bool>()) << where; break;
    case t::number_unsigned: EXPECT_EQ(a.unsigned_(), b.get<uint64_t>()) << where; break;
    case t::number_integer: EXPECT_EQ(a.integer(), b.get<int64_t>()) << where; break;
    case t::number_float: EXPECT_EQ(a.number(), b.get<double>()) << where; break;
    case t::string: EXPECT_EQ(a.str(), b.get<std::string>()) << where; break;
    case t::array: {
      ASSERT_TRUE(a.is_array()) << where;
      ASSERT_EQ(a.size(), b.size()) << where;
      size_t i = 0;
      for (JsonRef e = a.first(); e; e = e.next(), ++i)
        same_value(e, b[i], where + "/" + std::to_string(i));
      break;
    }
    case t::object: {
      ASSERT_TRUE(a.is_object()) << where;
      for (auto it = b.begin(); it != b.end(); ++it) {
        JsonRef m = a.find(it.key());
        ASSERT_TRUE(m) << where << "/" << it.key();
        same_value(m, it.value(), where + "/" + it.key());
      }
      break;
    }
    default: ADD_FAILURE() << where;
  }
}

nlohmann::json random_value(std::mt19937& rng, int depth) {
  std::uniform_int_distribution<int> kind(0, depth > 4 ? 5 : 7);
  switch (kind(rng)) {
    case 0: return nullptr;
    case 1: return rng() % 2 == 0;
    case 2: return static_cast<int64_t>(rng()) - static_cast<int64_t>(rng()) * 4096;
    case 3: return static_cast<uint64_t>(rng()) << 32 | rng();
    case 4:
      return std::ldexp(static_cast<double>(rng()) - 2e9, static_cast<int>(rng() % 200) - 100);
    case 5: {
      std::string s;
      for (int n = static_cast<int>(rng() % 12); n > 0; --n) {
        static const char* pieces[] = {"a",
                                       "\"",
                                       "\\",
                                       "/",
                                       "\n",
                                       "\t",
                                       "\x01",
                                       "\xc3\xa9",
                                       "\xe6\x97\xa5",
                                       "\xf0\x9f\x98\x80",
                                       " ",
                                       "\x7f"};
        s += pieces[rng() % 12];
      }
      return s;
    }
    case 6: {
      auto a = nlohmann::json::array();
      for (int n = static_cast<int>(rng() % 5); n > 0; --n)
        a.push_back(random_value(rng, depth + 1));
      return a;
    }
    default: {
      auto o = nlohmann::json::object();
      for (int n = static_cast<int>(rng() % 5); n > 0; --n)
        o["k" + std::to_string(rng() % 7)] = random_value(rng, depth + 1);
      return o;
    }
  }
}

TEST(JsonDom, AgreesWithNlohmann) {
  std::mt19937 rng(7);
  for (int round = 0; round < 2000; ++round) {
    nlohmann::json v = random_value(rng, 0);
    std::string text = v.dump(rng() % 2 ? 1 : -1, ' ', rng() % 2 == 0);
    auto d = JsonDoc::parse(text, 64);
    ASSERT_TRUE(d) << text << ": " << d.error().message();
    same_value((*d)->root(), v, "");
    // One byte changed: both accept it (and agree) or both refuse it.
    std::string bad = text;
    bad[rng() % bad.size()] = "{}[]\",:\\ 0-.eEx\x80"[rng() % 16];  // 16 bytes
    auto mine = JsonDoc::parse(bad, 64);
    bool theirs = nlohmann::json::accept(bad);
    EXPECT_EQ(static_cast<bool>(mine), theirs) << bad << (mine ? "" : mine.error().message());
    if (mine && theirs) same_value((*mine)->root(), nlohmann::json::parse(bad), "");
  }
}

}  // namespace
}  // namespace berth::oci::detail
