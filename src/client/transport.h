// The byte stream under a connection to the daemon: a plain socket (unix or TCP) or a TLS
// session over a TCP socket (client/tls.h). The HTTP framing in client/http.cc and the CLI's
// hijacked streams (attach, exec start) read and write through this interface only, so
// neither knows which one it has.
#pragma once

#include <memory>
#include <string_view>

#include "util/fd.h"
#include "util/result.h"

namespace berth::client {

class Transport {
 public:
  virtual ~Transport() = default;
  // Some bytes, blocking until at least one arrives; 0 at the end of the stream.
  virtual Result<size_t> read(char* buf, size_t len) = 0;
  // All of `data`. A daemon that went away is an error, never a SIGPIPE.
  virtual Result<void> write(std::string_view data) = 0;
  // Ends our direction of the stream (the container sees EOF on its stdin); the daemon's
  // direction keeps flowing.
  virtual Result<void> close_write() = 0;
  // Bytes read() hands out without waiting on the socket (a TLS record already decrypted):
  // poll() on fd() does not see them, so a caller that polls checks this first.
  virtual size_t buffered() const { return 0; }
  // The socket, for poll().
  virtual int fd() const = 0;
};

// A connected unix or TCP socket as it is.
std::unique_ptr<Transport> plain_transport(UniqueFd fd);

}  // namespace berth::client
