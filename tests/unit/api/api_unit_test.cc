#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "api/http.h"
#include "api/http_internal.h"
#include "api/json_util.h"
#include "api/routes.h"
#include "engine/events.h"

namespace berth::api {
namespace {

Request make(std::string method, std::string target) {
  Request r;
  r.method = std::move(method);
  r.target = std::move(target);
  EXPECT_TRUE(split_target(r));
  return r;
}

TEST(Router, CapturesAndStarCaptures) {
  Router router;
  int hit = 0;
  router.add("GET", "/images/json", [&](Exchange&) { hit = 1; });
  router.add("GET", "/images/{name*}/json", [&](Exchange&) { hit = 2; });
  router.add("DELETE", "/images/{name*}", [&](Exchange&) { hit = 3; });
  router.add("GET", "/containers/{id}/json", [&](Exchange&) { hit = 4; });

  Request a = make("GET", "/v1.45/images/json?all=1");
  EXPECT_NE(router.match(a), nullptr);
  Request b = make("GET", "/images/localhost:5000/ns/app:1/json");
  ASSERT_NE(router.match(b), nullptr);
  EXPECT_EQ(b.params["name"], "localhost:5000/ns/app:1");
  EXPECT_EQ(b.api_version, "1.47");
  Request c = make("DELETE", "/images/a/b%3Ac");
  ASSERT_NE(router.match(c), nullptr);
  EXPECT_EQ(c.params["name"], "a/b:c");
  Request d = make("GET", "/containers/abc/json");
  ASSERT_NE(router.match(d), nullptr);
  EXPECT_EQ(d.params["id"], "abc");
  // A segment capture does not span '/'; a known path with another method is reported.
  Request e = make("GET", "/containers/a/b/json");
  EXPECT_EQ(router.match(e), nullptr);
  bool known = false;
  Request f = make("POST", "/containers/abc/json");
  EXPECT_EQ(router.match(f, &known), nullptr);
  EXPECT_TRUE(known);
  // HEAD falls back to GET.
  Request g = make("HEAD", "/images/json");
  EXPECT_NE(router.match(g), nullptr);
}

// Records the error a handler answers with.
struct ErrorRecorder : Exchange {
  Request req;
  int code = 0;
  std::string message;
  const Request& request() const override { return req; }
  Result<size_t> read_body(char*, size_t) override { return size_t{0}; }
  void json(int s, const nlohmann::json&) override { code = s; }
  void error(int s, std::string_view m) override {
    code = s;
    message = std::string(m);
  }
  void error(const Error& e) override { error(error_status(e), e.what()); }
  void status(int s) override { code = s; }
  void raw(int s, std::string_view, std::string_view) override { code = s; }
  StreamWriter& stream(std::string_view) override { std::abort(); }
  Result<Hijacked> hijack(std::string_view) override { return Error::unsupported("no"); }
};

TEST(Unimplemented, LookupsOfObjectsBerthHasNoneOfAreNotFound) {
  // docker inspect tries networks, volumes and plugins after containers and images: a 404
  // lets it end with "Error: No such object: x" instead of a 501.
  Router router;
  add_unimplemented_routes(router);
  auto answer = [&](std::string method, std::string target) {
    ErrorRecorder ex;
    ex.req = make(std::move(method), std::move(target));
    const Handler* h = router.match(ex.req);
    EXPECT_NE(h, nullptr);
    if (h) (*h)(ex);
    return std::pair(ex.code, ex.message);
  };
  EXPECT_EQ(answer("GET", "/v1.47/networks/x"), std::pair(404, std::string("network x not found")));
  EXPECT_EQ(answer("GET", "/volumes/x"), std::pair(404, std::string("get x: no such volume")));
  EXPECT_EQ(answer("GET", "/plugins/a/b:1/json"),
            std::pair(404, std::string("plugin \"a/b:1\" not found")));
  EXPECT_EQ(answer("DELETE", "/networks/x").first, 501);
  EXPECT_EQ(answer("GET", "/networks").first, 501);
  EXPECT_EQ(answer("GET", "/services/x").first, 501);
}

TEST(Request, QueryValues) {
  Request r = make("GET", "/x?a=1&a=2&t=True&f=0&n=no&e=&num=42&bad=4x&sp=a%20b+c");
  EXPECT_EQ(r.q("a"), "2");
  EXPECT_EQ(r.query.count("a"), 2u);
  EXPECT_TRUE(r.q_bool("t"));
  EXPECT_FALSE(r.q_bool("f", true));
  EXPECT_FALSE(r.q_bool("n", true));
  EXPECT_FALSE(r.q_bool("e", true));
  EXPECT_TRUE(r.q_bool("absent", true));
  EXPECT_EQ(*r.q_int("num"), 42);
  EXPECT_FALSE(r.q_int("bad"));
  EXPECT_FALSE(r.q_int("absent")->has_value());
  EXPECT_EQ(r.q("sp"), "a b c");
}

TEST(Request, JsonBodyErrors) {
  Request r;
  EXPECT_TRUE(r.json_body(true));
  auto empty = r.json_body();
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().kind(), ErrorKind::InvalidArgument);
  r.body = "{nope";
  auto bad = r.json_body();
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().what().rfind("invalid JSON: ", 0), 0u);
}

TEST(Versions, CompareAndTargets) {
  EXPECT_LT(compare_versions("1.9", "1.10"), 0);
  EXPECT_EQ(compare_versions("1.47", "1.47"), 0);
  EXPECT_GT(compare_versions("1.47", "1.24"), 0);
  Request r = make("GET", "/v1.41/version");
  EXPECT_EQ(r.path, "/version");
  EXPECT_EQ(r.api_version, "1.41");
  EXPECT_TRUE(r.version_at_least("1.40"));
  EXPECT_FALSE(r.version_at_least("1.44"));
  Request v = make("GET", "/volumes");  // not a version prefix
  EXPECT_EQ(v.path, "/volumes");
  Request bad;
  bad.target = "nopath";
  EXPECT_FALSE(split_target(bad));
}

TEST(ErrorStatus, Kinds) {
  EXPECT_EQ(error_status(Error::not_found("x")), 404);
  EXPECT_EQ(error_status(Error::conflict("x")), 409);
  EXPECT_EQ(error_status(Error::invalid("x")), 400);
  EXPECT_EQ(error_status(Error::unsupported("x")), 501);
  EXPECT_EQ(error_status(Error::internal("x")), 500);
}

TEST(Filters, BothFormsAndErrors) {
  auto a = parse_filters(R"({"dangling":{"true":true},"label":["a=b","c"]})");
  ASSERT_TRUE(a);
  EXPECT_EQ((*a)["dangling"], std::vector<std::string>{"true"});
  EXPECT_EQ((*a)["label"], (std::vector<std::string>{"a=b", "c"}));
  EXPECT_TRUE(parse_filters("")->empty());
  EXPECT_FALSE(parse_filters("{bad"));
  EXPECT_FALSE(parse_filters("[1]"));
  EXPECT_FALSE(parse_filters(R"({"a":[1]})"));
  auto k = check_filter_keys(*a, {"dangling"});
  ASSERT_FALSE(k);
  EXPECT_EQ(k.error().what(), "invalid filter 'label'");
  FilterMap f{{"dangling", {"maybe"}}};
  EXPECT_FALSE(filter_bool(f, "dangling", false));
  FilterMap t{{"dangling", {"1"}}};
  EXPECT_TRUE(*filter_bool(t, "dangling", false));
}

TEST(Times, Rfc3339AndTimestamps) {
  EXPECT_EQ(rfc3339_nano(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(rfc3339_nano(1'700'000'000'120'000'000), "2023-11-14T22:13:20.12Z");
  EXPECT_EQ(*parse_rfc3339("2023-11-14T22:13:20.12Z"), 1'700'000'000'120'000'000);
  EXPECT_EQ(*parse_rfc3339("2023-11-14T23:13:20+01:00"), 1'700'000'000'000'000'000);
  EXPECT_FALSE(parse_rfc3339("yesterday"));
  int64_t now = 1'700'000'000'000'000'000;
  EXPECT_EQ(*parse_timestamp("1700000000", now), now);
  EXPECT_EQ(*parse_timestamp("1700000000.5", now), now + 500'000'000);
  EXPECT_EQ(*parse_timestamp("10m", now), now - 600'000'000'000);
  EXPECT_EQ(*parse_timestamp("1h30m", now), now - 5'400'000'000'000);
  EXPECT_EQ(*parse_timestamp("2023-11-14", now), 1'699'920'000'000'000'000);
  EXPECT_FALSE(parse_timestamp("soon", now));
}

TEST(Progress, DockersBarAndMessages) {
  EXPECT_EQ(human_size(2'220'000), "2.22MB");
  EXPECT_EQ(human_size(512), "512B");
  EXPECT_EQ(progress_bar(50, 100),
            "[=========================>                         ]      50B/100B");
  auto m = progress_message("abc", "Downloading", 10, 20);
  EXPECT_EQ(m["progressDetail"]["current"], 10);
  EXPECT_EQ(m["progressDetail"]["total"], 20);
  EXPECT_EQ(m["id"], "abc");
  auto p = progress_message("abc", "Pull complete", 0, 0);
  EXPECT_TRUE(p["progressDetail"].empty());
  EXPECT_FALSE(p.contains("progress"));
  auto e = error_message("boom");
  EXPECT_EQ(e["error"], "boom");
  EXPECT_EQ(e["errorDetail"]["message"], "boom");
}

TEST(Events, DockersJsonShape) {
  engine::Event e{
      "container", "start", "abc", {{"image", "busybox"}, {"name", "web"}}, 1'500'000'000'123};
  auto j = event_json(e);
  EXPECT_EQ(j["status"], "start");
  EXPECT_EQ(j["id"], "abc");
  EXPECT_EQ(j["from"], "busybox");
  EXPECT_EQ(j["Actor"]["Attributes"]["name"], "web");
  EXPECT_EQ(j["scope"], "local");
  EXPECT_EQ(j["time"], 1500);
  EXPECT_EQ(j["timeNano"], 1'500'000'000'123);
  engine::Event v{"volume", "create", "v1", {}, 1};
  EXPECT_FALSE(event_json(v).contains("status"));
}

}  // namespace
}  // namespace berth::api
