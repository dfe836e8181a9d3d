// Registry client against a real registry (Debian's docker-registry, images pushed by skopeo)
// and against faulty_registry.py for what a real registry cannot be made to do. Each test
// checks what a user of `berth pull/push` would see: the bytes, the digests, the errors.
#include "image/registry.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "oci/image.h"
#include "registry_fixture.h"
#include "util/digest.h"
#include "util/fd.h"

namespace berth::test {
namespace {

using image::RegistryClient;
using image::RegistryOptions;
using json = nlohmann::json;
using oci::image::Descriptor;
using ::testing::HasSubstr;

// ---- helpers ----------------------------------------------------------------------------------

std::shared_ptr<RegistryClient> Client(const std::string& host, RegistryOptions opts = {}) {
  if (opts.docker_config.empty()) opts.docker_config = "/nonexistent/berth-test/config.json";
  opts.initial_backoff_ms = std::min(opts.initial_backoff_ms, 20);
  auto c = RegistryClient::create(host, std::move(opts));
  EXPECT_TRUE(c) << c.error().what();
  return c ? *c : nullptr;
}

struct Fetched {
  std::string bytes;
  int restarts = 0;
};

Result<Fetched> FetchBlob(RegistryClient& c, const std::string& repo, const Descriptor& d) {
  Fetched f;
  auto r = c.fetch_blob(
      repo, d, 0,
      [&](const char* p, size_t n) -> Result<void> {
        f.bytes.append(p, n);
        return ok();
      },
      [&]() -> Result<void> {
        ++f.restarts;
        f.bytes.clear();
        return ok();
      });
  if (!r) return std::move(r).error();
  return f;
}

Descriptor Desc(const json& j) {
  Descriptor d;
  d.media_type = j.value("mediaType", "");
  d.digest = *Digest::parse(j.at("digest").get<std::string>());
  d.size = j.at("size").get<int64_t>();
  return d;
}

Descriptor DescOf(const std::string& bytes, std::string media = "application/octet-stream") {
  Descriptor d;
  d.media_type = std::move(media);
  d.digest = sha256_of(bytes);
  d.size = static_cast<int64_t>(bytes.size());
  return d;
}

std::string RandomBytes(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

UniqueFd FileWith(const TempDir& dir, const std::string& name, const std::string& bytes) {
  WriteFile(dir.sub(name), bytes);
  return UniqueFd(open(dir.sub(name).c_str(), O_RDONLY | O_CLOEXEC));
}

// A one-platform busybox image layout: {layout, tag, digest} plus the manifest JSON.
struct Image {
  BuiltImage built;
  json manifest;
  std::string manifest_bytes;
};

Result<Image> MakeImage(const TempDir& tmp, const std::string& name = "img") {
  Image img;
  img.built = BERTH_TRY(BuildBusyboxImage(tmp.sub(name), {"--cmd", R"(["sh"])"}));
  img.manifest_bytes = BERTH_TRY(ReadLayoutBlob(img.built.layout, img.built.digest));
  img.manifest = json::parse(img.manifest_bytes);
  return img;
}

// A layout with one big (1 MiB) uncompressed random layer, for the fault tests.
struct BigImage {
  BuiltImage built;
  Descriptor layer;
  std::string layer_bytes;
};

Result<BigImage> MakeBigImage(const TempDir& tmp) {
  std::string dir = tmp.sub("big-layer");
  mkdir(dir.c_str(), 0755);
  WriteFile(dir + "/random.bin", RandomBytes(1 << 20, 7));
  BigImage b;
  b.built = BERTH_TRY(BuildImage(tmp.sub("big"), {"--compression", "none", "--layer", dir}));
  json m = json::parse(BERTH_TRY(ReadLayoutBlob(b.built.layout, b.built.digest)));
  b.layer = Desc(m["layers"][0]);
  b.layer_bytes = BERTH_TRY(ReadLayoutBlob(b.built.layout, b.layer.digest.str()));
  return b;
}

int CountLines(const std::string& log, std::string_view needle) {
  int n = 0;
  for (size_t pos = log.find(needle); pos != std::string::npos; pos = log.find(needle, pos + 1)) {
    ++n;
  }
  return n;
}

int CountRequests(const json& log, std::string_view method, std::string_view path_part) {
  int n = 0;
  for (const auto& r : log) {
    if (r["method"] == method &&
        r["path"].get<std::string>().find(path_part) != std::string::npos) {
      ++n;
    }
  }
  return n;
}

// ---- parsing: no registry needed --------------------------------------------------------------

TEST(RegistryAuthParse, BearerChallengeWithQuotedCommas) {
  auto ch = image::parse_www_authenticate(
      R"(Bearer realm="https://auth.example.com/token",service="registry.example.com",)"
      R"(scope="repository:samalba/my-app:pull,push")");
  ASSERT_EQ(ch.size(), 1u);
  EXPECT_EQ(ch[0].scheme, "bearer");
  EXPECT_EQ(ch[0].params["realm"], "https://auth.example.com/token");
  EXPECT_EQ(ch[0].params["service"], "registry.example.com");
  EXPECT_EQ(ch[0].params["scope"], "repository:samalba/my-app:pull,push");
}

TEST(RegistryAuthParse, SeveralChallengesEscapesAndOddSpacing) {
  auto ch = image::parse_www_authenticate(
      R"(Basic realm="a \"quoted\" realm" , BEARER Realm = "https://t/x?a=1,b=2" ,)"
      R"( service=plain-token,error="insufficient_scope")");
  ASSERT_EQ(ch.size(), 2u);
  EXPECT_EQ(ch[0].scheme, "basic");
  EXPECT_EQ(ch[0].params["realm"], R"(a "quoted" realm)");
  EXPECT_EQ(ch[1].scheme, "bearer");
  EXPECT_EQ(ch[1].params["realm"], "https://t/x?a=1,b=2");
  EXPECT_EQ(ch[1].params["service"], "plain-token");
  EXPECT_EQ(ch[1].params["error"], "insufficient_scope");
}

TEST(RegistryAuthParse, JunkNeverCrashes) {
  for (const char* h : {"", ",,,", "Bearer", "Bearer realm=\"unterminated", "=x", "Bearer ,=,\"",
                        "Negotiate abc==", "Basic realm=\"x\", =\"y\""}) {
    auto ch = image::parse_www_authenticate(h);
    for (const auto& c : ch) EXPECT_FALSE(c.scheme.empty()) << h;
  }
  auto ch = image::parse_www_authenticate("Bearer realm=\"unterminated");
  ASSERT_EQ(ch.size(), 1u);
  EXPECT_EQ(ch[0].params["realm"], "unterminated");
}

// ---- docker config.json -----------------------------------------------------------------------

TEST(RegistryDockerConfig, AuthsEntries) {
  TempDir tmp;
  std::string cfg = tmp.sub("config.json");
  WriteFile(cfg, R"({"auths": {
      "https://index.docker.io/v1/": {"auth": "aHViLXVzZXI6aHViLXBhc3M="},
      "http://127.0.0.1:5000/v1/": {"username": "u5000", "password": "p:with:colons"},
      "tokens.example.com": {"identitytoken": "refresh-me"},
      "bad.example.com": {"auth": "!!!"}}})");
  auto hub = image::docker_config_credentials(cfg, "docker.io");
  ASSERT_TRUE(hub) << hub.error().what();
  EXPECT_EQ(hub->username, "hub-user");
  EXPECT_EQ(hub->password, "hub-pass");
  auto local = image::docker_config_credentials(cfg, "127.0.0.1:5000");
  ASSERT_TRUE(local);
  EXPECT_EQ(local->username, "u5000");
  EXPECT_EQ(local->password, "p:with:colons");
  auto tok = image::docker_config_credentials(cfg, "tokens.example.com");
  ASSERT_TRUE(tok);
  EXPECT_EQ(tok->identity_token, "refresh-me");
  auto none = image::docker_config_credentials(cfg, "other.example.com");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
  auto bad = image::docker_config_credentials(cfg, "bad.example.com");
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error().what(), HasSubstr("invalid base64"));

  auto missing = image::docker_config_credentials(tmp.sub("nope.json"), "docker.io");
  ASSERT_TRUE(missing);
  EXPECT_TRUE(missing->empty());
  WriteFile(tmp.sub("broken.json"), "{not json");
  auto broken = image::docker_config_credentials(tmp.sub("broken.json"), "docker.io");
  ASSERT_FALSE(broken);
  EXPECT_THAT(broken.error().what(), HasSubstr("broken.json"));
}

// Runs with a fake docker-credential-<name> first on PATH.
class RegistryCredHelper : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* p = getenv("PATH");
    old_path_ = p ? p : "";
    setenv("PATH", (tmp_.path() + ":" + old_path_).c_str(), 1);
    // Knows 127.0.0.1:5000 (user/pass) and docker hub (an identity token); logs its stdin.
    WriteFile(tmp_.sub("docker-credential-berthtest"),
              "#!/bin/sh\n"
              "[ \"$1\" = get ] || exit 3\n"
              "read -r server\n"
              "echo \"$server\" >> " +
                  tmp_.sub("asked") +
                  "\n"
                  "case \"$server\" in\n"
                  "  127.0.0.1:5000) echo '{\"ServerURL\":\"x\",\"Username\":\"helper-user\","
                  "\"Secret\":\"helper-pass\"}' ;;\n"
                  "  https://index.docker.io/v1/) echo "
                  "'{\"Username\":\"<token>\",\"Secret\":\"tok\"}' ;;\n"
                  "  broken.example.com) echo 'keychain locked'; exit 1 ;;\n"
                  "  *) echo 'credentials not found in native keychain'; exit 1 ;;\n"
                  "esac\n",
              0755);
  }
  void TearDown() override { setenv("PATH", old_path_.c_str(), 1); }
  TempDir tmp_;
  std::string old_path_;
};

TEST_F(RegistryCredHelper, CredHelpersAndCredsStore) {
  std::string cfg = tmp_.sub("config.json");
  WriteFile(cfg,
            R"({"credHelpers": {"127.0.0.1:5000": "berthtest", "broken.example.com": "berthtest"},
                     "credsStore": "berthtest",
                     "auths": {"fallback.example.com": {"auth": "Zm9vOmJhcg=="}}})");
  auto c = image::docker_config_credentials(cfg, "127.0.0.1:5000");
  ASSERT_TRUE(c) << c.error().what();
  EXPECT_EQ(c->username, "helper-user");
  EXPECT_EQ(c->password, "helper-pass");
  auto hub = image::docker_config_credentials(cfg, "docker.io");  // via credsStore
  ASSERT_TRUE(hub) << hub.error().what();
  EXPECT_EQ(hub->identity_token, "tok");
  EXPECT_TRUE(hub->username.empty());
  // The store knows nothing of it: the auths entry is used.
  auto fb = image::docker_config_credentials(cfg, "fallback.example.com");
  ASSERT_TRUE(fb) << fb.error().what();
  EXPECT_EQ(fb->username, "foo");
  EXPECT_EQ(fb->password, "bar");
  auto broken = image::docker_config_credentials(cfg, "broken.example.com");
  ASSERT_FALSE(broken);
  EXPECT_THAT(broken.error().what(), HasSubstr("docker-credential-berthtest"));
  EXPECT_THAT(broken.error().what(), HasSubstr("keychain locked"));
  auto asked = read_file(tmp_.sub("asked"));
  ASSERT_TRUE(asked);
  EXPECT_THAT(*asked, HasSubstr("127.0.0.1:5000\n"));
  EXPECT_THAT(*asked, HasSubstr("https://index.docker.io/v1/\n"));

  WriteFile(cfg, R"({"credsStore": "no-such-helper-berth"})");
  auto missing = image::docker_config_credentials(cfg, "x.example.com");
  ASSERT_FALSE(missing);
  EXPECT_THAT(missing.error().what(), HasSubstr("docker-credential-no-such-helper-berth"));
}

// ---- transport errors -------------------------------------------------------------------------

TEST(RegistryClientErrors, ConnectionRefusedReadsLikeDocker) {
  int port = FreePort();
  ASSERT_GT(port, 0);
  RegistryOptions o;
  o.max_attempts = 2;
  auto c = Client("127.0.0.1:" + std::to_string(port), o);
  ASSERT_TRUE(c);
  auto r = c->ping();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().what(), "Get \"http://127.0.0.1:" + std::to_string(port) +
                                  "/v2/\": dial tcp 127.0.0.1:" + std::to_string(port) +
                                  ": connect: connection refused");
}

TEST(RegistryClientErrors, InvalidNamesRefusedBeforeAnyRequest) {
  auto c = Client("127.0.0.1:1");
  ASSERT_TRUE(c);
  auto m = c->get_manifest("../etc", "latest");
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().kind(), ErrorKind::InvalidArgument);
  auto t = c->get_manifest("app", "bad tag");
  ASSERT_FALSE(t);
  EXPECT_THAT(t.error().what(), HasSubstr("invalid tag"));
  EXPECT_FALSE(RegistryClient::create("host/with/slash"));
}

// ---- against docker-registry ------------------------------------------------------------------

TEST(RegistryLocal, PingAndAnonymousPullOfManifestAndBlobs) {
  BERTH_SKIP_UNLESS_REGISTRY();
  TempDir tmp;
  auto reg = LocalRegistry::Start();
  ASSERT_TRUE(reg) << reg.error().what();
  auto img = MakeImage(tmp);
  ASSERT_TRUE(img) << img.error().what();
  ASSERT_TRUE((*reg)->Push(img->built.layout, img->built.tag, "busybox:1"));

  auto c = Client((*reg)->host(), (*reg)->client_options());
  ASSERT_TRUE(c->ping()) << c->ping().error().what();

  auto m = c->get_manifest("busybox", "1");
  ASSERT_TRUE(m) << m.error().what();
  EXPECT_EQ(m->media_type, oci::image::kOciManifest);
  EXPECT_EQ(m->digest.str(), img->built.digest);
  EXPECT_EQ(m->body, img->manifest_bytes);

  auto by_digest = c->get_manifest("busybox", img->built.digest);
  ASSERT_TRUE(by_digest) << by_digest.error().what();
  EXPECT_EQ(by_digest->body, m->body);

  auto head = c->head_manifest("busybox", "1");
  ASSERT_TRUE(head) << head.error().what();
  EXPECT_EQ(head->digest.str(), img->built.digest);
  EXPECT_EQ(head->size, static_cast<int64_t>(m->body.size()));
  EXPECT_EQ(head->media_type, oci::image::kOciManifest);

  std::vector<Descriptor> blobs = {Desc(img->manifest["config"])};
  for (const auto& l : img->manifest["layers"]) blobs.push_back(Desc(l));
  for (const auto& d : blobs) {
    auto f = FetchBlob(*c, "busybox", d);
    ASSERT_TRUE(f) << f.error().what();
    EXPECT_EQ(sha256_of(f->bytes), d.digest);
    EXPECT_EQ(f->bytes.size(), static_cast<size_t>(d.size));
    EXPECT_EQ(f->restarts, 0);
  }
  // A resumed fetch from an offset delivers exactly the rest.
  const Descriptor& layer = blobs[1];
  std::string tail;
  auto r = c->fetch_blob(
      "busybox", layer, 1000,
      [&](const char* p, size_t n) -> Result<void> {
        tail.append(p, n);
        return ok();
      },
      nullptr);
  ASSERT_TRUE(r) << r.error().what();
  auto whole = ReadLayoutBlob(img->built.layout, layer.digest.str());
  ASSERT_TRUE(whole);
  EXPECT_EQ(tail, whole->substr(1000));

  auto tags = c->list_tags("busybox");
  ASSERT_TRUE(tags) << tags.error().what();
  EXPECT_EQ(*tags, std::vector<std::string>{"1"});
}

TEST(RegistryLocal, ParallelBlobFetchesShareOneClient) {
  BERTH_SKIP_UNLESS_REGISTRY();
  TempDir tmp;
  auto reg = LocalRegistry::Start();
  ASSERT_TRUE(reg) << reg.error().what();
  // Eight 512 KiB random layers.
  std::vector<std::string> args;
  for (int i = 0; i < 8; ++i) {
    std::string dir = tmp.sub("l" + std::to_string(i));
    mkdir(dir.c_str(), 0755);
    WriteFile(dir + "/data", RandomBytes(512 << 10, 100 + i));
    args.insert(args.end(), {"--layer", dir});
  }
  auto built = BuildImage(tmp.sub("layout"), args);
  ASSERT_TRUE(built) << built.error().what();
  ASSERT_TRUE((*reg)->Push(built->layout, built->tag, "par:1"));
  auto c = Client((*reg)->host(), (*reg)->client_options());
  auto m = c->get_manifest("par", "1");
  ASSERT_TRUE(m) << m.error().what();
  json layers = json::parse(m->body)["layers"];
  ASSERT_EQ(layers.size(), 8u);

  std::atomic<int> good{0};
  std::vector<std::string> errors(layers.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < layers.size(); ++i) {
    threads.emplace_back([&, i] {
      Descriptor d = Desc(layers[i]);
      Hasher h;
      auto r = c->fetch_blob(
          "par", d, 0,
          [&](const char* p, size_t n) -> Result<void> {
            h.update(p, n);
            return ok();
          },
          nullptr);
      if (!r) {
        errors[i] = r.error().what();
      } else if (h.finish() == d.digest) {
        ++good;
      } else {
        errors[i] = "digest mismatch";
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(good.load(), 8) << ::testing::PrintToString(errors);
}

TEST(RegistryLocal, MultiArchIndex) {
  BERTH_SKIP_UNLESS_REGISTRY();
  TempDir tmp;
  auto reg = LocalRegistry::Start();
  ASSERT_TRUE(reg) << reg.error().what();
  ASSERT_TRUE(MakeBusyboxRootfs(tmp.sub("rootfs")));
  mkdir(tmp.sub("arm").c_str(), 0755);
  WriteFile(tmp.sub("arm") + "/arch", "arm64\n");
  auto built = BuildImage(tmp.sub("layout"),
                          {"--platform", "linux/amd64", "--layer", tmp.sub("rootfs"), "--platform",
                           "linux/arm64/v8", "--layer", tmp.sub("arm"), "--platform",
                           "linux/arm/v7", "--compression", "zstd", "--layer", tmp.sub("arm")},
                          "multi");
  ASSERT_TRUE(built) << built.error().what();
  ASSERT_TRUE((*reg)->Push(built->layout, "multi", "multi:1"));

  auto c = Client((*reg)->host(), (*reg)->client_options());
  auto idx = c->get_manifest("multi", "1");
  ASSERT_TRUE(idx) << idx.error().what();
  EXPECT_EQ(idx->media_type, oci::image::kOciIndex);
  EXPECT_EQ(idx->digest.str(), built->digest);
  json j = json::parse(idx->body);
  ASSERT_EQ(j["manifests"].size(), 3u);
  std::vector<std::string> platforms;
  for (const auto& d : j["manifests"]) {
    platforms.push_back(d["platform"]["architecture"].get<std::string>() +
                        d["platform"].value("variant", ""));
    auto m = c->get_manifest("multi", d["digest"].get<std::string>());
    ASSERT_TRUE(m) << m.error().what();
    EXPECT_EQ(m->media_type, oci::image::kOciManifest);
    json mj = json::parse(m->body);
    auto cfg = FetchBlob(*c, "multi", Desc(mj["config"]));
    ASSERT_TRUE(cfg) << cfg.error().what();
    EXPECT_EQ(json::parse(cfg->bytes)["architecture"], d["platform"]["architecture"]);
  }
  EXPECT_EQ(platforms, (std::vector<std::string>{"amd64", "arm64v8", "armv7"}));
}

TEST(RegistryLocal, DockerSchema2ManifestAndList) {
  BERTH_SKIP_UNLESS_REGISTRY();
  TempDir tmp;
  auto reg = LocalRegistry::Start();
  ASSERT_TRUE(reg) << reg.error().what();
  ASSERT_TRUE(MakeBusyboxRootfs(tmp.sub("rootfs")));
  auto built =
      BuildImage(tmp.sub("layout"), {"--platform", "linux/amd64", "--layer", tmp.sub("rootfs"),
                                     "--platform", "linux/arm64/v8", "--layer", tmp.sub("rootfs")});
  ASSERT_TRUE(built) << built.error().what();
  ASSERT_TRUE((*reg)->Push(built->layout, built->tag, "docker:1", "v2s2"));

  auto c = Client((*reg)->host(), (*reg)->client_options());
  auto list = c->get_manifest("docker", "1");
  ASSERT_TRUE(list) << list.error().what();
  EXPECT_EQ(list->media_type, oci::image::kDockerManifestList);
  json j = json::parse(list->body);
  ASSERT_EQ(j["manifests"].size(), 2u);
  auto head = c->head_manifest("docker", j["manifests"][1]["digest"].get<std::string>());
  ASSERT_TRUE(head) << head.error().what();
  EXPECT_EQ(head->media_type, oci::image::kDockerManifest);
  auto m = c->get_manifest("docker", head->digest.str());
  ASSERT_TRUE(m) << m.error().what();
  EXPECT_EQ(m->media_type, oci::image::kDockerManifest);
  EXPECT_EQ(head->size, static_cast<int64_t>(m->body.size()));
  json mj = json::parse(m->body);
  EXPECT_EQ(mj["layers"][0]["mediaType"], oci::image::kDockerLayerGzip);
  auto layer = FetchBlob(*c, "docker", Desc(mj["layers"][0]));
  ASSERT_TRUE(layer) << layer.error().what();
  EXPECT_EQ(sha256_of(layer->bytes).str(), mj["layers"][0]["digest"]);
}

TEST(RegistryLocal, UnknownRepositoryTagAndBlob) {
  BERTH_SKIP_UNLESS_REGISTRY();
  TempDir tmp;
  auto reg = LocalRegistry::Start();
  ASSERT_TRUE(reg) << reg.error().what();
  auto img = MakeImage(tmp);
  ASSERT_TRUE(img) << img.error().what();
  ASSERT_TRUE((*reg)->Push(img->built.layout, img->built.tag, "app:1"));
  auto c = Client((*reg)->host(), (*reg)->client_options());
  const std::string& h = (*reg)->host();

  auto tag = c->get_manifest("app", "nosuch");
  ASSERT_FALSE(tag);
  EXPECT_EQ(tag.error().kind(), ErrorKind::NotFound);
  EXPECT_EQ(tag.error().what(),
            "manifest for " + h + "/app:nosuch not found: manifest unknown: manifest unknown");

  auto repo = c->get_manifest("nosuch/repo", "latest");
  ASSERT_FALSE(repo);
  EXPECT_EQ(repo.error().kind(), ErrorKind::NotFound);
  EXPECT_THAT(repo.error().what(), HasSubstr(h + "/nosuch/repo:latest not found"));

  auto head = c->head_manifest("app", "nosuch");
  ASSERT_FALSE(head);
  EXPECT_EQ(head.error().kind(), ErrorKind::NotFound);

  Descriptor missing = DescOf("not in the registry");
  auto blob = FetchBlob(*c, "app", missing);
  ASSERT_FALSE(blob);
  EXPECT_EQ(blob.error().kind(), ErrorKind::NotFound);
  EXPECT_THAT(blob.error().what(), HasSubstr("blob " + missing.digest.str()));
  EXPECT_THAT(blob.error().what(), HasSubstr("blob unknown"));
  auto exists = c->blob_exists("app", missing.digest);
  ASSERT_TRUE(exists) << exists.error().what();
  EXPECT_FALSE(*exists);
}

TEST(RegistryLocal, BasicAuthRightWrongAndFromDockerConfig) {
  BERTH_SKIP_UNLESS_REGISTRY();
  TempDir tmp;
  auto reg = LocalRegistry::Start({.basic_auth = true});
  ASSERT_TRUE(reg) << reg.error().what();
  auto img = MakeImage(tmp);
  ASSERT_TRUE(img) << img.error().what();
  ASSERT_TRUE((*reg)->Push(img->built.layout, img->built.tag, "private/app:1"));
  const std::string& h = (*reg)->host();

  RegistryOptions anon = (*reg)->client_options();
  anon.credentials.reset();
  auto none = Client(h, anon)->get_manifest("private/app", "1");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().kind(), ErrorKind::PermissionDenied);
  EXPECT_EQ(none.error().what(), "pull access denied for " + h +
                                     "/private/app, repository does not exist or may require "
                                     "'docker login': unauthorized: authentication required");

  RegistryOptions wrong = (*reg)->client_options();
  wrong.credentials = image::Credentials{"berth", "wrong-password", ""};
  auto wc = Client(h, wrong);
  auto bad = wc->get_manifest("private/app", "1");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind(), ErrorKind::PermissionDenied);
  EXPECT_THAT(bad.error().what(), HasSubstr("unauthorized: authentication required"));
  auto bad_login = wc->login();
  ASSERT_FALSE(bad_login);
  EXPECT_EQ(bad_login.error().kind(), ErrorKind::PermissionDenied);

  auto good = Client(h, (*reg)->client_options());
  ASSERT_TRUE(good->login()) << good->login().error().what();
  auto m = good->get_manifest("private/app", "1");
  ASSERT_TRUE(m) << m.error().what();
  EXPECT_EQ(m->digest.str(), img->built.digest);
  auto cfg = FetchBlob(*good, "private/app", Desc(img->manifest["config"]));
  ASSERT_TRUE(cfg) << cfg.error().what();

  // Credentials from a docker config.json ("auth": base64 of user:password).
  std::string config = tmp.sub("docker-config.json");
  WriteFile(config, json{{"auths", {{"http://" + h, {{"auth", "YmVydGg6YmVydGgtc2VjcmV0"}}}}}}
                        // berth:berth-secret
                        .dump());
  RegistryOptions from_file = anon;
  from_file.docker_config = config;
  auto fc = Client(h, from_file);
  auto fm = fc->get_manifest("private/app", "1");
  ASSERT_TRUE(fm) << fm.error().what();
  EXPECT_EQ(fm->body, m->body);
}

TEST(RegistryLocal, PushMonolithicAndChunkedBlobsAndManifest) {
  BERTH_SKIP_UNLESS_REGISTRY();
  TempDir tmp;
  auto reg = LocalRegistry::Start({.basic_auth = true});
  ASSERT_TRUE(reg) << reg.error().what();
  auto c = Client((*reg)->host(), (*reg)->client_options());

  std::string config = R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers",)"
                       R"("diff_ids":[]},"config":{}})";
  std::string layer = RandomBytes(300 * 1024 + 17, 3);
  std::string empty;
  Descriptor cd = DescOf(config, std::string(oci::image::kOciConfig));
  Descriptor ld = DescOf(layer, std::string(oci::image::kOciLayerGzip));
  Descriptor ed = DescOf(empty, std::string(oci::image::kOciLayer));
  UniqueFd cfd = FileWith(tmp, "config", config);
  UniqueFd lfd = FileWith(tmp, "layer", layer);
  UniqueFd efd = FileWith(tmp, "empty", empty);

  auto before = c->blob_exists("pushed/app", ld.digest);
  ASSERT_TRUE(before) << before.error().what();
  EXPECT_FALSE(*before);
  auto r1 = c->push_blob("pushed/app", cd, cfd.get());  // monolithic
  ASSERT_TRUE(r1) << r1.error().what();
  auto r2 = c->push_blob("pushed/app", ld, lfd.get(), "", 64 * 1024);  // 5 PATCHes + PUT
  ASSERT_TRUE(r2) << r2.error().what();
  auto r3 = c->push_blob("pushed/app", ed, efd.get());
  ASSERT_TRUE(r3) << r3.error().what();
  for (const auto& d : {cd, ld, ed}) {
    auto e = c->blob_exists("pushed/app", d.digest);
    ASSERT_TRUE(e) << e.error().what();
    EXPECT_TRUE(*e) << d.digest.str();
  }
  std::string access = (*reg)->Log();
  EXPECT_EQ(CountLines(access, "\"PATCH /v2/pushed/app/blobs/uploads/"), 5) << access;
  EXPECT_EQ(CountLines(access, "\"PUT /v2/pushed/app/blobs/uploads/"), 3) << access;
  auto back = FetchBlob(*c, "pushed/app", ld);
  ASSERT_TRUE(back) << back.error().what();
  EXPECT_TRUE(back->bytes == layer);

  json manifest = {
      {"schemaVersion", 2},
      {"mediaType", oci::image::kOciManifest},
      {"config", {{"mediaType", cd.media_type}, {"digest", cd.digest.str()}, {"size", cd.size}}},
      {"layers",
       json::array(
           {{{"mediaType", ld.media_type}, {"digest", ld.digest.str()}, {"size", ld.size}}})}};
  std::string body = manifest.dump();
  auto put = c->put_manifest("pushed/app", "v1", oci::image::kOciManifest, body);
  ASSERT_TRUE(put) << put.error().what();

  auto raw = (*reg)->InspectRaw("pushed/app:v1");  // an independent client reads it back
  ASSERT_TRUE(raw) << raw.error().what();
  EXPECT_EQ(*raw, body);
  auto m = c->get_manifest("pushed/app", "v1");
  ASSERT_TRUE(m) << m.error().what();
  EXPECT_EQ(m->body, body);
  EXPECT_EQ(m->digest, sha256_of(body));
  auto tags = c->list_tags("pushed/app");
  ASSERT_TRUE(tags);
  EXPECT_EQ(*tags, std::vector<std::string>{"v1"});

  // A manifest naming a blob the registry does not have is refused with the registry's words.
  manifest["layers"][0]["digest"] = sha256_of("missing").str();
  auto refused = c->put_manifest("pushed/app", "v2", oci::image::kOciManifest, manifest.dump());
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().what(), HasSubstr("blob unknown"));
}

TEST(RegistryLocal, CrossRepositoryMount) {
  BERTH_SKIP_UNLESS_REGISTRY();
  TempDir tmp;
  auto reg = LocalRegistry::Start();
  ASSERT_TRUE(reg) << reg.error().what();
  auto c = Client((*reg)->host(), (*reg)->client_options());
  std::string blob = RandomBytes(100000, 9);
  Descriptor d = DescOf(blob);
  UniqueFd fd = FileWith(tmp, "blob", blob);
  ASSERT_TRUE(c->push_blob("src/app", d, fd.get()));

  // Mounted: no byte is read, so an empty file for the data proves the mount.
  UniqueFd devnull(open("/dev/null", O_RDONLY | O_CLOEXEC));
  auto mounted = c->push_blob("dst/app", d, devnull.get(), "src/app");
  ASSERT_TRUE(mounted) << mounted.error().what();
  auto e = c->blob_exists("dst/app", d.digest);
  ASSERT_TRUE(e);
  EXPECT_TRUE(*e);

  // Mount source without the blob: the registry opens an upload instead (202) and it is used.
  std::string other = RandomBytes(5000, 10);
  Descriptor od = DescOf(other);
  UniqueFd ofd = FileWith(tmp, "other", other);
  auto fallback = c->push_blob("dst/app", od, ofd.get(), "src/app");
  ASSERT_TRUE(fallback) << fallback.error().what();
  std::string access = (*reg)->Log();
  EXPECT_EQ(CountLines(access, "\"POST /v2/dst/app/blobs/uploads/?mount=sha256:"), 2) << access;
  EXPECT_EQ(CountLines(access, "\"PUT /v2/dst/app/blobs/uploads/"), 1) << access;
  auto back = FetchBlob(*c, "dst/app", od);
  ASSERT_TRUE(back) << back.error().what();
  EXPECT_TRUE(back->bytes == other);
}

TEST(RegistryLocal, TlsVerifiedAgainstTheGivenCa) {
  BERTH_SKIP_UNLESS_REGISTRY();
  if (!HaveProgram("openssl")) GTEST_SKIP() << "needs openssl";
  auto reg = LocalRegistry::Start({.tls = true});
  ASSERT_TRUE(reg) << reg.error().what();
  auto trusted = Client((*reg)->host(), (*reg)->client_options());
  auto ok = trusted->ping();
  EXPECT_TRUE(ok) << ok.error().what();
  auto tags = trusted->list_tags("nothing");
  ASSERT_FALSE(tags);
  EXPECT_EQ(tags.error().kind(), ErrorKind::NotFound);  // over TLS, the registry answered

  RegistryOptions no_ca = (*reg)->client_options();
  no_ca.ca_file.clear();
  no_ca.max_attempts = 1;
  auto untrusted = Client((*reg)->host(), no_ca)->ping();
  ASSERT_FALSE(untrusted);
  EXPECT_THAT(untrusted.error().what(), HasSubstr("https://" + (*reg)->host() + "/v2/"));
  EXPECT_THAT(untrusted.error().what(), HasSubstr("certificate"));
}

// ---- against faulty_registry.py ---------------------------------------------------------------

class RegistryFaults : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* p : {"tar", "jq", "python3"}) {
      if (!HaveProgram(p)) GTEST_SKIP() << "needs " << p;
    }
    auto b = MakeBigImage(tmp_);
    ASSERT_TRUE(b) << b.error().what();
    big_ = std::move(*b);
  }
  std::unique_ptr<FaultyRegistry> Serve(const std::vector<std::string>& args) {
    auto r = FaultyRegistry::Start(big_.built.layout, args);
    EXPECT_TRUE(r) << r.error().what();
    return r ? std::move(*r) : nullptr;
  }
  TempDir tmp_;
  BigImage big_;
};

TEST_F(RegistryFaults, DroppedConnectionResumesWithRange) {
  auto srv = Serve({"--drop-after", "300000", "--drop-count", "2"});
  ASSERT_TRUE(srv);
  auto c = Client(srv->host());
  auto f = FetchBlob(*c, "app", big_.layer);
  ASSERT_TRUE(f) << f.error().what();
  EXPECT_EQ(f->restarts, 0);
  EXPECT_TRUE(f->bytes == big_.layer_bytes);

  auto log = srv->Requests();
  ASSERT_TRUE(log) << log.error().what();
  std::vector<std::string> ranges;
  for (const auto& r : *log) {
    if (r["path"].get<std::string>().find("/blobs/") != std::string::npos) {
      ranges.push_back(r["headers"].value("range", "none"));
    }
  }
  EXPECT_EQ(ranges, (std::vector<std::string>{"none", "bytes=300000-", "bytes=600000-"}));
}

TEST_F(RegistryFaults, RangeIgnoredRestartsFromZero) {
  auto srv = Serve({"--drop-after", "400000", "--ignore-range"});
  ASSERT_TRUE(srv);
  auto c = Client(srv->host());
  auto f = FetchBlob(*c, "app", big_.layer);
  ASSERT_TRUE(f) << f.error().what();
  EXPECT_EQ(f->restarts, 1);
  EXPECT_TRUE(f->bytes == big_.layer_bytes);

  // Without a restart callback the bytes already delivered are skipped in the new answer.
  auto srv2 = Serve({"--drop-after", "400000", "--ignore-range"});
  ASSERT_TRUE(srv2);
  std::string got;
  auto r = Client(srv2->host())
               ->fetch_blob(
                   "app", big_.layer, 0,
                   [&](const char* p, size_t n) -> Result<void> {
                     got.append(p, n);
                     return ok();
                   },
                   nullptr);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_TRUE(got == big_.layer_bytes);
}

TEST_F(RegistryFaults, GivesUpAfterMaxAttemptsWithoutProgress) {
  auto srv = Serve({"--drop-after", "0", "--drop-count", "0"});
  ASSERT_TRUE(srv);
  RegistryOptions o;
  o.max_attempts = 3;
  auto c = Client(srv->host(), o);
  auto f = FetchBlob(*c, "app", big_.layer);
  ASSERT_FALSE(f);
  EXPECT_THAT(f.error().what(), HasSubstr("fetch blob " + big_.layer.digest.str()));
  auto log = srv->Requests();
  ASSERT_TRUE(log);
  EXPECT_EQ(CountRequests(*log, "GET", "/blobs/"), 3);
}

TEST_F(RegistryFaults, ServiceUnavailableTwiceThenOk) {
  auto srv = Serve({"--fail-status", "503", "--fail-count", "2"});
  ASSERT_TRUE(srv);
  auto c = Client(srv->host());
  auto m = c->get_manifest("app", "latest");
  ASSERT_TRUE(m) << m.error().what();
  EXPECT_EQ(m->digest.str(), big_.built.digest);
  auto log = srv->Requests();
  ASSERT_TRUE(log);
  EXPECT_EQ(CountRequests(*log, "GET", "/manifests/latest"), 3);

  // Too many requests, more often than the client tries: the last answer is the error.
  auto busy = Serve({"--fail-status", "429", "--fail-count", "10"});
  RegistryOptions o;
  o.max_attempts = 3;
  auto c2 = Client(busy->host(), o);
  auto e = c2->get_manifest("app", "latest");
  ASSERT_FALSE(e);
  EXPECT_THAT(e.error().what(), HasSubstr("toomanyrequests"));
  auto log2 = busy->Requests();
  ASSERT_TRUE(log2);
  EXPECT_EQ(CountRequests(*log2, "GET", "/manifests/latest"), 3);
}

TEST_F(RegistryFaults, BearerTokenFlowWithScopeAndCache) {
  auto srv = Serve({"--bearer", "alice:wonderland"});
  ASSERT_TRUE(srv);
  RegistryOptions o;
  o.credentials = image::Credentials{"alice", "wonderland", ""};
  auto c = Client(srv->host(), o);
  auto m = c->get_manifest("team/app", "latest");
  ASSERT_TRUE(m) << m.error().what();
  auto head = c->head_manifest("team/app", "latest");
  ASSERT_TRUE(head) << head.error().what();
  auto f = FetchBlob(*c, "team/app", big_.layer);
  ASSERT_TRUE(f) << f.error().what();
  EXPECT_TRUE(f->bytes == big_.layer_bytes);

  auto log = srv->Requests();
  ASSERT_TRUE(log);
  std::vector<json> token_reqs;
  for (const auto& r : *log) {
    if (r["path"] == "/token") token_reqs.push_back(r);
  }
  ASSERT_EQ(token_reqs.size(), 1u) << log->dump();  // one token serves all three requests
  EXPECT_THAT(token_reqs[0]["query"].get<std::string>(), HasSubstr("service=faulty-registry"));
  EXPECT_THAT(token_reqs[0]["query"].get<std::string>(),
              HasSubstr("scope=repository:team/app:pull"));
  EXPECT_EQ(token_reqs[0]["headers"]["authorization"], "Basic YWxpY2U6d29uZGVybGFuZA==");
  EXPECT_TRUE(c->login()) << c->login().error().what();

  // Wrong password: the token server's words reach the user.
  RegistryOptions w = o;
  w.credentials = image::Credentials{"alice", "nope", ""};
  auto bad = Client(srv->host(), w)->get_manifest("team/app", "latest");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind(), ErrorKind::PermissionDenied);
  EXPECT_THAT(bad.error().what(), HasSubstr("incorrect username or password"));
  auto bad_login = Client(srv->host(), w)->login();
  ASSERT_FALSE(bad_login);
  EXPECT_EQ(bad_login.error().kind(), ErrorKind::PermissionDenied);
}

TEST_F(RegistryFaults, ParallelFirstRequestsShareOnePingAndOneToken) {
  auto srv = Serve({"--bearer", "anonymous"});
  ASSERT_TRUE(srv);
  auto c = Client(srv->host());
  std::vector<std::string> results(6);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] {
      auto f = FetchBlob(*c, "app", big_.layer);
      results[i] = !f ? f.error().what() : f->bytes == big_.layer_bytes ? "ok" : "wrong bytes";
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& r : results) EXPECT_EQ(r, "ok");
  auto log = srv->Requests();
  ASSERT_TRUE(log);
  EXPECT_EQ(CountRequests(*log, "GET", "/v2/"), 7) << log->dump();  // 1 ping + 6 blobs
  EXPECT_EQ(CountRequests(*log, "GET", "/token"), 1) << log->dump();
}

TEST_F(RegistryFaults, IdentityTokenUsesTheOAuthRefreshGrant) {
  auto srv = Serve({"--bearer", "alice:wonderland", "--refresh-token", "refresh-123"});
  ASSERT_TRUE(srv);
  RegistryOptions o;
  o.credentials = image::Credentials{"", "", "refresh-123"};
  auto m = Client(srv->host(), o)->get_manifest("team/app", "latest");
  ASSERT_TRUE(m) << m.error().what();
  auto log = srv->Requests();
  ASSERT_TRUE(log);
  EXPECT_EQ(CountRequests(*log, "POST", "/token"), 1) << log->dump();
  EXPECT_EQ(CountRequests(*log, "GET", "/token"), 0) << log->dump();

  o.credentials = image::Credentials{"", "", "stale"};
  auto bad = Client(srv->host(), o)->get_manifest("team/app", "latest");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind(), ErrorKind::PermissionDenied);
  EXPECT_THAT(bad.error().what(), HasSubstr("invalid refresh token"));
}

TEST_F(RegistryFaults, AnonymousBearerTokenExpiresAndIsRenewed) {
  auto srv = Serve({"--bearer", "anonymous", "--token-expires", "1"});
  ASSERT_TRUE(srv);
  auto c = Client(srv->host());
  ASSERT_TRUE(c->get_manifest("app", "latest"));
  ASSERT_TRUE(c->get_manifest("app", "latest"));
  std::this_thread::sleep_for(std::chrono::milliseconds(1300));
  auto m = c->get_manifest("app", "latest");
  ASSERT_TRUE(m) << m.error().what();
  auto log = srv->Requests();
  ASSERT_TRUE(log);
  EXPECT_EQ(CountRequests(*log, "GET", "/token"), 2) << log->dump();
  // Every manifest GET after the first carried a token: no 401 round trips.
  EXPECT_EQ(CountRequests(*log, "GET", "/manifests/"), 3);
}

TEST_F(RegistryFaults, RedirectToAnotherHostDropsAuthorization) {
  auto storage = Serve({});
  ASSERT_TRUE(storage);
  // "localhost" is another host than "127.0.0.1", as blob storage on a CDN would be.
  auto srv = Serve({"--basic", "bob:builder", "--redirect-blobs",
                    "http://localhost:" + std::to_string(storage->port())});
  ASSERT_TRUE(srv);
  RegistryOptions o;
  o.credentials = image::Credentials{"bob", "builder", ""};
  auto c = Client(srv->host(), o);
  auto f = FetchBlob(*c, "app", big_.layer);
  ASSERT_TRUE(f) << f.error().what();
  EXPECT_TRUE(f->bytes == big_.layer_bytes);

  auto front = srv->Requests();
  ASSERT_TRUE(front);
  bool front_had_auth = false;
  for (const auto& r : *front) {
    if (r["path"].get<std::string>().find("/blobs/") != std::string::npos) {
      front_had_auth = r["headers"].contains("authorization");
    }
  }
  EXPECT_TRUE(front_had_auth);
  auto back = storage->Requests();
  ASSERT_TRUE(back);
  ASSERT_EQ(CountRequests(*back, "GET", "/blobs/"), 1);
  for (const auto& r : *back) EXPECT_FALSE(r["headers"].contains("authorization")) << r.dump();
}

TEST_F(RegistryFaults, RedirectToPlainHttpElsewhereRefused) {
  auto srv = Serve({"--redirect-blobs", "http://registry.berth-test.invalid:1"});
  ASSERT_TRUE(srv);
  auto f = FetchBlob(*Client(srv->host()), "app", big_.layer);
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().kind(), ErrorKind::PermissionDenied);
  EXPECT_THAT(f.error().what(), HasSubstr("redirected to plain HTTP"));
}

TEST_F(RegistryFaults, PushFollowsRelativeLocationsKeepingTheirQuery) {
  auto srv = Serve({});
  ASSERT_TRUE(srv);
  auto c = Client(srv->host());
  std::string a = RandomBytes(70000, 21), b = RandomBytes(150000, 22);
  Descriptor ad = DescOf(a), bd = DescOf(b);
  UniqueFd afd = FileWith(tmp_, "a", a), bfd = FileWith(tmp_, "b", b);
  auto ra = c->push_blob("app", ad, afd.get());
  ASSERT_TRUE(ra) << ra.error().what();
  auto rb = c->push_blob("app", bd, bfd.get(), "", 64 * 1024);
  ASSERT_TRUE(rb) << rb.error().what();
  for (const auto& [d, bytes] : {std::pair{ad, a}, std::pair{bd, b}}) {
    auto f = FetchBlob(*c, "app", d);
    ASSERT_TRUE(f) << f.error().what();
    EXPECT_TRUE(f->bytes == bytes);
  }
  std::string manifest = R"({"schemaVersion":2,"layers":[]})";
  ASSERT_TRUE(c->put_manifest("app", "pushed", oci::image::kOciManifest, manifest));
  auto m = c->get_manifest("app", "pushed");
  ASSERT_TRUE(m) << m.error().what();
  EXPECT_EQ(m->body, manifest);
  EXPECT_EQ(m->media_type, oci::image::kOciManifest);

  auto log = srv->Requests();
  ASSERT_TRUE(log);
  EXPECT_EQ(CountRequests(*log, "PATCH", "/v2/app/blobs/uploads/u2"), 3);
  int puts = 0;
  for (const auto& r : *log) {
    if (r["method"] != "PUT" || r["path"].get<std::string>().find("/uploads/") == std::string::npos)
      continue;
    ++puts;
    EXPECT_THAT(r["query"].get<std::string>(), HasSubstr("_state="));
    EXPECT_THAT(r["query"].get<std::string>(), HasSubstr("digest=sha256"));
  }
  EXPECT_EQ(puts, 2);
}

TEST_F(RegistryFaults, CorruptContentIsCaught) {
  auto srv = Serve({"--corrupt"});
  ASSERT_TRUE(srv);
  auto c = Client(srv->host());
  // A blob: the client streams it; the digest the caller computes does not match.
  auto f = FetchBlob(*c, "app", big_.layer);
  ASSERT_TRUE(f) << f.error().what();
  EXPECT_NE(sha256_of(f->bytes), big_.layer.digest);
  // A manifest by digest: the client itself refuses it.
  auto m = c->get_manifest("app", big_.built.digest);
  ASSERT_FALSE(m);
  EXPECT_THAT(m.error().what(), HasSubstr("digest mismatch"));
  // More bytes than the descriptor says: stopped early, naming the blob.
  Descriptor small = big_.layer;
  small.size -= 10;
  auto over = FetchBlob(*c, "app", small);
  ASSERT_FALSE(over);
  EXPECT_THAT(over.error().what(), HasSubstr(small.digest.str()));
  EXPECT_THAT(over.error().what(), HasSubstr("more than"));
  // A manifest beyond the size cap.
  auto capped = c->get_manifest("app", "latest", 64);
  ASSERT_FALSE(capped);
  EXPECT_THAT(capped.error().what(), HasSubstr("larger than 64 bytes"));
}

}  // namespace
}  // namespace berth::test
