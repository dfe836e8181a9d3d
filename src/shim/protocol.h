// berth-shim's wire protocol, shared by the client (berthd) and the server (berth-shim): one
// JSON object per SOCK_SEQPACKET message, at most one fd per message (SCM_RIGHTS), and the JSON
// of ExitInfo as the `exit` file holds it. See client.h for the ops.
#pragma once

#include <sys/socket.h>
#include <sys/un.h>

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "shim/client.h"
#include "util/fd.h"
#include "util/result.h"

namespace berth::shim {

// Largest message either side accepts (an exec's process JSON is the biggest request).
inline constexpr size_t kMaxMessage = 1 << 20;

// File names inside a shim's state dir.
inline constexpr const char* kSockName = "sock";
inline constexpr const char* kPidName = "pid";
inline constexpr const char* kExitName = "exit";
inline constexpr const char* kShimLogName = "shim.log";

// A unix socket address for `path`. sun_path holds 107 bytes; a longer path is reached through
// /proc/self/fd/<dir> of its directory, opened into `dir_keep` (keep it open while the address
// is used).
Result<socklen_t> socket_address(const std::string& path, sockaddr_un& addr, UniqueFd& dir_keep);

// Sends one message with an optional fd (-1: none). Never raises SIGPIPE.
Result<void> send_message(int sock, std::string_view data, int fd = -1);

struct Message {
  std::string data;  // empty with eof = the peer closed
  UniqueFd fd;       // the first fd that came with it (any others are closed)
  bool eof = false;
};
// Receives one message (blocking unless the socket is non-blocking: then EAGAIN is an error
// of errno EAGAIN). A message bigger than kMaxMessage is consumed and reported as
// InvalidArgument.
Result<Message> recv_message(int sock);

// Whether the JSON text nests arrays/objects at most `max_depth` deep (strings skipped). Checked
// before parsing a request: serializing a hostile 500,000-deep document would recurse that deep.
bool json_depth_ok(std::string_view text, int max_depth);

// ExitInfo <-> its JSON ({"status","signal","exited_at","reason"}).
nlohmann::json exit_to_json(const ExitInfo& e);
ExitInfo exit_from_json(const nlohmann::json& j);  // missing fields keep their defaults

// An error reply's JSON and back.
nlohmann::json error_reply(const Error& e);
Error error_from_reply(const nlohmann::json& reply);
ErrorKind error_kind_from_name(std::string_view name);

}  // namespace berth::shim
