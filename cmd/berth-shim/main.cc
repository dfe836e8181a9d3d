// berth-shim: one per container, started by berthd through shim::launch() (src/shim/client.h),
// never by hand. The command line is launch()'s, so it is parsed here by a few lines instead of
// CLI11: an idle shim should stay under 1 MiB of RSS, and every page of code it ever ran counts.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "shim/server.h"

namespace {

int usage(const char* why) {
  std::fprintf(stderr,
               "berth-shim: %s\n"
               "usage: berth-shim --id ID --bundle DIR --state-dir DIR --runtime BIN "
               "--runtime-root DIR [--runtime-arg ARG]... [--tty] [--stdin] [--log FILE "
               "[--log-max-size N] [--log-max-files N]] [--ready-fd FD]\n"
               "(berthd starts it; see docs/shim.md)\n",
               why);
  return 2;
}

bool to_number(const char* s, unsigned long long& out) {
  char* end = nullptr;
  errno = 0;
  out = std::strtoull(s, &end, 10);
  return errno == 0 && end != s && *end == '\0';
}

}  // namespace

int main(int argc, char** argv) {
  berth::shim::ServerOptions o;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--tty") {
      o.tty = true;
      continue;
    }
    if (a == "--stdin") {
      o.stdin = true;
      continue;
    }
    if (a == "--version") {
      std::printf("berth-shim version %s\n", BERTH_VERSION);
      return 0;
    }
    if (i + 1 >= argc) return usage(("missing value for " + a).c_str());
    const char* v = argv[++i];
    unsigned long long n = 0;
    if (a == "--id") {
      o.id = v;
    } else if (a == "--bundle") {
      o.bundle = v;
    } else if (a == "--state-dir") {
      o.state_dir = v;
    } else if (a == "--runtime") {
      o.runtime = v;
    } else if (a == "--runtime-root") {
      o.runtime_root = v;
    } else if (a == "--runtime-arg") {
      o.runtime_args.push_back(v);
    } else if (a == "--log") {
      o.log_path = v;
    } else if (a == "--log-max-size" && to_number(v, n)) {
      o.log_max_size = n;
    } else if (a == "--log-max-files" && to_number(v, n) && n >= 1 && n <= 1000) {
      o.log_max_files = static_cast<int>(n);
    } else if (a == "--ready-fd" && to_number(v, n) && n <= 1024) {
      o.ready_fd = static_cast<int>(n);
    } else {
      return usage(("bad argument " + a + " " + v).c_str());
    }
  }
  if (o.id.empty() || o.bundle.empty() || o.state_dir.empty() || o.runtime.empty() ||
      o.runtime_root.empty())
    return usage("--id, --bundle, --state-dir, --runtime and --runtime-root are required");
  return berth::shim::run_server(o);
}
