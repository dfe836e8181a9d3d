// Listening sockets of the API server (-H hosts).
#pragma once

#include <string>

#include "api/http.h"
#include "util/fd.h"
#include "util/result.h"

namespace berth::api {

struct Listener {
  UniqueFd fd;
  std::string unix_path;  // removed when the server stops; "" for TCP
  bool tls = false;
};

// "unix:///run/berth/berth.sock" (parent directories created, mode 0660, group
// opts.socket_group, a stale socket replaced, a live one refused: "another berthd is listening
// on ...") or "tcp://host:port" (only with opts.tls_* set).
Result<Listener> open_listener(const std::string& host, const ServerOptions& opts);

}  // namespace berth::api
