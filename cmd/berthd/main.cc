// berthd: the berth daemon. Parses its options, opens the engine, serves the Docker Engine API
// until SIGTERM/SIGINT. Containers keep running under their shims when berthd stops.
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <thread>

#include "api/http.h"
#include "api/http_transport.h"
#include "api/routes.h"
#include "engine/engine.h"
#include "engine/events.h"
#include "engine/seccomp_profile.h"
#include "options.h"
#include "util/fd.h"
#include "util/log.h"

using namespace berth;

namespace {

int fail(const Error& e) {
  log::error(e.what());  // the log is stderr, "berthd: <message>"
  return 1;
}

// The PID file; refused when it names a live process.
Result<void> write_pidfile(const std::string& path) {
  if (auto old = read_file(path, 64); old) {
    pid_t pid = static_cast<pid_t>(atoi(old->c_str()));
    if (pid > 0 && pid != getpid() && kill(pid, 0) == 0)
      return Error::conflict("pid file found, ensure berthd is not running or delete " + path);
  }
  return write_file_atomic(path, std::to_string(getpid()) + "\n", 0644, false);
}

// Refuses early (before the engine touches the data root) when a daemon answers on a socket.
Result<void> check_sockets_free(const std::vector<std::string>& hosts) {
  for (const auto& h : hosts) {
    if (!h.starts_with("unix://")) continue;
    std::string path = h.substr(7);
    sockaddr_un addr{};
    if (path.size() >= sizeof addr.sun_path) continue;
    addr.sun_family = AF_UNIX;
    memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (fd && connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0)
      return Error::conflict("another berthd is listening on " + path);
  }
  return ok();
}

// Unreadable or mismatched TLS files are refused before the engine touches the data root.
Result<void> check_tls(const berthd::Options& o) {
  bool any_tcp = false;
  for (const auto& h : o.hosts) any_tcp = any_tcp || h.starts_with("tcp://");
  if (!any_tcp || !o.tls_verify) return ok();
  return api::check_tls_files(o.tls_cert, o.tls_key, o.tls_ca);
}

// --seccomp-profile: "builtin"/"unconfined" as they are, a file read and checked now (a bad
// profile stops the daemon at start, as dockerd's, not every later create).
Result<std::string> load_seccomp_profile(const std::string& choice) {
  if (choice.empty() || choice == "builtin" || choice == "default") return std::string();
  if (choice == "unconfined") return choice;
  std::string text = BERTH_TRY_CTX(read_file(choice, 1 << 20), "opening seccomp profile " + choice);
  BERTH_TRY_CTX(engine::seccomp::resolve_profile(text, engine::seccomp::Target::host({})),
                "loading seccomp profile " + choice);
  return text;
}

// Each connection holds a descriptor, each container's shim streams a few more: the soft limit
// (often 1024) is raised to the hard one, as dockerd does.
void raise_nofile_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= rl.rlim_max) return;
  rl.rlim_cur = rl.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
    log::warn("could not raise the open files limit: " + std::string(strerror(errno)));
}

sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

}  // namespace

int main(int argc, char** argv) {
  auto parsed = berthd::parse_options(argc, argv);
  if (!parsed) {
    std::cerr << "berthd: " << parsed.error().what() << "\n";
    return 1;
  }
  if (parsed->exit_code) return *parsed->exit_code;
  const berthd::Options& o = parsed->options;
  log::set_program("berthd");
  log::configure("", log::Format::Text, o.log_level);
  signal(SIGPIPE, SIG_IGN);
  raise_nofile_limit();
  // Every thread inherits the mask; one thread waits for the stop signals.
  sigset_t sigs = stop_signals();
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  if (auto r = check_sockets_free(o.hosts); !r) return fail(r.error());
  if (auto r = check_tls(o); !r) return fail(r.error());
  auto seccomp_profile = load_seccomp_profile(o.seccomp_profile);
  if (!seccomp_profile) return fail(seccomp_profile.error());
  if (mkdir(o.exec_root.c_str(), 0711) != 0 && errno != EEXIST)
    return fail(Error::sys("create exec root \"" + o.exec_root + "\""));
  if (auto r = write_pidfile(o.pidfile); !r) return fail(r.error());

  engine::Config cfg;
  cfg.data_root = o.data_root;
  cfg.exec_root = o.exec_root;
  cfg.runtimes = o.runtimes;
  if (!o.default_runtime.empty()) cfg.default_runtime = o.default_runtime;
  cfg.insecure_registries = o.insecure_registries;
  cfg.log_max_size = o.log_max_size;
  cfg.log_max_files = o.log_max_files;
  cfg.seccomp_profile = *seccomp_profile;
  if (!seccomp_profile->empty() && *seccomp_profile != "unconfined")
    cfg.seccomp_profile_path = o.seccomp_profile;  // a file was read
  auto eng = engine::Engine::open(cfg);
  if (!eng) {
    unlink(o.pidfile.c_str());
    return fail(eng.error());
  }

  api::ServerOptions so;
  so.hosts = o.hosts;
  so.socket_group = o.group;
  if (o.tls_verify) {
    so.tls_ca = o.tls_ca;
    so.tls_cert = o.tls_cert;
    so.tls_key = o.tls_key;
  }
  so.server_version = BERTH_VERSION;
  auto server = api::Server::listen(so, api::all_routes(**eng));
  if (!server) {
    (*eng)->shutdown();
    unlink(o.pidfile.c_str());
    return fail(server.error());
  }
  std::atomic<bool> signalled{false};
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&sigs, &sig);
    signalled = true;
    log::info(std::string("received ") + strsignal(sig) + ", stopping (containers keep running)");
    (*server)->stop();
    (*eng)->events().close_all();
  });
  std::string listening;
  for (const auto& h : o.hosts) listening += (listening.empty() ? "" : ", ") + h;
  log::info("API listening on " + listening);
  (*server)->run();
  if (!signalled) kill(getpid(), SIGTERM);  // run() failed: release the waiter
  waiter.join();
  (*eng)->shutdown();
  server->reset();
  unlink(o.pidfile.c_str());
  log::info("berthd stopped");
  return 0;
}
