// berth-runtime: an OCI runtime with runc's command line. This file only parses arguments
// and calls src/runtime; each verb has one small function here.
#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>

#include "oci/spec.h"
#include "runtime/container.h"
#include "util/fd.h"
#include "util/log.h"

using namespace berth;

namespace {

struct Cli {
  runtime::Globals g;
  std::string log_path, log_format = "text";
  // create/run
  runtime::CreateOptions create;
  // spec
  bool rootless = false;
  std::string spec_bundle = ".";
  // kill/delete/list/ps
  bool all = false, force = false, quiet = false;
  std::string format = "table";
  std::vector<std::string> positional;
  runtime::ExecOptions exec;
  // update
  std::string resources_file, memory, memory_reservation, memory_swap, cpuset_cpus, cpuset_mems;
  std::optional<uint64_t> cpu_shares, cpu_period, cpu_rt_period;
  std::optional<int64_t> cpu_quota, cpu_rt_runtime, pids_limit;
  std::optional<uint16_t> blkio_weight;
  // events
  bool stats = false;
  std::string interval = "5s";
};

bool g_logging_to_file = false;

// The error goes to the log (JSON for engines that parse it) and, like runc, also to stderr,
// which is what engines show for some commands (docker's `update`).
int fail(const Error& e) {
  log::error(e.what());
  if (g_logging_to_file) std::cerr << "berth-runtime: " << e.what() << "\n";
  return 1;
}

// Go's flag package (and so runc's callers) accept "-name" for "--name"; so do we.
std::vector<std::string> normalize_args(int argc, char** argv) {
  static const std::set<std::string> kLong = {
      "root",         "log",      "log-format",     "debug",        "systemd-cgroup",
      "bundle",       "pid-file", "console-socket", "no-pivot",     "no-new-keyring",
      "preserve-fds", "detach",   "keep",           "rootless",     "force",
      "all",          "quiet",    "format",         "process",      "tty",
      "env",          "cwd",      "user",           "cap",          "additional-gids",
      "no-new-privs", "version",  "help",           "no-subreaper", "criu"};
  std::vector<std::string> out;
  bool stop = false;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (!stop && a.size() > 2 && a[0] == '-' && a[1] != '-') {
      std::string name =
          a.substr(1, a.find('=') == std::string::npos ? std::string::npos : a.find('=') - 1);
      if (kLong.count(name)) a = "-" + a;
    }
    if (a == "--") stop = true;
    out.push_back(a);
  }
  std::reverse(out.begin(), out.end());  // CLI11 parses a reversed vector
  return out;
}

// `exec [flags] <id> <command> [args...]`: everything after the id belongs to the command,
// flags included (`sh -c ...`), so it is cut off before CLI11 parses. `rev` is reversed.
void split_exec_command(std::vector<std::string>& rev, std::vector<std::string>& command) {
  static const std::set<std::string> kTakesValue = {"--root",
                                                    "--log",
                                                    "--log-format",
                                                    "--criu",
                                                    "--console-socket",
                                                    "--cwd",
                                                    "-e",
                                                    "--env",
                                                    "-u",
                                                    "--user",
                                                    "-g",
                                                    "--additional-gids",
                                                    "-p",
                                                    "--process",
                                                    "--pid-file",
                                                    "-c",
                                                    "--cap",
                                                    "--preserve-fds",
                                                    "--process-label",
                                                    "--apparmor",
                                                    "--cgroup"};
  std::vector<std::string> a(rev.rbegin(), rev.rend());
  size_t i = 0;
  for (; i < a.size() && a[i] != "exec"; i++)  // global flags, then the verb
    if (kTakesValue.count(a[i])) i++;
  if (i >= a.size()) return;
  for (i++; i < a.size(); i++) {
    if (a[i] == "--") {
      a.erase(a.begin() + static_cast<long>(i));
      break;
    }
    if (a[i].size() > 1 && a[i][0] == '-') {
      if (kTakesValue.count(a[i]) && a[i].find('=') == std::string::npos) i++;
      continue;
    }
    break;  // the container id
  }
  if (i >= a.size()) return;
  command.assign(a.begin() + static_cast<long>(i) + 1, a.end());
  a.resize(i + 1);
  rev.assign(a.rbegin(), a.rend());
}

// "512m", "1g", "1048576", "-1" -> bytes (docker's RAMInBytes units, binary multiples).
Result<int64_t> parse_bytes(const std::string& flag, const std::string& v) {
  if (v == "-1") return -1;
  char* end;
  errno = 0;
  double n = strtod(v.c_str(), &end);
  std::string unit(end);
  for (auto& ch : unit) ch = static_cast<char>(tolower(static_cast<unsigned char>(ch)));
  if (!unit.empty() && unit.back() == 'b') unit.pop_back();
  double mul = unit.empty()  ? 1
               : unit == "k" ? 1024.0
               : unit == "m" ? 1048576.0
               : unit == "g" ? 1073741824.0
               : unit == "t" ? 1099511627776.0
                             : -1;
  if (end == v.c_str() || errno || mul < 0 || n < 0 || n * mul > 9.2e18)
    return Error::invalid(flag + ": invalid size " + v);
  return static_cast<int64_t>(n * mul);
}

// "5s", "500ms", "1m" -> milliseconds.
Result<int> parse_interval(const std::string& v) {
  char* end;
  double n = strtod(v.c_str(), &end);
  std::string unit(end);
  double mul = unit == "ms" ? 1 : unit == "s" || unit.empty() ? 1000 : unit == "m" ? 60000 : -1;
  if (end == v.c_str() || mul < 0 || n <= 0 || n * mul > 86400000)
    return Error::invalid("--interval: invalid duration " + v);
  return static_cast<int>(n * mul);
}

Result<oci::Resources> update_resources(const Cli& c) {
  if (!c.resources_file.empty()) {
    std::string text;
    if (c.resources_file == "-")
      text = BERTH_TRY(read_all(0, 4 << 20));
    else
      text = BERTH_TRY(read_file(c.resources_file, 4 << 20));
    return oci::parse_resources(text);
  }
  oci::Resources r;
  oci::Resources::Memory m;
  if (!c.memory.empty()) m.limit = BERTH_TRY(parse_bytes("--memory", c.memory));
  if (!c.memory_reservation.empty())
    m.reservation = BERTH_TRY(parse_bytes("--memory-reservation", c.memory_reservation));
  if (!c.memory_swap.empty()) m.swap = BERTH_TRY(parse_bytes("--memory-swap", c.memory_swap));
  if (m.limit || m.reservation || m.swap) r.memory = m;
  oci::Resources::Cpu cpu;
  cpu.shares = c.cpu_shares;
  cpu.period = c.cpu_period;
  cpu.quota = c.cpu_quota;
  cpu.realtime_period = c.cpu_rt_period;
  cpu.realtime_runtime = c.cpu_rt_runtime;
  cpu.cpus = c.cpuset_cpus;
  cpu.mems = c.cpuset_mems;
  if (cpu.shares || cpu.period || cpu.quota || cpu.realtime_period || cpu.realtime_runtime ||
      !cpu.cpus.empty() || !cpu.mems.empty())
    r.cpu = cpu;
  r.pids_limit = c.pids_limit;
  if (c.blkio_weight) r.block_io = oci::Resources::BlockIo{.weight = c.blkio_weight};
  return r;
}

// The verb of a (reversed) argument vector: the first word that is not a global flag or its
// value; empty if none, or if it is not one of ours (then every subcommand is built, so
// CLI11 can list them or name the mistake).
std::string find_verb(const std::vector<std::string>& rev) {
  static const std::set<std::string> kValued = {"--root", "--log", "--log-format", "--criu"};
  static const std::set<std::string> kVerbs = {"create", "run",    "start",  "state", "kill",
                                               "delete", "list",   "ps",     "spec",  "features",
                                               "exec",   "update", "events", "pause", "resume"};
  for (size_t i = rev.size(); i-- > 0;) {
    const std::string& a = rev[i];
    if (kValued.count(a)) {
      if (i > 0) i--;
      continue;
    }
    if (!a.empty() && a[0] == '-') {
      if (a == "-h" || a == "--help") return {};
      continue;
    }
    return kVerbs.count(a) ? a : std::string();
  }
  return {};
}

std::string table_cell(const std::string& s, size_t width) {
  return s + std::string(width > s.size() ? width - s.size() : 0, ' ');
}

int cmd_list(Cli& c) {
  auto l = runtime::list(c.g);
  if (!l) return fail(l.error());
  if (c.quiet) {
    for (auto& s : *l) std::cout << s.id << "\n";
    return 0;
  }
  if (c.format == "json") {
    nlohmann::json a = nlohmann::json::array();
    for (auto& s : *l) {
      nlohmann::json j = {{"ociVersion", oci::kSpecVersion},
                          {"id", s.id},
                          {"pid", s.pid},
                          {"status", s.status},
                          {"bundle", s.bundle},
                          {"rootfs", ""},
                          {"created", s.created},
                          {"owner", s.owner}};
      if (!s.annotations.empty()) j["annotations"] = s.annotations;
      a.push_back(j);
    }
    std::cout << a.dump() << "\n";
    return 0;
  }
  if (c.format != "table") return fail(Error::invalid("invalid format option: " + c.format));
  std::vector<std::vector<std::string>> rows = {
      {"ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"}};
  for (auto& s : *l)
    rows.push_back({s.id, std::to_string(s.pid), s.status, s.bundle, s.created, s.owner});
  std::vector<size_t> w(6, 12);
  for (auto& r : rows)
    for (size_t i = 0; i < 6; i++) w[i] = std::max(w[i], r[i].size() + 3);
  for (auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < 6; i++) line += i == 5 ? r[i] : table_cell(r[i], w[i]);
    std::cout << line << "\n";
  }
  return 0;
}

int cmd_ps(Cli& c) {
  if (c.positional.empty()) return fail(Error::invalid("ps: container id required"));
  auto p = runtime::pids(c.g, c.positional[0]);
  if (!p) return fail(p.error());
  if (c.format == "json") {
    std::cout << nlohmann::json(*p).dump() << "\n";
    return 0;
  }
  if (c.format != "table") return fail(Error::invalid("invalid format option: " + c.format));
  // Like runc: run ps(1) with the given options (default -ef) and keep the container's lines.
  std::string cmd = "ps";
  if (c.positional.size() > 1)
    for (size_t i = 1; i < c.positional.size(); i++) cmd += " '" + c.positional[i] + "'";
  else
    cmd += " -ef";
  FILE* f = ::popen(cmd.c_str(), "r");
  if (!f) return fail(Error::sys("run ps"));
  char line[8192];
  int pid_col = -1;
  bool header = true;
  std::set<pid_t> want(p->begin(), p->end());
  while (fgets(line, sizeof line, f)) {
    std::string l = line;
    std::vector<std::string> fields;
    size_t i = 0;
    while (i < l.size()) {
      while (i < l.size() && isspace(static_cast<unsigned char>(l[i]))) i++;
      size_t j = i;
      while (j < l.size() && !isspace(static_cast<unsigned char>(l[j]))) j++;
      if (j > i) fields.push_back(l.substr(i, j - i));
      i = j;
    }
    if (header) {
      for (size_t k = 0; k < fields.size(); k++)
        if (fields[k] == "PID") pid_col = static_cast<int>(k);
      header = false;
      std::cout << l;
      if (pid_col < 0) {
        ::pclose(f);
        return fail(Error::invalid("couldn't find PID field in ps output"));
      }
      continue;
    }
    if (static_cast<int>(fields.size()) > pid_col && want.count(atoi(fields[pid_col].c_str())))
      std::cout << l;
  }
  ::pclose(f);
  return 0;
}

int cmd_spec(Cli& c) {
  std::string path = c.spec_bundle + "/config.json";
  if (::access(path.c_str(), F_OK) == 0)
    return fail(Error::conflict("File " + path + " exists. Remove it first"));
  oci::Spec s = oci::default_spec(c.rootless, ::getuid(), ::getgid());
  // Like runc: a cgroup namespace by default only on cgroup v2 hosts.
  if (s.linux && ::access("/sys/fs/cgroup/cgroup.controllers", F_OK) != 0)
    std::erase_if(s.linux->namespaces,
                  [](const oci::Namespace& n) { return n.type == oci::NamespaceType::Cgroup; });
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666));
  if (!fd) return fail(Error::sys("create " + path));
  auto r = write_all(fd.get(), oci::to_json(s, 4) + "\n");
  if (!r) return fail(r.error());
  return 0;
}

// `create` and `run` start every container, and CLI11's set-up alone costs ~0.15 ms of a
// cold process there. So their usual spellings are read here: --name value, --name=value,
// -b value, the flags, one id, in any order after the verb. Anything else (help, a repeated
// option, a value that looks like a flag, an unknown name) returns false and the whole
// command line goes to CLI11, so behaviour and errors stay CLI11's. `a` is in order.
bool parse_start_fast(const std::vector<std::string>& a, Cli& c, std::string& verb) {
  std::vector<std::string_view> seen;  // by first name: each option or flag at most once
  auto once = [&](std::string_view n) {
    if (std::find(seen.begin(), seen.end(), n) != seen.end()) return false;
    seen.push_back(n);
    return true;
  };
  using Names = std::initializer_list<std::string_view>;
  // 1: a[i] was one of `names` and `out` has its value; 0: not this option; -1: give up.
  auto value = [&](size_t& i, Names names, std::string& out) -> int {
    const std::string& t = a[i];
    for (std::string_view n : names) {
      if (t == n) {
        if (i + 1 >= a.size() || !once(*names.begin()) || a[i + 1].empty() || a[i + 1][0] == '-')
          return -1;
        out = a[++i];
        return 1;
      }
      if (n.size() > 2 && n[1] == '-' && t.size() > n.size() && t.compare(0, n.size(), n) == 0 &&
          t[n.size()] == '=') {
        if (!once(*names.begin())) return -1;
        out = t.substr(n.size() + 1);
        return 1;
      }
    }
    return 0;
  };
  auto flag = [&](const std::string& t, Names names, bool& out) -> int {
    for (std::string_view n : names)
      if (t == n) {
        if (!once(*names.begin())) return -1;
        out = true;
        return 1;
      }
    return 0;
  };
  size_t i = 0;
  std::string ignored;
  bool rootless = false;
  for (; i < a.size() && !a[i].empty() && a[i][0] == '-'; i++) {
    int r = value(i, {"--root"}, c.g.root);
    if (!r) r = value(i, {"--log"}, c.log_path);
    if (!r) r = value(i, {"--log-format"}, c.log_format);
    if (!r) r = value(i, {"--criu"}, ignored);
    if (!r) r = flag(a[i], {"--debug"}, c.g.debug);
    if (!r) r = flag(a[i], {"--systemd-cgroup"}, c.g.systemd_cgroup);
    if (!r) r = flag(a[i], {"--rootless"}, rootless);
    if (r != 1) return false;
  }
  if (c.log_format != "text" && c.log_format != "json") return false;
  if (i >= a.size() || (a[i] != "run" && a[i] != "create")) return false;
  verb = a[i++];
  bool run = verb == "run", have_id = false, no_subreaper = false;
  std::string preserve;
  for (; i < a.size(); i++) {
    const std::string& t = a[i];
    if (t.empty() || t == "-" || t == "--") return false;
    if (t[0] != '-') {
      if (have_id) return false;
      c.create.id = t;
      have_id = true;
      continue;
    }
    int r = value(i, {"--bundle", "-b"}, c.create.bundle);
    if (!r) r = value(i, {"--pid-file"}, c.create.pid_file);
    if (!r) r = value(i, {"--console-socket"}, c.create.console_socket);
    if (!r) r = value(i, {"--preserve-fds"}, preserve);
    if (!r) r = flag(t, {"--no-pivot"}, c.create.no_pivot);
    if (!r) r = flag(t, {"--no-new-keyring"}, c.create.no_new_keyring);
    if (!r) r = flag(t, {"--no-subreaper"}, no_subreaper);
    if (!r && run) r = flag(t, {"--detach", "-d"}, c.create.detach);
    if (!r && run) r = flag(t, {"--keep"}, c.create.keep);
    if (r != 1) return false;
  }
  if (!preserve.empty()) {
    if (preserve.size() > 9 || preserve.find_first_not_of("0123456789") != std::string::npos)
      return false;
    c.create.preserve_fds = atoi(preserve.c_str());
  }
  return have_id;
}

// Log set-up from the parsed flags, for every verb.
void configure_logging(const Cli& c) {
  log::Format fmt = c.log_format == "json" ? log::Format::Json : log::Format::Text;
  if (!log::configure(c.log_path, fmt, c.g.debug ? log::Level::Debug : log::Level::Info))
    std::cerr << "berth-runtime: cannot open log file " << c.log_path << "\n";
  else
    g_logging_to_file = !c.log_path.empty();
}

int create_or_run(Cli& c, bool run) {
  if (c.g.systemd_cgroup) return fail(Error::unsupported("--systemd-cgroup is not supported yet"));
  if (!run) {
    auto r = runtime::create(c.g, c.create);
    return r ? 0 : fail(r.error());
  }
  auto r = runtime::run(c.g, c.create);
  return r ? *r : fail(r.error());
}

}  // namespace

int main(int argc, char** argv) {
  log::set_program("berth-runtime");
  {
    std::vector<std::string> in_order = normalize_args(argc, argv);
    std::reverse(in_order.begin(), in_order.end());
    Cli fast;
    std::string verb;
    if (parse_start_fast(in_order, fast, verb)) {
      configure_logging(fast);
      // The start path ends here: _exit skips the exit handlers and static destructors
      // (~0.08 ms), which have nothing to do after create/run (the log is written with
      // write(2); stdout is flushed here).
      int rc = create_or_run(fast, verb == "run");
      std::cout.flush();
      std::fflush(nullptr);
      ::_exit(rc);
    }
  }
  Cli c;
  CLI::App app{"berth-runtime: an OCI runtime (runc-compatible command line)", "berth-runtime"};
  app.set_version_flag("-v,--version", std::string("berth-runtime version ") + BERTH_VERSION +
                                           "\nspec: " + oci::kSpecVersion);
  app.require_subcommand(1);
  app.add_option("--root", c.g.root, "root directory for storage of container state")
      ->capture_default_str();
  app.add_option("--log", c.log_path, "log file (default: stderr)");
  app.add_option("--log-format", c.log_format, "log format: text or json")
      ->check(CLI::IsMember({"text", "json"}));
  app.add_flag("--debug", c.g.debug, "enable debug logging");
  app.add_flag("--systemd-cgroup", c.g.systemd_cgroup, "use systemd for cgroups (not supported)");
  app.add_flag("--rootless")->description("accepted for compatibility");
  app.add_option("--criu", "accepted for compatibility");

  auto add_create_flags = [&](CLI::App* s) {
    s->add_option("-b,--bundle", c.create.bundle, "path to the bundle directory")
        ->capture_default_str();
    s->add_option("--pid-file", c.create.pid_file, "file to write the container init's pid to");
    s->add_option("--console-socket", c.create.console_socket,
                  "unix socket that receives the pty master (SCM_RIGHTS)");
    s->add_flag("--no-pivot", c.create.no_pivot, "use MS_MOVE + chroot instead of pivot_root");
    s->add_flag("--no-new-keyring", c.create.no_new_keyring, "keep the caller's session keyring");
    s->add_option("--preserve-fds", c.create.preserve_fds, "number of extra fds (from 3) to pass");
    s->add_flag("--no-subreaper")->description("accepted for compatibility");
    s->add_option("id", c.create.id, "container id")->required();
  };
  // Only the subcommand being run is built (all of them for help or an unknown one): CLI11
  // builds every option object up front, which costs more than parsing.
  std::vector<std::string> args = normalize_args(argc, argv);
  split_exec_command(args, c.exec.args);
  std::string verb = find_verb(args);
  auto want = [&](std::string_view name) { return verb.empty() || verb == name; };
  CLI::App* create = nullptr;
  if (want("create")) {
    create = app.add_subcommand("create", "create a container (the process waits for start)");
    add_create_flags(create);
  }
  CLI::App* run = nullptr;
  if (want("run")) {
    run = app.add_subcommand("run", "create and start a container, and wait for it");
    add_create_flags(run);
    run->add_flag("-d,--detach", c.create.detach, "return once the container has started");
    run->add_flag("--keep", c.create.keep, "do not delete the container after it exits");
  }
  CLI::App* start = nullptr;
  if (want("start")) {
    start = app.add_subcommand("start", "start a created container");
    start->add_option("id", c.positional, "container id")->required();
  }
  CLI::App* state = nullptr;
  if (want("state")) {
    state = app.add_subcommand("state", "print the state of a container");
    state->add_option("id", c.positional, "container id")->required();
  }
  CLI::App* kill = nullptr;
  if (want("kill")) {
    kill = app.add_subcommand("kill", "send a signal (default SIGTERM) to a container");
    kill->add_flag("-a,--all", c.all, "send the signal to every process of the container");
    kill->add_option("id signal", c.positional, "container id and signal")
        ->required()
        ->expected(1, 2);
  }
  CLI::App* del = nullptr;
  if (want("delete")) {
    del = app.add_subcommand("delete", "delete a container and its state");
    del->add_flag("-f,--force", c.force, "kill the container first if it is running");
    del->add_option("id", c.positional, "container id")->required();
  }
  CLI::App* list = nullptr;
  if (want("list")) {
    list = app.add_subcommand("list", "list containers");
    list->add_flag("-q,--quiet", c.quiet, "print ids only");
    list->add_option("-f,--format", c.format, "table or json")->capture_default_str();
  }
  CLI::App* ps = nullptr;
  if (want("ps")) {
    ps = app.add_subcommand("ps", "list the processes of a container");
    ps->add_option("-f,--format", c.format, "table or json")->capture_default_str();
    ps->add_option("id ps-options", c.positional, "container id, then ps(1) options")->required();
    ps->allow_extras();
  }
  CLI::App* spec = nullptr;
  if (want("spec")) {
    spec = app.add_subcommand("spec", "write a default config.json");
    spec->add_flag("--rootless", c.rootless, "for a container run by a non-root user");
    spec->add_option("-b,--bundle", c.spec_bundle, "where to write config.json")
        ->capture_default_str();
  }
  CLI::App* features = nullptr;
  if (want("features")) {
    features = app.add_subcommand("features", "print the features this runtime supports");
  }
  CLI::App* exec = nullptr;
  if (want("exec")) {
    exec = app.add_subcommand("exec", "run a new process in a running container");
    exec->add_option("--console-socket", c.exec.console_socket, "unix socket for the pty master");
    exec->add_option("--cwd", c.exec.cwd, "working directory");
    exec->add_option("-e,--env", c.exec.env, "set an environment variable (KEY=value)");
    exec->add_flag("-t,--tty", c.exec.tty, "allocate a pseudo-terminal");
    exec->add_option("-u,--user", c.exec.user, "uid[:gid]");
    exec->add_option("-g,--additional-gids", c.exec.additional_gids, "additional gids");
    exec->add_option("-p,--process", c.exec.process_json_path, "process.json to run");
    exec->add_flag("-d,--detach", c.exec.detach, "do not wait for the process");
    exec->add_option("--pid-file", c.exec.pid_file, "file to write the process's pid to");
    exec->add_flag("--no-new-privs", c.exec.no_new_privs, "set no_new_privs");
    exec->add_option("-c,--cap", c.exec.caps, "add a capability");
    exec->add_option("--preserve-fds", c.exec.preserve_fds, "number of extra fds (from 3) to pass");
    exec->add_option("--process-label,--apparmor,--cgroup", "accepted for compatibility");
    exec->add_flag("--ignore-paused", c.exec.ignore_paused, "exec even if the container is paused");
    exec->add_option("id", c.exec.id, "container id, then the command and its args")->required();
  }
  CLI::App* update = nullptr;
  if (want("update")) {
    update = app.add_subcommand("update", "change the resource limits of a container");
    update->add_option("-r,--resources", c.resources_file,
                       "a LinuxResources JSON file (\"-\" for stdin); the other flags are ignored");
    update->add_option("--memory", c.memory, "memory limit (bytes or 512m, 1g; -1 for none)");
    update->add_option("--memory-reservation", c.memory_reservation, "memory soft limit");
    update->add_option("--memory-swap", c.memory_swap, "memory + swap limit");
    update->add_option("--cpu-shares", c.cpu_shares, "CPU shares (relative weight)");
    update->add_option("--cpu-period", c.cpu_period, "CPU CFS period (us)");
    update->add_option("--cpu-quota", c.cpu_quota, "CPU CFS quota (us)");
    update->add_option("--cpu-rt-period", c.cpu_rt_period, "CPU realtime period (us)");
    update->add_option("--cpu-rt-runtime", c.cpu_rt_runtime, "CPU realtime runtime (us)");
    update->add_option("--cpuset-cpus", c.cpuset_cpus, "CPUs allowed (0-3, 0,1)");
    update->add_option("--cpuset-mems", c.cpuset_mems, "memory nodes allowed");
    update->add_option("--pids-limit", c.pids_limit, "maximum number of processes");
    update->add_option("--blkio-weight", c.blkio_weight, "block IO weight (10-1000)");
    update->add_option("id", c.positional, "container id")->required();
  }
  CLI::App* events = nullptr;
  if (want("events")) {
    events = app.add_subcommand("events", "print resource usage and OOM events");
    events->add_flag("--stats", c.stats, "print one stats event and exit");
    events->add_option("--interval", c.interval, "stats interval (5s, 500ms)")
        ->capture_default_str();
    events->add_option("id", c.positional, "container id")->required();
  }
  CLI::App* pause = nullptr;
  if (want("pause")) {
    pause = app.add_subcommand("pause", "suspend all processes of a container");
    pause->add_option("id", c.positional, "container id")->required();
  }
  CLI::App* resume = nullptr;
  if (want("resume")) {
    resume = app.add_subcommand("resume", "resume a paused container");
    resume->add_option("id", c.positional, "container id")->required();
  }
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  configure_logging(c);
  if (create && *create) return create_or_run(c, false);
  if (run && *run) return create_or_run(c, true);
  if (c.g.systemd_cgroup) return fail(Error::unsupported("--systemd-cgroup is not supported yet"));
  if (start && *start) {
    auto r = runtime::start(c.g, c.positional[0]);
    return r ? 0 : fail(r.error());
  }
  if (state && *state) {
    auto r = runtime::state(c.g, c.positional[0]);
    if (!r) return fail(r.error());
    std::cout << *r << "\n";
    return 0;
  }
  if (kill && *kill) {
    auto sig = runtime::parse_signal(c.positional.size() > 1 ? c.positional[1] : "SIGTERM");
    if (!sig) return fail(sig.error());
    auto r = runtime::kill(c.g, c.positional[0], *sig, c.all);
    return r ? 0 : fail(r.error());
  }
  if (del && *del) {
    auto r = runtime::remove(c.g, c.positional[0], c.force);
    if (!r && c.force && r.error().kind() == ErrorKind::NotFound) return 0;
    return r ? 0 : fail(r.error());
  }
  if (list && *list) return cmd_list(c);
  if (ps && *ps) {
    for (auto& x : ps->remaining()) c.positional.push_back(x);
    return cmd_ps(c);
  }
  if (spec && *spec) return cmd_spec(c);
  if (features && *features) {
    std::cout << runtime::features_json() << "\n";
    return 0;
  }
  if (exec && *exec) {
    if (c.exec.args.empty() && c.exec.process_json_path.empty())
      return fail(Error::invalid("exec: a command or --process is required"));
    if (auto r = runtime::reexec_sealed(argv); !r) return fail(r.error());
    auto r = runtime::exec(c.g, c.exec);
    return r ? *r : fail(r.error());
  }
  if (update && *update) {
    auto r = update_resources(c);
    if (!r) return fail(r.error());
    auto u = runtime::update(c.g, c.positional[0], *r);
    return u ? 0 : fail(u.error());
  }
  if (events && *events) {
    if (c.stats) {
      auto s = runtime::stats_event(c.g, c.positional[0]);
      if (!s) return fail(s.error());
      std::cout << *s << std::endl;
      return 0;
    }
    auto ms = parse_interval(c.interval);
    if (!ms) return fail(ms.error());
    auto r = runtime::events(c.g, c.positional[0], *ms,
                             [](const std::string& line) { std::cout << line << std::endl; });
    return r ? 0 : fail(r.error());
  }
  if ((pause && *pause) || (resume && *resume)) {
    auto r = runtime::set_paused(c.g, c.positional[0], pause && pause->parsed());
    return r ? 0 : fail(r.error());
  }
  return 1;
}
