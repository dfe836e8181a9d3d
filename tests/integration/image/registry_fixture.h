// Registry fixtures for the image integration tests (pull, push, unpack, import/export).
//
//   BERTH_SKIP_UNLESS_REGISTRY();                          // docker-registry, skopeo, ...
//   berth::test::TempDir tmp;
//   auto reg = berth::test::LocalRegistry::Start();       // {.basic_auth = true} for htpasswd
//   ASSERT_TRUE(reg) << reg.error().what();
//   auto img = berth::test::BuildBusyboxImage(tmp.sub("img"), {"--cmd", R"(["sh"])"});
//   ASSERT_TRUE(img) << img.error().what();
//   ASSERT_TRUE((*reg)->Push(img->layout, img->tag, "app:1"));   // -> 127.0.0.1:PORT/app:1
//   auto client = berth::image::RegistryClient::create((*reg)->host(), (*reg)->client_options());
//
// LocalRegistry runs Debian's docker-registry on 127.0.0.1 and a free port with its storage in
// a temp dir (optionally htpasswd Basic auth, optionally TLS with a self-signed CA); the
// destructor kills it and removes everything. Images are built by tests/fixtures/build-image.sh
// (a deterministic OCI layout, multi-arch with several --platform) and pushed with skopeo.
// FaultyRegistry runs tests/fixtures/faulty_registry.py, a small server that serves one layout
// and injects faults (dropped connections, ignored Range, 5xx, Bearer tokens, redirects).
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "image/registry.h"
#include "util/fd.h"
#include "util/result.h"

namespace berth::test {

// ---- small helpers ----------------------------------------------------------------------------

// A fresh directory under $TMPDIR, removed with everything in it by the destructor.
class TempDir {
 public:
  explicit TempDir(std::string_view prefix = "berth-it");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string sub(std::string_view name) const { return path_ + "/" + std::string(name); }

 private:
  std::string path_;
};

struct CommandResult {
  int exit_code = -1;  // exit status, or 128+signal
  std::string output;  // stdout and stderr together
  bool ok() const { return exit_code == 0; }
};
// Runs argv (PATH lookup) to completion; `env` entries are added to the environment.
CommandResult RunCommand(const std::vector<std::string>& argv,
                         const std::map<std::string, std::string>& env = {});
bool HaveProgram(const std::string& name);
// Writes a file (parents must exist); aborts the test on failure via ADD_FAILURE.
void WriteFile(const std::string& path, std::string_view data, mode_t mode = 0644);

// Why registry tests cannot run here, "" when they can: needs docker-registry, skopeo,
// htpasswd (apache2-utils), GNU tar, gzip, jq and /bin/busybox (not root: tests that mount or
// chown check that themselves).
std::string RegistrySkipReason();
#define BERTH_SKIP_UNLESS_REGISTRY()                                                              \
  do {                                                                                            \
    if (std::string why = ::berth::test::RegistrySkipReason(); !why.empty()) GTEST_SKIP() << why; \
  } while (0)

// A plain HTTP/1.0 GET to 127.0.0.1 (no libcurl, so fixtures never depend on the client under
// test): the body when the status is 2xx, else an error with the status line.
Result<std::string> HttpGet(const std::string& host_port, const std::string& path);

// A free TCP port on 127.0.0.1 (bound, then released).
int FreePort();

// ---- fixture images ---------------------------------------------------------------------------

std::string FixturesDir();  // <source>/tests/fixtures

// busybox-rootfs.sh: /bin/busybox, applet symlinks, /etc/passwd, /etc/group.
Result<void> MakeBusyboxRootfs(const std::string& dir, bool all_applets = false);

struct BuiltImage {
  std::string layout;  // OCI layout directory
  std::string tag;     // its ref name in index.json
  std::string digest;  // what index.json points at (manifest, or index when multi-arch)
};
// build-image.sh -o layout -t tag ARGS... (see the script for ARGS: --platform, --layer DIR,
// --compression, --cmd JSON, --env, ...).
Result<BuiltImage> BuildImage(const std::string& layout, const std::vector<std::string>& args,
                              const std::string& tag = "latest");
// A busybox rootfs layer plus a small second layer (/etc/berth-fixture), with `args` appended
// (image options such as --cmd). `work` is a directory the fixture may fill.
Result<BuiltImage> BuildBusyboxImage(const std::string& work,
                                     const std::vector<std::string>& args = {});

// Reads a blob of an OCI layout.
Result<std::string> ReadLayoutBlob(const std::string& layout, const std::string& digest);

// ---- docker-registry ----------------------------------------------------------------------------

struct LocalRegistryOptions {
  bool basic_auth = false;  // htpasswd -B; clients need username/password below
  std::string username = "berth";
  std::string password = "berth-secret";
  bool tls = false;  // self-signed certificate for 127.0.0.1; clients need ca_file()
};

class LocalRegistry {
 public:
  // Starts docker-registry and waits until /v2/ answers (10 s at most).
  static Result<std::unique_ptr<LocalRegistry>> Start(LocalRegistryOptions opts = {});
  ~LocalRegistry();  // kills the registry, removes its storage, config and certificates

  const std::string& host() const { return host_; }  // "127.0.0.1:PORT"
  int port() const { return port_; }
  std::string ref(std::string_view name_tag) const { return host_ + "/" + std::string(name_tag); }
  const LocalRegistryOptions& options() const { return opts_; }
  const std::string& ca_file() const { return ca_file_; }  // TLS only
  const std::string& storage_dir() const { return storage_; }
  // Client options for this registry: credentials when basic_auth, CA and https when tls.
  image::RegistryOptions client_options() const;
  // skopeo copy --all oci:<layout>:<layout_tag> docker://<host>/<name_tag>. `format` "v2s2"
  // converts to Docker schema 2 (manifest list for an index; gzip layers only) on the way.
  Result<void> Push(const std::string& layout, const std::string& layout_tag,
                    const std::string& name_tag, std::string_view format = "") const;
  // skopeo inspect --raw docker://<host>/<name_tag>: the manifest bytes as stored.
  Result<std::string> InspectRaw(const std::string& name_tag) const;
  // The registry's output so far: warnings and an access log line per request
  // (`"PATCH /v2/app/blobs/uploads/... HTTP/1.1" 202`), for assertions and failure messages.
  std::string Log() const;

 private:
  LocalRegistry() = default;
  std::vector<std::string> skopeo_tls_args(const char* side) const;

  LocalRegistryOptions opts_;
  std::unique_ptr<TempDir> dir_;
  std::string host_, storage_, ca_file_, log_;
  int port_ = 0;
  ChildProcess proc_;
};

// ---- faulty_registry.py -----------------------------------------------------------------------

class FaultyRegistry {
 public:
  // Serves `layout` with the given faults (faulty_registry.py options, e.g. {"--drop-after",
  // "1000"}); waits for its port.
  static Result<std::unique_ptr<FaultyRegistry>> Start(const std::string& layout,
                                                       const std::vector<std::string>& args = {});
  ~FaultyRegistry();

  const std::string& host() const { return host_; }  // "127.0.0.1:PORT"
  int port() const { return port_; }
  // Requests so far: [{"method", "path", "query", "headers": {lower-case name: value}}].
  Result<nlohmann::json> Requests() const;

 private:
  FaultyRegistry() = default;
  std::string host_;
  int port_ = 0;
  ChildProcess proc_;
};

}  // namespace berth::test
