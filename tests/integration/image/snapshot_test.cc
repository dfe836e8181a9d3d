// Overlayfs snapshots mounted for real: layers unpacked into committed snapshots (keyed by chain
// ID), deletions and opaque directories taking effect in the merged view, a 200-layer image
// (lowerdir+), read-only views, bind mounts for parent-less snapshots, usage, and the whole
// image compared file by file with what `umoci unpack` makes of the same OCI layout.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "image/unpack.h"
#include "snapshot/snapshotter.h"
#include "util/digest.h"
#include "util/fd.h"

namespace berth::it::image {

// Shared helpers, defined in unpack_test.cc.
struct ShResult {
  int code = -1;
  std::string out;
};
struct TreeEntry;
struct CompareOptions {
  bool mtimes = true;
  bool dir_mtimes = true;
  bool root_metadata = true;
};
std::string TempDir(const std::string& prefix);
ShResult Sh(const std::string& cmd);
bool BuildTar(const nlohmann::json& spec, const std::string& path);
std::vector<std::string> MountsUnder(const std::string& dir);
std::vector<std::string> CompareTrees(const std::string& a, const std::string& b,
                                      const CompareOptions& opt);

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using berth::snapshot::Snapshotter;

std::string ReadFile(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

class SnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    tmp_ = TempDir("berth-snap");
    ASSERT_FALSE(tmp_.empty());
    auto s = Snapshotter::open(tmp_ + "/root");
    ASSERT_TRUE(s) << s.error().what();
    sn_.emplace(std::move(*s));
    mnt_ = tmp_ + "/mnt";
    fs::create_directories(mnt_);
  }
  void TearDown() override {
    if (tmp_.empty()) return;
    auto left = MountsUnder(tmp_);
    EXPECT_TRUE(left.empty()) << left.size() << " mounts left, first " << left[0];
    for (auto it = left.rbegin(); it != left.rend(); ++it) (void)snapshot::unmount(*it);
    fs::remove_all(tmp_);
  }

  // Unpacks layer tars (any compression) as committed snapshots; returns the top chain ID.
  std::string UnpackImage(const std::vector<std::string>& layers) {
    std::string chain;
    for (size_t i = 0; i < layers.size(); ++i) {
      UniqueFd src(::open(layers[i].c_str(), O_RDONLY | O_CLOEXEC));
      EXPECT_TRUE(src) << layers[i];
      std::string key = "extract-" + std::to_string(i);
      auto m = sn_->prepare(key, chain);
      EXPECT_TRUE(m) << m.error().what();
      if (!m) return {};
      auto up = sn_->open_upper(key);
      EXPECT_TRUE(up) << up.error().what();
      auto r = berth::image::unpack_layer(src.get(), up->get());
      EXPECT_TRUE(r) << layers[i] << ": " << r.error().what();
      if (!r) return {};
      std::string next =
          chain.empty() ? r->diff_id.str() : sha256_of(chain + " " + r->diff_id.str()).str();
      auto c = sn_->commit(next, key);
      EXPECT_TRUE(c) << c.error().what();
      chain = next;
    }
    return chain;
  }

  std::string Layer(const json& entries, const std::string& name) {
    std::string p = tmp_ + "/" + name + ".tar";
    EXPECT_TRUE(BuildTar({{"entries", entries}}, p));
    return p;
  }

  std::string tmp_, mnt_;
  std::optional<Snapshotter> sn_;
};

TEST_F(SnapshotTest, ThreeLayersWithDeletionsAndOpaqueDirs) {
  std::string l1 = Layer(json::array({{{"name", "etc/"}, {"type", "dir"}},
                                      {{"name", "etc/passwd"}, {"data", "root:x:0:0"}},
                                      {{"name", "etc/shadow"}, {"data", "secret"}},
                                      {{"name", "opq/"}, {"type", "dir"}},
                                      {{"name", "opq/old1"}, {"data", "1"}},
                                      {{"name", "opq/sub/old2"}, {"data", "2"}},
                                      {{"name", "gone/"}, {"type", "dir"}},
                                      {{"name", "gone/x"}, {"data", "x"}}}),
                         "l1");
  std::string l2 = Layer(json::array({{{"name", "etc/"}, {"type", "dir"}},
                                      {{"name", "etc/.wh.shadow"}},
                                      {{"name", "etc/passwd"}, {"data", "root:x:0:0:v2"}},
                                      {{"name", ".wh.gone"}},
                                      {{"name", "opq/"}, {"type", "dir"}},
                                      {{"name", "opq/.wh..wh..opq"}},
                                      {{"name", "opq/new"}, {"data", "n"}}}),
                         "l2");
  std::string l3 = Layer(json::array({{{"name", "etc/shadow"}, {"data", "back again"}},
                                      {{"name", "l3"}, {"data", "3"}}}),
                         "l3");
  std::string top = UnpackImage({l1, l2, l3});
  ASSERT_FALSE(top.empty());
  auto m = sn_->prepare("ctr", top);
  ASSERT_TRUE(m) << m.error().what();
  auto r = snapshot::mount_all(*m, mnt_);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(ReadFile(mnt_ + "/etc/passwd"), "root:x:0:0:v2");
  EXPECT_EQ(ReadFile(mnt_ + "/etc/shadow"), "back again");
  EXPECT_FALSE(fs::exists(mnt_ + "/gone"));
  EXPECT_TRUE(fs::exists(mnt_ + "/opq/new"));
  EXPECT_FALSE(fs::exists(mnt_ + "/opq/old1"));
  EXPECT_FALSE(fs::exists(mnt_ + "/opq/sub"));
  EXPECT_EQ(ReadFile(mnt_ + "/l3"), "3");
  // Writes land in the container's upper dir, not in the layers.
  std::ofstream(mnt_ + "/etc/passwd") << "changed";
  fs::remove(mnt_ + "/l3");
  ASSERT_TRUE(snapshot::unmount(mnt_));
  EXPECT_EQ(ReadFile(sn_->upper_path("ctr") + "/etc/passwd"), "changed");
  struct stat st;
  ASSERT_EQ(::lstat((sn_->upper_path("ctr") + "/l3").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));  // overlay's own whiteout
  auto usage = sn_->usage("ctr");
  ASSERT_TRUE(usage);
  EXPECT_GT(usage->bytes, 0u);
  EXPECT_GE(usage->inodes, 3u);  // etc, etc/passwd, l3
  // A view of the image is read-only and shows the unchanged layers.
  auto v = sn_->view("look", top);
  ASSERT_TRUE(v) << v.error().what();
  ASSERT_TRUE(snapshot::mount_all(*v, mnt_));
  EXPECT_EQ(ReadFile(mnt_ + "/etc/passwd"), "root:x:0:0:v2");
  std::ofstream w(mnt_ + "/new-file");
  EXPECT_FALSE(w.is_open());
  EXPECT_FALSE(fs::exists(mnt_ + "/new-file"));
  ASSERT_TRUE(snapshot::unmount(mnt_));
  // The parent in use cannot go; the children can.
  auto rm = sn_->remove(top);
  ASSERT_FALSE(rm);
  EXPECT_EQ(rm.error().kind(), ErrorKind::Conflict);
  ASSERT_TRUE(sn_->remove("ctr"));
  ASSERT_TRUE(sn_->remove("look"));
  ASSERT_TRUE(sn_->remove(top));
}

// A minimal ustar writer for many small generated layers (python per layer is slow).
std::string UstarFile(const std::string& name, const std::string& data) {
  char h[512] = {};
  snprintf(h, 100, "%s", name.c_str());
  snprintf(h + 100, 8, "%07o", 0644);
  snprintf(h + 108, 8, "%07o", 0);
  snprintf(h + 116, 8, "%07o", 0);
  snprintf(h + 124, 12, "%011o", static_cast<unsigned>(data.size()));
  snprintf(h + 136, 12, "%011o", 1700000000u);
  h[156] = '0';
  memcpy(h + 257, "ustar", 6);
  memcpy(h + 263, "00", 2);
  memset(h + 148, ' ', 8);
  unsigned sum = 0;
  for (char c : h) sum += static_cast<unsigned char>(c);
  snprintf(h + 148, 8, "%06o", sum);
  std::string out(h, 512);
  out += data;
  out.resize((out.size() + 511) / 512 * 512, '\0');
  return out;
}

void WriteUstar(const std::string& path,
                const std::vector<std::pair<std::string, std::string>>& files) {
  std::string tar;
  for (const auto& [n, d] : files) tar += UstarFile(n, d);
  tar.append(1024, '\0');
  std::ofstream(path, std::ios::binary) << tar;
}

TEST_F(SnapshotTest, TwoHundredLayersMount) {
  constexpr int kLayers = 200;
  std::vector<std::string> layers;
  for (int i = 0; i < kLayers; ++i) {
    std::string p = tmp_ + "/l" + std::to_string(i) + ".tar";
    WriteUstar(p, {{"layers/" + std::to_string(i), std::to_string(i)}, {"top", std::to_string(i)}});
    layers.push_back(p);
  }
  std::string top = UnpackImage(layers);
  ASSERT_FALSE(top.empty());
  auto m = sn_->prepare("ctr", top);
  ASSERT_TRUE(m) << m.error().what();
  size_t optlen = 0;
  for (const std::string& o : (*m)[0].options) optlen += o.size() + 1;
  EXPECT_GT(optlen, 4096u);  // too long for mount(2)'s one-page option string
  auto r = snapshot::mount_all(*m, mnt_);
  ASSERT_TRUE(r) << r.error().what();
  for (int i = 0; i < kLayers; ++i)
    EXPECT_EQ(ReadFile(mnt_ + "/layers/" + std::to_string(i)), std::to_string(i));
  EXPECT_EQ(ReadFile(mnt_ + "/top"), std::to_string(kLayers - 1));
  ASSERT_TRUE(snapshot::unmount(mnt_));
  ASSERT_TRUE(sn_->remove("ctr"));
}

// As a pull does: layers unpacked on their own threads, each into its own active snapshot.
// A pull prepares a layer on its parent's chain ID; here all run at once, so the unpacked
// dirs are stacked afterwards by moving them into snapshots prepared on the right parents.
TEST_F(SnapshotTest, LayersUnpackInParallelThreads) {
  constexpr int kLayers = 6;
  std::vector<std::string> layers;
  for (int i = 0; i < kLayers; ++i) {
    std::string p = tmp_ + "/p" + std::to_string(i) + ".tar";
    std::vector<std::pair<std::string, std::string>> files;
    for (int f = 0; f < 300; ++f)
      files.push_back({"d" + std::to_string(f % 7) + "/f" + std::to_string(f),
                       std::string(1000 + f * 10 + i, static_cast<char>('a' + i))});
    files.push_back({"owner", std::to_string(i)});
    WriteUstar(p, files);
    ASSERT_EQ(Sh("gzip -1 " + p).code, 0);
    layers.push_back(p + ".gz");
  }
  std::vector<Result<berth::image::UnpackResult>> results;
  for (int i = 0; i < kLayers; ++i) results.emplace_back(Error::internal("not run"));
  std::vector<std::thread> threads;
  for (int i = 0; i < kLayers; ++i) {
    std::string key = "extract-" + std::to_string(i);
    ASSERT_TRUE(sn_->prepare(key, ""));
    threads.emplace_back([&, i, key] {
      UniqueFd src(::open(layers[i].c_str(), O_RDONLY | O_CLOEXEC));
      auto up = sn_->open_upper(key);
      if (!up) {
        results[i] = std::move(up).error();
        return;
      }
      results[i] = berth::image::unpack_layer(src.get(), up->get());
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kLayers; ++i) ASSERT_TRUE(results[i]) << results[i].error().what();
  std::string chain;
  for (int i = 0; i < kLayers; ++i) {
    EXPECT_EQ(results[i]->entries, 301u);  // 300 files and "owner"; parents are implicit
    std::string next = chain.empty() ? results[i]->diff_id.str()
                                     : sha256_of(chain + " " + results[i]->diff_id.str()).str();
    std::string key = "stack-" + std::to_string(i);
    ASSERT_TRUE(sn_->prepare(key, chain));
    std::string from = sn_->upper_path("extract-" + std::to_string(i));
    std::string to = sn_->upper_path(key);
    fs::remove(to);
    fs::rename(from, to);
    fs::create_directories(from);
    ASSERT_TRUE(sn_->commit(next, key));
    ASSERT_TRUE(sn_->remove("extract-" + std::to_string(i)));
    chain = next;
  }
  auto v = sn_->view("v", chain);
  ASSERT_TRUE(v);
  ASSERT_TRUE(snapshot::mount_all(*v, mnt_));
  EXPECT_EQ(ReadFile(mnt_ + "/owner"), std::to_string(kLayers - 1));
  EXPECT_EQ(ReadFile(mnt_ + "/d3/f10"), std::string(1000 + 100 + kLayers - 1, 'a' + kLayers - 1));
  ASSERT_TRUE(snapshot::unmount(mnt_));
}

// The pre-6.8 path (one mount(2) option string), forced: works for a few layers, and a deep
// image fails with a clear error rather than a truncated lower dir list. Run in a child, so the
// environment variable stays out of the other tests.
TEST_F(SnapshotTest, LegacyOverlayMountFallback) {
  std::vector<std::string> layers;
  for (int i = 0; i < 120; ++i) {
    std::string p = tmp_ + "/g" + std::to_string(i) + ".tar";
    WriteUstar(p, {{"f" + std::to_string(i), std::to_string(i)}});
    layers.push_back(p);
  }
  std::string top3 = UnpackImage({layers[0], layers[1], layers[2]});
  ASSERT_FALSE(top3.empty());
  auto few = sn_->view("few", top3);
  ASSERT_TRUE(few);
  std::vector<std::string> deep_layers(layers.begin() + 3, layers.end());
  std::string top = UnpackImage(deep_layers);
  auto many = sn_->view("many", top);
  ASSERT_TRUE(many);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setenv("BERTH_OVERLAY_LEGACY", "1", 1);
    if (!snapshot::mount_all(*few, mnt_)) _exit(1);
    if (ReadFile(mnt_ + "/f2") != "2" || ReadFile(mnt_ + "/f0") != "0") _exit(2);
    if (!snapshot::unmount(mnt_)) _exit(3);
    auto r = snapshot::mount_all(*many, mnt_);
    if (r) _exit(4);
    if (r.error().what().find("do not fit in one option string") == std::string::npos) _exit(5);
    _exit(MountsUnder(mnt_).empty() ? 0 : 6);
  }
  ChildProcess child(pid);
  auto st = child.wait();
  ASSERT_TRUE(st);
  EXPECT_EQ(exit_code_of(*st), 0);
}

TEST_F(SnapshotTest, ParentlessSnapshotIsABindMount) {
  auto m = sn_->prepare("scratch", "");
  ASSERT_TRUE(m);
  ASSERT_TRUE(snapshot::mount_all(*m, mnt_));
  std::ofstream(mnt_ + "/hello") << "world";
  ASSERT_TRUE(snapshot::unmount(mnt_));
  EXPECT_EQ(ReadFile(sn_->upper_path("scratch") + "/hello"), "world");
  // A view of a one-layer image is a read-only bind.
  ASSERT_TRUE(sn_->commit("sha256:" + std::string(64, 'a'), "scratch"));
  auto v = sn_->view("v", "sha256:" + std::string(64, 'a'));
  ASSERT_TRUE(v);
  ASSERT_TRUE(snapshot::mount_all(*v, mnt_));
  EXPECT_EQ(ReadFile(mnt_ + "/hello"), "world");
  EXPECT_FALSE(std::ofstream(mnt_ + "/nope").is_open());
  ASSERT_TRUE(snapshot::unmount(mnt_));
}

TEST_F(SnapshotTest, MountErrorsNameTheTarget) {
  std::vector<snapshot::Mount> bad = {{"overlay", "overlay", {"lowerdir=" + tmp_ + "/missing"}}};
  auto r = snapshot::mount_all(bad, mnt_);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().what().find(mnt_), std::string::npos) << r.error().what();
  EXPECT_TRUE(MountsUnder(mnt_).empty());
}

// ---- the same image through umoci ---------------------------------------------------------------

void Touch(const std::string& p, time_t t) {
  struct timespec ts[2] = {{t, 0}, {t, 0}};
  ::utimensat(AT_FDCWD, p.c_str(), ts, AT_SYMLINK_NOFOLLOW);
}

void WriteFile(const std::string& p, const std::string& data, mode_t mode = 0644, uid_t uid = 0,
               gid_t gid = 0) {
  fs::create_directories(fs::path(p).parent_path());
  std::ofstream(p, std::ios::binary) << data;
  ::chown(p.c_str(), uid, gid);
  ::chmod(p.c_str(), mode);
}

// Source trees of three layers, with everything the comparison should see.
void MakeLayerSources(const std::string& base) {
  std::string a = base + "/a", b = base + "/b", c = base + "/c";
  // Layer a: the base system.
  WriteFile(a + "/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n");
  WriteFile(a + "/etc/shadow", "root:*:1::::::\n", 0600);
  WriteFile(a + "/usr/bin/tool", std::string(100000, 'T'), 04755);
  ::link((a + "/usr/bin/tool").c_str(), (a + "/usr/bin/tool-hard").c_str());
  ::symlink("tool", (a + "/usr/bin/tool-link").c_str());
  ::symlink("/nonexistent/abs", (a + "/usr/bin/dangling").c_str());
  WriteFile(a + "/usr/bin/capped", "cap", 0755);
  const unsigned char cap[] = {1, 0, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  ::setxattr((a + "/usr/bin/capped").c_str(), "security.capability", cap, sizeof cap, 0);
  WriteFile(a + "/home/user/.profile", "export A=1\n", 0640, 1000, 1000);
  ::chown((a + "/home/user").c_str(), 1000, 1000);
  ::chmod((a + "/home/user").c_str(), 0750);
  ::setxattr((a + "/home/user/.profile").c_str(), "user.note", "hi", 2, 0);
  WriteFile(a + "/var/lib/opq/a", "a");
  WriteFile(a + "/var/lib/opq/sub/b", "b");
  WriteFile(a + "/deldir/x", "x");
  WriteFile(a + "/deldir/y/z", "z");
  WriteFile(a + "/del/me", "delete me");
  WriteFile(a + "/replaceme/inner", "dir to be replaced by a file");
  fs::create_directories(a + "/dev");
  ::mknod((a + "/dev/null").c_str(), S_IFCHR | 0666, makedev(1, 3));
  ::mkfifo((a + "/dev/fifo").c_str(), 0600);
  fs::create_directories(a + "/tmp");
  ::chmod((a + "/tmp").c_str(), 01777);
  // Layer b: deletions, an opaque dir, changes.
  WriteFile(b + "/etc/.wh.shadow", "");
  WriteFile(b + "/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n");
  WriteFile(b + "/.wh.deldir", "");
  WriteFile(b + "/del/.wh.me", "");
  WriteFile(b + "/var/lib/opq/.wh..wh..opq", "");
  WriteFile(b + "/var/lib/opq/fresh", "fresh");
  fs::create_directories(b + "/usr/bin");
  ::chmod((b + "/usr/bin").c_str(), 0711);
  WriteFile(b + "/new/dir/file", "new", 0600, 33, 33);
  // Layer c: replacements and recreations.
  WriteFile(c + "/usr/bin/tool-link", "now a regular file");
  WriteFile(c + "/replaceme", "a file now");
  WriteFile(c + "/del/me", "recreated");
  WriteFile(c + "/pair/one", "paired", 0640);
  ::link((c + "/pair/one").c_str(), (c + "/pair/two").c_str());
  fs::create_directories(c + "/usr/bin");
  ::chmod((c + "/usr/bin").c_str(), 0711);
  // Fixed times everywhere (directories last), and a 0755 root.
  time_t t = 1650000000;
  for (const std::string& root : {a, b, c}) {
    std::vector<std::string> all;
    for (auto& e : fs::recursive_directory_iterator(root)) all.push_back(e.path());
    std::sort(all.rbegin(), all.rend());
    for (const std::string& p : all) Touch(p, t++);
    ::chmod(root.c_str(), 0755);
    Touch(root, t++);
  }
}

// Writes an OCI layout with the given gzip layers; returns false on failure.
bool MakeOciLayout(const std::string& dir, const std::vector<std::string>& tars) {
  fs::create_directories(dir + "/blobs/sha256");
  auto put = [&](const std::string& data) {
    Digest d = sha256_of(data);
    std::ofstream(dir + "/blobs/sha256/" + std::string(d.hex()), std::ios::binary) << data;
    return d;
  };
  json layers = json::array(), diff_ids = json::array();
  for (const std::string& t : tars) {
    diff_ids.push_back(sha256_of(ReadFile(t)).str());
    if (Sh("gzip -n -c " + t + " > " + t + ".gz").code != 0) return false;
    std::string gz = ReadFile(t + ".gz");
    layers.push_back({{"mediaType", "application/vnd.oci.image.layer.v1.tar+gzip"},
                      {"digest", put(gz).str()},
                      {"size", gz.size()}});
  }
  std::string config = json({{"architecture", "amd64"},
                             {"os", "linux"},
                             {"config", json::object()},
                             {"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids}}}})
                           .dump();
  std::string manifest = json({{"schemaVersion", 2},
                               {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                               {"config",
                                {{"mediaType", "application/vnd.oci.image.config.v1+json"},
                                 {"digest", put(config).str()},
                                 {"size", config.size()}}},
                               {"layers", layers}})
                             .dump();
  Digest md = put(manifest);
  json index = {
      {"schemaVersion", 2},
      {"manifests",
       json::array({{{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                     {"digest", md.str()},
                     {"size", manifest.size()},
                     {"annotations", {{"org.opencontainers.image.ref.name", "latest"}}}}})}};
  std::ofstream(dir + "/index.json") << index.dump();
  std::ofstream(dir + "/oci-layout") << R"({"imageLayoutVersion":"1.0.0"})";
  return true;
}

TEST_F(SnapshotTest, ImageMatchesUmociUnpack) {
  if (Sh("command -v umoci").code != 0) GTEST_SKIP() << "umoci not installed";
  std::string src = tmp_ + "/src";
  MakeLayerSources(src);
  std::vector<std::string> tars;
  for (const char* l : {"a", "b", "c"}) {
    std::string t = tmp_ + "/layer-" + l + ".tar";
    auto r = Sh("tar --xattrs --xattrs-include='*' --numeric-owner --format=pax --sort=name -C " +
                src + "/" + l + " -cf " + t + " .");
    ASSERT_EQ(r.code, 0) << r.out;
    tars.push_back(t);
  }
  ASSERT_TRUE(MakeOciLayout(tmp_ + "/oci", tars));
  auto u = Sh("umoci unpack --image " + tmp_ + "/oci:latest " + tmp_ + "/bundle");
  ASSERT_EQ(u.code, 0) << u.out;

  std::vector<std::string> gz;
  for (const std::string& t : tars) gz.push_back(t + ".gz");
  std::string top = UnpackImage(gz);
  ASSERT_FALSE(top.empty());
  auto v = sn_->view("compare", top);
  ASSERT_TRUE(v) << v.error().what();
  ASSERT_TRUE(snapshot::mount_all(*v, mnt_));
  auto diffs = CompareTrees(tmp_ + "/bundle/rootfs", mnt_, {});
  ASSERT_TRUE(snapshot::unmount(mnt_));
  for (const std::string& d : diffs) ADD_FAILURE() << d;
  // The comparison saw the interesting cases.
  EXPECT_TRUE(fs::exists(tmp_ + "/bundle/rootfs/pair/two"));
  EXPECT_FALSE(fs::exists(tmp_ + "/bundle/rootfs/deldir"));
  EXPECT_FALSE(fs::exists(tmp_ + "/bundle/rootfs/var/lib/opq/a"));
  EXPECT_TRUE(fs::exists(tmp_ + "/bundle/rootfs/var/lib/opq/fresh"));
}

}  // namespace
}  // namespace berth::it::image
