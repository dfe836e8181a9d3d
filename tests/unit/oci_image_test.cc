// Image-spec documents as registries serve them: a Docker Hub style manifest list and schema 2
// manifest (busybox), an OCI index with buildkit attestations (alpine), an OCI 1.1 artifact,
// Docker and OCI image configs; platform selection, layer media types, chain IDs, canonical
// serialisation.
#include <gtest/gtest.h>

#include <string>

#include "oci/image.h"

namespace berth::oci::image {
namespace {

// Manifest list of busybox:latest as Docker Hub serves it (digests are stand-ins).
constexpr std::string_view kBusyboxList = R"({
   "manifests": [
      {
         "digest": "sha256:5861314d7fccb39c2192173240eab44fa35ca66426201ca2acd0630a6258dd51",
         "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
         "platform": {"architecture": "amd64", "os": "linux"},
         "size": 528
      },
      {
         "digest": "sha256:5b93ff5f5cd53074088b6155e5d584c4606f26fc75be9f3d0ca03a60e8d00d8c",
         "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
         "platform": {"architecture": "arm", "os": "linux", "variant": "v5"},
         "size": 528
      },
      {
         "digest": "sha256:50b8c3e55c3365d624e7e10ae6a783d525e02b16924d4dcff0611f3e2544efaf",
         "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
         "platform": {"architecture": "arm", "os": "linux", "variant": "v6"},
         "size": 528
      },
      {
         "digest": "sha256:5ba6c8710dd1369ce61603ab9b7a81b25f92d4a9f74956ab72a7ea75884f07ee",
         "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
         "platform": {"architecture": "arm", "os": "linux", "variant": "v7"},
         "size": 528
      },
      {
         "digest": "sha256:f69162950f235e3cdbbad33f1f912d1a504be90d8a37d002c735d6f3e3882265",
         "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
         "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"},
         "size": 528
      },
      {
         "digest": "sha256:15a26c6fa5151c712acc7ee45a1fd525ab85b801f096847c7d5fdf49efeabb4d",
         "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
         "platform": {"architecture": "386", "os": "linux"},
         "size": 528
      },
      {
         "digest": "sha256:c92bb5907722b7ac701cea3606df516f5fe98c9f8380063df2d17d7d5db0bd05",
         "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
         "platform": {"architecture": "ppc64le", "os": "linux"},
         "size": 528
      },
      {
         "digest": "sha256:c71552fa625c85369a49ae59904d8253f04c04d3dfaa60bfb8fef8b59f2e480e",
         "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
         "platform": {"architecture": "riscv64", "os": "linux"},
         "size": 527
      },
      {
         "digest": "sha256:77d3a5496288a2cd8724282d24f862ab1ea470f3aba13cadb9e3c105aaacf20b",
         "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
         "platform": {"architecture": "s390x", "os": "linux"},
         "size": 528
      }
   ],
   "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
   "schemaVersion": 2
})";

constexpr std::string_view kBusyboxManifest = R"({
   "schemaVersion": 2,
   "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
   "config": {
      "mediaType": "application/vnd.docker.container.image.v1+json",
      "size": 1457,
      "digest": "sha256:e67d23e7820c49a8051dac2831f38290f5e72f66c8db5079eeb60d82f14894c0"
   },
   "layers": [
      {
         "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
         "size": 2220094,
         "digest": "sha256:dac1d7cfa95021764849fd102524e141488c5e3a90f861dbb5a12d9ac8584f85"
      }
   ]
})";

constexpr std::string_view kBusyboxConfig =
    R"({"architecture":"amd64","config":{"Hostname":"",)"
    R"("Domainname":"","User":"","AttachStdin":false,"AttachStdout":false,"AttachStderr":false,)"
    R"("Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":["PATH=/usr/local/sbin:/usr/local/)"
    R"(bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["sh"],"Image":"sha256:b2f445c351a792d2adbfd48f)"
    R"(e3ebb75aa2d3ed4b861c671f3b9b385293110213","Volumes":null,"WorkingDir":"","Entrypoint":null,)"
    R"("OnBuild":null,"Labels":null},"container":"9aeb4b1b0fe1b2b2c2f3e8c5f4a1d7e0","container_)"
    R"(config":{"Hostname":"9aeb4b1b0fe1","Cmd":["/bin/sh","-c","#(nop) ","CMD [\"sh\"]"]},)"
    R"("created":"2023-07-18T23:19:33.655005962Z","docker_version":"20.10.23","history":[{"creat)"
    R"(ed":"2023-07-18T23:19:33.538571854Z","created_by":"/bin/sh -c #(nop) ADD file:7e9002edaafd)"
    R"(4e4579b65c8f0aaabde1aeb7fd3f8d95579f7fd3443cef785fd1 in / "},{"created":"2023-07-18T23:19:3)"
    R"(3.655005962Z","created_by":"/bin/sh -c #(nop)  CMD [\"sh\"]","empty_layer":true}],"os":"li)"
    R"(nux","rootfs":{"type":"layers","diff_ids":["sha256:b2f445c351a792d2adbfd48fe3ebb75aa2d3ed4)"
    R"(b861c671f3b9b385293110213"]}})";

// An OCI index as buildkit pushes it: two images and their attestation manifests.
constexpr std::string_view kAlpineIndex = R"({
  "schemaVersion": 2,
  "mediaType": "application/vnd.oci.image.index.v1+json",
  "manifests": [
    {
      "mediaType": "application/vnd.oci.image.manifest.v1+json",
      "digest": "sha256:f9b7b57cd327c36b13671a312c0bc7307e29d86141384baaffbd80482e236061",
      "size": 1022,
      "platform": {"architecture": "amd64", "os": "linux"}
    },
    {
      "mediaType": "application/vnd.oci.image.manifest.v1+json",
      "digest": "sha256:d5ca9e4885a31e70e8417f9c4c4268bbfd4fce88287805648b2a90a9fc43e13c",
      "size": 1022,
      "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}
    },
    {
      "mediaType": "application/vnd.oci.image.manifest.v1+json",
      "digest": "sha256:68ec3ec352ecc13e0c976abb3a6c06a28f5ba4fc1d9ee67cae729b59d84d36dd",
      "size": 839,
      "annotations": {
        "vnd.docker.reference.digest": "sha256:f9b7b57cd327c36b13671a312c0bc7307e29d86141384baaffbd80482e236061",
        "vnd.docker.reference.type": "attestation-manifest"
      },
      "platform": {"architecture": "unknown", "os": "unknown"}
    },
    {
      "mediaType": "application/vnd.oci.image.manifest.v1+json",
      "digest": "sha256:933e61c7e4bcd4cc305dae7b5ab2006309e9338b59e3ebc5cf240854b60eb179",
      "size": 839,
      "annotations": {
        "vnd.docker.reference.digest": "sha256:d5ca9e4885a31e70e8417f9c4c4268bbfd4fce88287805648b2a90a9fc43e13c",
        "vnd.docker.reference.type": "attestation-manifest"
      },
      "platform": {"architecture": "unknown", "os": "unknown"}
    }
  ],
  "annotations": {"org.opencontainers.image.created": "2024-01-27T00:52:12Z"}
})";

constexpr std::string_view kOciImageManifest = R"({
  "schemaVersion": 2,
  "mediaType": "application/vnd.oci.image.manifest.v1+json",
  "config": {
    "mediaType": "application/vnd.oci.image.config.v1+json",
    "digest": "sha256:c5c345d44fa1d442c4be8c3549ea421d896d78359060504174b795611ee72d15",
    "size": 7023
  },
  "layers": [
    {
      "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
      "digest": "sha256:2804bad6fe94a55f18b2b37e300919a5fd517b95aa81e95db574c0ba069a3740",
      "size": 32654
    },
    {
      "mediaType": "application/vnd.oci.image.layer.v1.tar+zstd",
      "digest": "sha256:8a1cee436cbac1489a1883c9d886fcfc46f302c55ed4106ae31729e4f4eb9041",
      "size": 16724,
      "annotations": {"org.opencontainers.image.title": "app.tar.zst"}
    },
    {
      "mediaType": "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
      "digest": "sha256:10dacdccfe877dc064d57442e6fa7a4e3085dc94e11a29819c2290fc3d788724",
      "size": 73109,
      "urls": ["https://mcr.microsoft.com/v2/windows/blobs/sha256:10dacdccfe877dc0"]
    }
  ],
  "annotations": {"com.example.key1": "value1", "com.example.key2": "value2"},
  "unknownField": {"ignored": [1, 2, {"deep": true}]}
})";

// An OCI 1.1 artifact (an SBOM) referring to an image through `subject`.
constexpr std::string_view kArtifactManifest = R"({
  "schemaVersion": 2,
  "mediaType": "application/vnd.oci.image.manifest.v1+json",
  "artifactType": "application/spdx+json",
  "config": {
    "mediaType": "application/vnd.oci.empty.v1+json",
    "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
    "size": 2,
    "data": "e30="
  },
  "layers": [
    {
      "mediaType": "application/spdx+json",
      "digest": "sha256:2804bad6fe94a55f18b2b37e300919a5fd517b95aa81e95db574c0ba069a3740",
      "size": 4096
    }
  ],
  "subject": {
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "digest": "sha256:ceaeee3c0f91c6c853bda5200efb5a1b94c85fd8bb21171047cbd19059c15722",
    "size": 1022
  }
})";

// An nginx-like image config with everything berth models.
constexpr std::string_view kNginxConfig = R"({
  "created": "2024-02-14T18:11:51.123456789Z",
  "author": "builder@example.com",
  "architecture": "arm",
  "variant": "v7",
  "os": "linux",
  "config": {
    "User": "101:101",
    "ExposedPorts": {"80/tcp": {}, "443/tcp": {}, "443/udp": {}},
    "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "NGINX_VERSION=1.25.4"],
    "Entrypoint": ["/docker-entrypoint.sh"],
    "Cmd": ["nginx", "-g", "daemon off;"],
    "Volumes": {"/var/cache/nginx": {}, "/etc/nginx/conf.d": {}},
    "WorkingDir": "/usr/share/nginx/html",
    "Labels": {"maintainer": "NGINX Docker Maintainers", "org.opencontainers.image.version": "1.25.4"},
    "StopSignal": "SIGQUIT",
    "Healthcheck": {
      "Test": ["CMD-SHELL", "curl -fsS http://localhost/ || exit 1"],
      "Interval": 30000000000, "Timeout": 5000000000, "StartPeriod": 10000000000,
      "StartInterval": 1000000000, "Retries": 3
    },
    "Shell": ["/bin/bash", "-c"],
    "ArgsEscaped": true
  },
  "rootfs": {
    "type": "layers",
    "diff_ids": [
      "sha256:8b53639f152c8fc6ef30802fde462ba0be9cf085f7580dc69efd72e002abbb35",
      "sha256:e788103ee15318fcd2af9b73b4ebbb33a903b020de7b307d71f5fed0f433e548",
      "sha256:f451a61749c611ba0fa0e16c61831db44f38c611dff25879cf271a24c81a88b6"
    ]
  },
  "history": [
    {"created": "2024-02-13T00:00:00Z", "created_by": "/bin/sh -c #(nop) ADD file:abc in / "},
    {"created": "2024-02-13T00:00:01Z", "created_by": "/bin/sh -c #(nop)  CMD [\"bash\"]", "empty_layer": true},
    {"created": "2024-02-14T18:11:50Z", "created_by": "RUN /bin/sh -c apt-get install nginx", "comment": "buildkit.dockerfile.v0"},
    {"created": "2024-02-14T18:11:51Z", "created_by": "COPY docker-entrypoint.sh / # buildkit", "author": "me"}
  ]
})";

Digest D(std::string_view s) {
  Result<Digest> d = Digest::parse(s);
  EXPECT_TRUE(d) << s;
  return d ? *d : Digest();
}

// ---------------------------------------------------------------------------------------------
// Indexes and platform selection.

TEST(ImageIndex, ParsesDockerManifestList) {
  Result<Index> idx = parse_index(kBusyboxList);
  ASSERT_TRUE(idx) << idx.error().what();
  EXPECT_EQ(idx->schema_version, 2);
  EXPECT_EQ(idx->media_type, kDockerManifestList);
  ASSERT_EQ(idx->manifests.size(), 9u);
  const Descriptor& arm = idx->manifests[3];
  EXPECT_EQ(arm.media_type, kDockerManifest);
  EXPECT_EQ(arm.digest.str(),
            "sha256:5ba6c8710dd1369ce61603ab9b7a81b25f92d4a9f74956ab72a7ea75884f07ee");
  EXPECT_EQ(arm.size, 528);
  ASSERT_TRUE(arm.platform);
  EXPECT_EQ(arm.platform->os, "linux");
  EXPECT_EQ(arm.platform->architecture, "arm");
  EXPECT_EQ(arm.platform->variant, "v7");
  EXPECT_EQ(idx->manifests[7].size, 527);
}

TEST(ImageIndex, ParsesOciIndexWithAttestations) {
  Result<Index> idx = parse_index(kAlpineIndex);
  ASSERT_TRUE(idx) << idx.error().what();
  EXPECT_EQ(idx->media_type, kOciIndex);
  ASSERT_EQ(idx->manifests.size(), 4u);
  EXPECT_EQ(idx->manifests[2].annotations.at("vnd.docker.reference.type"), "attestation-manifest");
  EXPECT_EQ(idx->annotations.at("org.opencontainers.image.created"), "2024-01-27T00:52:12Z");
}

struct Pick {
  std::string want;
  std::string digest_prefix;  // first hex digits of the expected entry; "" = error
};

TEST(ImageIndex, SelectsPlatformLikeDocker) {
  Index busybox = *parse_index(kBusyboxList);
  const Pick cases[] = {
      {"linux/amd64", "5861314d"},   {"linux/x86_64", "5861314d"},
      {"linux/arm64", "f6916295"},   {"linux/arm64/v8", "f6916295"},
      {"linux/aarch64", "f6916295"}, {"linux/arm64/v8.2", "f6916295"},
      {"linux/arm/v7", "5ba6c871"},  {"linux/arm", "5ba6c871"},
      {"linux/armhf", "5ba6c871"},   {"linux/arm/v6", "50b8c3e5"},
      {"linux/armel", "50b8c3e5"},   {"linux/arm/v5", "5b93ff5f"},
      {"linux/arm/v8", "5ba6c871"},  {"linux/386", "15a26c6f"},
      {"linux/ppc64le", "c92bb590"}, {"linux/s390x", "77d3a549"},
      {"linux/riscv64", "c71552fa"}, {"linux/mips64le", ""},
      {"windows/amd64", ""},         {"linux/arm/v4", ""},
  };
  for (const Pick& c : cases) {
    SCOPED_TRACE(c.want);
    Result<Platform> want = parse_platform(c.want);
    ASSERT_TRUE(want) << want.error().what();
    Result<Descriptor> d = select_platform(busybox, *want);
    if (c.digest_prefix.empty()) {
      ASSERT_FALSE(d);
      EXPECT_EQ(d.error().kind(), ErrorKind::NotFound);
      continue;
    }
    ASSERT_TRUE(d) << d.error().what();
    EXPECT_EQ(d->digest.hex().substr(0, 8), c.digest_prefix);
  }
}

Index index_of(std::initializer_list<Platform> platforms) {
  Index idx;
  int n = 0;
  for (const Platform& p : platforms) {
    Descriptor d;
    d.media_type = kOciManifest;
    d.digest = sha256_of(std::to_string(n++));
    d.size = 100;
    d.platform = p;
    idx.manifests.push_back(d);
  }
  return idx;
}

size_t selected(const Index& idx, const Platform& want) {
  Result<Descriptor> d = select_platform(idx, want);
  if (!d) return SIZE_MAX;
  for (size_t i = 0; i < idx.manifests.size(); ++i)
    if (idx.manifests[i].digest == d->digest) return i;
  return SIZE_MAX;
}

TEST(ImageIndex, PrefersExactVariantThenTheNewestOlderOne) {
  Index arm = index_of({{"linux", "arm", "v5"}, {"linux", "arm", "v6"}});
  EXPECT_EQ(selected(arm, {"linux", "arm", "v7"}), 1u);  // v6 beats v5 for a v7 CPU
  EXPECT_EQ(selected(arm, {"linux", "arm", "v5"}), 0u);
  EXPECT_EQ(selected(arm, {"linux", "arm", "v6"}), 1u);

  Index exact_last = index_of({{"linux", "arm", "v6"}, {"linux", "arm", "v7"}});
  EXPECT_EQ(selected(exact_last, {"linux", "arm", "v7"}), 1u);

  // arm64 without a variant is v8, either way round.
  Index arm64 = index_of({{"linux", "amd64", ""}, {"linux", "arm64", ""}});
  EXPECT_EQ(selected(arm64, {"linux", "arm64", "v8"}), 1u);
  Index arm64v8 = index_of({{"linux", "arm64", "v8"}});
  EXPECT_EQ(selected(arm64v8, {"linux", "arm64", ""}), 0u);
  // An arm64 CPU does not take 32-bit arm images, nor amd64 386 ones: os and arch must match.
  Index arm32 = index_of({{"linux", "arm", "v7"}, {"linux", "386", ""}});
  EXPECT_EQ(selected(arm32, {"linux", "arm64", "v8"}), SIZE_MAX);
  EXPECT_EQ(selected(arm32, {"linux", "amd64", ""}), SIZE_MAX);

  // amd64 micro-architecture levels: v3 takes v2 before v1; plain amd64 takes only v1.
  Index amd64 = index_of({{"linux", "amd64", ""}, {"linux", "amd64", "v2"}});
  EXPECT_EQ(selected(amd64, {"linux", "amd64", "v3"}), 1u);
  EXPECT_EQ(selected(amd64, {"linux", "amd64", ""}), 0u);

  // Ties go to the first entry.
  Index twice = index_of({{"linux", "amd64", ""}, {"linux", "amd64", ""}});
  EXPECT_EQ(selected(twice, {"linux", "amd64", ""}), 0u);

  // Case and aliases in the index itself.
  Index odd = index_of({{"Linux", "x86_64", ""}});
  EXPECT_EQ(selected(odd, {"linux", "amd64", ""}), 0u);
}

TEST(ImageIndex, NoMatchListsWhatIsAvailable) {
  Index idx = *parse_index(kAlpineIndex);
  Result<Descriptor> d = select_platform(idx, {"linux", "s390x", ""});
  ASSERT_FALSE(d);
  // Attestation manifests (unknown/unknown) are neither picked nor listed.
  EXPECT_EQ(d.error().message(),
            "no matching manifest for linux/s390x in the manifest list entries (available: "
            "linux/amd64, linux/arm64/v8)");

  Index two = index_of({{"linux", "amd64", ""}, {"linux", "arm", "v7"}, {"linux", "amd64", ""}});
  Result<Descriptor> e = select_platform(two, {"linux", "arm64", "v8"});
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().message(),
            "no matching manifest for linux/arm64/v8 in the manifest list entries (available: "
            "linux/amd64, linux/arm/v7)");

  Result<Descriptor> none = select_platform(Index{}, {"linux", "amd64", ""});
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message().find("(available: none)"), std::string::npos);
}

TEST(ImageIndex, EntryWithoutPlatformIsTheLastResort) {
  Index idx = index_of({{"linux", "arm64", ""}});
  Descriptor bare;
  bare.media_type = kOciManifest;
  bare.digest = sha256_of("bare");
  bare.size = 10;
  idx.manifests.push_back(bare);
  EXPECT_EQ(selected(idx, {"linux", "arm64", ""}), 0u);
  EXPECT_EQ(selected(idx, {"linux", "amd64", ""}), 1u);
}

TEST(ImagePlatform, ParsesPlatformStrings) {
  struct Case {
    std::string in, os, arch, variant;
  };
  const Case cases[] = {
      {"linux/amd64", "linux", "amd64", ""},   {"linux/arm64/v8", "linux", "arm64", "v8"},
      {"LINUX/AMD64", "linux", "amd64", ""},   {"linux/x86_64", "linux", "amd64", ""},
      {"linux/aarch64", "linux", "arm64", ""}, {"linux/armhf", "linux", "arm", "v7"},
      {"linux/arm/v6", "linux", "arm", "v6"},  {"linux/i686", "linux", "386", ""},
      {"arm64", "linux", "arm64", ""},         {"windows/amd64", "windows", "amd64", ""},
      {"macos/arm64", "darwin", "arm64", ""},  {"linux/ppc64le", "linux", "ppc64le", ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.in);
    Result<Platform> p = parse_platform(c.in);
    ASSERT_TRUE(p) << p.error().what();
    EXPECT_EQ(p->os, c.os);
    EXPECT_EQ(p->architecture, c.arch);
    EXPECT_EQ(p->variant, c.variant);
  }
  // One component that is an OS takes the host's architecture.
  Result<Platform> os_only = parse_platform("linux");
  ASSERT_TRUE(os_only);
  EXPECT_EQ(os_only->architecture, host_platform().architecture);

  for (std::string bad : {"", "/", "linux/", "/amd64", "linux//v7", "a/b/c/d", "linux/am d64",
                          "linux/amd64\n", "nonsense"}) {
    SCOPED_TRACE(bad);
    Result<Platform> p = parse_platform(bad);
    ASSERT_FALSE(p);
    EXPECT_EQ(p.error().message().rfind("invalid platform \"", 0), 0u) << p.error().message();
  }
}

TEST(ImagePlatform, PlatformString) {
  EXPECT_EQ(platform_string({"linux", "amd64", ""}), "linux/amd64");
  EXPECT_EQ(platform_string({"linux", "arm", "v7"}), "linux/arm/v7");
}

TEST(ImagePlatform, MachineNamesMapToGoNames) {
  struct Case {
    std::string machine, arch, variant;
  };
  const Case cases[] = {
      {"x86_64", "amd64", ""},      {"aarch64", "arm64", "v8"}, {"armv7l", "arm", "v7"},
      {"armv6l", "arm", "v6"},      {"armv5tel", "arm", "v5"},  {"armv8l", "arm", "v8"},
      {"i686", "386", ""},          {"i386", "386", ""},        {"ppc64le", "ppc64le", ""},
      {"s390x", "s390x", ""},       {"riscv64", "riscv64", ""}, {"loongarch64", "loong64", ""},
      {"mips64el", "mips64le", ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.machine);
    Platform p = platform_for_machine(c.machine);
    EXPECT_EQ(p.os, "linux");
    EXPECT_EQ(p.architecture, c.arch);
    EXPECT_EQ(p.variant, c.variant);
  }
}

TEST(ImagePlatform, HostPlatformIsAGoName) {
  Platform host = host_platform();
  EXPECT_EQ(host.os, "linux");
  EXPECT_FALSE(host.architecture.empty());
#if defined(__x86_64__)
  EXPECT_EQ(host.architecture, "amd64");
#elif defined(__aarch64__)
  EXPECT_EQ(platform_string(host), "linux/arm64/v8");
#endif
  // The host always matches itself.
  EXPECT_TRUE(platform_matches(host, host));
}

TEST(ImagePlatform, Normalize) {
  Platform p = normalize_platform({"Linux", "AArch64", "V8"});
  EXPECT_EQ(platform_string(p), "linux/arm64");
  EXPECT_EQ(platform_string(normalize_platform({"linux", "arm", ""})), "linux/arm/v7");
  EXPECT_EQ(platform_string(normalize_platform({"linux", "arm", "7"})), "linux/arm/v7");
  EXPECT_EQ(platform_string(normalize_platform({"linux", "amd64", "v1"})), "linux/amd64");
  EXPECT_TRUE(platform_matches({"linux", "arm64", "v8"}, {"linux", "aarch64", ""}));
  EXPECT_FALSE(platform_matches({"linux", "arm", "v6"}, {"linux", "arm", "v7"}));
  EXPECT_TRUE(platform_matches({"linux", "arm", "v7"}, {"linux", "arm", "v6"}));
}

// ---------------------------------------------------------------------------------------------
// Manifests.

TEST(ImageManifest, ParsesDockerSchema2) {
  Result<Manifest> m = parse_manifest(kBusyboxManifest);
  ASSERT_TRUE(m) << m.error().what();
  EXPECT_EQ(m->media_type, kDockerManifest);
  EXPECT_EQ(m->config.media_type, kDockerConfig);
  EXPECT_EQ(m->config.size, 1457);
  ASSERT_EQ(m->layers.size(), 1u);
  EXPECT_EQ(m->layers[0].size, 2220094);
  Result<LayerType> t = layer_type(m->layers[0].media_type);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->compression, Compression::Gzip);
  EXPECT_FALSE(t->non_distributable);
  EXPECT_FALSE(m->subject);
}

TEST(ImageManifest, ParsesOciManifest) {
  Result<Manifest> m = parse_manifest(kOciImageManifest);
  ASSERT_TRUE(m) << m.error().what();
  EXPECT_EQ(m->media_type, kOciManifest);
  ASSERT_EQ(m->layers.size(), 3u);
  EXPECT_EQ(layer_type(m->layers[1].media_type)->compression, Compression::Zstd);
  EXPECT_EQ(m->layers[1].annotations.at("org.opencontainers.image.title"), "app.tar.zst");
  EXPECT_TRUE(layer_type(m->layers[2].media_type)->non_distributable);
  ASSERT_EQ(m->layers[2].urls.size(), 1u);
  EXPECT_EQ(m->annotations.size(), 2u);
}

TEST(ImageManifest, ParsesOciArtifactWithSubject) {
  Result<Manifest> m = parse_manifest(kArtifactManifest);
  ASSERT_TRUE(m) << m.error().what();
  EXPECT_EQ(m->artifact_type, "application/spdx+json");
  EXPECT_EQ(m->config.media_type, kOciEmpty);
  ASSERT_TRUE(m->subject);
  EXPECT_EQ(m->subject->size, 1022);
  EXPECT_FALSE(layer_type(m->layers[0].media_type));
}

TEST(ImageManifest, MediaTypeIsOptionalForOci) {
  std::string body(kOciImageManifest);
  body.replace(
      body.find("\"mediaType\": \"application/vnd.oci.image.manifest.v1+json\","),
      std::string_view("\"mediaType\": \"application/vnd.oci.image.manifest.v1+json\",").size(),
      "");
  Result<Manifest> m = parse_manifest(body);
  ASSERT_TRUE(m) << m.error().what();
  EXPECT_EQ(m->media_type, "");
  EXPECT_EQ(sniff_document_kind("", body), DocumentKind::Manifest);
}

TEST(ImageManifest, SchemaOneIsUnsupported) {
  constexpr std::string_view kSchema1 = R"({
   "schemaVersion": 1,
   "name": "library/busybox",
   "tag": "1.0",
   "architecture": "amd64",
   "fsLayers": [{"blobSum": "sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4"}],
   "history": [{"v1Compatibility": "{}"}],
   "signatures": [{"header": {"alg": "ES256"}, "signature": "abc", "protected": "def"}]
})";
  Result<Manifest> m = parse_manifest(kSchema1);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().kind(), ErrorKind::Unsupported);
  EXPECT_EQ(
      m.error().message().rfind("manifest: unsupported manifest schema 1 "
                                "(application/vnd.docker.distribution.manifest.v1+prettyjws): ",
                                0),
      0u)
      << m.error().message();
  EXPECT_EQ(sniff_document_kind("", kSchema1), DocumentKind::DockerSchema1);
  EXPECT_EQ(sniff_document_kind("application/json", kSchema1), DocumentKind::DockerSchema1);
  EXPECT_EQ(document_kind(kDockerSchema1Signed), DocumentKind::DockerSchema1);
  Result<Index> i = parse_index(kSchema1);
  ASSERT_FALSE(i);
  EXPECT_EQ(i.error().kind(), ErrorKind::Unsupported);
}

TEST(ImageManifest, DocumentKinds) {
  EXPECT_EQ(document_kind(kOciManifest), DocumentKind::Manifest);
  EXPECT_EQ(document_kind(kDockerManifest), DocumentKind::Manifest);
  EXPECT_EQ(document_kind(kOciIndex), DocumentKind::Index);
  EXPECT_EQ(document_kind(kDockerManifestList), DocumentKind::Index);
  EXPECT_EQ(document_kind(kDockerSchema1), DocumentKind::DockerSchema1);
  EXPECT_EQ(document_kind("Application/VND.OCI.Image.Index.v1+json; charset=utf-8"),
            DocumentKind::Index);
  EXPECT_EQ(document_kind("application/json"), DocumentKind::Unknown);
  EXPECT_EQ(document_kind(""), DocumentKind::Unknown);

  // Sniffing trusts a specific Content-Type, then the body's mediaType, then its fields.
  EXPECT_EQ(sniff_document_kind(kOciIndex, "garbage"), DocumentKind::Index);
  EXPECT_EQ(sniff_document_kind("application/octet-stream", kBusyboxList), DocumentKind::Index);
  EXPECT_EQ(sniff_document_kind("", kBusyboxManifest), DocumentKind::Manifest);
  EXPECT_EQ(sniff_document_kind("", R"({"schemaVersion":2,"manifests":[]})"), DocumentKind::Index);
  EXPECT_EQ(sniff_document_kind("", R"({"schemaVersion":2,"config":{},"layers":[]})"),
            DocumentKind::Manifest);
  EXPECT_EQ(sniff_document_kind("", "not json"), DocumentKind::Unknown);
  EXPECT_EQ(sniff_document_kind("", "[]"), DocumentKind::Unknown);
  EXPECT_EQ(sniff_document_kind("", R"({"a":1,"a":2})"), DocumentKind::Unknown);
}

TEST(ImageManifest, ParsesDescriptor) {
  Result<Descriptor> d = parse_descriptor(
      R"({"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:a330395cc0a53ad1)"
      R"(207736546afff4735940937564bbf75ce1edad40780d9139","size":9000,"annotations":{"org.opencon)"
      R"(tainers.image.ref.name":"1.36"},"artifactType":"application/vnd.example+type"})");
  ASSERT_TRUE(d) << d.error().what();
  EXPECT_EQ(d->size, 9000);
  EXPECT_EQ(d->annotations.at("org.opencontainers.image.ref.name"), "1.36");
  EXPECT_EQ(d->artifact_type, "application/vnd.example+type");
}

// ---------------------------------------------------------------------------------------------
// Configs.

TEST(ImageConfigTest, ParsesDockerConfig) {
  Result<ImageConfig> c = parse_image_config(kBusyboxConfig);
  ASSERT_TRUE(c) << c.error().what();
  EXPECT_EQ(c->architecture, "amd64");
  EXPECT_EQ(c->os, "linux");
  EXPECT_EQ(c->created, "2023-07-18T23:19:33.655005962Z");
  EXPECT_EQ(c->config.env,
            std::vector<std::string>{
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"});
  ASSERT_TRUE(c->config.cmd);
  EXPECT_EQ(*c->config.cmd, std::vector<std::string>{"sh"});
  EXPECT_FALSE(c->config.entrypoint);  // null
  EXPECT_TRUE(c->config.volumes.empty());
  EXPECT_TRUE(c->config.labels.empty());
  EXPECT_EQ(c->rootfs_type, "layers");
  ASSERT_EQ(c->diff_ids.size(), 1u);
  EXPECT_EQ(c->diff_ids[0].str(),
            "sha256:b2f445c351a792d2adbfd48fe3ebb75aa2d3ed4b861c671f3b9b385293110213");
  ASSERT_EQ(c->history.size(), 2u);
  EXPECT_FALSE(c->history[0].empty_layer);
  EXPECT_TRUE(c->history[1].empty_layer);
  EXPECT_EQ(c->raw, kBusyboxConfig);
}

TEST(ImageConfigTest, ParsesEverythingBerthModels) {
  Result<ImageConfig> c = parse_image_config(kNginxConfig);
  ASSERT_TRUE(c) << c.error().what();
  const ContainerConfig& cc = c->config;
  EXPECT_EQ(c->author, "builder@example.com");
  EXPECT_EQ(c->variant, "v7");
  EXPECT_EQ(cc.user, "101:101");
  EXPECT_EQ(cc.exposed_ports, (std::vector<std::string>{"443/tcp", "443/udp", "80/tcp"}));
  EXPECT_EQ(cc.volumes, (std::vector<std::string>{"/etc/nginx/conf.d", "/var/cache/nginx"}));
  ASSERT_EQ(cc.env.size(), 2u);
  EXPECT_EQ(*cc.entrypoint, std::vector<std::string>{"/docker-entrypoint.sh"});
  EXPECT_EQ(*cc.cmd, (std::vector<std::string>{"nginx", "-g", "daemon off;"}));
  EXPECT_EQ(cc.working_dir, "/usr/share/nginx/html");
  EXPECT_EQ(cc.labels.at("maintainer"), "NGINX Docker Maintainers");
  EXPECT_EQ(cc.stop_signal, "SIGQUIT");
  ASSERT_TRUE(cc.healthcheck);
  EXPECT_EQ(cc.healthcheck->test.size(), 2u);
  EXPECT_EQ(cc.healthcheck->interval_ns, 30000000000);
  EXPECT_EQ(cc.healthcheck->timeout_ns, 5000000000);
  EXPECT_EQ(cc.healthcheck->start_period_ns, 10000000000);
  EXPECT_EQ(cc.healthcheck->start_interval_ns, 1000000000);
  EXPECT_EQ(cc.healthcheck->retries, 3);
  EXPECT_EQ(cc.shell, (std::vector<std::string>{"/bin/bash", "-c"}));
  EXPECT_TRUE(cc.args_escaped);
  EXPECT_EQ(c->diff_ids.size(), 3u);
  ASSERT_EQ(c->history.size(), 4u);
  EXPECT_EQ(c->history[2].comment, "buildkit.dockerfile.v0");
  EXPECT_EQ(c->history[3].author, "me");
}

TEST(ImageConfigTest, EntrypointNullAbsentAndEmptyDiffer) {
  const std::string rootfs = R"("rootfs":{"type":"layers","diff_ids":[]})";
  Result<ImageConfig> absent = parse_image_config("{\"config\":{}," + rootfs + "}");
  Result<ImageConfig> null =
      parse_image_config("{\"config\":{\"Entrypoint\":null}," + rootfs + "}");
  Result<ImageConfig> empty = parse_image_config("{\"config\":{\"Entrypoint\":[]}," + rootfs + "}");
  Result<ImageConfig> str = parse_image_config("{\"config\":{\"Cmd\":\"sh\"}," + rootfs + "}");
  ASSERT_TRUE(absent && null && empty && str);
  EXPECT_FALSE(absent->config.entrypoint);
  EXPECT_FALSE(null->config.entrypoint);
  ASSERT_TRUE(empty->config.entrypoint);
  EXPECT_TRUE(empty->config.entrypoint->empty());
  // Docker's strslice: a bare string is a list of one.
  EXPECT_EQ(*str->config.cmd, std::vector<std::string>{"sh"});
  // And serialisation keeps the difference.
  EXPECT_NE(serialize(*empty).find("\"Entrypoint\":[]"), std::string::npos);
  EXPECT_EQ(serialize(*null).find("Entrypoint"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// Serialisation.

TEST(ImageSerialize, DescriptorIsCanonical) {
  Descriptor d;
  d.media_type = std::string(kOciLayerGzip);
  d.digest = D("sha256:2804bad6fe94a55f18b2b37e300919a5fd517b95aa81e95db574c0ba069a3740");
  d.size = 32654;
  d.annotations["b"] = "2";
  d.annotations["a"] = "1";
  EXPECT_EQ(
      serialize(d),
      R"({"annotations":{"a":"1","b":"2"},"digest":"sha256:2804bad6fe94a55f18b2b37e300919a5fd)"
      R"(517b95aa81e95db574c0ba069a3740","mediaType":"application/vnd.oci.image.layer.v1.tar+g)"
      R"(zip","size":32654})");
}

void expect_same(const Descriptor& a, const Descriptor& b) {
  EXPECT_EQ(a.media_type, b.media_type);
  EXPECT_EQ(a.digest, b.digest);
  EXPECT_EQ(a.size, b.size);
  EXPECT_EQ(a.urls, b.urls);
  EXPECT_EQ(a.annotations, b.annotations);
  EXPECT_EQ(a.artifact_type, b.artifact_type);
  ASSERT_EQ(a.platform.has_value(), b.platform.has_value());
  if (a.platform) {
    EXPECT_EQ(a.platform->os, b.platform->os);
    EXPECT_EQ(a.platform->architecture, b.platform->architecture);
    EXPECT_EQ(a.platform->variant, b.platform->variant);
    EXPECT_EQ(a.platform->os_version, b.platform->os_version);
    EXPECT_EQ(a.platform->os_features, b.platform->os_features);
  }
}

TEST(ImageSerialize, ManifestsRoundTrip) {
  for (std::string_view body : {kBusyboxManifest, kOciImageManifest, kArtifactManifest}) {
    Manifest m = *parse_manifest(body);
    std::string text = serialize(m);
    Result<Manifest> again = parse_manifest(text);
    ASSERT_TRUE(again) << again.error().what() << "\n" << text;
    EXPECT_EQ(again->media_type, m.media_type);
    EXPECT_EQ(again->artifact_type, m.artifact_type);
    expect_same(again->config, m.config);
    ASSERT_EQ(again->layers.size(), m.layers.size());
    for (size_t i = 0; i < m.layers.size(); ++i) expect_same(again->layers[i], m.layers[i]);
    EXPECT_EQ(again->annotations, m.annotations);
    ASSERT_EQ(again->subject.has_value(), m.subject.has_value());
    EXPECT_EQ(serialize(*again), text);  // a fixed point
    EXPECT_EQ(text.find('\n'), std::string::npos);
  }
}

TEST(ImageSerialize, IndexesRoundTrip) {
  for (std::string_view body : {kBusyboxList, kAlpineIndex}) {
    Index idx = *parse_index(body);
    std::string text = serialize(idx);
    Result<Index> again = parse_index(text);
    ASSERT_TRUE(again) << again.error().what();
    ASSERT_EQ(again->manifests.size(), idx.manifests.size());
    for (size_t i = 0; i < idx.manifests.size(); ++i)
      expect_same(again->manifests[i], idx.manifests[i]);
    EXPECT_EQ(again->annotations, idx.annotations);
    EXPECT_EQ(serialize(*again), text);
  }
}

TEST(ImageSerialize, ConfigsRoundTrip) {
  for (std::string_view body : {kBusyboxConfig, kNginxConfig}) {
    ImageConfig c = *parse_image_config(body);
    std::string text = serialize(c);
    Result<ImageConfig> again = parse_image_config(text);
    ASSERT_TRUE(again) << again.error().what() << "\n" << text;
    EXPECT_EQ(again->created, c.created);
    EXPECT_EQ(again->architecture, c.architecture);
    EXPECT_EQ(again->variant, c.variant);
    EXPECT_EQ(again->config.env, c.config.env);
    EXPECT_EQ(again->config.entrypoint, c.config.entrypoint);
    EXPECT_EQ(again->config.cmd, c.config.cmd);
    EXPECT_EQ(again->config.exposed_ports, c.config.exposed_ports);
    EXPECT_EQ(again->config.volumes, c.config.volumes);
    EXPECT_EQ(again->config.labels, c.config.labels);
    EXPECT_EQ(again->config.healthcheck.has_value(), c.config.healthcheck.has_value());
    EXPECT_EQ(again->config.shell, c.config.shell);
    EXPECT_EQ(again->config.args_escaped, c.config.args_escaped);
    EXPECT_EQ(again->diff_ids, c.diff_ids);
    ASSERT_EQ(again->history.size(), c.history.size());
    for (size_t i = 0; i < c.history.size(); ++i) {
      EXPECT_EQ(again->history[i].created_by, c.history[i].created_by);
      EXPECT_EQ(again->history[i].empty_layer, c.history[i].empty_layer);
    }
    EXPECT_EQ(serialize(*again), text);
  }
}

// ---------------------------------------------------------------------------------------------
// Layer media types and chain IDs.

TEST(ImageLayers, MediaTypes) {
  struct Case {
    std::string_view media_type;
    Compression compression;
    bool non_distributable;
  };
  const Case cases[] = {
      {kOciLayer, Compression::None, false},
      {kOciLayerGzip, Compression::Gzip, false},
      {kOciLayerZstd, Compression::Zstd, false},
      {kOciLayerNondistributable, Compression::None, true},
      {kOciLayerNondistributableGzip, Compression::Gzip, true},
      {kOciLayerNondistributableZstd, Compression::Zstd, true},
      {kDockerLayerGzip, Compression::Gzip, false},
      {kDockerLayerForeignGzip, Compression::Gzip, true},
      {kDockerLayer, Compression::None, false},
      {kDockerLayerZstd, Compression::Zstd, false},
      {kDockerLayerForeign, Compression::None, true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.media_type);
    Result<LayerType> t = layer_type(c.media_type);
    ASSERT_TRUE(t) << t.error().what();
    EXPECT_EQ(t->compression, c.compression);
    EXPECT_EQ(t->non_distributable, c.non_distributable);
  }
  for (std::string_view bad : {"application/vnd.oci.image.layer.v1.tar+bzip2",
                               "application/vnd.oci.image.config.v1+json", "", "text/plain"}) {
    Result<LayerType> t = layer_type(bad);
    ASSERT_FALSE(t);
    EXPECT_EQ(t.error().kind(), ErrorKind::Unsupported);
    EXPECT_EQ(t.error().message(), "unsupported layer media type \"" + std::string(bad) + "\"");
  }
  Result<LayerType> enc = layer_type("application/vnd.oci.image.layer.v1.tar+gzip+encrypted");
  ASSERT_FALSE(enc);
  EXPECT_NE(enc.error().message().find("encrypted layers are not supported"), std::string::npos);
}

TEST(ImageLayers, ChainIdsKnownAnswer) {
  // Expected values from:
  //   c2=$(printf '%s %s' "$d1" "$d2" | sha256sum); c3=$(printf '%s %s' "sha256:$c2" "$d3" | ...)
  std::vector<Digest> diff_ids = {
      D("sha256:8b53639f152c8fc6ef30802fde462ba0be9cf085f7580dc69efd72e002abbb35"),
      D("sha256:e788103ee15318fcd2af9b73b4ebbb33a903b020de7b307d71f5fed0f433e548"),
      D("sha256:f451a61749c611ba0fa0e16c61831db44f38c611dff25879cf271a24c81a88b6"),
  };
  std::vector<Digest> chain = chain_ids(diff_ids);
  ASSERT_EQ(chain.size(), 3u);
  EXPECT_EQ(chain[0], diff_ids[0]);
  EXPECT_EQ(chain[1].str(),
            "sha256:ec4a1f34a5b3f8cce98b4b328024c445699c3b75426415a485d08aeb1f683c75");
  EXPECT_EQ(chain[2].str(),
            "sha256:77b763683c7f066066254410439d66f1166946513faf28aa04e4067d7f4227c0");
  EXPECT_TRUE(chain_ids({}).empty());
  // The config above has these diff IDs: its chain is what the snapshotter keys on.
  EXPECT_EQ(chain_ids(parse_image_config(kNginxConfig)->diff_ids), chain);
}

}  // namespace
}  // namespace berth::oci::image
