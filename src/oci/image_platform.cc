// Platforms: the host's, parsing "os/arch/variant", and picking a manifest from an index the
// way docker and containerd do (containerd's platforms.Only: an exact variant first, then the
// older variants the CPU also runs, best first).
#include <sys/utsname.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>

#include "oci/image.h"

namespace berth::oci::image {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// "v7" or "7" -> 7; nullopt for anything else.
std::optional<int> variant_number(std::string_view v) {
  if (starts_with(v, "v")) v.remove_prefix(1);
  if (v.empty() || v.size() > 3) return std::nullopt;
  int n = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || end != v.data() + v.size()) return std::nullopt;
  return n;
}

// Maps an architecture alias to Go's name; an alias that implies a variant sets it when none
// was given. Returns false when `arch` is not a name berth knows (it is kept as it is).
bool map_arch_alias(std::string& arch, std::string& variant) {
  auto set = [&](const char* a, const char* implied) {
    arch = a;
    if (variant.empty()) variant = implied;
    return true;
  };
  if (arch == "amd64" || arch == "x86_64" || arch == "x86-64") return set("amd64", "");
  if (arch == "386" || arch == "i386" || arch == "i486" || arch == "i586" || arch == "i686" ||
      arch == "x86")
    return set("386", "");
  if (arch == "arm64" || arch == "aarch64") return set("arm64", "");
  if (arch == "arm") return set("arm", "");
  if (arch == "armhf") return set("arm", "v7");
  if (arch == "armel") return set("arm", "v6");
  static constexpr std::string_view kOthers[] = {"ppc64le", "ppc64",  "s390x",  "riscv64",
                                                 "mips",    "mipsle", "mips64", "mips64le",
                                                 "loong64", "wasm"};
  return std::find(std::begin(kOthers), std::end(kOthers), arch) != std::end(kOthers);
}

bool is_known_os(std::string_view os) {
  static constexpr std::string_view kOses[] = {
      "linux",   "windows", "darwin", "freebsd", "netbsd", "openbsd", "dragonfly", "solaris",
      "illumos", "aix",     "plan9",  "android", "ios",    "js",      "wasip1"};
  return std::find(std::begin(kOses), std::end(kOses), os) != std::end(kOses);
}

// The variants, best first, that an image may have to run on `want` (normalised). Entries are
// normalised too, so they compare with a normalised candidate's variant directly.
std::vector<std::string> acceptable_variants(const Platform& want) {
  std::vector<std::string> out{want.variant};
  std::optional<int> n = variant_number(want.variant);
  if (want.architecture == "arm" && n) {
    for (int v = *n - 1; v >= 5; --v) out.push_back("v" + std::to_string(v));
  } else if (want.architecture == "amd64" && n) {
    for (int v = *n - 1; v >= 2; --v) out.push_back("v" + std::to_string(v));
    out.push_back("");  // v1
  } else if (want.architecture == "arm64" && !want.variant.empty()) {
    // "v8.2" runs v8.1 and v8; "v9.1" runs v9, then v8.6 (v9.0 branched from v8.5) down to v8.
    std::string_view v = want.variant;
    size_t dot = v.find('.');
    std::optional<int> major = variant_number(v.substr(0, dot));
    std::optional<int> minor =
        dot == std::string_view::npos ? 0 : variant_number(v.substr(dot + 1));
    if (major && minor && (*major == 8 || *major == 9)) {
      int m = *minor;
      if (*major == 9) {
        for (int k = m - 1; k >= 0; --k) out.push_back(k == 0 ? "v9" : "v9." + std::to_string(k));
        m += 5;
        out.push_back("v8." + std::to_string(m));
      }
      for (int k = m - 1; k >= 1; --k) out.push_back("v8." + std::to_string(k));
      out.push_back("");  // v8
    }
  }
  return out;
}

// Position of `have` in the preference order for `want`, or nullopt if it does not run there.
std::optional<size_t> preference(const Platform& want, const Platform& have_raw) {
  Platform have = normalize_platform(have_raw);
  if (have.os != want.os || have.architecture != want.architecture) return std::nullopt;
  std::vector<std::string> variants = acceptable_variants(want);
  auto it = std::find(variants.begin(), variants.end(), have.variant);
  if (it == variants.end()) return std::nullopt;
  return static_cast<size_t>(it - variants.begin());
}

}  // namespace

Platform platform_for_machine(std::string_view machine) {
  Platform p;
  p.os = "linux";
  std::string m = lower(machine);
  if (m == "x86_64" || m == "amd64") {
    p.architecture = "amd64";
  } else if (m == "i386" || m == "i486" || m == "i586" || m == "i686") {
    p.architecture = "386";
  } else if (m == "aarch64" || m == "arm64" || m == "aarch64_be") {
    p.architecture = "arm64";
    p.variant = "v8";
  } else if (starts_with(m, "armv")) {
    // armv5tel, armv6l, armv7l, armv8l (a 32-bit process on a 64-bit CPU).
    p.architecture = "arm";
    std::optional<int> n = variant_number(m.substr(3, 2));
    p.variant = n ? "v" + std::to_string(*n) : "v7";
  } else if (m == "arm") {
    p.architecture = "arm";
    p.variant = "v7";
  } else if (m == "loongarch64") {
    p.architecture = "loong64";
  } else if (m == "mips64el") {
    p.architecture = "mips64le";
  } else if (m == "mipsel") {
    p.architecture = "mipsle";
  } else {
    p.architecture = m;  // ppc64le, s390x, riscv64, ppc64, mips64, mips: Go uses uname's name
  }
  return p;
}

Platform host_platform() {
  static const Platform kHost = [] {
    struct utsname u {};
    if (uname(&u) == 0) return platform_for_machine(u.machine);
#if defined(__x86_64__)
    return platform_for_machine("x86_64");
#elif defined(__aarch64__)
    return platform_for_machine("aarch64");
#else
    return platform_for_machine("unknown");
#endif
  }();
  return kHost;
}

Platform normalize_platform(const Platform& p) {
  Platform out = p;
  out.os = lower(p.os);
  if (out.os == "macos") out.os = "darwin";
  out.architecture = lower(p.architecture);
  out.variant = lower(p.variant);
  map_arch_alias(out.architecture, out.variant);
  if (std::optional<int> n = variant_number(out.variant); n && !starts_with(out.variant, "v"))
    out.variant = "v" + out.variant;  // "7" -> "v7"
  if (out.architecture == "arm") {
    if (out.variant.empty()) out.variant = "v7";
  } else if (out.architecture == "arm64") {
    if (out.variant == "v8" || out.variant == "v8.0") out.variant.clear();
  } else if (out.architecture == "amd64") {
    if (out.variant == "v1") out.variant.clear();
  }
  return out;
}

bool platform_matches(const Platform& want, const Platform& have) {
  return preference(normalize_platform(want), have).has_value();
}

Result<Descriptor> select_platform(const Index& index, const Platform& want) {
  Platform w = normalize_platform(want);
  const Descriptor* best = nullptr;
  size_t best_rank = 0;
  const Descriptor* without_platform = nullptr;
  std::vector<std::string> available;
  for (const Descriptor& d : index.manifests) {
    if (!d.platform) {
      DocumentKind kind = document_kind(d.media_type);
      if (!without_platform && (kind == DocumentKind::Manifest || kind == DocumentKind::Index))
        without_platform = &d;
      continue;
    }
    if (d.platform->os != "unknown" && d.platform->architecture != "unknown") {
      std::string s = platform_string(*d.platform);
      if (std::find(available.begin(), available.end(), s) == available.end())
        available.push_back(std::move(s));
    }
    std::optional<size_t> rank = preference(w, *d.platform);
    if (rank && (!best || *rank < best_rank)) {
      best = &d;
      best_rank = *rank;
    }
  }
  if (best) return *best;
  if (without_platform) return *without_platform;
  std::string list;
  for (const std::string& s : available) list += (list.empty() ? "" : ", ") + s;
  if (list.empty()) list = "none";
  return Error::not_found("no matching manifest for " + platform_string(want) +
                          " in the manifest list entries (available: " + list + ")");
}

namespace {

// `s` cut to 128 bytes, with bytes that are not printable ASCII (and quotes) shown as '?'.
std::string printable(std::string_view s) {
  std::string out(s.substr(0, 128));
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f || c == '"')
      c = '?';
  return out;
}

}  // namespace

Result<Platform> parse_platform(std::string_view s) {
  auto fail = [&](std::string_view why) {
    return Error::invalid("invalid platform \"" + printable(s) + "\": " + std::string(why));
  };
  if (s.empty()) return fail("empty");
  if (s.size() > 255) return fail("too long");
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    size_t slash = s.find('/', start);
    parts.push_back(
        lower(s.substr(start, slash == std::string_view::npos ? slash : slash - start)));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  if (parts.size() > 3) return fail("want os[/arch[/variant]]");
  for (const std::string& part : parts) {
    if (part.empty()) return fail("empty component");
    for (char c : part)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.')
        return fail("invalid character in \"" + printable(part) + "\"");
  }
  Platform p;
  if (parts.size() == 1) {
    if (is_known_os(parts[0])) {
      Platform host = host_platform();
      p.os = parts[0];
      p.architecture = host.architecture;
      p.variant = host.variant;
      return p;
    }
    p.os = "linux";
    p.architecture = parts[0];
    if (!map_arch_alias(p.architecture, p.variant))
      return fail("unknown operating system or architecture");
    return p;
  }
  p.os = parts[0] == "macos" ? "darwin" : parts[0];
  p.architecture = parts[1];
  if (parts.size() == 3) p.variant = parts[2];
  map_arch_alias(p.architecture, p.variant);
  return p;
}

std::string platform_string(const Platform& p) {
  std::string out = p.os + "/" + p.architecture;
  if (!p.variant.empty()) out += "/" + p.variant;
  return out;
}

}  // namespace berth::oci::image
