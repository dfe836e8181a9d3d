// docker's stdcopy framing of a non-tty container's output (attach, logs, exec): each frame is
// an 8-byte header [stream, 0, 0, 0, size as big-endian uint32] and `size` payload bytes.
// Streams: 0 stdin (written to stdout, as docker does), 1 stdout, 2 stderr, 3 an error from
// the daemon (the stream stops with it).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "util/result.h"

namespace berth::client {

class StdcopyDemuxer {
 public:
  using Sink = std::function<Result<void>(std::string_view)>;
  StdcopyDemuxer(Sink out, Sink err) : out_(std::move(out)), err_(std::move(err)) {}

  // Feeds the next bytes (any split); complete payload pieces go to the sinks as they arrive.
  // An error for a daemon error frame ("error from daemon in stream: ...") or a bad header.
  Result<void> feed(std::string_view data);
  // True when the stream ended cleanly (not in the middle of a frame).
  bool at_frame_boundary() const { return header_len_ == 0 && left_ == 0; }

 private:
  Sink out_, err_;
  unsigned char header_[8] = {};
  size_t header_len_ = 0;
  uint32_t left_ = 0;  // payload bytes left in the current frame
  int stream_ = 1;
  std::string system_error_;
};

// Encodes one frame (for tests and for servers).
std::string stdcopy_frame(int stream, std::string_view payload);

}  // namespace berth::client
