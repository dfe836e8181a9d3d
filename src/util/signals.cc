#include "util/signals.h"

#include <signal.h>

#include <cctype>
#include <charconv>
#include <string>

namespace berth {

namespace {

struct SignalName {
  const char* name;
  int number;
};
constexpr SignalName kSignals[] = {
    {"HUP", SIGHUP},       {"INT", SIGINT},   {"QUIT", SIGQUIT},     {"ILL", SIGILL},
    {"TRAP", SIGTRAP},     {"ABRT", SIGABRT}, {"IOT", SIGIOT},       {"BUS", SIGBUS},
    {"FPE", SIGFPE},       {"KILL", SIGKILL}, {"USR1", SIGUSR1},     {"SEGV", SIGSEGV},
    {"USR2", SIGUSR2},     {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},     {"TERM", SIGTERM},
    {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD}, {"CONT", SIGCONT},     {"STOP", SIGSTOP},
    {"TSTP", SIGTSTP},     {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},     {"URG", SIGURG},
    {"XCPU", SIGXCPU},     {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},
    {"WINCH", SIGWINCH},   {"IO", SIGIO},     {"POLL", SIGPOLL},     {"PWR", SIGPWR},
    {"SYS", SIGSYS},
};

std::optional<int> parse_int(std::string_view s) {
  int v = 0;
  if (s.empty()) return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

std::optional<int> signal_from_string(std::string_view s) {
  if (!s.empty() && std::isdigit(static_cast<unsigned char>(s[0]))) {
    auto n = parse_int(s);
    if (!n || *n <= 0 || *n > SIGRTMAX) return std::nullopt;
    return n;
  }
  std::string up(s);
  for (char& ch : up) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  std::string_view name = up;
  if (name.starts_with("SIG")) name.remove_prefix(3);
  for (const auto& sig : kSignals)
    if (name == sig.name) return sig.number;
  for (std::string_view base : {"RTMIN", "RTMAX"}) {
    if (!name.starts_with(base)) continue;
    std::string_view rest = name.substr(base.size());
    int number = base == "RTMIN" ? SIGRTMIN : SIGRTMAX;
    if (!rest.empty()) {
      auto off = parse_int(rest.substr(1));
      if (!off || (rest[0] != '+' && rest[0] != '-')) return std::nullopt;
      number += rest[0] == '+' ? *off : -*off;
    }
    if (number < SIGRTMIN || number > SIGRTMAX) return std::nullopt;
    return number;
  }
  return std::nullopt;
}

}  // namespace berth
