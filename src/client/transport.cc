#include "client/transport.h"

#include <sys/socket.h>

#include <cerrno>

namespace berth::client {

namespace {

class PlainTransport final : public Transport {
 public:
  explicit PlainTransport(UniqueFd fd) : fd_(std::move(fd)) {}

  Result<size_t> read(char* buf, size_t len) override {
    for (;;) {
      ssize_t n = ::recv(fd_.get(), buf, len, 0);
      if (n >= 0) return static_cast<size_t>(n);
      if (errno != EINTR) return Error::sys("read from the daemon");
    }
  }

  Result<void> write(std::string_view data) override {
    while (!data.empty()) {
      ssize_t n = ::send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        return Error::sys("write to the daemon");
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
    return ok();
  }

  Result<void> close_write() override {
    if (::shutdown(fd_.get(), SHUT_WR) != 0) return Error::sys("close the stream to the daemon");
    return ok();
  }

  int fd() const override { return fd_.get(); }

 private:
  UniqueFd fd_;
};

}  // namespace

std::unique_ptr<Transport> plain_transport(UniqueFd fd) {
  return std::make_unique<PlainTransport>(std::move(fd));
}

}  // namespace berth::client
