// exec (a process in a running container, attached through a hijacked stream) and cp (tar
// through the archive endpoints, packed and unpacked by the system's tar).
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "cli/command.h"
#include "cli/container_opts.h"
#include "cli/format.h"
#include "cli/stream.h"
#include "util/fd.h"
#include "util/strings.h"

namespace berth::cli {

namespace {

std::string esc(const std::string& s) { return client::url_escape(s); }

struct ExecOpts {
  bool detach = false, interactive = false, tty = false, privileged = false;
  std::vector<std::string> env, env_file;
  std::string user, workdir, detach_keys;
};

void exec_resize(client::Client& api, const std::string& exec_id) {
  auto sz = terminal_size(STDOUT_FILENO);
  if (!sz) sz = terminal_size(STDIN_FILENO);
  if (!sz) return;
  client::Query q;
  q.add("h", std::to_string(sz->first)).add("w", std::to_string(sz->second));
  (void)api.call("POST", "/exec/" + exec_id + "/resize" + q.str());
}

int do_exec(Ctx& ctx, CLI::App* cmd, ExecOpts& o) {
  std::vector<std::string> rest = cmd->remaining();
  if (!rest.empty() && rest[0].starts_with("-") && rest[0] != "-") {
    (void)err_out("unknown flag: " + rest[0].substr(0, rest[0].find('=')) +
                  "\n\nUsage:  berth exec [OPTIONS] CONTAINER COMMAND [ARG...]\n\nRun 'berth exec "
                  "--help' for more information\n");
    return kExitDaemon;
  }
  if (!check_args(ctx, cmd, rest.size(), 2)) return ctx.status;
  if (o.tty && o.interactive && !o.detach && !isatty(STDIN_FILENO)) {
    (void)err_out("the input device is not a TTY\n");
    return 1;
  }
  auto api = ctx.api();
  if (!api) return fail(api.error());
  Json env = Json::array();
  for (const auto& f : o.env_file) {
    if (auto r = read_env_file(env, f); !r) return fail_msg(r.error().what());
  }
  for (const auto& e : o.env) add_env(env, e);
  Json body = {{"User", o.user},
               {"Privileged", o.privileged},
               {"Tty", o.tty},
               {"AttachStdin", o.interactive && !o.detach},
               {"AttachStderr", !o.detach},
               {"AttachStdout", !o.detach},
               {"Detach", o.detach},
               {"DetachKeys", o.detach_keys},
               {"Env", env},
               {"WorkingDir", o.workdir},
               {"Cmd", std::vector<std::string>(rest.begin() + 1, rest.end())}};
  auto created = (*api)->post_json("/containers/" + esc(rest[0]) + "/exec", body);
  if (!created) return fail(created.error());
  std::string id = created->value("Id", "");
  if (o.detach) {
    auto r = (*api)->call("POST", "/exec/" + id + "/start", Json{{"Detach", true}, {"Tty", o.tty}});
    if (!r) return fail(r.error());
    return 0;
  }
  auto h = (*api)->hijack("/exec/" + id + "/start", Json{{"Detach", false}, {"Tty", o.tty}});
  if (!h) return fail(h.error());
  std::optional<RawTerminal> raw;
  if (o.tty && o.interactive && isatty(STDIN_FILENO)) raw.emplace(STDIN_FILENO);
  std::vector<int> sigs;
  if (o.tty) sigs.push_back(SIGWINCH);
  SignalPipe signals(sigs);
  if (o.tty) exec_resize(**api, id);
  PumpOptions po;
  po.tty = o.tty;
  po.forward_stdin = o.interactive;
  po.signals = &signals;
  po.on_signal = [&](int sig) {
    if (sig == SIGWINCH) exec_resize(**api, id);
  };
  auto p = pump(*h, po);
  raw.reset();
  if (!p) return fail(p.error());
  auto info = (*api)->get_json("/exec/" + id + "/json");
  if (!info) return fail(info.error());
  const Json& code = (*info)["ExitCode"];
  return code.is_number() ? code.get<int>() : 0;
}

// ---- cp ---------------------------------------------------------------------------------

struct CpOpts {
  bool archive = false, follow_link = false, quiet = false;
  std::vector<std::string> args;
};

struct Loc {
  std::string container;  // empty: a local path
  std::string path;
};

Loc split_loc(const std::string& arg) {
  // "name:path" unless it looks like a local path ("./a:b", "/a:b").
  if (arg.starts_with("/") || arg.starts_with(".")) return {"", arg};
  size_t colon = arg.find(':');
  if (colon == std::string::npos || colon == 0) return {"", arg};
  return {arg.substr(0, colon), arg.substr(colon + 1)};
}

std::string base_name(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  size_t s = p.rfind('/');
  return s == std::string::npos ? p : p.substr(s + 1);
}

std::string dir_name(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  size_t s = p.rfind('/');
  if (s == std::string::npos) return ".";
  if (s == 0) return "/";
  return p.substr(0, s);
}

// Escapes a name for a GNU tar --transform s,regex,replacement, expression.
std::string sed_regex(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (std::strchr("\\^$.*[]+?(){}|,", c)) out += '\\';
    out += c;
  }
  return out;
}
std::string sed_repl(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == '&' || c == ',') out += '\\';
    out += c;
  }
  return out;
}

// Runs tar with `args`; its stdin (extract) or stdout (create) is the returned pipe end.
struct TarProc {
  ChildProcess child;
  UniqueFd fd;
};

Result<TarProc> spawn_tar(const std::vector<std::string>& args, bool extract) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return Error::sys("pipe");
  UniqueFd rd(p[0]), wr(p[1]);
  pid_t pid = fork();
  if (pid < 0) return Error::sys("fork");
  if (pid == 0) {
    dup2(extract ? rd.get() : wr.get(), extract ? STDIN_FILENO : STDOUT_FILENO);
    std::vector<char*> argv;
    std::string prog = "tar";
    argv.push_back(prog.data());
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execvp("tar", argv.data());
    _exit(127);
  }
  TarProc t{ChildProcess(pid), extract ? std::move(wr) : std::move(rd)};
  return t;
}

Result<void> finish_tar(TarProc& t) {
  t.fd.reset();
  int st = BERTH_TRY(t.child.wait());
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
    return Error::internal("tar failed (exit status " + std::to_string(exit_code_of(st)) + ")");
  return ok();
}

// The decoded X-Docker-Container-Path-Stat header.
Json path_stat(const std::string& header) {
  static const std::string b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  int val = 0, bits = -8;
  for (char c : header) {
    size_t k = b64.find(c);
    if (k == std::string::npos) continue;
    val = (val << 6) + static_cast<int>(k);
    bits += 6;
    if (bits >= 0) {
      out += static_cast<char>((val >> bits) & 0xFF);
      bits -= 8;
    }
  }
  return Json::parse(out, nullptr, false);
}

bool is_dir_mode(const Json& st) {
  // Go's os.FileMode: ModeDir is the top bit (1<<31).
  return st.is_object() && (st.value("mode", 0LL) & (1LL << 31)) != 0;
}

bool is_symlink_mode(const Json& st) {
  // Go's os.ModeSymlink is 1<<27.
  return st.is_object() && (st.value("mode", 0LL) & (1LL << 27)) != 0;
}

// cp -L: a container path that is a symbolic link is replaced by its target (relative
// targets taken from the link's directory), keeping a trailing "/" or "/.". The copy keeps
// the link's name (`rebase`), as docker's.
Result<std::string> follow_container_link(client::Client& api, const Loc& src,
                                          std::string* rebase) {
  auto h = api.open_stream("HEAD",
                           "/containers/" + esc(src.container) + "/archive?path=" + esc(src.path));
  if (!h) return src.path;  // the GET that follows reports the error
  Json st = path_stat(h->header("x-docker-container-path-stat"));
  if (!is_symlink_mode(st)) return src.path;
  std::string target = st.value("linkTarget", "");
  if (target.empty()) return src.path;
  std::string path = src.path;
  std::string suffix = path.ends_with("/.") ? "/." : path.ends_with("/") ? "/" : "";
  path.resize(path.size() - suffix.size());
  if (!target.starts_with("/")) target = dir_name(path) + "/" + target;
  if (!target.ends_with(suffix)) target += suffix;
  *rebase = base_name(path);
  return target;
}

int cp_from(client::Client& api, const CpOpts& o, const Loc& src, const std::string& dst) {
  std::string cpath = src.path, rebase;
  if (o.follow_link) {
    auto followed = follow_container_link(api, src, &rebase);
    if (!followed) return fail(followed.error());
    cpath = *followed;
  }
  auto r =
      api.open_stream("GET", "/containers/" + esc(src.container) + "/archive?path=" + esc(cpath));
  if (!r) {
    return fail(r.error());
  }
  Json st = path_stat(r->header("x-docker-container-path-stat"));
  std::vector<char> buf(1 << 16);
  if (dst == "-") {
    for (;;) {
      auto n = r->read(buf.data(), buf.size());
      if (!n) return fail(n.error());
      if (*n == 0) return 0;
      if (auto w = out(std::string_view(buf.data(), *n)); !w) return fail(w.error());
    }
  }
  std::string entry = st.is_object() ? st.value("name", base_name(cpath)) : base_name(cpath);
  bool src_dir = is_dir_mode(st);
  bool contents_only = cpath.ends_with("/.");
  struct stat ds {};
  bool dst_exists = stat(dst.c_str(), &ds) == 0;
  bool dst_dir = dst_exists && S_ISDIR(ds.st_mode);
  std::string target_dir, new_name;
  if (dst_dir) {
    target_dir = dst;
    new_name = contents_only ? "" : rebase.empty() ? entry : rebase;
  } else {
    if (dst_exists && src_dir) return fail_msg("cannot copy a directory to a file: " + dst);
    if (!dst_exists && dst.ends_with("/") && !src_dir) {
      return fail_msg("destination directory \"" + dst + "\" must exist");
    }
    target_dir = dir_name(dst);
    struct stat ps {};
    if (stat(target_dir.c_str(), &ps) != 0 || !S_ISDIR(ps.st_mode)) {
      return fail_msg("destination directory \"" + target_dir + "\" must exist");
    }
    new_name = base_name(dst);
    if (src_dir && contents_only) {
      if (mkdir(dst.c_str(), 0755) != 0 && errno != EEXIST)
        return fail_msg("mkdir " + dst + ": " + errno_text(errno));
      target_dir = dst;
      new_name = "";
    }
  }
  std::vector<std::string> args = {"-x", "-f", "-", "-C", target_dir};
  if (!o.archive) args.push_back("--no-same-owner");
  if (new_name.empty()) {
    // The archive's top entry is the directory itself: strip it.
    args.push_back("--transform=s," + std::string("^") + sed_regex(entry) + "/\\?,,");
    args.push_back("--show-transformed-names");
  } else if (new_name != entry) {
    args.push_back("--transform=s,^" + sed_regex(entry) + "\\(/\\|$\\)," + sed_repl(new_name) +
                   "\\1,");
  }
  auto t = spawn_tar(args, true);
  if (!t) return fail(t.error());
  uint64_t total = 0;
  for (;;) {
    auto n = r->read(buf.data(), buf.size());
    if (!n) {
      (void)finish_tar(*t);
      return fail(n.error());
    }
    if (*n == 0) break;
    total += *n;
    if (auto w = write_all(t->fd.get(), std::string_view(buf.data(), *n)); !w) break;
  }
  if (auto f = finish_tar(*t); !f)
    return fail_msg("failed to extract the archive: " + f.error().what());
  if (!o.quiet && isatty(STDERR_FILENO))
    (void)err_out("Successfully copied " + human_size(static_cast<double>(total), 3) + " to " +
                  dst + "\n");
  return 0;
}

int cp_to(client::Client& api, const CpOpts& o, const std::string& src, const Loc& dst) {
  std::string dpath = dst.path.empty() ? "/" : dst.path;
  // Where the destination is: an existing directory takes the source by its name; a missing
  // path or a file is the new name in its parent.
  auto head =
      api.open_stream("HEAD", "/containers/" + esc(dst.container) + "/archive?path=" + esc(dpath));
  bool exists = false, is_dir = false;
  if (head) {
    Json st = path_stat(head->header("x-docker-container-path-stat"));
    exists = true;
    is_dir = is_dir_mode(st);
  } else if (head.error().kind() == ErrorKind::NotFound &&
             head.error().message().find("No such container") != std::string::npos) {
    return fail(head.error());
  } else if (head.error().kind() != ErrorKind::NotFound) {
    return fail(head.error());
  }
  std::string put_dir = dpath;
  std::vector<std::string> args;
  UniqueFd stdin_src;
  if (src == "-") {
    if (!is_dir)
      return fail_msg("destination \"" + dst.container + ":" + dpath + "\" must be a directory");
  } else {
    struct stat ss {};
    if (lstat(src.c_str(), &ss) != 0) return fail_msg("stat " + src + ": " + errno_text(errno));
    std::string base = base_name(src);
    bool contents_only = src.ends_with("/.");
    std::string new_name = base;
    if (!is_dir) {
      if (exists && S_ISDIR(ss.st_mode)) return fail_msg("cannot copy directory");
      put_dir = dir_name(dpath);
      new_name = base_name(dpath);
    }
    std::string src_parent = dir_name(contents_only ? src.substr(0, src.size() - 2) : src);
    args = {"-c", "-f", "-", "-C", src_parent};
    if (contents_only && is_dir) {
      args = {"-c", "-f", "-", "-C", src.substr(0, src.size() - 2), "."};
    } else {
      std::string entry = contents_only ? base_name(src.substr(0, src.size() - 2)) : base;
      if (new_name != entry) {
        args.push_back("--transform=s,^" + sed_regex(entry) + "\\(/\\|$\\)," + sed_repl(new_name) +
                       "\\1,");
      }
      args.push_back(entry);
    }
  }
  std::optional<TarProc> t;
  int fd = STDIN_FILENO;
  if (src != "-") {
    auto sp = spawn_tar(args, false);
    if (!sp) return fail(sp.error());
    t = std::move(*sp);
    fd = t->fd.get();
  }
  uint64_t total = 0;
  client::Query q;
  q.add("path", put_dir)
      .add("noOverwriteDirNonDir", "true")
      .add_if(o.archive, "copyUIDGID", "true");
  auto r = api.upload("PUT", "/containers/" + esc(dst.container) + "/archive" + q.str(),
                      "application/x-tar", [fd, &total](char* b, size_t n) -> Result<size_t> {
                        for (;;) {
                          ssize_t k = read(fd, b, n);
                          if (k < 0 && errno == EINTR) continue;
                          if (k < 0) return Error::sys("read the archive");
                          total += static_cast<uint64_t>(k);
                          return static_cast<size_t>(k);
                        }
                      });
  if (t) {
    auto f = finish_tar(*t);
    if (r && !f) return fail_msg("failed to pack " + src + ": " + f.error().what());
  }
  if (!r) return fail(r.error());
  (void)r->read_all(1 << 20);
  if (!o.quiet && isatty(STDERR_FILENO)) {
    (void)err_out("Successfully copied " + human_size(static_cast<double>(total), 3) + " to " +
                  dst.container + ":" + dpath + "\n");
  }
  return 0;
}

int do_cp(Ctx& ctx, CLI::App* cmd, CpOpts& o) {
  if (!check_args(ctx, cmd, o.args.size(), 2, 2)) return ctx.status;
  Loc a = split_loc(o.args[0]), b = split_loc(o.args[1]);
  if (a.container.empty() == b.container.empty()) {
    if (a.container.empty()) return fail_msg("must specify at least one container source");
    return fail_msg("copying between containers is not supported");
  }
  auto api = ctx.api();
  if (!api) return fail(api.error());
  if (!a.container.empty()) return cp_from(**api, o, a, o.args[1]);
  return cp_to(**api, o, o.args[0], b);
}

}  // namespace

void add_exec_commands(CLI::App& app, Ctx& ctx) {
  Groups& g = groups();
  register_both(app, g.container, "exec", "exec", [&](CLI::App* p, const std::string& n) {
    auto o = std::make_shared<ExecOpts>();
    CLI::App* cmd = add_cmd(p, n, "[OPTIONS] CONTAINER COMMAND [ARG...]",
                            "Execute a command in a running container");
    cmd->prefix_command();
    cmd->add_flag("-d,--detach", o->detach, "Detached mode: run command in the background");
    cmd->add_flag("-i,--interactive", o->interactive, "Keep STDIN open even if not attached");
    cmd->add_flag("-t,--tty", o->tty, "Allocate a pseudo-TTY");
    cmd->add_flag("--privileged", o->privileged, "Give extended privileges to the command");
    add_multi(cmd, "-e,--env", o->env, "Set environment variables");
    add_multi(cmd, "--env-file", o->env_file, "Read in a file of environment variables");
    cmd->add_option("-u,--user", o->user, "Username or UID (format: \"<name|uid>[:<group|gid>]\")");
    cmd->add_option("-w,--workdir", o->workdir, "Working directory inside the container");
    cmd->add_option("--detach-keys", o->detach_keys,
                    "Override the key sequence for detaching a container");
    cmd->callback([&ctx, cmd, o] { ctx.status = do_exec(ctx, cmd, *o); });
  });
  register_both(app, g.container, "cp", "cp", [&](CLI::App* p, const std::string& n) {
    auto o = std::make_shared<CpOpts>();
    CLI::App* cmd = add_cmd(p, n,
                            "[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tberth cp [OPTIONS] "
                            "SRC_PATH|- CONTAINER:DEST_PATH",
                            "Copy files/folders between a container and the local filesystem");
    cmd->add_flag("-a,--archive", o->archive, "Archive mode (copy all uid/gid information)");
    cmd->add_flag("-L,--follow-link", o->follow_link, "Always follow symbol link in SRC_PATH");
    cmd->add_flag("-q,--quiet", o->quiet, "Suppress progress output during copy");
    cmd->add_option("args", o->args)->allow_extra_args();
    cmd->callback([&ctx, cmd, o] { ctx.status = do_cp(ctx, cmd, *o); });
  });
}

}  // namespace berth::cli
