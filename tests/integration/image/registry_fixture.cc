// Registry fixtures: see registry_fixture.h.
#include "registry_fixture.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace berth::test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// ---- small helpers ----------------------------------------------------------------------------

TempDir::TempDir(std::string_view prefix) {
  const char* base = getenv("TMPDIR");
  std::string tmpl =
      std::string(base && *base ? base : "/tmp") + "/" + std::string(prefix) + "-XXXXXX";
  if (!mkdtemp(tmpl.data())) {
    ADD_FAILURE() << "mkdtemp " << tmpl << ": " << strerror(errno);
  }
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!path_.empty()) fs::remove_all(path_, ec);
}

namespace {

struct Spawned {
  pid_t pid = -1;
  int error = 0;
};

std::vector<std::string> merged_env(const std::map<std::string, std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string_view kv(*e);
    std::string key(kv.substr(0, kv.find('=')));
    if (!extra.count(key)) env.emplace_back(kv);
  }
  for (const auto& [k, v] : extra) env.push_back(k + "=" + v);
  return env;
}

// posix_spawnp with fds 0/1/2 given (-1: /dev/null for stdin, inherited for 1 and 2).
Spawned spawn(const std::vector<std::string>& argv, int in_fd, int out_fd, int err_fd,
              const std::map<std::string, std::string>& env = {}) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  auto env_strings = merged_env(env);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  if (in_fd >= 0) {
    posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
  } else {
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  }
  if (out_fd >= 0) posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
  if (err_fd >= 0) posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  Spawned s;
  s.error = posix_spawnp(&s.pid, args[0], &fa, &attr, args.data(), envp.data());
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&fa);
  if (s.error) s.pid = -1;
  return s;
}

std::string python() {
  return access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
}

std::string read_text(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Connects to 127.0.0.1:port and returns the whole answer to an HTTP/1.0 GET.
Result<std::string> raw_get(int port, const std::string& host, const std::string& path) {
  UniqueFd s(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s) return Error::sys("socket");
  timeval tv{10, 0};
  setsockopt(s.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) {
    return Error::sys("connect to 127.0.0.1:" + std::to_string(port));
  }
  BERTH_TRY(write_all(s.get(), "GET " + path + " HTTP/1.0\r\nHost: " + host + "\r\n\r\n"));
  return read_all(s.get(), 64 << 20);
}

}  // namespace

CommandResult RunCommand(const std::vector<std::string>& argv,
                         const std::map<std::string, std::string>& env) {
  CommandResult r;
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) {
    r.output = std::string("pipe: ") + strerror(errno);
    return r;
  }
  UniqueFd rd(p[0]), wr(p[1]);
  Spawned s = spawn(argv, -1, wr.get(), wr.get(), env);
  wr.reset();
  if (s.pid < 0) {
    r.exit_code = 127;
    r.output = "exec " + argv[0] + ": " + strerror(s.error);
    return r;
  }
  ChildProcess child(s.pid);
  auto out = read_all(rd.get(), 64 << 20);
  if (out) r.output = std::move(*out);
  auto st = child.wait();
  r.exit_code = st ? exit_code_of(*st) : -1;
  return r;
}

bool HaveProgram(const std::string& name) {
  if (name.find('/') != std::string::npos) return access(name.c_str(), X_OK) == 0;
  const char* path = getenv("PATH");
  std::stringstream ss(path ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(ss, dir, ':')) {
    if (!dir.empty() && access((dir + "/" + name).c_str(), X_OK) == 0) return true;
  }
  return false;
}

void WriteFile(const std::string& path, std::string_view data, mode_t mode) {
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  if (!fd) {
    ADD_FAILURE() << "open " << path << ": " << strerror(errno);
    return;
  }
  fchmod(fd.get(), mode);
  if (auto r = write_all(fd.get(), data); !r) ADD_FAILURE() << r.error().what();
}

std::string RegistrySkipReason() {
  for (const char* p : {"docker-registry", "skopeo", "htpasswd", "tar", "gzip", "jq"}) {
    if (!HaveProgram(p)) {
      return std::string("needs ") + p +
             " (apt install docker-registry skopeo apache2-utils tar gzip jq)";
    }
  }
  if (access("/bin/busybox", X_OK) != 0) return "needs /bin/busybox (apt install busybox-static)";
  return {};
}

Result<std::string> HttpGet(const std::string& host_port, const std::string& path) {
  size_t colon = host_port.rfind(':');
  int port = colon == std::string::npos ? 80 : std::atoi(host_port.c_str() + colon + 1);
  std::string raw = BERTH_TRY(raw_get(port, host_port, path));
  size_t eol = raw.find("\r\n");
  std::string status_line = raw.substr(0, eol);
  size_t end = raw.find("\r\n\r\n");
  if (status_line.size() < 12 || end == std::string::npos) {
    return Error(ErrorKind::Io, 0, "GET " + path + ": malformed answer");
  }
  if (status_line[9] != '2') return Error(ErrorKind::Io, 0, "GET " + path + ": " + status_line);
  return raw.substr(end + 4);
}

int FreePort() {
  UniqueFd s(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (!s || bind(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) return -1;
  socklen_t len = sizeof addr;
  getsockname(s.get(), reinterpret_cast<sockaddr*>(&addr), &len);
  return ntohs(addr.sin_port);
}

// ---- fixture images ---------------------------------------------------------------------------

std::string FixturesDir() { return std::string(BERTH_SOURCE_DIR) + "/tests/fixtures"; }

Result<void> MakeBusyboxRootfs(const std::string& dir, bool all_applets) {
  std::vector<std::string> argv = {FixturesDir() + "/busybox-rootfs.sh"};
  if (all_applets) argv.push_back("--all");
  argv.push_back(dir);
  CommandResult r = RunCommand(argv);
  if (!r.ok()) return Error(ErrorKind::Io, 0, "busybox-rootfs.sh " + dir + ": " + r.output);
  return ok();
}

Result<BuiltImage> BuildImage(const std::string& layout, const std::vector<std::string>& args,
                              const std::string& tag) {
  std::vector<std::string> argv = {FixturesDir() + "/build-image.sh", "-o", layout, "-t", tag};
  argv.insert(argv.end(), args.begin(), args.end());
  CommandResult r = RunCommand(argv);
  if (!r.ok()) return Error(ErrorKind::Io, 0, "build-image.sh: " + r.output);
  // The digest is the last line (the tools may warn before it).
  std::string out = r.output;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  std::string digest = out.substr(out.rfind('\n') == std::string::npos ? 0 : out.rfind('\n') + 1);
  if (!digest.starts_with("sha256:")) {
    return Error(ErrorKind::Io, 0, "build-image.sh: no digest in output: " + r.output);
  }
  return BuiltImage{layout, tag, digest};
}

Result<BuiltImage> BuildBusyboxImage(const std::string& work,
                                     const std::vector<std::string>& args) {
  std::error_code ec;
  fs::create_directories(work + "/extra/etc", ec);
  if (ec) return Error(ErrorKind::Io, ec.value(), "mkdir " + work + "/extra/etc");
  BERTH_TRY(MakeBusyboxRootfs(work + "/rootfs"));
  WriteFile(work + "/extra/etc/berth-fixture", "berth fixture image\n");
  std::vector<std::string> all = {"--layer", work + "/rootfs", "--layer", work + "/extra"};
  all.insert(all.end(), args.begin(), args.end());
  return BuildImage(work + "/layout", all);
}

Result<std::string> ReadLayoutBlob(const std::string& layout, const std::string& digest) {
  if (!digest.starts_with("sha256:")) return Error::invalid("digest " + digest);
  return read_file(layout + "/blobs/sha256/" + digest.substr(7));
}

// ---- docker-registry ----------------------------------------------------------------------------

Result<std::unique_ptr<LocalRegistry>> LocalRegistry::Start(LocalRegistryOptions opts) {
  std::unique_ptr<LocalRegistry> reg(new LocalRegistry());
  reg->opts_ = opts;
  reg->dir_ = std::make_unique<TempDir>("berth-registry");
  const std::string dir = reg->dir_->path();
  reg->storage_ = dir + "/storage";
  reg->log_ = dir + "/registry.log";
  reg->port_ = FreePort();
  if (reg->port_ <= 0) return Error::sys("find a free port");
  reg->host_ = "127.0.0.1:" + std::to_string(reg->port_);

  std::string config =
      "version: 0.1\n"
      "log:\n  level: warn\n"  // the access log stays on: Log() shows every request
      "storage:\n  filesystem:\n    rootdirectory: " +
      reg->storage_ +
      "\n"
      "  delete:\n    enabled: true\n"
      "http:\n  addr: " +
      reg->host_ + "\n  secret: berth-test-secret\n";
  if (opts.tls) {
    reg->ca_file_ = dir + "/cert.pem";
    CommandResult r =
        RunCommand({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    dir + "/key.pem", "-out", reg->ca_file_, "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"});
    if (!r.ok()) return Error(ErrorKind::Io, 0, "openssl req: " + r.output);
    config += "  tls:\n    certificate: " + reg->ca_file_ + "\n    key: " + dir + "/key.pem\n";
  }
  if (opts.basic_auth) {
    CommandResult r = RunCommand({"htpasswd", "-Bbn", opts.username, opts.password});
    if (!r.ok()) return Error(ErrorKind::Io, 0, "htpasswd: " + r.output);
    WriteFile(dir + "/htpasswd", r.output);
    config += "auth:\n  htpasswd:\n    realm: berth-test\n    path: " + dir + "/htpasswd\n";
  }
  WriteFile(dir + "/config.yml", config);

  UniqueFd log(open(reg->log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!log) return Error::sys("open " + reg->log_);
  Spawned s = spawn({"docker-registry", "serve", dir + "/config.yml"}, -1, log.get(), log.get());
  if (s.pid < 0) return Error::from_errno(s.error, "exec docker-registry");
  reg->proc_ = ChildProcess(s.pid);

  // Ready when /v2/ answers anything HTTP (a TLS port answers plain HTTP with a 400).
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (true) {
    auto r = raw_get(reg->port_, reg->host_, "/v2/");
    if (r && r->starts_with("HTTP/")) break;
    int st = 0;
    if (waitpid(s.pid, &st, WNOHANG) == s.pid) {
      reg->proc_.release();
      return Error(ErrorKind::Io, 0, "docker-registry exited: " + reg->Log());
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return Error(
          ErrorKind::Timeout, 0,
          "docker-registry did not answer on " + reg->host_ + " within 10 s: " + reg->Log());
    }
    std::this_thread::sleep_for(20ms);
  }
  return reg;
}

LocalRegistry::~LocalRegistry() {
  proc_.kill_and_reap();
  dir_.reset();
}

image::RegistryOptions LocalRegistry::client_options() const {
  image::RegistryOptions o;
  if (opts_.basic_auth) o.credentials = image::Credentials{opts_.username, opts_.password, ""};
  if (opts_.tls) {
    o.ca_file = ca_file_;
    o.force_https = true;
  }
  o.docker_config = dir_->sub("no-docker-config.json");  // never the host's own config
  o.initial_backoff_ms = 10;
  return o;
}

std::vector<std::string> LocalRegistry::skopeo_tls_args(const char* side) const {
  std::vector<std::string> a = {std::string("--") + side + "tls-verify=false"};
  if (opts_.basic_auth) {
    a.push_back(std::string("--") + side + "creds=" + opts_.username + ":" + opts_.password);
  }
  return a;
}

Result<void> LocalRegistry::Push(const std::string& layout, const std::string& layout_tag,
                                 const std::string& name_tag, std::string_view format) const {
  std::vector<std::string> argv = {"skopeo", "--insecure-policy", "copy", "--all", "--quiet"};
  if (!format.empty()) argv.push_back("--format=" + std::string(format));
  for (auto& a : skopeo_tls_args("dest-")) argv.push_back(a);
  argv.push_back("oci:" + layout + ":" + layout_tag);
  argv.push_back("docker://" + ref(name_tag));
  CommandResult r = RunCommand(argv, {{"HOME", dir_->path()}});
  if (!r.ok()) return Error(ErrorKind::Io, 0, "skopeo copy to " + ref(name_tag) + ": " + r.output);
  return ok();
}

Result<std::string> LocalRegistry::InspectRaw(const std::string& name_tag) const {
  std::vector<std::string> argv = {"skopeo", "--insecure-policy", "inspect", "--raw"};
  for (auto& a : skopeo_tls_args("")) argv.push_back(a);
  argv.push_back("docker://" + ref(name_tag));
  CommandResult r = RunCommand(argv, {{"HOME", dir_->path()}});
  if (!r.ok()) return Error(ErrorKind::Io, 0, "skopeo inspect " + ref(name_tag) + ": " + r.output);
  return r.output;
}

std::string LocalRegistry::Log() const { return read_text(log_); }

// ---- faulty_registry.py -----------------------------------------------------------------------

Result<std::unique_ptr<FaultyRegistry>> FaultyRegistry::Start(
    const std::string& layout, const std::vector<std::string>& args) {
  std::unique_ptr<FaultyRegistry> reg(new FaultyRegistry());
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) return Error::sys("pipe");
  UniqueFd rd(p[0]), wr(p[1]);
  std::vector<std::string> argv = {python(), FixturesDir() + "/faulty_registry.py", layout};
  argv.insert(argv.end(), args.begin(), args.end());
  Spawned s = spawn(argv, -1, wr.get(), -1);
  wr.reset();
  if (s.pid < 0) return Error::from_errno(s.error, "exec " + argv[0]);
  reg->proc_ = ChildProcess(s.pid);

  std::string line;
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (line.find('\n') == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd pfd{rd.get(), POLLIN, 0};
    if (left.count() <= 0 || poll(&pfd, 1, static_cast<int>(left.count())) <= 0) {
      return Error(ErrorKind::Timeout, 0, "faulty_registry.py did not report its port");
    }
    char buf[256];
    ssize_t n = read(rd.get(), buf, sizeof buf);
    if (n <= 0) return Error(ErrorKind::Io, 0, "faulty_registry.py exited before listening");
    line.append(buf, static_cast<size_t>(n));
  }
  if (!line.starts_with("PORT ")) return Error(ErrorKind::Io, 0, "faulty_registry.py: " + line);
  reg->port_ = std::atoi(line.c_str() + 5);
  reg->host_ = "127.0.0.1:" + std::to_string(reg->port_);
  return reg;
}

FaultyRegistry::~FaultyRegistry() { proc_.kill_and_reap(); }

Result<nlohmann::json> FaultyRegistry::Requests() const {
  std::string body = BERTH_TRY(HttpGet(host_, "/_log"));
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_array()) return Error(ErrorKind::Io, 0, "/_log: not a JSON array");
  return j;
}

}  // namespace berth::test
