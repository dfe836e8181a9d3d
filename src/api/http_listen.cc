// Listening sockets for -H hosts: unix://path (mode 0660, group, stale socket replaced, a live
// one refused) and tcp://host:port (TLS with client certificates only).
#include "api/http_listen.h"

#include <arpa/inet.h>
#include <grp.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <charconv>
#include <cstdint>
#include <cstring>
#include <limits>

#include "util/strings.h"

namespace berth::api {

namespace {

Result<gid_t> lookup_group(const std::string& group) {
  if (!group.empty() && group.find_first_not_of("0123456789") == std::string::npos) {
    // A numeric group is a gid; (gid_t)-1 means "no change" to chown, so it is refused too.
    uint64_t gid = 0;
    auto [end, ec] = std::from_chars(group.data(), group.data() + group.size(), gid);
    if (ec != std::errc() || end != group.data() + group.size() ||
        gid >= std::numeric_limits<gid_t>::max())
      return Error::invalid("invalid socket group " + quoted(group) + ": gid out of range");
    return static_cast<gid_t>(gid);
  }
  struct group gr, *res = nullptr;
  std::vector<char> buf(16384);
  int rc = getgrnam_r(group.c_str(), &gr, buf.data(), buf.size(), &res);
  if (rc != 0 || !res) return Error::not_found("group " + group + " not found");
  return gr.gr_gid;
}

Result<void> make_parent_dir(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos || slash == 0) return ok();
  std::string dir = path.substr(0, slash);
  for (size_t i = 1; i <= dir.size(); i++) {
    if (i != dir.size() && dir[i] != '/') continue;
    std::string part = dir.substr(0, i);
    if (mkdir(part.c_str(), 0755) != 0 && errno != EEXIST)
      return Error::sys("create directory " + quoted(part));
  }
  return ok();
}

// A socket file left by a berthd that died is removed; one that still accepts connections
// belongs to a running daemon and is refused.
Result<void> clear_stale_socket(const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return ok();
    return Error::sys("stat " + quoted(path));
  }
  if (!S_ISSOCK(st.st_mode))
    return Error::conflict("can't create unix socket " + path + ": it exists and is not a socket");
  UniqueFd probe(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (probe && connect(probe.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0)
    return Error::conflict("another berthd is listening on " + path);
  if (unlink(path.c_str()) != 0 && errno != ENOENT)
    return Error::sys("remove stale socket " + quoted(path));
  return ok();
}

Result<Listener> listen_unix(const std::string& path, const std::string& group) {
  sockaddr_un addr{};
  if (path.empty() || path.size() >= sizeof addr.sun_path)
    return Error::invalid("invalid unix socket path " + quoted(path));
  std::optional<gid_t> gid;
  if (!group.empty()) gid = BERTH_TRY_CTX(lookup_group(group), "can't create unix socket " + path);
  BERTH_TRY(make_parent_dir(path));
  BERTH_TRY(clear_stale_socket(path));
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return Error::sys("create unix socket");
  addr.sun_family = AF_UNIX;
  memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  // Bound with a umask that leaves no window in which others could connect.
  mode_t old = umask(0177);
  int rc = bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  int err = errno;
  umask(old);
  if (rc != 0) return Error::from_errno(err, "bind " + quoted(path));
  Listener l{std::move(fd), path, false};
  if (chown(path.c_str(), 0, gid.value_or(0)) != 0 || chmod(path.c_str(), 0660) != 0) {
    err = errno;
    unlink(path.c_str());
    return Error::from_errno(err, "set owner and mode of " + quoted(path));
  }
  if (listen(l.fd.get(), 128) != 0) {
    err = errno;
    unlink(path.c_str());
    return Error::from_errno(err, "listen on " + quoted(path));
  }
  return l;
}

Result<Listener> listen_tcp(const std::string& hostport) {
  size_t colon = hostport.rfind(':');
  if (colon == std::string::npos) return Error::invalid("invalid tcp address " + hostport);
  std::string host = hostport.substr(0, colon), port = hostport.substr(colon + 1);
  if (host.size() > 1 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  addrinfo hints{}, *res = nullptr;
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0) return Error::invalid("invalid tcp address " + hostport + ": " + gai_strerror(rc));
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> guard(res, freeaddrinfo);
  UniqueFd fd(socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return Error::sys("create tcp socket");
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd.get(), res->ai_addr, res->ai_addrlen) != 0)
    return Error::sys("listen tcp " + hostport + ": bind");
  if (listen(fd.get(), 128) != 0) return Error::sys("listen tcp " + hostport);
  return Listener{std::move(fd), "", true};
}

}  // namespace

Result<Listener> open_listener(const std::string& host, const ServerOptions& opts) {
  if (host.starts_with("unix://")) return listen_unix(host.substr(7), opts.socket_group);
  if (host.starts_with("tcp://")) {
    if (opts.tls_cert.empty() || opts.tls_key.empty() || opts.tls_ca.empty())
      return Error::invalid("refusing to listen on " + host +
                            " without TLS client verification: tcp:// hosts need --tlsverify "
                            "with --tlscacert, --tlscert and --tlskey");
    std::string hp = host.substr(6);
    if (size_t slash = hp.find('/'); slash != std::string::npos) hp.resize(slash);
    return listen_tcp(hp);
  }
  if (!host.empty() && host[0] == '/') return listen_unix(host, opts.socket_group);
  return Error::invalid("invalid host " + quoted(host) +
                        ": use unix:///path/to/socket or tcp://host:port");
}

}  // namespace berth::api
