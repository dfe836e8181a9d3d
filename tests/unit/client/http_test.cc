#include "client/http.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <thread>

#include "client/client.h"

namespace berth::client {
namespace {

TEST(Endpoint, ParsesUnixAndTcp) {
  auto u = parse_endpoint("unix:///run/berth/berth.sock");
  ASSERT_TRUE(u);
  EXPECT_TRUE(u->is_unix);
  EXPECT_EQ(u->address, "/run/berth/berth.sock");
  auto t = parse_endpoint("tcp://127.0.0.1:2375");
  ASSERT_TRUE(t);
  EXPECT_FALSE(t->is_unix);
  EXPECT_EQ(t->address, "127.0.0.1:2375");
  EXPECT_FALSE(parse_endpoint("ftp://x"));
  EXPECT_FALSE(parse_endpoint("unix://"));
}

TEST(Endpoint, FlagThenBerthHostThenDockerHostThenDefault) {
  setenv("BERTH_HOST", "unix:///b.sock", 1);
  setenv("DOCKER_HOST", "unix:///d.sock", 1);
  EXPECT_EQ(choose_endpoint("unix:///flag.sock")->address, "/flag.sock");
  EXPECT_EQ(choose_endpoint("")->address, "/b.sock");
  unsetenv("BERTH_HOST");
  EXPECT_EQ(choose_endpoint("")->address, "/d.sock");
  unsetenv("DOCKER_HOST");
  EXPECT_EQ(choose_endpoint("")->url, "unix:///run/berth/berth.sock");
}

TEST(Client, ConnectErrorNamesTheBerthDaemon) {
  Client c(*parse_endpoint("unix:///nonexistent/berth-test.sock"));
  auto r = c.get_json("/containers/json");
  ASSERT_FALSE(r);
  EXPECT_EQ(
      r.error().what(),
      "Cannot connect to the berth daemon at unix:///nonexistent/berth-test.sock. Is the berth "
      "daemon running?");
}

TEST(Client, VersionComparison) {
  EXPECT_LT(compare_versions("1.41", "1.47"), 0);
  EXPECT_EQ(compare_versions("1.47", "1.47"), 0);
  EXPECT_GT(compare_versions("1.100", "1.47"), 0);
}

TEST(Client, DaemonErrorsReadLikeDockers) {
  Error e = Client::error_from_response(404, R"({"message":"No such container: x"})");
  EXPECT_EQ(e.what(), "Error response from daemon: No such container: x");
  EXPECT_EQ(e.kind(), ErrorKind::NotFound);
  EXPECT_EQ(Client::error_from_response(409, "{\"message\":\"in use\"}").kind(),
            ErrorKind::Conflict);
  EXPECT_EQ(Client::error_from_response(500, "plain text\n").what(),
            "Error response from daemon: plain text");
}

TEST(Client, NotModifiedIsASuccessLikeDockers) {
  // start of a running container, stop of a stopped one: 304, and docker prints the name.
  EXPECT_TRUE(Client::succeeded(304));
  EXPECT_TRUE(Client::succeeded(200));
  EXPECT_TRUE(Client::succeeded(204));
  EXPECT_FALSE(Client::succeeded(404));
  EXPECT_FALSE(Client::succeeded(101));
}

// A scripted server on one end of a socketpair: reads one request head, writes `reply`.
struct FakeServer {
  int fds[2];
  std::thread t;
  std::string request;
  explicit FakeServer(std::string reply) {
    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds);
    t = std::thread([this, reply] {
      char buf[4096];
      while (request.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = read(fds[1], buf, sizeof(buf));
        if (n <= 0) break;
        request.append(buf, static_cast<size_t>(n));
      }
      (void)!write(fds[1], reply.data(), reply.size());
      shutdown(fds[1], SHUT_WR);
    });
  }
  ~FakeServer() {
    if (t.joinable()) t.join();
    close(fds[1]);
  }
};

TEST(Http, ChunkedBodyIsDecoded) {
  FakeServer s(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n7\r\n "
      "world\n\r\n0\r\n\r\n");
  auto conn = Connection::adopt(UniqueFd(s.fds[0]));
  ASSERT_TRUE(send_request(conn, RequestSpec{.method = "GET", .target = "/v1.41/events"}));
  auto r = read_response_head(std::move(conn));
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->status, 200);
  auto line1 = r->read_line();
  ASSERT_TRUE(line1 && *line1);
  EXPECT_EQ(**line1, "hello world");
  auto end = r->read_line();
  ASSERT_TRUE(end);
  EXPECT_FALSE(*end);
  EXPECT_TRUE(r->reusable());
  s.t.join();
  EXPECT_TRUE(s.request.starts_with("GET /v1.41/events HTTP/1.1\r\n"));
}

TEST(Http, ContentLengthBodyAndHeaders) {
  FakeServer s(
      "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nApi-Version: "
      "1.41\r\nContent-Length: 17\r\n\r\n{\"message\":\"no\"}\n");
  auto conn = Connection::adopt(UniqueFd(s.fds[0]));
  ASSERT_TRUE(send_request(
      conn,
      RequestSpec{
          .method = "POST", .target = "/x", .content_type = "application/json", .body = "{}"}));
  auto r = read_response_head(std::move(conn));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->header("api-version"), "1.41");
  EXPECT_EQ(*r->read_all(), "{\"message\":\"no\"}\n");
  s.t.join();
  EXPECT_NE(s.request.find("Content-Length: 2\r\n"), std::string::npos);
}

TEST(Http, UpgradeKeepsBytesThatArrivedWithTheHead) {
  FakeServer s(
      "HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: "
      "Upgrade\r\nUpgrade: tcp\r\n\r\nfirst-output");
  auto conn = Connection::adopt(UniqueFd(s.fds[0]));
  ASSERT_TRUE(
      send_request(conn, RequestSpec{.method = "POST", .target = "/attach", .upgrade = true}));
  auto r = read_response_head(std::move(conn));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 101);
  s.t.join();
  Connection c = std::move(*r->take_connection());
  std::string pending = c.take_buffered();
  char buf[64];
  ssize_t n = read(c.fd(), buf, sizeof(buf));
  if (n > 0) pending.append(buf, static_cast<size_t>(n));
  EXPECT_EQ(pending, "first-output");
  EXPECT_NE(s.request.find("Upgrade: tcp\r\n"), std::string::npos);
}

TEST(Http, QueryEscapes) {
  Query q;
  q.add("filters", R"({"label":{"a=b":true}})").add("all", "1");
  EXPECT_EQ(q.str(), "?filters=%7B%22label%22%3A%7B%22a%3Db%22%3Atrue%7D%7D&all=1");
}

}  // namespace
}  // namespace berth::client
