// The shim's wire protocol over a socketpair: messages, fds, size bounds, exit JSON.
#include "shim/protocol.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

namespace berth::shim {
namespace {

struct Pair {
  UniqueFd a, b;
  Pair() {
    int sv[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    a.reset(sv[0]);
    b.reset(sv[1]);
    int size = 4 << 20;
    setsockopt(a.get(), SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  }
};

TEST(ShimProtocol, MessageWithFdArrives) {
  Pair p;
  int pipefd[2];
  ASSERT_EQ(pipe2(pipefd, O_CLOEXEC), 0);
  UniqueFd r(pipefd[0]), w(pipefd[1]);
  ASSERT_TRUE(send_message(p.a.get(), R"({"op":"attach"})", w.get()));
  auto m = recv_message(p.b.get());
  ASSERT_TRUE(m) << m.error().what();
  EXPECT_EQ(m->data, R"({"op":"attach"})");
  ASSERT_TRUE(m->fd.valid());
  EXPECT_NE(m->fd.get(), w.get());
  EXPECT_EQ(fcntl(m->fd.get(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  ASSERT_EQ(write(m->fd.get(), "x", 1), 1);  // it is the pipe's write end
  char c;
  EXPECT_EQ(read(r.get(), &c, 1), 1);
}

TEST(ShimProtocol, PeerCloseIsEof) {
  Pair p;
  p.a.reset();
  auto m = recv_message(p.b.get());
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->eof);
}

TEST(ShimProtocol, OversizedMessageIsConsumedAndRefused) {
  Pair p;
  std::string big(kMaxMessage + 10, 'x');
  // send_message refuses to send it; write it raw as a hostile client would.
  EXPECT_FALSE(send_message(p.a.get(), big));
  if (send(p.a.get(), big.data(), big.size(), 0) != static_cast<ssize_t>(big.size()))
    GTEST_SKIP() << "the kernel's socket buffer limit (wmem_max) refuses such a message itself";
  ASSERT_TRUE(send_message(p.a.get(), "{}"));
  auto m = recv_message(p.b.get());
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().kind(), ErrorKind::InvalidArgument);
  auto next = recv_message(p.b.get());  // the stream goes on with the next message
  ASSERT_TRUE(next);
  EXPECT_EQ(next->data, "{}");
}

TEST(ShimProtocol, ExitJsonRoundTripsAndToleratesJunk) {
  ExitInfo e{137, 9, "2024-05-01T10:00:00.5Z", ""};
  auto j = exit_to_json(e);
  EXPECT_EQ(j.dump(),
            R"({"exited_at":"2024-05-01T10:00:00.5Z","reason":"","signal":9,"status":137})");
  ExitInfo back = exit_from_json(j);
  EXPECT_EQ(back.status, 137);
  EXPECT_EQ(back.signal, 9);
  EXPECT_EQ(back.exited_at, e.exited_at);
  ExitInfo junk = exit_from_json(nlohmann::json::parse(R"({"status":"x","signal":[1]})"));
  EXPECT_EQ(junk.status, 0);
}

TEST(ShimProtocol, JsonDepthIgnoresBracketsInStrings) {
  EXPECT_TRUE(json_depth_ok(R"({"a":[{"b":"[[[[[[\"{{{{"}]})", 3));
  EXPECT_FALSE(json_depth_ok(R"({"a":[{"b":[]}]})", 3));
  EXPECT_TRUE(json_depth_ok("not json at all", 0));
}

TEST(ShimProtocol, ErrorReplyKeepsKindAndText) {
  auto j = error_reply(Error::conflict("container abc is not running"));
  Error e = error_from_reply(j);
  EXPECT_EQ(e.kind(), ErrorKind::Conflict);
  EXPECT_EQ(e.what(), "container abc is not running");
}

TEST(ShimProtocol, LongSocketPathGoesThroughProcSelfFd) {
  std::string dir = "/tmp/" + std::string(120, 'd');
  sockaddr_un addr;
  UniqueFd keep;
  auto len = socket_address(dir + "/sock", addr, keep);
  // The directory does not exist: the error names it.
  ASSERT_FALSE(len);
  EXPECT_NE(len.error().what().find(dir), std::string::npos);
  auto shortlen = socket_address("/run/x/sock", addr, keep);
  ASSERT_TRUE(shortlen);
  EXPECT_STREQ(addr.sun_path, "/run/x/sock");
  EXPECT_FALSE(keep.valid());
}

}  // namespace
}  // namespace berth::shim
