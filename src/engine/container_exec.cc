// Exec instances: created in memory (as docker's: they do not survive berthd), started through
// the container's shim, their exit collected by a waiter thread.
#include <fcntl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <set>

#include "engine/containers_internal.h"
#include "engine/detach_keys.h"
#include "engine/exec_internal.h"
#include "oci/spec.h"
#include "util/log.h"

namespace berth::engine {
namespace {

constexpr long kProbeMicros = 50'000;

std::string random_hex64() {
  unsigned char b[32];
  (void)getrandom(b, sizeof b, 0);
  static const char* hex = "0123456789abcdef";
  std::string id;
  for (unsigned char ch : b) {
    id += hex[ch >> 4];
    id += hex[ch & 15];
  }
  return id;
}

Result<std::vector<std::string>> string_list(const json& body, const char* key, bool slice) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::vector<std::string>{};
  if (slice && it->is_string()) return std::vector<std::string>{it->get<std::string>()};
  if (!it->is_array())
    return Error::invalid(std::string("json: cannot unmarshal ") +
                          (it->is_string()   ? "string"
                           : it->is_object() ? "object"
                                             : "number") +
                          " into Go struct field ExecConfig." + key + " of type []string");
  std::vector<std::string> out;
  for (const auto& v : *it) {
    if (!v.is_string())
      return Error::invalid(std::string("json: cannot unmarshal non-string into Go struct field "
                                        "ExecConfig.") +
                            key + " of type string");
    out.push_back(v.get<std::string>());
  }
  return out;
}

Result<bool> bool_field(const json& body, const char* key) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return false;
  if (!it->is_boolean())
    return Error::invalid(std::string("json: cannot unmarshal ") + it->type_name() +
                          " into Go struct field ExecConfig." + key + " of type bool");
  return it->get<bool>();
}

Result<std::string> string_field(const json& body, const char* key) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::string();
  if (!it->is_string())
    return Error::invalid(std::string("json: cannot unmarshal ") + it->type_name() +
                          " into Go struct field ExecConfig." + key + " of type string");
  return it->get<std::string>();
}

// docker's exit status of an exec that could not be run: 127 when its command is not there,
// else 126 (not executable, permission denied, or anything else that stopped it).
int exit_code_for_exec_error(const std::string& msg) {
  if (msg.find("no such file or directory") != std::string::npos ||
      msg.find("executable file not found") != std::string::npos ||
      msg.find("command not found") != std::string::npos)
    return 127;
  return 126;
}

// Tells the attached client why its exec did not run, as docker does: the error as output
// (the stderr stream without a tty), then the stream ends.
void write_exec_error(int fd, bool tty, const std::string& msg) {
  std::string out;
  if (tty) {
    out = msg + "\r\n";
  } else {
    std::string line = msg + "\n";
    uint32_t n = static_cast<uint32_t>(line.size());
    out = {'\x02',
           '\0',
           '\0',
           '\0',
           static_cast<char>(n >> 24),
           static_cast<char>(n >> 16),
           static_cast<char>(n >> 8),
           static_cast<char>(n)};
    out += line;
  }
  timeval tv{.tv_sec = 5, .tv_usec = 0};  // a few bytes; a client that takes none is let go
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  std::string_view left = out;
  while (!left.empty()) {
    ssize_t n = ::send(fd, left.data(), left.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      log::debug("exec error to the client: " + errno_text(errno));
      return;
    }
    left.remove_prefix(static_cast<size_t>(n));
  }
}

// The connections of exec waiters, per service, for shut_down_exec_waiters().
struct ExecWaiters {
  std::set<int> fds;
  bool shut = false;
};
std::mutex g_waiters_mu;
std::map<ServiceKey, ExecWaiters> g_waiters;

// Registers a waiter's connection for as long as it lives.
class WaiterRegistration {
 public:
  WaiterRegistration(ServiceKey service, int fd) : service_(service), fd_(fd) {
    std::lock_guard lk(g_waiters_mu);
    ExecWaiters& w = g_waiters[service_];
    if (w.shut) ::shutdown(fd_, SHUT_RDWR);
    w.fds.insert(fd_);
  }
  ~WaiterRegistration() {
    std::lock_guard lk(g_waiters_mu);
    if (auto it = g_waiters.find(service_); it != g_waiters.end()) it->second.fds.erase(fd_);
  }
  WaiterRegistration(const WaiterRegistration&) = delete;
  WaiterRegistration& operator=(const WaiterRegistration&) = delete;

 private:
  ServiceKey service_;
  int fd_;
};

Result<void> check_running(const ContainerService::Ctr& c) {
  if (c.st.status == "paused")
    return Error::conflict("container " + c.id + " is paused, unpause the container before exec");
  if (c.st.status != "running") return Error::conflict("container " + c.id + " is not running");
  return ok();
}

}  // namespace

Result<std::string> ContainerService::Impl::exec_create(const std::shared_ptr<Ctr>& c,
                                                        const json& body) {
  if (!body.is_object()) return Error::invalid("exec config must be a JSON object");
  auto e = std::make_shared<Exec>();
  e->cmd = BERTH_TRY(string_list(body, "Cmd", true));
  e->env = BERTH_TRY(string_list(body, "Env", false));
  e->user = BERTH_TRY(string_field(body, "User"));
  e->working_dir = BERTH_TRY(string_field(body, "WorkingDir"));
  e->detach_keys = BERTH_TRY(string_field(body, "DetachKeys"));
  if (!e->detach_keys.empty() && !parse_detach_keys(e->detach_keys))
    return Error::invalid("Invalid escape keys (" + e->detach_keys + ") provided");
  e->tty = BERTH_TRY(bool_field(body, "Tty"));
  e->privileged = BERTH_TRY(bool_field(body, "Privileged"));
  e->attach_stdin = BERTH_TRY(bool_field(body, "AttachStdin"));
  e->attach_stdout = BERTH_TRY(bool_field(body, "AttachStdout"));
  e->attach_stderr = BERTH_TRY(bool_field(body, "AttachStderr"));
  if (auto it = body.find("ConsoleSize"); it != body.end() && it->is_array() && it->size() == 2 &&
                                          (*it)[0].is_number_unsigned() &&
                                          (*it)[1].is_number_unsigned())
    e->console_size = std::make_pair((*it)[0].get<unsigned>(), (*it)[1].get<unsigned>());
  if (e->cmd.empty()) return Error::invalid("No exec command specified");
  if (!e->working_dir.empty() && e->working_dir[0] != '/')
    return Error::invalid("the working directory '" + e->working_dir +
                          "' is invalid, it needs to be an absolute path");
  e->id = random_hex64();
  e->container_id = c->id;
  json args = json::array();
  for (size_t i = 1; i < e->cmd.size(); i++) args.push_back(e->cmd[i]);
  e->process_config = {{"tty", e->tty},
                       {"entrypoint", e->cmd[0]},
                       {"arguments", args},
                       {"privileged", e->privileged}};
  if (!e->user.empty()) e->process_config["user"] = e->user;
  std::string cmdline;
  for (const auto& a : e->cmd) cmdline += (cmdline.empty() ? "" : " ") + a;
  {
    std::lock_guard lk(c->mu);
    BERTH_TRY(check_running(*c));
    c->exec_ids.push_back(e->id);
    event(*c, "exec_create: " + cmdline, {{"execID", e->id}});
  }
  std::lock_guard lk(exec_mu);
  execs[e->id] = e;
  return e->id;
}

Result<std::shared_ptr<ContainerService::Exec>> ContainerService::Impl::find_exec(
    const std::string& exec_id) {
  std::lock_guard lk(exec_mu);
  auto it = execs.find(exec_id);
  if (it == execs.end()) return Error::not_found("No such exec instance: " + exec_id);
  return it->second;
}

namespace {

// The exec's process: the container's user, environment and working directory with the
// exec's overrides, resolved in the container's root as for the container itself, and the
// container's capabilities, rlimits and no_new_privileges.
Result<std::string> exec_process(const ContainerService::Ctr& c, const ContainerService::Exec& e) {
  auto text = BERTH_TRY_CTX(read_file(c.dir + "/bundle/config.json"), "read the container's spec");
  oci::Spec cspec = BERTH_TRY(oci::parse_spec(text));
  UniqueFd root(::open((c.dir + "/bundle/rootfs").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return Error::sys("open the container's root");
  oci::image::ImageConfig ic;
  ic.config.env = get_or(c.config, "Env", std::vector<std::string>{});
  ic.config.user = get_or(c.config, "User", "");
  ic.config.working_dir = get_or(c.config, "WorkingDir", "");
  image::BundleOptions bo;
  bo.entrypoint = e.cmd;
  bo.env = e.env;
  if (!e.user.empty()) bo.user = e.user;
  if (!e.working_dir.empty()) bo.working_dir = e.working_dir;
  bo.tty = e.tty;
  bo.hostname = get_or(c.config, "Hostname", "");
  oci::Spec s = BERTH_TRY(image::spec_from_image(ic, root.get(), bo));
  oci::Process p = std::move(*s.process);
  if (cspec.process) {
    p.capabilities = cspec.process->capabilities;
    p.rlimits = cspec.process->rlimits;
    p.no_new_privileges = cspec.process->no_new_privileges;
    p.apparmor_profile = cspec.process->apparmor_profile;
  }
  if (e.privileged) {
    std::vector<std::string> all;
    for (int i = 0; i <= oci::last_known_capability(); i++)
      all.emplace_back(oci::capability_name(i));
    p.capabilities = oci::Capabilities{.bounding = all, .effective = all, .permitted = all};
  }
  if (e.console_size)
    p.console_size =
        oci::ConsoleSize{.height = e.console_size->first, .width = e.console_size->second};
  oci::Spec only;
  only.process = std::move(p);
  json j = json::parse(oci::to_json(only, -1), nullptr, false);
  if (j.is_discarded() || !j.contains("process")) return Error::internal("serialise exec process");
  return j["process"].dump();
}

}  // namespace

Result<void> ContainerService::Impl::exec_start(const std::string& exec_id, bool detach,
                                                UniqueFd fd) {
  auto e = BERTH_TRY(find_exec(exec_id));
  auto c = BERTH_TRY(find(e->container_id));
  {
    std::lock_guard lk(exec_mu);
    if (e->running) return Error::conflict("Error: Exec command " + e->id + " is already running");
    if (e->started) return Error::conflict("Error: Exec command " + e->id + " has already run");
    e->started = true;
  }
  // Before the exec ran: it may be started again. The error reaches an attached client as
  // output (the API's status line has gone out already).
  auto undo = [&](Error err) -> Result<void> {
    if (fd) write_exec_error(fd.get(), e->tty, err.what());
    std::lock_guard lk(exec_mu);
    e->started = false;
    return err;
  };
  // The exec could not be run: it has run, with docker's 126/127, which exec inspect shows and
  // the docker CLI exits with.
  auto failed = [&](Error err) -> Result<void> {
    if (fd) write_exec_error(fd.get(), e->tty, err.what());
    std::lock_guard lk(exec_mu);
    e->exit_code = exit_code_for_exec_error(err.what());
    return err;
  };
  {
    std::lock_guard lk(c->mu);
    if (auto r = check_running(*c); !r) return undo(std::move(r).error());
  }
  auto process = exec_process(*c, *e);
  if (!process) return failed(std::move(process).error());
  shim::AttachOptions ao{.exec_id = e->id,
                         .stdin = e->attach_stdin && !detach,
                         .stdout = e->attach_stdout && !detach,
                         .stderr = e->attach_stderr && !detach,
                         .stdin_once = true};
  ao.detach_keys = detach_sequence(e->detach_keys, e->tty, ao.stdin);
  auto client = shim::Client::connect(shim_dir(c->id));
  if (!client) return undo(std::move(client).error());
  auto pid = client->exec(e->id, *process, ao, detach || !fd ? -1 : fd.get());
  if (!pid) {
    // The container stopped meanwhile (the shim says so) or its shim is gone: nothing ran.
    if (pid.error().kind() == ErrorKind::Conflict || pid.error().kind() == ErrorKind::Io)
      return undo(std::move(pid).error());
    return failed(std::move(pid).error());
  }
  {
    std::lock_guard lk(exec_mu);
    e->running = true;
    e->pid = *pid;
  }
  std::string cmdline;
  for (const auto& a : e->cmd) cmdline += (cmdline.empty() ? "" : " ") + a;
  {
    std::lock_guard lk(c->mu);
    event(*c, "exec_start: " + cmdline, {{"execID", e->id}});
  }
  spawn([this, c, e, cmdline] {
    int code = 137;
    auto waiter = shim::Client::connect(shim_dir(c->id));
    if (waiter) {
      WaiterRegistration registered(this, waiter->fd());  // shutdown() breaks the wait
      if (stopping) return;
      auto r = waiter->wait(e->id);
      if (stopping) return;
      if (r) code = r->status;
    }
    {
      std::lock_guard lk(exec_mu);
      e->running = false;
      e->exit_code = code;
      e->pid = 0;
    }
    std::lock_guard lk(c->mu);
    if (!c->removed) event(*c, "exec_die", {{"execID", e->id}, {"exitCode", std::to_string(code)}});
  });
  return ok();
}

void ContainerService::Impl::probe_exec(Exec& e) {
  {
    std::lock_guard lk(exec_mu);
    if (!e.running) return;
  }
  auto client = shim::Client::connect(shim_dir(e.container_id));
  if (!client) return;
  // An exited process is answered at once; a running one is not worth waiting for.
  timeval tv{.tv_sec = 0, .tv_usec = kProbeMicros};
  setsockopt(client->fd(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  auto r = client->wait(e.id);
  if (!r) return;
  std::lock_guard lk(exec_mu);
  if (!e.running) return;
  e.running = false;
  e.exit_code = r->status;
  e.pid = 0;
}

json ContainerService::Impl::exec_json(const Exec& e) {
  return json{{"ID", e.id},
              {"Running", e.running},
              {"ExitCode", e.exit_code ? json(*e.exit_code) : json(nullptr)},
              {"ProcessConfig", e.process_config},
              {"OpenStdin", e.attach_stdin},
              {"OpenStderr", e.attach_stderr},
              {"OpenStdout", e.attach_stdout},
              {"CanRemove", false},
              {"ContainerID", e.container_id},
              {"DetachKeys", e.detach_keys},
              {"Pid", e.pid}};
}

void shut_down_exec_waiters(ServiceKey service) {
  std::lock_guard lk(g_waiters_mu);
  ExecWaiters& w = g_waiters[service];
  w.shut = true;
  for (int fd : w.fds) ::shutdown(fd, SHUT_RDWR);
}

void forget_exec_waiters(ServiceKey service) {
  std::lock_guard lk(g_waiters_mu);
  g_waiters.erase(service);
}

void ContainerService::Impl::drop_execs(Ctr& c) {
  std::vector<std::string> ids;
  {
    std::lock_guard lk(c.mu);
    ids.swap(c.exec_ids);
  }
  std::lock_guard lk(exec_mu);
  for (const auto& id : ids) execs.erase(id);
}

}  // namespace berth::engine
