// Image references: docker's normalisation (what `docker pull X` pulls) and its errors.
#include <gtest/gtest.h>

#include <string>

#include "image/reference.h"

namespace berth::image {
namespace {

const std::string kHex = "7cc4b5aefd1d0cadf8d97d4350462ba51c694ebca145b08d7d41b41acc8db5aa";
const std::string kDigest = "sha256:" + kHex;

struct Good {
  std::string input;
  std::string full;      // str()
  std::string familiar;  // familiar()
  std::string domain;
  std::string path;
};

TEST(Reference, NormalisesLikeDocker) {
  const Good cases[] = {
      {"busybox", "docker.io/library/busybox:latest", "busybox:latest", "docker.io",
       "library/busybox"},
      {"busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36", "docker.io",
       "library/busybox"},
      {"library/busybox", "docker.io/library/busybox:latest", "busybox:latest", "docker.io",
       "library/busybox"},
      {"docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest", "docker.io",
       "library/busybox"},
      {"docker.io/library/busybox:musl", "docker.io/library/busybox:musl", "busybox:musl",
       "docker.io", "library/busybox"},
      {"index.docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest", "docker.io",
       "library/busybox"},
      {"me/app:1.0", "docker.io/me/app:1.0", "me/app:1.0", "docker.io", "me/app"},
      {"me/team/app", "docker.io/me/team/app:latest", "me/team/app:latest", "docker.io",
       "me/team/app"},
      {"docker.io/library/a/b", "docker.io/library/a/b:latest", "library/a/b:latest", "docker.io",
       "library/a/b"},
      {"localhost/app", "localhost/app:latest", "localhost/app:latest", "localhost", "app"},
      {"localhost:5000/ns/app", "localhost:5000/ns/app:latest", "localhost:5000/ns/app:latest",
       "localhost:5000", "ns/app"},
      {"host:5000/ns/name:tag", "host:5000/ns/name:tag", "host:5000/ns/name:tag", "host:5000",
       "ns/name"},
      {"127.0.0.1:5000/app:v2", "127.0.0.1:5000/app:v2", "127.0.0.1:5000/app:v2", "127.0.0.1:5000",
       "app"},
      {"[::1]:5000/app", "[::1]:5000/app:latest", "[::1]:5000/app:latest", "[::1]:5000", "app"},
      {"[2001:db8::1]/app", "[2001:db8::1]/app:latest", "[2001:db8::1]/app:latest", "[2001:db8::1]",
       "app"},
      {"ghcr.io/owner/repo:sha-1a2b3c", "ghcr.io/owner/repo:sha-1a2b3c",
       "ghcr.io/owner/repo:sha-1a2b3c", "ghcr.io", "owner/repo"},
      {"quay.io/coreos/etcd:v3.5.9", "quay.io/coreos/etcd:v3.5.9", "quay.io/coreos/etcd:v3.5.9",
       "quay.io", "coreos/etcd"},
      // An upper-case first component cannot be a namespace, so it is a registry.
      {"Registry/app", "Registry/app:latest", "Registry/app:latest", "Registry", "app"},
      {"app@" + kDigest, "docker.io/library/app@" + kDigest, "app@" + kDigest, "docker.io",
       "library/app"},
      {"app:1.0@" + kDigest, "docker.io/library/app:1.0@" + kDigest, "app:1.0@" + kDigest,
       "docker.io", "library/app"},
      {"ns/a.b-c__d_e--f", "docker.io/ns/a.b-c__d_e--f:latest", "ns/a.b-c__d_e--f:latest",
       "docker.io", "ns/a.b-c__d_e--f"},
      {"ns/a__b--c", "docker.io/ns/a__b--c:latest", "ns/a__b--c:latest", "docker.io", "ns/a__b--c"},
      {"app:_under.Score-Tag", "docker.io/library/app:_under.Score-Tag", "app:_under.Score-Tag",
       "docker.io", "library/app"},
      {"app:" + std::string(128, 'x'), "docker.io/library/app:" + std::string(128, 'x'),
       "app:" + std::string(128, 'x'), "docker.io", "library/app"},
      // A Hub namespace that reads like a registry keeps its domain in the familiar form.
      {"docker.io/a.b/c", "docker.io/a.b/c:latest", "docker.io/a.b/c:latest", "docker.io", "a.b/c"},
      {"docker.io/localhost/x", "docker.io/localhost/x:latest", "docker.io/localhost/x:latest",
       "docker.io", "localhost/x"},
      // Bare "localhost:5000" is a name with a tag, as in docker.
      {"localhost:5000", "docker.io/library/localhost:5000", "localhost:5000", "docker.io",
       "library/localhost"},
  };
  for (const Good& c : cases) {
    SCOPED_TRACE(c.input);
    Result<Reference> r = parse_reference(c.input);
    ASSERT_TRUE(r) << r.error().what();
    EXPECT_EQ(r->str(), c.full);
    EXPECT_EQ(r->familiar(), c.familiar);
    EXPECT_EQ(r->domain, c.domain);
    EXPECT_EQ(r->path, c.path);
    EXPECT_EQ(r->name(), c.domain + "/" + c.path);
    // The normalised form is a fixed point.
    Result<Reference> again = parse_reference(r->str());
    ASSERT_TRUE(again) << again.error().what();
    EXPECT_EQ(again->str(), r->str());
    Result<Reference> from_familiar = parse_reference(r->familiar());
    ASSERT_TRUE(from_familiar) << from_familiar.error().what();
    EXPECT_EQ(from_familiar->str(), r->str());
  }
}

struct Bad {
  std::string input;
  std::string message;  // the whole message
};

TEST(Reference, RejectsWithDockersWords) {
  const std::string kInvalid = "invalid reference format";
  const Bad cases[] = {
      {"", kInvalid},
      {"Busybox", kInvalid + ": repository name (library/Busybox) must be lowercase"},
      {"me/App:1.0", kInvalid + ": repository name (me/App) must be lowercase"},
      {"localhost:5000/Foo", kInvalid + ": repository name (Foo) must be lowercase"},
      {"busybox:", kInvalid},
      {"busybox@", kInvalid},
      {":latest", kInvalid},
      {"/busybox", kInvalid},
      {"busybox/", kInvalid},
      {"a//b", kInvalid},
      {"-app", kInvalid},
      {"app-", kInvalid},
      {"a..b", kInvalid},
      {"a___b", kInvalid},
      {"a._b", kInvalid},
      {"app:-tag", kInvalid},
      {"app:.tag", kInvalid},
      {"app:" + std::string(129, 'x'), kInvalid},
      {"app:t@g", kInvalid},
      {"app:tag:more", kInvalid},
      {"my app", kInvalid},
      {"app@sha256:abc", kInvalid},
      {"app@sha256:" + std::string(63, 'a') + "g", kInvalid},
      {"app@" + kDigest + "@" + kDigest, kInvalid},
      {"host:port/app", kInvalid},
      {"host:/app", kInvalid},
      {"-host.com/app", kInvalid},
      {"[::1/app", kInvalid},
      {"[]:5000/app", kInvalid},
      {"::1/app", kInvalid},
      // A first component with a "." is a registry, and "_" is not allowed in host names.
      {"a.b_c/app", kInvalid},
      {"ex\xc3\xa4mple.com/app", kInvalid},
      {"app\n", kInvalid},
      {"Host.com/app@sha256:" + std::string(64, 'A'),
       kInvalid + ": invalid digest \"sha256:" + std::string(64, 'A') +
           "\": encoded part must be lower-case hex"},
      {"app@md5:" + std::string(32, 'a'), kInvalid +
                                              ": invalid digest \"md5:" + std::string(32, 'a') +
                                              "\": unsupported digest algorithm"},
      {kHex, "invalid repository name (" + kHex + "), cannot specify 64-byte hexadecimal strings"},
      {"a/" + std::string(250, 'b'),
       kInvalid + ": repository name must not be more than 255 characters"},
      {std::string(10000, 'a'), kInvalid},
  };
  for (const Bad& c : cases) {
    SCOPED_TRACE(c.input.substr(0, 80));
    Result<Reference> r = parse_reference(c.input);
    ASSERT_FALSE(r) << r->str();
    EXPECT_EQ(r.error().kind(), ErrorKind::InvalidArgument);
    EXPECT_EQ(r.error().message(), c.message);
  }
}

TEST(Reference, NameLengthCountsTheDomain) {
  // docker.io/ (10) + library/ (8) + 237 = 255: the longest official name.
  EXPECT_TRUE(parse_reference(std::string(237, 'a')));
  EXPECT_FALSE(parse_reference(std::string(238, 'a')));
}

TEST(Reference, DefaultTagOnlyWhenAsked) {
  Result<Reference> r = parse_reference("busybox", /*add_default_tag=*/false);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->tag, "");
  EXPECT_EQ(r->str(), "docker.io/library/busybox");
  EXPECT_EQ(r->familiar(), "busybox");

  // A digest never gets an implied tag.
  Result<Reference> d = parse_reference("busybox@" + kDigest);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->tag, "");
  ASSERT_TRUE(d->digest);
  EXPECT_EQ(d->digest->str(), kDigest);
}

TEST(Reference, ObjectPrefersTheDigest) {
  EXPECT_EQ(parse_reference("busybox")->object(), "latest");
  EXPECT_EQ(parse_reference("busybox:1.36")->object(), "1.36");
  EXPECT_EQ(parse_reference("busybox:1.36@" + kDigest)->object(), kDigest);
}

TEST(Reference, RegistryHost) {
  EXPECT_EQ(parse_reference("busybox")->registry_host(), "registry-1.docker.io");
  EXPECT_EQ(parse_reference("index.docker.io/me/app")->registry_host(), "registry-1.docker.io");
  EXPECT_EQ(parse_reference("localhost:5000/app")->registry_host(), "localhost:5000");
  EXPECT_EQ(parse_reference("[::1]:5000/app")->registry_host(), "[::1]:5000");
  EXPECT_EQ(parse_reference("ghcr.io/o/r")->registry_host(), "ghcr.io");
}

TEST(Reference, LooksLikeId) {
  EXPECT_TRUE(looks_like_id("7cc4b5aefd1d"));
  EXPECT_TRUE(looks_like_id(kHex));
  EXPECT_TRUE(looks_like_id("sha256:7cc4"));
  EXPECT_TRUE(looks_like_id(kDigest));
  EXPECT_FALSE(looks_like_id("7cc4b5aefd1"));  // 11: too short to be unambiguous
  EXPECT_FALSE(looks_like_id(kHex + "0"));
  EXPECT_FALSE(looks_like_id("7CC4B5AEFD1D"));
  EXPECT_FALSE(looks_like_id("busybox"));
  EXPECT_FALSE(looks_like_id("sha256:"));
  EXPECT_FALSE(looks_like_id("sha256:xyz"));
  EXPECT_FALSE(looks_like_id(""));
}

}  // namespace
}  // namespace berth::image
