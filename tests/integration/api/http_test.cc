// The API server's HTTP layer over a real unix socket, driven by a raw client: what docker
// clients rely on (keep-alive, chunked bodies both ways, hijack, version prefix and
// negotiation, docker's error JSON) and what a hostile client may send.
#include "api/http.h"

#include <gmock/gmock.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "api_fixture.h"

namespace berth::test {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

#define SKIP_UNLESS_ROOT() \
  if (geteuid() != 0) GTEST_SKIP() << "needs root (overlayfs snapshots)"

class HttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIP_UNLESS_ROOT();
    ApiServerOptions o;
    o.max_body = 64 << 10;
    auto s = ApiServer::Start(o);
    ASSERT_TRUE(s) << s.error().what();
    server_ = std::move(*s);
  }
  RawClient Connect() {
    auto c = RawClient::Connect(server_->socket());
    EXPECT_TRUE(c) << c.error().what();
    return std::move(*c);
  }
  HttpResponse Get(const std::string& target) {
    RawClient c = Connect();
    auto r = c.Request("GET", target);
    EXPECT_TRUE(r) << r.error().what();
    return r ? *r : HttpResponse{};
  }
  std::unique_ptr<ApiServer> server_;
};

TEST_F(HttpTest, PingHasDockersHeaders) {
  RawClient c = Connect();
  auto r = c.Request("GET", "/_ping");
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "OK");
  EXPECT_EQ(r->header("api-version"), "1.47");
  EXPECT_EQ(r->header("ostype"), "linux");
  EXPECT_EQ(r->header("docker-experimental"), "false");
  EXPECT_EQ(r->header("pragma"), "no-cache");
  EXPECT_THAT(r->header("cache-control"), HasSubstr("no-cache"));
  EXPECT_FALSE(r->header("builder-version").empty());
  EXPECT_EQ(r->header("server"), "Docker/0.1.0-test (linux)");
  // HEAD: the same headers, no body.
  auto h = c.Request("HEAD", "/_ping");
  ASSERT_TRUE(h) << h.error().what();
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(h->header("api-version"), "1.47");
  EXPECT_EQ(h->header("content-length"), "0");
  // The connection is still usable: nothing stray was sent after the HEAD answer.
  auto again = c.Request("GET", "/v1.41/_ping");
  ASSERT_TRUE(again) << again.error().what();
  EXPECT_EQ(again->body, "OK");
}

TEST_F(HttpTest, VersionJsonAndNegotiation) {
  auto v = Get("/v1.47/version");
  ASSERT_EQ(v.status, 200) << v.body;
  EXPECT_EQ(v.header("content-type"), "application/json");
  json j = json::parse(v.body);
  EXPECT_EQ(j["ApiVersion"], "1.47");
  EXPECT_EQ(j["MinAPIVersion"], "1.24");
  EXPECT_EQ(j["Os"], "linux");
  for (const char* k : {"Platform", "Components", "Version", "GitCommit", "GoVersion", "Arch",
                        "KernelVersion", "BuildTime"})
    EXPECT_TRUE(j.contains(k)) << k;
  EXPECT_EQ(j["Components"][0]["Name"], "Engine");

  auto old = Get("/v1.12/version");
  EXPECT_EQ(old.status, 400);
  EXPECT_EQ(json::parse(old.body)["message"],
            "client version 1.12 is too old. Minimum supported API version is 1.24, please "
            "upgrade your client to a newer version");
  auto fresh = Get("/v1.99/version");
  EXPECT_EQ(fresh.status, 400);
  EXPECT_EQ(json::parse(fresh.body)["message"],
            "client version 1.99 is too new. Maximum supported API version is 1.47");
  // No prefix: the server's version.
  auto q = Get("/test/query?a=1");
  EXPECT_EQ(json::parse(q.body)["version"], "1.47");
  auto q2 = Get("/v1.44/test/query");
  EXPECT_EQ(json::parse(q2.body)["version"], "1.44");
  EXPECT_EQ(json::parse(q2.body)["path"], "/test/query");
}

TEST_F(HttpTest, NotFoundMethodNotAllowedAndNotImplemented) {
  auto nf = Get("/no/such/thing");
  EXPECT_EQ(nf.status, 404);
  EXPECT_EQ(json::parse(nf.body)["message"], "page not found");
  RawClient c = Connect();
  auto m = c.Request("DELETE", "/version");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->status, 405);
  auto ni = c.Request("POST", "/v1.47/swarm/init", "{}");
  ASSERT_TRUE(ni);
  EXPECT_EQ(ni->status, 501);
  EXPECT_EQ(json::parse(ni->body)["message"], "berth does not implement POST /swarm/init yet");
  // berth has no plugins: a lookup by name is dockerd's "not found", so `docker inspect` goes on
  // to its next kind of object.
  auto plug = c.Request("GET", "/plugins/vieux/sshfs:latest/json");
  ASSERT_TRUE(plug);
  EXPECT_EQ(plug->status, 404);
  EXPECT_EQ(json::parse(plug->body)["message"], "plugin \"vieux/sshfs:latest\" not found");
}

TEST_F(HttpTest, KeepAliveServesManyRequestsOnOneConnection) {
  RawClient c = Connect();
  for (int i = 0; i < 20; i++) {
    auto r = c.Request("GET", "/_ping");
    ASSERT_TRUE(r) << "request " << i << ": " << r.error().what();
    EXPECT_EQ(r->body, "OK");
  }
  // Pipelined: two requests in one write, two answers in order.
  ASSERT_TRUE(
      c.Send("GET /test/query?n=1 HTTP/1.1\r\nHost: x\r\n\r\n"
             "GET /test/query?n=2 HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto a = c.Read(), b = c.Read();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(json::parse(a->body)["query"]["n"][0], "1");
  EXPECT_EQ(json::parse(b->body)["query"]["n"][0], "2");
  // Connection: close is honoured.
  ASSERT_TRUE(c.Send("GET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  auto last = c.Read();
  ASSERT_TRUE(last);
  EXPECT_EQ(last->header("connection"), "close");
  EXPECT_TRUE(c.ClosedByPeer());
}

TEST_F(HttpTest, ChunkedRequestBody) {
  RawClient c = Connect();
  ASSERT_TRUE(
      c.Send("POST /test/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
             "5\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\n\r\n"));
  auto r = c.Read();
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello world");
  auto again = c.Request("GET", "/_ping");  // still in sync
  ASSERT_TRUE(again);
  EXPECT_EQ(again->body, "OK");
}

TEST_F(HttpTest, ChunkedResponseStream) {
  auto r = Get("/test/stream");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("transfer-encoding"), "chunked");
  EXPECT_EQ(r.body, "{\"n\":0}\n{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n{\"n\":4}\n");
}

TEST_F(HttpTest, BodyOverTheLimitIs413AndServerKeepsServing) {
  RawClient c = Connect();
  std::string big(100 << 10, 'x');
  auto r = c.Request("POST", "/test/echo", big);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->status, 413);
  EXPECT_THAT(json::parse(r->body)["message"].get<std::string>(), HasSubstr("larger than"));
  // Chunked and over the limit: 413 too, however the size is announced.
  RawClient c2 = Connect();
  std::string chunk(32 << 10, 'y');
  std::string req = "POST /test/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  char size[16];
  snprintf(size, sizeof size, "%zx\r\n", chunk.size());
  for (int i = 0; i < 3; i++) req += size + chunk + "\r\n";
  req += "0\r\n\r\n";
  c2.Send(req);
  auto r2 = c2.Read();
  ASSERT_TRUE(r2) << r2.error().what();
  EXPECT_EQ(r2->status, 413);
  EXPECT_EQ(Get("/_ping").body, "OK");
}

TEST_F(HttpTest, StreamingBodyRouteReadsBeyondTheLimit) {
  RawClient c = Connect();
  std::string chunk(1 << 20, 'z');
  std::string head = "POST /test/count HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  ASSERT_TRUE(c.Send(head));
  char size[16];
  snprintf(size, sizeof size, "%zx\r\n", chunk.size());
  for (int i = 0; i < 5; i++) ASSERT_TRUE(c.Send(size + chunk + "\r\n"));
  ASSERT_TRUE(c.Send("0\r\n\r\n"));
  auto r = c.Read();
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(r->body)["bytes"], 5u << 20);
  // Content-Length bodies alike.
  auto r2 = c.Request("POST", "/test/count", std::string(12345, 'a'));
  ASSERT_TRUE(r2);
  EXPECT_EQ(json::parse(r2->body)["bytes"], 12345);
}

TEST_F(HttpTest, ExpectContinue) {
  RawClient c = Connect();
  ASSERT_TRUE(
      c.Send("POST /test/count HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
             "Expect: 100-continue\r\n\r\n"));
  auto hello = c.ReadRaw(std::string_view("HTTP/1.1 100 Continue\r\n\r\n").size());
  ASSERT_TRUE(hello) << hello.error().what();
  EXPECT_EQ(*hello, "HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_TRUE(c.Send("abc"));
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(json::parse(r->body)["bytes"], 3);
}

TEST_F(HttpTest, HijackWithUpgradeHandsOverPendingBytes) {
  RawClient c = Connect();
  // The client's first stdin bytes arrive in the same write as the request.
  ASSERT_TRUE(
      c.Send("POST /v1.47/test/hijack HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
             "Upgrade: tcp\r\nContent-Length: 0\r\n\r\nearly"));
  auto r = c.Read();
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->status, 101);
  EXPECT_EQ(r->reason, "UPGRADED");
  EXPECT_EQ(r->header("upgrade"), "tcp");
  EXPECT_EQ(r->header("connection"), "Upgrade");
  EXPECT_EQ(r->header("content-type"), "application/vnd.docker.raw-stream");
  auto early = c.ReadRaw(5);
  ASSERT_TRUE(early) << early.error().what();
  EXPECT_EQ(*early, "EARLY");
  ASSERT_TRUE(c.Send("more"));
  auto more = c.ReadRaw(4);
  ASSERT_TRUE(more);
  EXPECT_EQ(*more, "MORE");
  shutdown(c.fd(), SHUT_WR);
  EXPECT_TRUE(c.ClosedByPeer());
}

TEST_F(HttpTest, HijackWithoutUpgradeAnswers200) {
  RawClient c = Connect();
  ASSERT_TRUE(c.Send("POST /test/hijack HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"));
  auto r = c.Read();
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->status, 200) << r->body;
  ASSERT_TRUE(c.Send("abc"));
  auto out = c.ReadRaw(3);
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, "ABC");
}

TEST_F(HttpTest, MalformedRequestsGet400AndTheServerKeepsServing) {
  for (std::string bad : std::vector<std::string>{
           "HELLO\r\n\r\n", "GET /_ping HTTP/9.9\r\n\r\n",
           "GET /_ping HTTP/1.1\r\nBad Header\r\n\r\n",
           "POST /test/echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
           "GET nopath HTTP/1.1\r\n\r\n", std::string("\0\1\2\3\r\n\r\n", 8)}) {
    RawClient c = Connect();
    c.Send(bad);
    auto r = c.Read();
    if (r) {
      EXPECT_EQ(r->status, 400) << bad;
    }
    EXPECT_TRUE(c.ClosedByPeer()) << bad;
  }
  // Headers beyond 1 MiB.
  {
    RawClient c = Connect();
    c.Send("GET /_ping HTTP/1.1\r\nX-Big: " + std::string(2 << 20, 'a') + "\r\n\r\n");
    EXPECT_TRUE(c.ClosedByPeer());
  }
  // A client that vanishes mid-request.
  {
    RawClient c = Connect();
    c.Send("POST /test/echo HTTP/1.1\r\nContent-Length: 100\r\n\r\nabc");
  }
  EXPECT_EQ(Get("/_ping").body, "OK");
}

TEST_F(HttpTest, HandlerExceptionIs500) {
  auto r = Get("/test/throw");
  EXPECT_EQ(r.status, 500);
  EXPECT_THAT(json::parse(r.body)["message"].get<std::string>(), HasSubstr("internal error"));
  EXPECT_EQ(Get("/_ping").body, "OK");
}

TEST_F(HttpTest, QueryDecodingAndImageNamesWithSlashes) {
  auto q = Get("/test/query?names=a&names=b%2Fc&filters=%7B%22x%22%3A1%7D&sp=a+b");
  json j = json::parse(q.body);
  EXPECT_EQ(j["query"]["names"], json({"a", "b/c"}));
  EXPECT_EQ(j["query"]["filters"][0], "{\"x\":1}");
  EXPECT_EQ(j["query"]["sp"][0], "a b");
  auto n = Get("/v1.47/test/images/localhost:5000/ns/app:1/json");
  EXPECT_EQ(json::parse(n.body)["name"], "localhost:5000/ns/app:1");
}

TEST_F(HttpTest, EventsSinceUntilAndFilters) {
  int64_t t0 = static_cast<int64_t>(time(nullptr)) - 1;
  server_->events().publish({"image", "tag", "sha256:aaa", {{"name", "a:1"}}});
  server_->events().publish({"container", "start", "c1", {{"image", "busybox"}}});
  std::string until = std::to_string(time(nullptr) + 1);
  auto r = Get("/events?since=" + std::to_string(t0) + "&until=" + until);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("content-type"), "application/json");
  std::vector<json> lines;
  size_t pos = 0;
  for (size_t nl; (nl = r.body.find('\n', pos)) != std::string::npos; pos = nl + 1)
    lines.push_back(json::parse(r.body.substr(pos, nl - pos)));
  ASSERT_EQ(lines.size(), 2u) << r.body;
  EXPECT_EQ(lines[0]["Type"], "image");
  EXPECT_EQ(lines[0]["Action"], "tag");
  EXPECT_EQ(lines[0]["status"], "tag");
  EXPECT_EQ(lines[0]["Actor"]["Attributes"]["name"], "a:1");
  EXPECT_EQ(lines[1]["from"], "busybox");
  EXPECT_GT(lines[1]["timeNano"].get<int64_t>(), 0);

  auto f = Get("/events?since=" + std::to_string(t0) + "&until=" + until +
               "&filters=%7B%22type%22%3A%7B%22container%22%3Atrue%7D%7D");
  ASSERT_EQ(f.status, 200);
  EXPECT_EQ(std::count(f.body.begin(), f.body.end(), '\n'), 1) << f.body;
  EXPECT_THAT(f.body, HasSubstr("\"start\""));

  auto bad = Get("/events?filters=%7B%22bogus%22%3A%5B%22x%22%5D%7D");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(json::parse(bad.body)["message"], "invalid filter 'bogus'");
  auto bad_json = Get("/events?filters=%7Bnope");
  EXPECT_EQ(bad_json.status, 400);
}

TEST_F(HttpTest, EventsStreamLiveAndEndWhenTheClientLeaves) {
  RawClient c = Connect();
  ASSERT_TRUE(c.Send("GET /events HTTP/1.1\r\nHost: x\r\n\r\n"));
  // Headers come at once (docker events prints nothing until an event, but must not hang).
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  server_->events().publish({"image", "pull", "busybox:latest", {{"name", "busybox:latest"}}});
  auto head = c.ReadRaw(12);
  ASSERT_TRUE(head) << head.error().what();
  EXPECT_EQ(*head, "HTTP/1.1 200");
  auto rest = c.ReadRaw(1);  // something more arrives: the headers and the event chunk
  ASSERT_TRUE(rest);
}

TEST(HttpListenTest, UnixSocketModeGroupStaleAndLive) {
  SKIP_UNLESS_ROOT();
  struct group* g = getgrnam("daemon");
  if (!g) GTEST_SKIP() << "no group 'daemon' here";
  ApiServerOptions o;
  o.socket_group = "daemon";
  auto s = ApiServer::Start(o);
  ASSERT_TRUE(s) << s.error().what();
  struct stat st;
  ASSERT_EQ(stat((*s)->socket().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  EXPECT_EQ(st.st_gid, g->gr_gid);
  EXPECT_EQ(st.st_uid, 0u);

  // A second server on the same live socket is refused.
  api::ServerOptions so;
  so.hosts = {"unix://" + (*s)->socket()};
  auto second = api::Server::listen(so, api::Router());
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().what(), "another berthd is listening on " + (*s)->socket());

  // A stale socket (its server gone) is replaced.
  TempDir tmp;
  std::string stale = tmp.sub("stale.sock");
  {
    UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    strncpy(addr.sun_path, stale.c_str(), sizeof addr.sun_path - 1);
    ASSERT_EQ(bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  }
  so.hosts = {"unix://" + stale};
  auto third = api::Server::listen(so, api::Router());
  ASSERT_TRUE(third) << third.error().what();
  third->reset();
  EXPECT_NE(access(stale.c_str(), F_OK), 0) << "the socket is removed when the server goes";

  // A regular file is not taken for a stale socket; tcp:// without TLS is refused.
  WriteFile(tmp.sub("file"), "x");
  so.hosts = {"unix://" + tmp.sub("file")};
  EXPECT_FALSE(api::Server::listen(so, api::Router()));
  so.hosts = {"tcp://127.0.0.1:0"};
  auto tcp = api::Server::listen(so, api::Router());
  ASSERT_FALSE(tcp);
  EXPECT_THAT(tcp.error().what(), HasSubstr("TLS"));
}

TEST(HttpListenTest, StopEndsIdleAndStreamingConnections) {
  SKIP_UNLESS_ROOT();
  auto s = ApiServer::Start();
  ASSERT_TRUE(s) << s.error().what();
  auto idle = RawClient::Connect((*s)->socket());
  auto events = RawClient::Connect((*s)->socket());
  ASSERT_TRUE(idle && events);
  ASSERT_TRUE(idle->Request("GET", "/_ping"));
  ASSERT_TRUE(events->Send("GET /events HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto t0 = std::chrono::steady_clock::now();
  s->reset();  // stop + join
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  EXPECT_TRUE(idle->ClosedByPeer(1000));
  EXPECT_TRUE(events->ClosedByPeer(1000));
}

}  // namespace
}  // namespace berth::test
