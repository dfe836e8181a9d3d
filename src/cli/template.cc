#include "cli/template.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

namespace berth::cli {

using json = nlohmann::ordered_json;

namespace {

// ---- syntax tree ------------------------------------------------------------------------

struct Pipeline;

struct Operand {
  enum Kind { Dot, Field, Var, Ident, String, Number, Bool, Nil, Sub } kind = Dot;
  std::string text;                 // identifier, variable name (with '$') or string value
  std::vector<std::string> fields;  // .A.B after the dot, a variable or a parenthesis
  size_t pos = 0;                   // of the last field, for execution errors
  json value;                       // numbers and bools
  std::shared_ptr<Pipeline> sub;
};

struct Command {
  std::vector<Operand> args;
};

struct Pipeline {
  std::vector<std::string> decl;  // $i, $e := ...
  std::vector<Command> cmds;
};

}  // namespace

struct Node {
  enum Kind { List, Text, Action, If, Range, With } kind = List;
  std::string text;
  Pipeline pipe;
  std::vector<std::shared_ptr<Node>> list, else_list;
};

namespace {

Error parse_error(const std::string& msg) { return Error::invalid("template: :1: " + msg); }

// ---- lexer ------------------------------------------------------------------------------

struct Token {
  enum Kind {
    Field,
    Dot,
    Var,
    Ident,
    String,
    Number,
    Pipe,
    LParen,
    RParen,
    Declare,
    Assign,
    Comma,
    End
  } kind;
  std::string text;
  bool space_before = false;
  size_t pos = 0;  // byte offset in the whole template
};

Result<std::vector<Token>> lex_action(std::string_view s, size_t base) {
  std::vector<Token> out;
  size_t i = 0;
  bool space = false;
  auto ident_char = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  while (i < s.size()) {
    char c = s[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      space = true;
      i++;
      continue;
    }
    Token t{Token::End, {}, space, base + i};
    space = false;
    if (c == '.') {
      size_t j = i + 1;
      if (j < s.size() && (std::isalpha(static_cast<unsigned char>(s[j])) || s[j] == '_')) {
        // .A.B chain: one token per field
        while (j < s.size() && ident_char(s[j])) j++;
        t.kind = Token::Field;
        t.text = std::string(s.substr(i + 1, j - i - 1));
        out.push_back(t);
        i = j;
        continue;
      }
      t.kind = Token::Dot;
      out.push_back(t);
      i++;
      continue;
    }
    if (c == '$') {
      size_t j = i + 1;
      while (j < s.size() && ident_char(s[j])) j++;
      t.kind = Token::Var;
      t.text = std::string(s.substr(i, j - i));
      out.push_back(t);
      i = j;
      continue;
    }
    if (c == '"') {
      std::string v;
      size_t j = i + 1;
      for (; j < s.size() && s[j] != '"'; j++) {
        if (s[j] == '\\' && j + 1 < s.size()) {
          j++;
          switch (s[j]) {
            case 'n': v += '\n'; break;
            case 't': v += '\t'; break;
            case 'r': v += '\r'; break;
            case '\\': v += '\\'; break;
            case '"': v += '"'; break;
            default: v += '\\'; v += s[j];
          }
        } else {
          v += s[j];
        }
      }
      if (j >= s.size()) return parse_error("unterminated quoted string");
      t.kind = Token::String;
      t.text = std::move(v);
      out.push_back(t);
      i = j + 1;
      continue;
    }
    if (c == '`') {
      size_t j = s.find('`', i + 1);
      if (j == std::string_view::npos) return parse_error("unterminated raw quoted string");
      t.kind = Token::String;
      t.text = std::string(s.substr(i + 1, j - i - 1));
      out.push_back(t);
      i = j + 1;
      continue;
    }
    if (std::isdigit(static_cast<unsigned char>(c)) ||
        ((c == '-' || c == '+') && i + 1 < s.size() &&
         std::isdigit(static_cast<unsigned char>(s[i + 1])))) {
      size_t j = i + 1;
      while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '.')) j++;
      t.kind = Token::Number;
      t.text = std::string(s.substr(i, j - i));
      out.push_back(t);
      i = j;
      continue;
    }
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t j = i;
      while (j < s.size() && ident_char(s[j])) j++;
      t.kind = Token::Ident;
      t.text = std::string(s.substr(i, j - i));
      out.push_back(t);
      i = j;
      continue;
    }
    if (c == ':' && i + 1 < s.size() && s[i + 1] == '=') {
      t.kind = Token::Declare;
      out.push_back(t);
      i += 2;
      continue;
    }
    switch (c) {
      case '|': t.kind = Token::Pipe; break;
      case '(': t.kind = Token::LParen; break;
      case ')': t.kind = Token::RParen; break;
      case '=': t.kind = Token::Assign; break;
      case ',': t.kind = Token::Comma; break;
      default: return parse_error(std::string("unexpected \"") + c + "\" in command");
    }
    out.push_back(t);
    i++;
  }
  return out;
}

// ---- parser -----------------------------------------------------------------------------

const std::vector<std::string> kFunctions = {
    "json",  "join", "split", "lower",  "upper",   "title", "truncate", "pad",
    "index", "len",  "print", "printf", "println", "eq",    "ne",       "lt",
    "le",    "gt",   "ge",    "and",    "or",      "not"};

class PipeParser {
 public:
  explicit PipeParser(std::vector<Token> toks) : t_(std::move(toks)) {}

  Result<Pipeline> pipeline(bool allow_decl) {
    Pipeline p;
    if (allow_decl) {
      // "$x :=" or "$i, $e :="
      size_t k = i_;
      std::vector<std::string> vars;
      while (k < t_.size() && t_[k].kind == Token::Var) {
        vars.push_back(t_[k].text);
        k++;
        if (k < t_.size() && t_[k].kind == Token::Comma) {
          k++;
          continue;
        }
        break;
      }
      if (!vars.empty() && k < t_.size() && t_[k].kind == Token::Declare) {
        p.decl = vars;
        i_ = k + 1;
      }
    }
    for (;;) {
      Command c;
      while (i_ < t_.size() && t_[i_].kind != Token::Pipe && t_[i_].kind != Token::RParen) {
        c.args.push_back(BERTH_TRY(operand()));
      }
      if (c.args.empty()) return parse_error("missing value for command");
      p.cmds.push_back(std::move(c));
      if (i_ < t_.size() && t_[i_].kind == Token::Pipe) {
        i_++;
        continue;
      }
      break;
    }
    return p;
  }

  bool at_end() const { return i_ >= t_.size(); }
  bool at(Token::Kind k) const { return i_ < t_.size() && t_[i_].kind == k; }
  void skip() { i_++; }

 private:
  void chain(Operand& o) {
    while (i_ < t_.size() && t_[i_].kind == Token::Field && !t_[i_].space_before) {
      o.fields.push_back(t_[i_].text);
      o.pos = t_[i_].pos;
      i_++;
    }
  }

  Result<Operand> operand() {
    const Token& t = t_[i_++];
    Operand o;
    switch (t.kind) {
      case Token::Dot: o.kind = Operand::Dot; break;
      case Token::Field:
        o.kind = Operand::Field;
        o.fields.push_back(t.text);
        o.pos = t.pos;
        chain(o);
        break;
      case Token::Var:
        o.kind = Operand::Var;
        o.text = t.text;
        chain(o);
        break;
      case Token::String:
        o.kind = Operand::String;
        o.text = t.text;
        break;
      case Token::Number: {
        o.kind = Operand::Number;
        o.value = json::parse(t.text, nullptr, false);
        if (o.value.is_discarded()) return parse_error("bad number syntax: \"" + t.text + "\"");
        break;
      }
      case Token::Ident:
        if (t.text == "true" || t.text == "false") {
          o.kind = Operand::Bool;
          o.value = t.text == "true";
        } else if (t.text == "nil") {
          o.kind = Operand::Nil;
        } else {
          if (std::find(kFunctions.begin(), kFunctions.end(), t.text) == kFunctions.end()) {
            return parse_error("function \"" + t.text + "\" not defined");
          }
          o.kind = Operand::Ident;
          o.text = t.text;
        }
        break;
      case Token::LParen: {
        o.kind = Operand::Sub;
        o.sub = std::make_shared<Pipeline>(BERTH_TRY(pipeline(false)));
        if (!at(Token::RParen)) return parse_error("unclosed left paren");
        i_++;
        chain(o);
        break;
      }
      default: return parse_error("unexpected token in operand");
    }
    return o;
  }

  std::vector<Token> t_;
  size_t i_ = 0;
};

struct Action {
  std::string_view body;  // inside {{ }}, trim markers removed
};

class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}

  // Parses nodes until {{end}} / {{else ...}} (returned in *stop) or the end of input.
  Result<std::vector<std::shared_ptr<Node>>> list(std::string* stop,
                                                  std::vector<Token>* stop_rest) {
    std::vector<std::shared_ptr<Node>> out;
    for (;;) {
      size_t open = s_.find("{{", pos_);
      std::string text(
          s_.substr(pos_, open == std::string_view::npos ? std::string_view::npos : open - pos_));
      if (trim_next_) {
        size_t k = 0;
        while (k < text.size() && std::isspace(static_cast<unsigned char>(text[k]))) k++;
        text.erase(0, k);
        trim_next_ = false;
      }
      if (open == std::string_view::npos) {
        if (!text.empty()) out.push_back(text_node(std::move(text)));
        pos_ = s_.size();
        if (stop) stop->clear();
        return out;
      }
      size_t body_start = open + 2;
      bool trim_left =
          body_start + 1 < s_.size() && s_[body_start] == '-' &&
          (s_[body_start + 1] == ' ' || s_[body_start + 1] == '\t' || s_[body_start + 1] == '\n');
      if (trim_left) {
        while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
          text.pop_back();
        body_start++;
      }
      if (!text.empty()) out.push_back(text_node(std::move(text)));
      size_t close = find_close(body_start);
      if (close == std::string_view::npos) return parse_error("unclosed action");
      std::string_view body = s_.substr(body_start, close - body_start);
      pos_ = close + 2;
      if (body.size() >= 2 && body.back() == '-' &&
          (body[body.size() - 2] == ' ' || body[body.size() - 2] == '\t' ||
           body[body.size() - 2] == '\n')) {
        body.remove_suffix(1);
        trim_next_ = true;
      }
      std::string_view trimmed = body;
      while (!trimmed.empty() && std::isspace(static_cast<unsigned char>(trimmed.front())))
        trimmed.remove_prefix(1);
      if (trimmed.starts_with("/*")) continue;  // comment
      std::vector<Token> toks = BERTH_TRY(lex_action(body, body_start));
      if (toks.empty()) return parse_error("missing value for command");
      if (toks[0].kind == Token::Ident) {
        const std::string& kw = toks[0].text;
        if (kw == "end" || kw == "else") {
          if (!stop) return parse_error("unexpected {{" + kw + "}}");
          *stop = kw;
          if (stop_rest) stop_rest->assign(toks.begin() + 1, toks.end());
          return out;
        }
        if (kw == "if" || kw == "range" || kw == "with") {
          out.push_back(BERTH_TRY(control(kw, std::vector<Token>(toks.begin() + 1, toks.end()))));
          continue;
        }
        if (kw == "define" || kw == "template" || kw == "block") {
          return parse_error("{{" + kw + "}} is not supported");
        }
      }
      PipeParser pp(std::move(toks));
      auto n = std::make_shared<Node>();
      n->kind = Node::Action;
      n->pipe = BERTH_TRY(pp.pipeline(true));
      if (!pp.at_end()) return parse_error("unexpected \")\" in command");
      out.push_back(n);
    }
  }

  bool at_end() const { return pos_ >= s_.size(); }

 private:
  static std::shared_ptr<Node> text_node(std::string text) {
    auto n = std::make_shared<Node>();
    n->kind = Node::Text;
    n->text = std::move(text);
    return n;
  }

  // The "}}" closing an action, skipping quoted strings.
  size_t find_close(size_t from) const {
    char quote = 0;
    for (size_t i = from; i + 1 < s_.size(); i++) {
      char c = s_[i];
      if (quote) {
        if (c == '\\' && quote == '"')
          i++;
        else if (c == quote)
          quote = 0;
        continue;
      }
      if (c == '"' || c == '`')
        quote = c;
      else if (c == '}' && s_[i + 1] == '}')
        return i;
    }
    return std::string_view::npos;
  }

  Result<std::shared_ptr<Node>> control(const std::string& kw, std::vector<Token> toks) {
    auto n = std::make_shared<Node>();
    n->kind = kw == "if" ? Node::If : kw == "range" ? Node::Range : Node::With;
    PipeParser pp(std::move(toks));
    n->pipe = BERTH_TRY(pp.pipeline(true));
    if (!pp.at_end()) return parse_error("unexpected \")\" in " + kw);
    std::string stop;
    std::vector<Token> rest;
    n->list = BERTH_TRY(list(&stop, &rest));
    if (stop.empty()) return parse_error("unexpected EOF");
    if (stop == "else") {
      if (!rest.empty() && rest[0].kind == Token::Ident &&
          (rest[0].text == "if" || rest[0].text == "with")) {
        // {{else if ...}}: a nested control that consumes the shared {{end}}.
        std::string inner_kw = rest[0].text;
        n->else_list.push_back(
            BERTH_TRY(control(inner_kw, std::vector<Token>(rest.begin() + 1, rest.end()))));
        return n;
      }
      n->else_list = BERTH_TRY(list(&stop, nullptr));
      if (stop != "end")
        return parse_error("expected end; found " + (stop.empty() ? std::string("EOF") : stop));
    }
    return n;
  }

  std::string_view s_;
  size_t pos_ = 0;
  bool trim_next_ = false;
};

// ---- evaluation -------------------------------------------------------------------------

bool truthy(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
    case json::value_t::discarded: return false;
    case json::value_t::boolean: return v.get<bool>();
    case json::value_t::string: return !v.get_ref<const std::string&>().empty();
    case json::value_t::array:
    case json::value_t::object: return !v.empty();
    case json::value_t::number_integer: return v.get<int64_t>() != 0;
    case json::value_t::number_unsigned: return v.get<uint64_t>() != 0;
    case json::value_t::number_float: return v.get<double>() != 0;
    default: return true;
  }
}

std::string format_float(double d) {
  if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 1e21) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%.0f", d);
    return buf;
  }
  // Go's %v of a float64: shortest representation, exponent form for large/small values.
  char buf[64];
  for (int prec = 1; prec <= 17; prec++) {
    std::snprintf(buf, sizeof(buf), "%.*g", prec, d);
    if (std::strtod(buf, nullptr) == d) break;
  }
  std::string s = buf;
  // C prints e+06; Go prints e+06 too.
  return s;
}

// Letters, digits and '_' continue a word for `title` (docker's: "foo-bar" -> "Foo-Bar",
// "foo_bar" -> "Foo_bar"); bytes of multibyte characters are taken as letters.
bool title_word_char(unsigned char u) { return std::isalnum(u) || u == '_' || u >= 0x80; }

std::string as_text(const json& v) {
  return v.is_string() ? v.get<std::string>() : go_format_value(v);
}

int compare_json(const json& a, const json& b, bool* comparable) {
  *comparable = true;
  if (a.is_number() && b.is_number()) {
    double x = a.get<double>(), y = b.get<double>();
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a.is_string() && b.is_string()) {
    return a.get_ref<const std::string&>().compare(b.get_ref<const std::string&>());
  }
  if (a.is_boolean() && b.is_boolean()) return a == b ? 0 : 1;
  *comparable = false;
  return a == b ? 0 : 1;
}

// Go's type name of a JSON value as fmt reports it in %!verb(type=value).
std::string go_type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::string: return "string";
    case json::value_t::boolean: return "bool";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "int";
    case json::value_t::number_float: return "float64";
    case json::value_t::array: return "[]interface {}";
    case json::value_t::object: return "map[string]interface {}";
    default: return "<nil>";
  }
}

// One conversion of Go's fmt: %[flags][width][.precision]verb.
struct Conversion {
  bool minus = false, plus = false, zero = false, space = false, sharp = false;
  std::optional<size_t> width, precision;
  char verb = 'v';
};

std::string pad_to_width(std::string s, const Conversion& c) {
  if (!c.width || s.size() >= *c.width) return s;
  size_t n = *c.width - s.size();
  if (c.minus) return s + std::string(n, ' ');
  if (c.zero) {
    // Zeros go after the sign.
    size_t at = !s.empty() && (s[0] == '-' || s[0] == '+' || s[0] == ' ') ? 1 : 0;
    return s.insert(at, std::string(n, '0'));
  }
  return std::string(n, ' ') + s;
}

std::string format_integer(const json& a, const Conversion& c) {
  bool negative = a.is_number_integer() && a.get<int64_t>() < 0;
  uint64_t mag = negative              ? static_cast<uint64_t>(-(a.get<int64_t>() + 1)) + 1
                 : a.is_number_float() ? static_cast<uint64_t>(a.get<double>())
                                       : a.get<uint64_t>();
  std::string digits;
  int base = c.verb == 'x' || c.verb == 'X' ? 16 : c.verb == 'o' ? 8 : c.verb == 'b' ? 2 : 10;
  const char* set = c.verb == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
  do {
    digits.insert(digits.begin(), set[mag % static_cast<uint64_t>(base)]);
    mag /= static_cast<uint64_t>(base);
  } while (mag);
  if (c.precision && digits.size() < *c.precision)
    digits.insert(0, std::string(*c.precision - digits.size(), '0'));
  std::string sign = negative ? "-" : c.plus ? "+" : c.space ? " " : "";
  return sign + digits;
}

std::string format_one(const json& a, const Conversion& c) {
  auto bad = [&] {
    return "%!" + std::string(1, c.verb) + "(" + go_type_name(a) + "=" + as_text(a) + ")";
  };
  bool integral = a.is_number_integer() || a.is_number_unsigned();
  std::string s;
  switch (c.verb) {
    case 'v':
      s = as_text(a);
      if (c.plus && integral && a.is_number_integer() && a.get<int64_t>() >= 0) s = "+" + s;
      break;
    case 's':
      if (!a.is_string() && !a.is_array() && !a.is_object()) return bad();
      s = as_text(a);
      if (c.precision && s.size() > *c.precision) s.resize(*c.precision);
      break;
    case 'q':
      if (!a.is_string()) return bad();
      s = json(a.get<std::string>()).dump();
      break;
    case 'd':
    case 'x':
    case 'X':
    case 'o':
    case 'b':
      if (integral) {
        s = format_integer(a, c);
      } else if (a.is_string() && (c.verb == 'x' || c.verb == 'X')) {
        static const char* hex = "0123456789abcdef";
        for (unsigned char ch : a.get<std::string>()) {
          s += c.verb == 'X' ? static_cast<char>(std::toupper(hex[ch >> 4])) : hex[ch >> 4];
          s += c.verb == 'X' ? static_cast<char>(std::toupper(hex[ch & 15])) : hex[ch & 15];
        }
      } else {
        return bad();
      }
      break;
    case 'f':
    case 'F':
    case 'e':
    case 'E':
    case 'g':
    case 'G': {
      if (!a.is_number_float()) return bad();
      std::string spec = "%";
      if (c.plus) spec += '+';
      if (c.space) spec += ' ';
      if (c.precision) spec += "." + std::to_string(*c.precision);
      spec += c.verb == 'F' ? 'f' : c.verb;
      char buf[512];
      std::snprintf(buf, sizeof(buf), spec.c_str(), a.get<double>());
      s = buf;
      break;
    }
    case 't':
      if (!a.is_boolean()) return bad();
      s = as_text(a);
      break;
    default: return bad();
  }
  return pad_to_width(std::move(s), c);
}

std::string go_sprintf(const std::string& fmt, const std::vector<json>& args) {
  std::string out;
  size_t ai = 0;
  for (size_t i = 0; i < fmt.size(); i++) {
    if (fmt[i] != '%') {
      out += fmt[i];
      continue;
    }
    if (i + 1 >= fmt.size()) {
      out += "%!(NOVERB)";
      break;
    }
    Conversion c;
    size_t j = i + 1;
    for (; j < fmt.size(); j++) {
      char f = fmt[j];
      if (f == '-')
        c.minus = true;
      else if (f == '+')
        c.plus = true;
      else if (f == '0')
        c.zero = true;
      else if (f == ' ')
        c.space = true;
      else if (f == '#')
        c.sharp = true;
      else
        break;
    }
    auto number = [&]() -> std::optional<size_t> {
      if (j >= fmt.size() || !std::isdigit(static_cast<unsigned char>(fmt[j]))) return std::nullopt;
      size_t n = 0;
      while (j < fmt.size() && std::isdigit(static_cast<unsigned char>(fmt[j])))
        n = std::min<size_t>(n * 10 + static_cast<size_t>(fmt[j++] - '0'), 1000000);
      return n;
    };
    c.width = number();
    if (j < fmt.size() && fmt[j] == '.') {
      j++;
      c.precision = number().value_or(0);
    }
    if (j >= fmt.size()) {
      out += "%!(NOVERB)";
      break;
    }
    c.verb = fmt[j];
    i = j;
    if (c.verb == '%') {
      out += '%';
      continue;
    }
    if (ai >= args.size()) {
      out += std::string("%!") + c.verb + "(MISSING)";
      continue;
    }
    out += format_one(args[ai++], c);
  }
  if (ai < args.size()) {
    out += "%!(EXTRA ";
    for (size_t k = ai; k < args.size(); k++)
      out += (k > ai ? ", " : "") + go_type_name(args[k]) + "=" + as_text(args[k]);
    out += ")";
  }
  return out;
}

// Whether a field of docker's Go types is a slice (a nil one prints []).
bool is_go_slice(std::string_view name) {
  static const std::set<std::string, std::less<>> slices = {"Entrypoint",
                                                            "Cmd",
                                                            "Env",
                                                            "Shell",
                                                            "OnBuild",
                                                            "Binds",
                                                            "CapAdd",
                                                            "CapDrop",
                                                            "Capabilities",
                                                            "Dns",
                                                            "DnsOptions",
                                                            "DnsSearch",
                                                            "ExtraHosts",
                                                            "Links",
                                                            "GroupAdd",
                                                            "SecurityOpt",
                                                            "VolumesFrom",
                                                            "Devices",
                                                            "DeviceCgroupRules",
                                                            "DeviceRequests",
                                                            "Ulimits",
                                                            "BlkioWeightDevice",
                                                            "BlkioDeviceReadBps",
                                                            "BlkioDeviceWriteBps",
                                                            "BlkioDeviceReadIOps",
                                                            "BlkioDeviceWriteIOps",
                                                            "MaskedPaths",
                                                            "ReadonlyPaths",
                                                            "Mounts",
                                                            "Args",
                                                            "RepoTags",
                                                            "RepoDigests",
                                                            "SecondaryIPAddresses",
                                                            "SecondaryIPv6Addresses",
                                                            "Aliases",
                                                            "DNSNames",
                                                            "Layers",
                                                            "Test"};
  return slices.contains(name);
}

// Whether fields[0..n) names a map in docker's Go types (Labels, LogConfig.Config, ...) rather
// than a struct: a missing key of a map prints <no value>, of a struct it is an error.
bool is_go_map(const std::vector<std::string>& fields, size_t n) {
  if (n == 0) return false;
  static const std::set<std::string, std::less<>> maps = {
      "Labels",     "Volumes",    "ExposedPorts", "PortBindings", "Tmpfs",
      "Sysctls",    "StorageOpt", "Annotations",  "Ports",        "Networks",
      "DriverOpts", "Options",    "Attributes"};
  const std::string& last = fields[n - 1];
  if (maps.contains(last)) return true;
  return last == "Config" && n >= 2 && fields[n - 2] == "LogConfig";
}

struct Scope {
  std::vector<std::pair<std::string, json>> vars;
};

class Evaluator {
 public:
  Evaluator(const json& root, const MethodHook& hook, const Template::ExecOptions& opts,
            std::string_view text)
      : root_(root), hook_(hook), opts_(opts), text_(text) {
    scope_.vars.emplace_back("$", root);
  }

  Result<void> run(const std::vector<std::shared_ptr<Node>>& nodes, const json& dot,
                   std::string& out) {
    for (const auto& n : nodes) BERTH_TRY(run_node(*n, dot, out));
    return ok();
  }

 private:
  Result<void> run_node(const Node& n, const json& dot, std::string& out) {
    switch (n.kind) {
      case Node::Text: out += n.text; return ok();
      case Node::List: return run(n.list, dot, out);
      case Node::Action: {
        json v = BERTH_TRY(pipeline(n.pipe, dot));
        if (n.pipe.decl.empty())
          out += v.is_null() ? null_text(n.pipe) : go_format_value(v);
        else
          declare(n.pipe.decl.back(), v);
        return ok();
      }
      case Node::If:
      case Node::With: {
        size_t mark = scope_.vars.size();
        json v = BERTH_TRY(pipeline(n.pipe, dot));
        if (!n.pipe.decl.empty()) declare(n.pipe.decl.back(), v);
        Result<void> r = truthy(v) ? run(n.list, n.kind == Node::With ? v : dot, out)
                                   : run(n.else_list, dot, out);
        scope_.vars.resize(mark);
        return r;
      }
      case Node::Range: return range(n, dot, out);
    }
    return ok();
  }

  Result<void> range(const Node& n, const json& dot, std::string& out) {
    size_t mark = scope_.vars.size();
    json v = BERTH_TRY(pipeline(n.pipe, dot));
    std::vector<std::pair<json, const json*>> items;
    if (v.is_array()) {
      for (size_t i = 0; i < v.size(); i++) items.emplace_back(json(i), &v[i]);
    } else if (v.is_object()) {
      for (auto it = v.begin(); it != v.end(); ++it)
        items.emplace_back(json(it.key()), &it.value());
      // Go ranges over a map in key order.
      std::sort(items.begin(), items.end(), [](const auto& x, const auto& y) {
        return x.first.template get<std::string>() < y.first.template get<std::string>();
      });
    } else if (truthy(v)) {
      return Error::invalid("template: range can't iterate over " + go_format_value(v));
    }
    if (items.empty()) return run(n.else_list, dot, out);
    for (auto& [key, elem] : items) {
      if (n.pipe.decl.size() == 1) declare(n.pipe.decl[0], *elem);
      if (n.pipe.decl.size() == 2) {
        declare(n.pipe.decl[0], key);
        declare(n.pipe.decl[1], *elem);
      }
      BERTH_TRY(run(n.list, *elem, out));
      scope_.vars.resize(mark);
    }
    return ok();
  }

  void declare(const std::string& name, const json& v) { scope_.vars.emplace_back(name, v); }

  static json field(const json& v, const std::string& name) {
    if (v.is_object()) {
      auto it = v.find(name);
      if (it != v.end()) return *it;
    }
    return json(json::value_t::discarded);
  }

  Result<json> fields(json v, const Operand& o) {
    for (size_t i = 0; i < o.fields.size(); i++) {
      const std::string& f = o.fields[i];
      if (opts_.missing_key_error && v.is_object() && !v.contains(f) && !is_go_map(o.fields, i)) {
        // A slice or map field left out of the JSON (omitempty) is still a field of the struct.
        // So is an omitted pointer (nil, printed <nil>).
        static const std::set<std::string, std::less<>> pointers = {
            "Health", "Healthcheck", "StopTimeout", "Node",
            "SizeRw", "SizeRootFs",  "Init",        "Descriptor"};
        if (is_go_slice(f) || is_go_map(o.fields, i + 1) || pointers.contains(f)) {
          v = json();
          continue;
        }
        // Go's missingkey=error, as docker's inspect runs templates on the raw JSON.
        std::string chain = o.kind == Operand::Var ? o.text : "";
        for (const auto& name : o.fields) chain += "." + name;
        return Error::invalid("template: " + position(o.pos) + ": executing \"\" at <" + chain +
                              ">: map has no entry for key \"" + f + "\"");
      }
      v = field(v, f);
    }
    return v;
  }

  // ":line:col" of a byte offset, as Go's template errors give it.
  std::string position(size_t pos) const {
    pos = std::min(pos, text_.size());
    size_t line = 1 + static_cast<size_t>(std::count(text_.begin(), text_.begin() + pos, '\n'));
    size_t nl = text_.rfind('\n', pos == 0 ? 0 : pos - 1);
    size_t col = nl == std::string_view::npos || pos == 0 ? pos : pos - nl - 1;
    return ":" + std::to_string(line) + ":" + std::to_string(col);
  }

  // A JSON null printed as docker prints the Go field it came from: a nil slice as [], a nil
  // map as map[], anything else (a nil pointer) as <nil>.
  static std::string null_text(const Pipeline& p) {
    if (p.cmds.size() != 1 || p.cmds[0].args.size() != 1) return "<nil>";
    const Operand& o = p.cmds[0].args[0];
    if (o.fields.empty()) return "<nil>";
    const std::string& last = o.fields.back();
    if (is_go_slice(last)) return "[]";
    if (is_go_map(o.fields, o.fields.size())) return "map[]";
    return "<nil>";
  }

  Result<json> operand(const Operand& o, const json& dot) {
    switch (o.kind) {
      case Operand::Dot: return dot;
      case Operand::Field: return fields(dot, o);
      case Operand::Var:
        for (auto it = scope_.vars.rbegin(); it != scope_.vars.rend(); ++it) {
          if (it->first == o.text) return fields(it->second, o);
        }
        return Error::invalid("template: :1: undefined variable \"" + o.text + "\"");
      case Operand::String: return json(o.text);
      case Operand::Number:
      case Operand::Bool: return o.value;
      case Operand::Nil: return json();
      case Operand::Sub: return fields(BERTH_TRY(pipeline(*o.sub, dot)), o);
      case Operand::Ident: return call(o.text, {});
    }
    return json();
  }

  Result<json> command(const Command& c, const json& dot, const std::optional<json>& piped) {
    const Operand& head = c.args[0];
    if (head.kind == Operand::Ident) {
      std::vector<json> args;
      for (size_t i = 1; i < c.args.size(); i++) args.push_back(BERTH_TRY(operand(c.args[i], dot)));
      if (piped) args.push_back(*piped);
      return call(head.text, args);
    }
    if (head.kind == Operand::Field && (c.args.size() > 1 || piped)) {
      // A method on the dot value: {{.Label "k"}}.
      std::vector<json> args;
      for (size_t i = 1; i < c.args.size(); i++) args.push_back(BERTH_TRY(operand(c.args[i], dot)));
      if (piped) args.push_back(*piped);
      if (hook_ && head.fields.size() == 1) {
        if (auto v = hook_(head.fields[0], args)) return *v;
      }
      return Error::invalid("template: :1: executing \"\" at <." + head.fields.back() +
                            ">: can't give argument to non-function ." + head.fields.back());
    }
    if (c.args.size() > 1 || piped) {
      return Error::invalid("template: :1: can't give argument to non-function");
    }
    return operand(head, dot);
  }

  Result<json> pipeline(const Pipeline& p, const json& dot) {
    std::optional<json> v;
    for (const auto& c : p.cmds) v = BERTH_TRY(command(c, dot, v));
    return v ? *v : json();
  }

  Result<json> call(const std::string& name, const std::vector<json>& a) {
    auto need = [&](size_t n) -> Result<void> {
      if (a.size() != n) {
        return Error::invalid("template: :1: wrong number of args for " + name + ": want " +
                              std::to_string(n) + " got " + std::to_string(a.size()));
      }
      return ok();
    };
    if (name == "json") {
      BERTH_TRY(need(1));
      if (a[0].is_discarded()) return json("null");
      return json(go_json(a[0]));
    }
    if (name == "join") {
      BERTH_TRY(need(2));
      std::string out, sep = as_text(a[1]);
      if (a[0].is_array()) {
        for (size_t i = 0; i < a[0].size(); i++) out += (i ? sep : "") + as_text(a[0][i]);
      } else if (!a[0].is_null() && !a[0].is_discarded()) {
        out = as_text(a[0]);
      }
      return json(out);
    }
    if (name == "split") {
      BERTH_TRY(need(2));
      std::string s = as_text(a[0]), sep = as_text(a[1]);
      json out = json::array();
      if (sep.empty()) {
        for (char c : s) out.push_back(std::string(1, c));
        return out;
      }
      size_t i = 0;
      for (;;) {
        size_t j = s.find(sep, i);
        out.push_back(s.substr(i, j == std::string::npos ? std::string::npos : j - i));
        if (j == std::string::npos) break;
        i = j + sep.size();
      }
      return out;
    }
    if (name == "lower" || name == "upper" || name == "title") {
      BERTH_TRY(need(1));
      std::string s = as_text(a[0]);
      bool start = true;
      for (char& c : s) {
        unsigned char u = static_cast<unsigned char>(c);
        if (name == "lower")
          c = static_cast<char>(std::tolower(u));
        else if (name == "upper")
          c = static_cast<char>(std::toupper(u));
        else {
          if (start) c = static_cast<char>(std::toupper(u));
          start = !title_word_char(u);
        }
      }
      return json(s);
    }
    if (name == "truncate") {
      BERTH_TRY(need(2));
      std::string s = as_text(a[0]);
      long n = a[1].is_number() ? a[1].get<long>() : 0;
      if (n >= 0 && static_cast<size_t>(n) < s.size()) s.resize(static_cast<size_t>(n));
      return json(s);
    }
    if (name == "pad") {
      BERTH_TRY(need(3));
      long l = a[1].is_number() ? a[1].get<long>() : 0, r = a[2].is_number() ? a[2].get<long>() : 0;
      return json(std::string(std::max(0L, l), ' ') + as_text(a[0]) +
                  std::string(std::max(0L, r), ' '));
    }
    if (name == "index") {
      if (a.empty()) return Error::invalid("template: :1: wrong number of args for index");
      json v = a[0];
      for (size_t i = 1; i < a.size(); i++) {
        if (v.is_object() && a[i].is_string()) {
          auto it = v.find(a[i].get<std::string>());
          v = it == v.end() ? json(json::value_t::discarded) : *it;
        } else if (v.is_array() && a[i].is_number()) {
          long k = a[i].get<long>();
          if (k < 0 || static_cast<size_t>(k) >= v.size()) {
            return Error::invalid("template: :1: error calling index: index out of range: " +
                                  std::to_string(k));
          }
          v = v[static_cast<size_t>(k)];
        } else if (v.is_null() || v.is_discarded()) {
          v = json(json::value_t::discarded);
        } else {
          return Error::invalid("template: :1: error calling index: cannot index " +
                                go_format_value(v));
        }
      }
      return v;
    }
    if (name == "len") {
      BERTH_TRY(need(1));
      if (a[0].is_string()) return json(a[0].get_ref<const std::string&>().size());
      if (a[0].is_array() || a[0].is_object()) return json(a[0].size());
      if (a[0].is_null()) return json(0);
      return Error::invalid("template: :1: error calling len: len of type " +
                            std::string(a[0].type_name()));
    }
    if (name == "print" || name == "println") {
      std::string out;
      for (size_t i = 0; i < a.size(); i++) {
        if (i && (name == "println" || (!a[i].is_string() && !a[i - 1].is_string()))) out += ' ';
        out += as_text(a[i]);
      }
      if (name == "println") out += '\n';
      return json(out);
    }
    if (name == "printf") {
      if (a.empty()) return Error::invalid("template: :1: wrong number of args for printf");
      return json(go_sprintf(as_text(a[0]), std::vector<json>(a.begin() + 1, a.end())));
    }
    if (name == "not") {
      BERTH_TRY(need(1));
      return json(!truthy(a[0]));
    }
    if (name == "and" || name == "or") {
      if (a.empty()) return Error::invalid("template: :1: wrong number of args for " + name);
      for (const auto& v : a) {
        if (name == "and" ? !truthy(v) : truthy(v)) return v;
      }
      return a.back();
    }
    // Comparisons.
    if (a.size() < 2) return Error::invalid("template: :1: wrong number of args for " + name);
    bool comparable = true;
    if (name == "eq") {
      for (size_t i = 1; i < a.size(); i++) {
        if (compare_json(a[0], a[i], &comparable) == 0) return json(true);
      }
      return json(false);
    }
    int c = compare_json(a[0], a[1], &comparable);
    if (name == "ne") return json(c != 0);
    if (!comparable)
      return Error::invalid("template: :1: error calling " + name +
                            ": incompatible types for comparison");
    if (name == "lt") return json(c < 0);
    if (name == "le") return json(c <= 0);
    if (name == "gt") return json(c > 0);
    if (name == "ge") return json(c >= 0);
    return Error::invalid("template: :1: function \"" + name + "\" not defined");
  }

  const json& root_;
  const MethodHook& hook_;
  const Template::ExecOptions& opts_;
  std::string_view text_;
  Scope scope_;
};

}  // namespace

namespace {
std::string go_escape_html(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    // Go's encoding/json escapes these (they only occur inside strings).
    if (c == '<')
      out += "\\u003c";
    else if (c == '>')
      out += "\\u003e";
    else if (c == '&')
      out += "\\u0026";
    else
      out += c;
  }
  return out;
}
}  // namespace

std::string go_json(const json& v) {
  return go_escape_html(v.dump(-1, ' ', false, json::error_handler_t::replace));
}

std::string go_format_value(const json& v) {
  switch (v.type()) {
    case json::value_t::discarded: return "<no value>";
    case json::value_t::null: return "<nil>";
    case json::value_t::string: return v.get<std::string>();
    case json::value_t::boolean: return v.get<bool>() ? "true" : "false";
    case json::value_t::number_integer: return std::to_string(v.get<int64_t>());
    case json::value_t::number_unsigned: return std::to_string(v.get<uint64_t>());
    case json::value_t::number_float: return format_float(v.get<double>());
    case json::value_t::array: {
      std::string out = "[";
      for (size_t i = 0; i < v.size(); i++) out += (i ? " " : "") + go_format_value(v[i]);
      return out + "]";
    }
    case json::value_t::object: {
      std::vector<std::string> keys;
      for (auto it = v.begin(); it != v.end(); ++it) keys.push_back(it.key());
      std::sort(keys.begin(), keys.end());
      std::string out = "map[";
      for (size_t i = 0; i < keys.size(); i++) {
        out += (i ? " " : "") + keys[i] + ":" + go_format_value(v[keys[i]]);
      }
      return out + "]";
    }
    default: return v.dump();
  }
}

Result<Template> Template::parse(std::string_view text) {
  Parser p(text);
  auto root = std::make_shared<Node>();
  root->kind = Node::List;
  std::string stop;
  root->list = BERTH_TRY(p.list(nullptr, nullptr));
  Template t;
  t.root_ = root;
  t.text_ = std::string(text);
  return t;
}

Result<std::string> Template::execute(const json& dot, const MethodHook& hook,
                                      const ExecOptions& opts) const {
  std::string out;
  Evaluator ev(dot, hook, opts, text_);
  BERTH_TRY(ev.run(root_->list, dot, out));
  return out;
}

// ---- tabwriter --------------------------------------------------------------------------

namespace {

size_t display_width(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) n++;
  }
  return n;
}

struct TabWriter {
  std::vector<std::vector<std::string>> lines;  // cells; the last one is not tab-terminated
  std::vector<size_t> widths;
  size_t minwidth, padding;
  std::string out;

  void write_lines(size_t from, size_t to) {
    for (size_t i = from; i < to; i++) {
      const auto& line = lines[i];
      for (size_t j = 0; j < line.size(); j++) {
        out += line[j];
        if (j < widths.size() && j + 1 < line.size()) {
          size_t w = display_width(line[j]);
          if (widths[j] > w) out.append(widths[j] - w, ' ');
        }
      }
      if (i + 1 < lines.size() || !trailing_partial) out += '\n';
    }
  }

  void format(size_t line0, size_t line1) {
    size_t column = widths.size();
    for (size_t cur = line0; cur < line1; cur++) {
      if (column + 1 >= lines[cur].size()) continue;
      write_lines(line0, cur);
      line0 = cur;
      size_t width = minwidth;
      for (; cur < line1; cur++) {
        if (column + 1 >= lines[cur].size()) break;
        size_t w = display_width(lines[cur][column]) + padding;
        width = std::max(width, w);
      }
      widths.push_back(width);
      format(line0, cur);
      widths.pop_back();
      line0 = cur;
      if (cur >= line1) return;
    }
    write_lines(line0, line1);
  }

  bool trailing_partial = false;
};

}  // namespace

std::string tabwrite(std::string_view text, size_t minwidth, size_t padding) {
  TabWriter tw;
  tw.minwidth = minwidth;
  tw.padding = padding;
  size_t i = 0;
  while (i < text.size()) {
    size_t nl = text.find('\n', i);
    std::string_view line =
        text.substr(i, nl == std::string_view::npos ? std::string_view::npos : nl - i);
    std::vector<std::string> cells;
    size_t k = 0;
    for (;;) {
      size_t tab = line.find('\t', k);
      if (tab == std::string_view::npos) {
        cells.emplace_back(line.substr(k));
        break;
      }
      cells.emplace_back(line.substr(k, tab - k));
      k = tab + 1;
    }
    tw.lines.push_back(std::move(cells));
    if (nl == std::string_view::npos) {
      tw.trailing_partial = true;
      break;
    }
    i = nl + 1;
  }
  tw.format(0, tw.lines.size());
  return tw.out;
}

FormatSpec parse_format(std::string_view format) {
  FormatSpec spec;
  if (format.starts_with("table")) {
    spec.table = true;
    format.remove_prefix(5);
  }
  while (!format.empty() && format.front() == ' ') format.remove_prefix(1);
  while (!format.empty() && format.back() == ' ') format.remove_suffix(1);
  std::string body;
  for (size_t i = 0; i < format.size(); i++) {
    if (format[i] == '\\' && i + 1 < format.size() &&
        (format[i + 1] == 't' || format[i + 1] == 'n')) {
      body += format[i + 1] == 't' ? '\t' : '\n';
      i++;
    } else {
      body += format[i];
    }
  }
  spec.body = std::move(body);
  return spec;
}

Result<std::string> render_rows(const FormatSpec& spec, const json& header,
                                const std::vector<json>& rows,
                                const std::vector<MethodHook>& hooks) {
  Template t = BERTH_TRY(Template::parse(spec.body));
  std::string text;
  if (spec.table) {
    MethodHook header_hook = [](std::string_view name,
                                const std::vector<json>& args) -> std::optional<json> {
      // {{.Label "com.example.tier"}}: docker's column title is the key's last dotted part.
      if (name == "Label" && args.size() == 1 && args[0].is_string()) {
        const std::string& key = args[0].get_ref<const std::string&>();
        return json(key.substr(key.rfind('.') == std::string::npos ? 0 : key.rfind('.') + 1));
      }
      std::string up(name);
      for (char& c : up) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      return json(up);
    };
    auto h = t.execute(header, header_hook);
    if (h) text += *h + "\n";
  }
  for (size_t i = 0; i < rows.size(); i++) {
    text += BERTH_TRY(t.execute(rows[i], i < hooks.size() ? hooks[i] : MethodHook())) + "\n";
  }
  return spec.table ? tabwrite(text) : text;
}

}  // namespace berth::cli
