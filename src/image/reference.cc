// Docker image references: the grammar of distribution/reference and docker's normalisation
// (ParseNormalizedNamed, ParseDockerRef, FamiliarString), hand-written rather than regex-based
// so that hostile input costs linear time.
//
//   reference := name [ ":" tag ] [ "@" digest ]
//   name      := [ domain "/" ] path
//   domain    := host [ ":" port ]       host: dns-ish labels, or an IPv6 address in brackets
//   path      := component ( "/" component )*
//   component := [a-z0-9]+ ( separator [a-z0-9]+ )*     separator: "." | "_" | "__" | "-"+
//   tag       := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
#include "image/reference.h"

namespace berth::image {
namespace {

constexpr size_t kMaxNameLength = 255;  // domain + "/" + path, as docker counts it
constexpr size_t kMaxTagLength = 128;
constexpr size_t kMaxInputLength = 4096;  // far beyond any valid reference
constexpr std::string_view kLegacyDefaultDomain = "index.docker.io";
constexpr std::string_view kOfficialPrefix = "library/";
constexpr std::string_view kInvalid = "invalid reference format";

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_alnum(char c) { return is_lower_alnum(c) || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool is_word(char c) { return is_alnum(c) || c == '_'; }

bool has_upper(std::string_view s) {
  for (char c : s)
    if (c >= 'A' && c <= 'Z') return true;
  return false;
}

// A DNS-ish label: alphanumerics, inner hyphens.
bool is_domain_component(std::string_view s) {
  if (s.empty() || !is_alnum(s.front()) || !is_alnum(s.back())) return false;
  for (char c : s)
    if (!is_alnum(c) && c != '-') return false;
  return true;
}

bool is_domain(std::string_view s) {
  std::string_view host = s, port;
  if (!s.empty() && s[0] == '[') {
    size_t close = s.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    for (char c : s.substr(1, close - 1))
      if (!is_hex(c) && c != ':') return false;
    host = {};
    std::string_view rest = s.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') return false;
      port = rest.substr(1);
      if (port.empty()) return false;
    }
  } else {
    size_t colon = s.find(':');
    if (colon != std::string_view::npos) {
      host = s.substr(0, colon);
      port = s.substr(colon + 1);
      if (port.empty()) return false;
    }
    if (host.empty()) return false;
    size_t start = 0;
    for (;;) {
      size_t dot = host.find('.', start);
      if (!is_domain_component(
              host.substr(start, dot == std::string_view::npos ? dot : dot - start)))
        return false;
      if (dot == std::string_view::npos) break;
      start = dot + 1;
    }
  }
  for (char c : port)
    if (!is_digit(c)) return false;
  return true;
}

// One path component: alphanumeric runs joined by ".", "_", "__" or any run of "-".
bool is_path_component(std::string_view s) {
  size_t i = 0;
  auto alnum_run = [&] {
    size_t start = i;
    while (i < s.size() && is_lower_alnum(s[i])) ++i;
    return i > start;
  };
  if (!alnum_run()) return false;
  while (i < s.size()) {
    char c = s[i];
    if (c == '.') {
      ++i;
    } else if (c == '_') {
      ++i;
      if (i < s.size() && s[i] == '_') ++i;
    } else if (c == '-') {
      while (i < s.size() && s[i] == '-') ++i;
    } else {
      return false;
    }
    if (!alnum_run()) return false;
  }
  return true;
}

bool is_path(std::string_view s) {
  size_t start = 0;
  for (;;) {
    size_t slash = s.find('/', start);
    if (!is_path_component(
            s.substr(start, slash == std::string_view::npos ? slash : slash - start)))
      return false;
    if (slash == std::string_view::npos) return true;
    start = slash + 1;
  }
}

bool is_tag(std::string_view s) {
  if (s.empty() || s.size() > kMaxTagLength || !is_word(s[0])) return false;
  for (char c : s)
    if (!is_word(c) && c != '.' && c != '-') return false;
  return true;
}

// The shape distribution/reference accepts before go-digest validates: an algorithm of letter-led
// alphanumeric parts joined by [-_+.], ":", and at least 32 hex digits.
bool is_digest_shape(std::string_view s) {
  size_t colon = s.find(':');
  if (colon == std::string_view::npos) return false;
  std::string_view alg = s.substr(0, colon), hex = s.substr(colon + 1);
  bool part_start = true;
  for (char c : alg) {
    bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (part_start) {
      if (!letter) return false;
      part_start = false;
    } else if (c == '-' || c == '_' || c == '+' || c == '.') {
      part_start = true;
    } else if (!letter && !is_digit(c)) {
      return false;
    }
  }
  if (alg.empty() || part_start) return false;
  if (hex.size() < 32) return false;
  for (char c : hex)
    if (!is_hex(c)) return false;
  return true;
}

bool is_hex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!is_digit(c) && !(c >= 'a' && c <= 'f')) return false;
  return true;
}

// docker's splitDockerDomain: the first component is a registry when it has a "." or ":", is
// "localhost", or has upper-case letters (namespaces never do); otherwise the name is on Docker
// Hub, where one-component names live under "library/".
void split_domain(std::string_view s, std::string& domain, std::string& remainder) {
  size_t slash = s.find('/');
  if (slash == std::string_view::npos) {
    domain = kDefaultDomain;
    remainder = std::string(kOfficialPrefix) + std::string(s);
    return;
  }
  std::string_view first = s.substr(0, slash), rest = s.substr(slash + 1);
  if (first == "localhost" || first.find_first_of(".:") != std::string_view::npos ||
      has_upper(first)) {
    domain = first == kLegacyDefaultDomain ? kDefaultDomain : first;
    remainder = rest;
  } else {
    domain = kDefaultDomain;
    remainder = s;
  }
  if (domain == kDefaultDomain && remainder.find('/') == std::string::npos)
    remainder.insert(0, kOfficialPrefix);
}

// "docker.io/library/busybox" -> "busybox", "docker.io/me/app" -> "me/app". Unlike docker,
// a Hub path whose first component would read as a registry ("docker.io/a.b/c",
// "docker.io/localhost/x") keeps its domain, so the familiar name names the same image.
std::string familiar_name(const Reference& r) {
  if (r.domain != kDefaultDomain) return r.name();
  std::string_view path = r.path;
  if (path.substr(0, kOfficialPrefix.size()) == kOfficialPrefix) {
    std::string_view rest = path.substr(kOfficialPrefix.size());
    if (rest.find('/') == std::string_view::npos) return std::string(rest);
  }
  std::string_view first = path.substr(0, path.find('/'));
  if (path.find('/') != std::string_view::npos &&
      (first == "localhost" || first.find('.') != std::string_view::npos))
    return r.name();
  return r.path;
}

}  // namespace

std::string Reference::name() const { return domain + "/" + path; }

std::string Reference::str() const {
  std::string out = name();
  if (!tag.empty()) out += ":" + tag;
  if (digest) out += "@" + digest->str();
  return out;
}

std::string Reference::familiar() const {
  std::string out = familiar_name(*this);
  if (!tag.empty()) out += ":" + tag;
  if (digest) out += "@" + digest->str();
  return out;
}

std::string Reference::object() const { return digest ? digest->str() : tag; }

std::string Reference::registry_host() const {
  return domain == kDefaultDomain ? "registry-1.docker.io" : domain;
}

Result<Reference> parse_reference(std::string_view s, bool add_default_tag) {
  auto invalid = [](std::string_view detail = {}) {
    std::string m(kInvalid);
    if (!detail.empty()) m += ": " + std::string(detail);
    return Error::invalid(std::move(m));
  };
  if (s.empty() || s.size() > kMaxInputLength) return invalid();
  if (is_hex64(s))
    return Error::invalid("invalid repository name (" + std::string(s) +
                          "), cannot specify 64-byte hexadecimal strings");

  Reference ref;
  std::string remainder;
  split_domain(s, ref.domain, remainder);

  // The repository part (before any tag or digest) must be lower-case; say so by name.
  std::string_view rest = remainder;
  size_t name_end = rest.find_first_of(":@");
  std::string_view path = rest.substr(0, name_end);
  if (has_upper(path)) {
    bool printable = true;
    for (char c : path)
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f)
        printable = false;
    if (printable && path.size() <= kMaxNameLength)
      return invalid("repository name (" + std::string(path) + ") must be lowercase");
    return invalid("repository name must be lowercase");
  }
  if (!is_domain(ref.domain)) {
    // A domain that only fails for its case reads better as docker's lower-case complaint.
    return has_upper(ref.domain) ? invalid("repository name must be lowercase") : invalid();
  }
  if (!is_path(path)) return invalid();
  ref.path = std::string(path);
  rest = name_end == std::string_view::npos ? std::string_view() : rest.substr(name_end);

  if (!rest.empty() && rest[0] == ':') {
    size_t at = rest.find('@');
    std::string_view tag = rest.substr(1, at == std::string_view::npos ? at : at - 1);
    if (!is_tag(tag)) return invalid();
    ref.tag = std::string(tag);
    rest = at == std::string_view::npos ? std::string_view() : rest.substr(at);
  }
  if (!rest.empty()) {
    std::string_view digest = rest.substr(1);  // rest[0] is '@'
    if (!is_digest_shape(digest)) return invalid();
    Result<Digest> d = Digest::parse(digest);
    if (!d) return invalid(d.error().message());
    ref.digest = std::move(*d);
  }

  if (ref.domain.size() + 1 + ref.path.size() > kMaxNameLength)
    return invalid("repository name must not be more than " + std::to_string(kMaxNameLength) +
                   " characters");
  if (ref.tag.empty() && !ref.digest && add_default_tag) ref.tag = kDefaultTag;
  return ref;
}

bool looks_like_id(std::string_view s) {
  size_t min = 12;
  if (s.substr(0, 7) == "sha256:") {
    s.remove_prefix(7);
    min = 1;
  }
  if (s.size() < min || s.size() > 64) return false;
  for (char c : s)
    if (!is_digit(c) && !(c >= 'a' && c <= 'f')) return false;
  return true;
}

}  // namespace berth::image
