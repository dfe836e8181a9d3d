// Layer unpacking (src/image/unpack.h) against real tar streams: metadata kept, whiteouts in
// overlayfs form, later entries replacing earlier ones, every hostile-layer class (each case
// asserts the error and that nothing appeared outside the destination), compression formats,
// pipes, and a multi-layer image compared file by file with `umoci unpack`.
//
// Helpers shared with snapshot_test.cc (same binary; declared again there): TempDir, Sh,
// BuildTar, MountsUnder, TreeEntry/ScanTree/CompareTrees.
#include "image/unpack.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "snapshot/snapshotter.h"
#include "util/digest.h"
#include "util/fd.h"

namespace berth::it::image {

namespace fs = std::filesystem;
using json = nlohmann::json;

// ---- shared helpers -----------------------------------------------------------------------------

std::string TempDir(const std::string& prefix) {
  std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back(0);
  if (!::mkdtemp(buf.data())) return {};
  return buf.data();
}

struct ShResult {
  int code = -1;
  std::string out;
};

// Runs a shell command, stdout and stderr together.
ShResult Sh(const std::string& cmd) {
  ShResult r;
  FILE* p = ::popen(("(" + cmd + ") 2>&1").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int st = ::pclose(p);
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return r;
}

// Builds a tar at `path` with python3's tarfile from a JSON spec:
//   {"format": "pax"|"gnu"|"ustar", "entries": [{"name", "type": file|dir|symlink|hardlink|char|
//    block|fifo, "data", "linkname", "mode", "uid", "gid", "mtime", "major", "minor",
//    "xattrs": {name: hex value}, "size": declared size with no data following}]}
bool BuildTar(const json& spec, const std::string& path) {
  static const char* kScript = R"PY(
import json, sys, tarfile, io
spec = json.load(open(sys.argv[1]))
fmt = {'pax': tarfile.PAX_FORMAT, 'gnu': tarfile.GNU_FORMAT,
       'ustar': tarfile.USTAR_FORMAT}[spec.get('format', 'pax')]
types = {'file': tarfile.REGTYPE, 'dir': tarfile.DIRTYPE, 'symlink': tarfile.SYMTYPE,
         'hardlink': tarfile.LNKTYPE, 'char': tarfile.CHRTYPE, 'block': tarfile.BLKTYPE,
         'fifo': tarfile.FIFOTYPE}
with tarfile.open(sys.argv[2], 'w', format=fmt) as tf:
    for e in spec['entries']:
        ti = tarfile.TarInfo(e['name'])
        t = e.get('type', 'file')
        ti.type = types[t]
        ti.mode = e.get('mode', 0o755 if t == 'dir' else 0o644)
        ti.uid = e.get('uid', 0)
        ti.gid = e.get('gid', 0)
        ti.mtime = e.get('mtime', 1700000000)
        ti.linkname = e.get('linkname', '')
        ti.devmajor = e.get('major', 0)
        ti.devminor = e.get('minor', 0)
        if 'xattrs' in e:
            ti.pax_headers = {'SCHILY.xattr.' + k: bytes.fromhex(v).decode('utf-8', 'surrogateescape')
                              for k, v in e['xattrs'].items()}
        data = e.get('data', '').encode()
        if 'size' in e:
            ti.size = e['size']
            buf = ti.tobuf(tf.format, tf.encoding, tf.errors)
            tf.fileobj.write(buf)
            tf.offset += len(buf)
        elif t == 'file':
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
        else:
            tf.addfile(ti)
)PY";
  std::string dir = fs::path(path).parent_path();
  std::string script = dir + "/.buildtar.py", spec_path = dir + "/.spec.json";
  std::ofstream(script) << kScript;
  std::ofstream(spec_path) << spec.dump();
  ShResult r = Sh("python3 " + script + " " + spec_path + " " + path);
  fs::remove(script);
  fs::remove(spec_path);
  if (r.code != 0) ADD_FAILURE() << "building tar failed: " << r.out;
  return r.code == 0;
}

// Mount points at or under `dir`, from /proc/self/mountinfo.
std::vector<std::string> MountsUnder(const std::string& dir) {
  std::vector<std::string> out;
  std::ifstream f("/proc/self/mountinfo");
  std::string line;
  while (std::getline(f, line)) {
    std::istringstream ls(line);
    std::string id, parent, devno, root, mp;
    ls >> id >> parent >> devno >> root >> mp;
    if (mp == dir || mp.starts_with(dir + "/")) out.push_back(mp);
  }
  return out;
}

// What the comparison looks at for one path of a tree.
struct TreeEntry {
  char type = '?';  // f d l c b p s
  mode_t mode = 0;  // permission bits with set-id and sticky
  uid_t uid = 0;
  gid_t gid = 0;
  int64_t size = 0;
  std::string content;  // sha256 of a file, target of a symlink, "maj:min" of a device
  int64_t mtime_ns = 0;
  std::string link_group;  // first path (sorted) sharing this inode, for files with nlink > 1
  std::map<std::string, std::string> xattrs;
};

// Scans a tree by lstat (symlinks never followed). Overlay-private xattrs are ignored.
std::map<std::string, TreeEntry> ScanTree(const std::string& root) {
  std::map<std::string, TreeEntry> out;
  std::map<std::pair<dev_t, ino_t>, std::string> inodes;
  std::vector<std::string> paths = {""};
  for (auto it = fs::recursive_directory_iterator(root, fs::directory_options::none);
       it != fs::recursive_directory_iterator(); ++it)
    paths.push_back(it->path().lexically_relative(root).string());
  std::sort(paths.begin(), paths.end());
  for (const std::string& rel : paths) {
    std::string p = rel.empty() ? root : root + "/" + rel;
    struct stat st;
    if (::lstat(p.c_str(), &st) < 0) continue;
    TreeEntry e;
    e.mode = st.st_mode & 07777;
    e.uid = st.st_uid;
    e.gid = st.st_gid;
    e.mtime_ns = int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
    if (S_ISREG(st.st_mode)) {
      e.type = 'f';
      e.size = st.st_size;
      std::ifstream f(p, std::ios::binary);
      std::string data((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
      e.content = sha256_of(data).str();
    } else if (S_ISDIR(st.st_mode)) {
      e.type = 'd';
    } else if (S_ISLNK(st.st_mode)) {
      e.type = 'l';
      char buf[4096];
      ssize_t n = ::readlink(p.c_str(), buf, sizeof buf);
      e.content.assign(buf, n > 0 ? static_cast<size_t>(n) : 0);
      e.mode = 0;  // meaningless for symlinks
    } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
      e.type = S_ISCHR(st.st_mode) ? 'c' : 'b';
      e.content = std::to_string(major(st.st_rdev)) + ":" + std::to_string(minor(st.st_rdev));
    } else if (S_ISFIFO(st.st_mode)) {
      e.type = 'p';
    } else {
      e.type = 's';
    }
    if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
      auto [it, fresh] = inodes.emplace(std::make_pair(st.st_dev, st.st_ino), rel);
      e.link_group = it->second;
    }
    char names[65536];
    ssize_t n = ::llistxattr(p.c_str(), names, sizeof names);
    for (ssize_t i = 0; i < n;) {
      std::string name(names + i);
      i += static_cast<ssize_t>(name.size()) + 1;
      if (name.starts_with("trusted.overlay.") || name == "security.selinux") continue;
      char val[65536];
      ssize_t vn = ::lgetxattr(p.c_str(), name.c_str(), val, sizeof val);
      e.xattrs[name] = std::string(val, vn > 0 ? static_cast<size_t>(vn) : 0);
    }
    out[rel] = e;
  }
  return out;
}

struct CompareOptions {
  bool mtimes = true;
  bool dir_mtimes = true;
  bool root_metadata = true;  // compare the tree root's own mode/owner/times
};

// Compares two trees file by file: type, mode, uid/gid, size, content hash, symlink target,
// device numbers, hardlink grouping, xattrs and mtime. Returns one line per difference.
std::vector<std::string> CompareTrees(const std::string& a, const std::string& b,
                                      const CompareOptions& opt = {}) {
  auto ta = ScanTree(a), tb = ScanTree(b);
  std::vector<std::string> diffs;
  auto oct = [](mode_t m) {
    char buf[16];
    snprintf(buf, sizeof buf, "%04o", m);
    return std::string(buf);
  };
  for (const auto& [path, ea] : ta) {
    auto it = tb.find(path);
    std::string name = "\"" + (path.empty() ? "." : path) + "\"";
    if (it == tb.end()) {
      diffs.push_back(name + ": only in " + a);
      continue;
    }
    const TreeEntry& eb = it->second;
    if (ea.type != eb.type) {
      diffs.push_back(name + ": type " + ea.type + " vs " + eb.type);
      continue;
    }
    bool root = path.empty();
    if ((!root || opt.root_metadata) && ea.mode != eb.mode)
      diffs.push_back(name + ": mode " + oct(ea.mode) + " vs " + oct(eb.mode));
    if ((!root || opt.root_metadata) && (ea.uid != eb.uid || ea.gid != eb.gid))
      diffs.push_back(name + ": owner " + std::to_string(ea.uid) + ":" + std::to_string(ea.gid) +
                      " vs " + std::to_string(eb.uid) + ":" + std::to_string(eb.gid));
    if (ea.size != eb.size)
      diffs.push_back(name + ": size " + std::to_string(ea.size) + " vs " +
                      std::to_string(eb.size));
    if (ea.content != eb.content)
      diffs.push_back(name + ": content " + ea.content + " vs " + eb.content);
    if (ea.link_group != eb.link_group)
      diffs.push_back(name + ": hardlink group \"" + ea.link_group + "\" vs \"" + eb.link_group +
                      "\"");
    if (ea.xattrs != eb.xattrs) diffs.push_back(name + ": xattrs differ");
    bool check_time =
        opt.mtimes && (ea.type != 'd' || opt.dir_mtimes) && (!root || opt.root_metadata);
    if (check_time && ea.mtime_ns != eb.mtime_ns)
      diffs.push_back(name + ": mtime " + std::to_string(ea.mtime_ns) + " vs " +
                      std::to_string(eb.mtime_ns));
  }
  for (const auto& [path, eb] : tb)
    if (!ta.count(path)) diffs.push_back("\"" + path + "\": only in " + b);
  return diffs;
}

// ---- fixture ------------------------------------------------------------------------------------

namespace {

using berth::image::unpack_layer;
using berth::image::UnpackOptions;
using berth::image::UnpackResult;

class UnpackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    tmp_ = TempDir("berth-unpack");
    ASSERT_FALSE(tmp_.empty());
    layer_ = tmp_ + "/layer";
    outside_ = tmp_ + "/outside";
    fs::create_directories(layer_);
    fs::create_directories(outside_);
    std::ofstream(outside_ + "/secret") << "secret";
    std::ofstream(outside_ + "/target") << "original";
  }
  void TearDown() override {
    if (tmp_.empty()) return;
    EXPECT_TRUE(MountsUnder(tmp_).empty());
    fs::remove_all(tmp_);
  }

  // Everything under tmp_ except layer/ (what a hostile layer must never touch).
  std::map<std::string, TreeEntry> Outside() {
    auto all = ScanTree(tmp_);
    std::map<std::string, TreeEntry> out;
    for (auto& [k, v] : all)
      if (k != "layer" && !k.starts_with("layer/") && !k.starts_with("in.")) out[k] = v;
    return out;
  }

  Result<UnpackResult> UnpackFile(const std::string& path, const UnpackOptions& o = {}) {
    UniqueFd src(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    UniqueFd dst(::open(layer_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    return unpack_layer(src.get(), dst.get(), o);
  }

  Result<UnpackResult> Unpack(const json& entries, const UnpackOptions& o = {},
                              const std::string& format = "pax") {
    std::string tar = tmp_ + "/in.tar";
    fs::remove(tar);
    if (!BuildTar({{"format", format}, {"entries", entries}}, tar))
      return Error::internal("no tar");
    return UnpackFile(tar, o);
  }

  // Unpacks a hostile layer: it must fail naming `entry` and `message`, and leave everything
  // outside the destination as it was.
  void ExpectRejected(const json& entries, const std::string& error_part,
                      const UnpackOptions& o = {}) {
    auto before = Outside();
    auto r = Unpack(entries, o);
    ASSERT_FALSE(r) << "unpack should have failed";
    EXPECT_NE(r.error().what().find(error_part), std::string::npos) << r.error().what();
    EXPECT_TRUE(r.error().what().starts_with("unpack layer: ")) << r.error().what();
    auto after = Outside();
    EXPECT_EQ(before.size(), after.size());
    for (auto& [k, v] : before) {
      auto it = after.find(k);
      ASSERT_NE(it, after.end()) << k << " vanished";
      EXPECT_EQ(v.content, it->second.content) << k << " changed";
    }
    for (auto& [k, v] : after) EXPECT_TRUE(before.count(k)) << k << " appeared outside the layer";
    struct stat st;
    ASSERT_EQ(::stat((outside_ + "/secret").c_str(), &st), 0);
    EXPECT_EQ(st.st_nlink, 1u) << "outside/secret got hardlinked";
  }

  // Same for a layer that is accepted but must stay inside.
  void ExpectContained(const json& entries) {
    auto before = Outside();
    auto r = Unpack(entries);
    ASSERT_TRUE(r) << r.error().what();
    auto after = Outside();
    EXPECT_EQ(before.size(), after.size());
    for (auto& [k, v] : after) EXPECT_TRUE(before.count(k)) << k << " appeared outside the layer";
    for (auto& [k, v] : before) EXPECT_EQ(v.content, after[k].content) << k << " changed";
  }

  std::string tmp_, layer_, outside_;
};

std::string ReadFile(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

std::string Xattr(const std::string& p, const char* name) {
  char buf[256];
  ssize_t n = ::lgetxattr(p.c_str(), name, buf, sizeof buf);
  return n < 0 ? "<none>" : std::string(buf, static_cast<size_t>(n));
}

// ---- metadata -----------------------------------------------------------------------------------

// cap_net_bind_service+ep as a VFS_CAP_REVISION_2 security.capability value.
const char* kCapHex = "0100000200040000000000000000000000000000";

TEST_F(UnpackTest, KeepsEveryKindOfEntryAndItsMetadata) {
  json entries = json::array({
      {{"name", "./"}, {"type", "dir"}, {"mode", 0755}, {"mtime", 1600000000}},
      {{"name", "etc/"},
       {"type", "dir"},
       {"mode", 0750},
       {"uid", 7},
       {"gid", 8},
       {"mtime", 1600000001}},
      {{"name", "etc/conf"},
       {"data", "hello\n"},
       {"mode", 0640},
       {"uid", 1000},
       {"gid", 1001},
       {"mtime", 1500000000},
       {"xattrs", {{"user.color", "626c7565"}}}},
      {{"name", "etc/hard"}, {"type", "hardlink"}, {"linkname", "etc/conf"}},
      {{"name", "bin/"}, {"type", "dir"}, {"mode", 0555}},
      {{"name", "bin/ping"},
       {"data", "ELF"},
       {"mode", 04755},
       {"uid", 0},
       {"gid", 0},
       {"xattrs", {{"security.capability", kCapHex}}}},
      {{"name", "bin/sgid"}, {"data", "x"}, {"mode", 02755}, {"uid", 5}, {"gid", 6}},
      {{"name", "bin/ro"}, {"data", "read-only"}, {"mode", 0444}},
      {{"name", "bin/sh"},
       {"type", "symlink"},
       {"linkname", "/bin/busybox"},
       {"uid", 3},
       {"gid", 4},
       {"mtime", 1400000000}},
      {{"name", "dev/"}, {"type", "dir"}},
      {{"name", "dev/null"}, {"type", "char"}, {"major", 1}, {"minor", 3}, {"mode", 0666}},
      {{"name", "dev/sda"}, {"type", "block"}, {"major", 8}, {"minor", 0}, {"mode", 0660}},
      {{"name", "dev/fifo"}, {"type", "fifo"}, {"mode", 0600}},
      {{"name", "tmp/"}, {"type", "dir"}, {"mode", 01777}},
      {{"name", "implicit/parent/file"}, {"data", "p"}},
  });
  auto r = Unpack(entries);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->entries, entries.size());
  EXPECT_TRUE(r->notes.empty()) << r->notes[0];
  auto t = ScanTree(layer_);
  EXPECT_EQ(t[""].mode, 0755u);
  EXPECT_EQ(t[""].mtime_ns, int64_t{1600000000} * 1'000'000'000);
  EXPECT_EQ(t["etc"].mode, 0750u);
  EXPECT_EQ(t["etc"].uid, 7u);
  EXPECT_EQ(t["etc"].gid, 8u);
  EXPECT_EQ(t["etc"].mtime_ns, int64_t{1600000001} * 1'000'000'000);
  EXPECT_EQ(ReadFile(layer_ + "/etc/conf"), "hello\n");
  EXPECT_EQ(t["etc/conf"].mode, 0640u);
  EXPECT_EQ(t["etc/conf"].uid, 1000u);
  EXPECT_EQ(t["etc/conf"].gid, 1001u);
  EXPECT_EQ(t["etc/conf"].mtime_ns, int64_t{1500000000} * 1'000'000'000);
  EXPECT_EQ(t["etc/conf"].xattrs["user.color"], "blue");
  EXPECT_EQ(t["etc/hard"].link_group, "etc/conf");
  EXPECT_EQ(t["bin"].mode, 0555u);
  EXPECT_EQ(t["bin/ping"].mode, 04755u);
  EXPECT_EQ(t["bin/ping"].xattrs.count("security.capability"), 1u);
  EXPECT_EQ(t["bin/sgid"].mode, 02755u);  // set-id bits survive the chown
  EXPECT_EQ(t["bin/sgid"].uid, 5u);
  EXPECT_EQ(t["bin/ro"].mode, 0444u);
  EXPECT_EQ(ReadFile(layer_ + "/bin/ro"), "read-only");
  EXPECT_EQ(t["bin/sh"].type, 'l');
  EXPECT_EQ(t["bin/sh"].content, "/bin/busybox");
  EXPECT_EQ(t["bin/sh"].uid, 3u);
  EXPECT_EQ(t["bin/sh"].mtime_ns, int64_t{1400000000} * 1'000'000'000);
  EXPECT_EQ(t["dev/null"].type, 'c');
  EXPECT_EQ(t["dev/null"].content, "1:3");
  EXPECT_EQ(t["dev/null"].mode, 0666u);
  EXPECT_EQ(t["dev/sda"].type, 'b');
  EXPECT_EQ(t["dev/sda"].content, "8:0");
  EXPECT_EQ(t["dev/fifo"].type, 'p');
  EXPECT_EQ(t["tmp"].mode, 01777u);
  EXPECT_EQ(t["implicit/parent"].type, 'd');
  EXPECT_EQ(t["implicit/parent"].mode, 0755u);
  // The diff ID is the sha256 of the tar stream.
  EXPECT_EQ(r->diff_id, sha256_of(ReadFile(tmp_ + "/in.tar")));
  EXPECT_EQ(r->uncompressed_bytes, fs::file_size(tmp_ + "/in.tar"));
}

TEST_F(UnpackTest, WithoutOwnershipSkipsChownAndDevices) {
  UnpackOptions o;
  o.preserve_ownership = false;
  auto r = Unpack(json::array({{{"name", "f"}, {"data", "x"}, {"uid", 1000}, {"gid", 1000}},
                               {{"name", "null"}, {"type", "char"}, {"major", 1}, {"minor", 3}}}),
                  o);
  ASSERT_TRUE(r) << r.error().what();
  struct stat st;
  ASSERT_EQ(::lstat((layer_ + "/f").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u);  // as root: the device is still made, the owner is not set
}

TEST_F(UnpackTest, CompressionFormatsGiveTheSameDiffId) {
  std::string data(3 << 20, 'a');
  for (size_t i = 0; i < data.size(); i += 7) data[i] = static_cast<char>('a' + i % 26);
  std::string tar = tmp_ + "/in.tar";
  ASSERT_TRUE(BuildTar({{"entries", json::array({{{"name", "big"}, {"data", data}},
                                                 {{"name", "small"}, {"data", "s"}}})}},
                       tar));
  Digest want = sha256_of(ReadFile(tar));
  ASSERT_EQ(Sh("gzip -k -c " + tar + " > " + tar + ".gz").code, 0);
  ASSERT_EQ(Sh("zstd -q -c " + tar + " > " + tar + ".zst").code, 0);
  // Two gzip members back to back (pigz --independent and concatenated uploads do this).
  ASSERT_EQ(Sh("head -c 1000000 " + tar + " | gzip -c > " + tar + ".2gz && tail -c +1000001 " +
               tar + " | gzip -c >> " + tar + ".2gz")
                .code,
            0);
  for (const char* ext : {"", ".gz", ".zst", ".2gz"}) {
    fs::remove_all(layer_);
    fs::create_directories(layer_);
    auto r = UnpackFile(tar + ext);
    ASSERT_TRUE(r) << ext << ": " << r.error().what();
    EXPECT_EQ(r->diff_id, want) << ext;
    EXPECT_EQ(r->uncompressed_bytes, fs::file_size(tar)) << ext;
    EXPECT_EQ(ReadFile(layer_ + "/big"), data) << ext;
  }
}

TEST_F(UnpackTest, CorruptOrTruncatedCompressionFails) {
  std::string tar = tmp_ + "/in.tar";
  ASSERT_TRUE(BuildTar(
      {{"entries", json::array({{{"name", "f"}, {"data", std::string(100000, 'q')}}})}}, tar));
  ASSERT_EQ(Sh("gzip -c " + tar + " | head -c 60 > " + tar + ".cut.gz").code, 0);
  auto r = UnpackFile(tar + ".cut.gz");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().what().find("unpack layer"), std::string::npos) << r.error().what();
  ASSERT_EQ(Sh("printf '\\037\\213\\010\\000garbagegarbagegarbage' > " + tar + ".bad.gz").code, 0);
  r = UnpackFile(tar + ".bad.gz");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().what().find("gzip"), std::string::npos) << r.error().what();
  ASSERT_EQ(Sh("zstd -q -c " + tar + " | head -c 40 > " + tar + ".cut.zst").code, 0);
  r = UnpackFile(tar + ".cut.zst");
  ASSERT_FALSE(r);
  // Not a tar at all.
  std::ofstream(tmp_ + "/junk") << std::string(5000, 'j');
  r = UnpackFile(tmp_ + "/junk");
  ASSERT_FALSE(r);
}

TEST_F(UnpackTest, EmptyStreamIsAnEmptyLayer) {
  std::ofstream(tmp_ + "/empty");
  auto r = UnpackFile(tmp_ + "/empty");
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->entries, 0u);
  EXPECT_EQ(r->diff_id, sha256_of(""));
  auto e = Unpack(json::array());  // a tar with only the end marker
  ASSERT_TRUE(e) << e.error().what();
  EXPECT_EQ(e->entries, 0u);
}

TEST_F(UnpackTest, ReadsFromAPipe) {
  std::string tar = tmp_ + "/in.tar";
  std::string data(2 << 20, 'p');
  ASSERT_TRUE(BuildTar({{"entries", json::array({{{"name", "d/f"}, {"data", data}}})}}, tar));
  ASSERT_EQ(Sh("gzip -k " + tar).code, 0);
  std::string gz = ReadFile(tar + ".gz");
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  UniqueFd rd(p[0]), wr(p[1]);
  std::thread feeder([&] {
    for (size_t off = 0; off < gz.size(); off += 4096) {  // small pieces, like a download
      size_t n = std::min<size_t>(4096, gz.size() - off);
      if (!write_all(wr.get(), std::string_view(gz).substr(off, n))) break;
    }
    wr.reset();
  });
  UniqueFd dst(::open(layer_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  auto r = unpack_layer(rd.get(), dst.get());
  feeder.join();
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->diff_id, sha256_of(ReadFile(tar)));
  EXPECT_EQ(ReadFile(layer_ + "/d/f"), data);
}

TEST_F(UnpackTest, FailureOnAPipeDoesNotWaitForTheWriter) {
  // A hostile entry early in a stream whose writer stalls: unpack returns at once.
  std::string tar = tmp_ + "/in.tar";
  ASSERT_TRUE(BuildTar({{"entries", json::array({{{"name", "../x"}, {"data", "x"}}})}}, tar));
  std::string data = ReadFile(tar);
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  UniqueFd rd(p[0]), wr(p[1]);
  ASSERT_TRUE(write_all(wr.get(), data.substr(0, data.size() - 512)));  // no EOF follows
  UniqueFd dst(::open(layer_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  auto t0 = std::chrono::steady_clock::now();
  auto r = unpack_layer(rd.get(), dst.get());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().what().find("path escapes the layer"), std::string::npos) << r.error().what();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
}

// ---- whiteouts and replacement -----------------------------------------------------------------

TEST_F(UnpackTest, WhiteoutsBecomeOverlayForm) {
  auto r = Unpack(json::array({
      {{"name", "etc/"}, {"type", "dir"}},
      {{"name", "etc/.wh.passwd"}},
      {{"name", "opaque/"}, {"type", "dir"}, {"mode", 0700}},
      {{"name", "opaque/.wh..wh..opq"}},
      {{"name", "opaque/new"}, {"data", "n"}},
      {{"name", ".wh..wh.plnk/"}, {"type", "dir"}},
      {{"name", ".wh..wh.plnk/123"}, {"data", "aufs"}},
      {{"name", ".wh.gone-dir"}},
  }));
  ASSERT_TRUE(r) << r.error().what();
  struct stat st;
  ASSERT_EQ(::lstat((layer_ + "/etc/passwd").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(0, 0));
  ASSERT_EQ(::lstat((layer_ + "/gone-dir").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_FALSE(fs::exists(layer_ + "/etc/.wh.passwd"));
  EXPECT_EQ(Xattr(layer_ + "/opaque", "trusted.overlay.opaque"), "y");
  EXPECT_FALSE(fs::exists(layer_ + "/opaque/.wh..wh..opq"));
  EXPECT_EQ(ReadFile(layer_ + "/opaque/new"), "n");
  EXPECT_FALSE(fs::exists(layer_ + "/.wh..wh.plnk"));
  EXPECT_EQ(ScanTree(layer_)["opaque"].mode, 0700u);
}

TEST_F(UnpackTest, LaterEntriesWin) {
  auto r = Unpack(json::array({
      {{"name", "f"}, {"data", "first"}},
      {{"name", "f"}, {"data", "second"}},
      {{"name", "d/"}, {"type", "dir"}},
      {{"name", "d/inner/deep"}, {"data", "x"}},
      {{"name", "d"}, {"data", "file over dir"}},
      {{"name", "e"}, {"data", "file"}},
      {{"name", "e/"}, {"type", "dir"}, {"mode", 0711}},
      {{"name", "e/x"}, {"data", "in dir"}},
      {{"name", "s"}, {"type", "symlink"}, {"linkname", "f"}},
      {{"name", "s"}, {"data", "file over symlink"}},
      {{"name", "keep/"}, {"type", "dir"}, {"mode", 0700}},
      {{"name", "keep/a"}, {"data", "a"}},
      {{"name", "keep/"}, {"type", "dir"}, {"mode", 0750}},  // merges, last metadata wins
      // The same inside a directory (its fd is cached while entries are replaced).
      {{"name", "sub/"}, {"type", "dir"}},
      {{"name", "sub/f"}, {"data", "first"}},
      {{"name", "sub/f"}, {"data", "second"}},
      {{"name", "sub/l"}, {"type", "symlink"}, {"linkname", "f"}},
      {{"name", "sub/l"}, {"type", "hardlink"}, {"linkname", "sub/f"}},
      {{"name", "sub/.wh.f"}},
      {{"name", "sub/d/"}, {"type", "dir"}},
      {{"name", "sub/d/x"}, {"data", "x"}},
      {{"name", "sub/d"}, {"type", "symlink"}, {"linkname", "."}},
      {{"name", "sub/g"}, {"data", "after"}},
  }));
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(ReadFile(layer_ + "/f"), "second");
  EXPECT_EQ(ReadFile(layer_ + "/d"), "file over dir");
  EXPECT_EQ(ReadFile(layer_ + "/e/x"), "in dir");
  EXPECT_EQ(ScanTree(layer_)["e"].mode, 0711u);
  EXPECT_FALSE(fs::is_symlink(layer_ + "/s"));
  EXPECT_EQ(ReadFile(layer_ + "/s"), "file over symlink");
  EXPECT_EQ(ReadFile(layer_ + "/f"), "second");
  EXPECT_EQ(ReadFile(layer_ + "/keep/a"), "a");
  EXPECT_EQ(ScanTree(layer_)["keep"].mode, 0750u);
  EXPECT_EQ(ReadFile(layer_ + "/sub/l"), "second");
  struct stat st;
  ASSERT_EQ(::lstat((layer_ + "/sub/f").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_TRUE(fs::is_symlink(layer_ + "/sub/d"));
  EXPECT_EQ(ReadFile(layer_ + "/sub/g"), "after");
}

// ---- hostile layers -----------------------------------------------------------------------------

TEST_F(UnpackTest, HostileDotDotIsRejected) {
  ExpectRejected(json::array({{{"name", "../../etc/passwd"}, {"data", "root::0:0::/:/bin/sh"}}}),
                 "unpack layer: entry \"../../etc/passwd\": path escapes the layer");
  ExpectRejected(json::array({{{"name", "a/"}, {"type", "dir"}},
                              {{"name", "a/../../outside/secret"}, {"data", "pwned"}}}),
                 "entry \"a/../../outside/secret\": path escapes the layer");
  ExpectRejected(json::array({{{"name", "../.wh.outside"}}}), "path escapes the layer");
  ExpectRejected(json::array({{{"name", "../outside/"}, {"type", "dir"}, {"mode", 0777}}}),
                 "path escapes the layer");
}

TEST_F(UnpackTest, HostileAbsolutePathsStayInside) {
  // As docker and containerd do: an absolute name is taken from the layer root.
  ExpectContained(json::array({{{"name", outside_ + "/secret"}, {"data", "pwned"}},
                               {{"name", "/etc/passwd"}, {"data", "x"}}}));
  EXPECT_EQ(ReadFile(layer_ + outside_ + "/secret"), "pwned");
  EXPECT_EQ(ReadFile(layer_ + "/etc/passwd"), "x");
}

TEST_F(UnpackTest, HostileSymlinkedParentsStayInside) {
  ExpectContained(json::array({
      {{"name", "abs"}, {"type", "symlink"}, {"linkname", outside_}},
      {{"name", "abs/secret"}, {"data", "pwned"}},
      {{"name", "rel"}, {"type", "symlink"}, {"linkname", "../../../../../../../"}},
      {{"name", "rel/escaped"}, {"data", "pwned"}},
      {{"name", "root"}, {"type", "symlink"}, {"linkname", "/"}},
      {{"name", "root/tmp/escaped"}, {"data", "pwned"}},
      {{"name", "chain1"}, {"type", "symlink"}, {"linkname", "chain2/.."}},
      {{"name", "chain2"}, {"type", "symlink"}, {"linkname", "../.."}},
      {{"name", "chain1/via-chain"}, {"data", "pwned"}},
      {{"name", "p"}, {"type", "symlink"}, {"linkname", "/proc/self/root"}},
      {{"name", "p/x"}, {"data", "pwned"}},
  }));
  EXPECT_TRUE(fs::is_symlink(layer_ + "/abs"));
  EXPECT_EQ(ReadFile(layer_ + outside_ + "/secret"), "pwned");  // followed inside the layer
  EXPECT_EQ(ReadFile(layer_ + "/escaped"), "pwned");
  EXPECT_EQ(ReadFile(layer_ + "/tmp/escaped"), "pwned");
  EXPECT_EQ(ReadFile(outside_ + "/secret"), "secret");
  EXPECT_FALSE(fs::exists("/tmp/escaped"));
  EXPECT_FALSE(fs::exists("/escaped"));
  EXPECT_EQ(ReadFile(layer_ + "/proc/self/root/x"), "pwned");  // no magic link followed
  // A symlink loop is an error naming the entry.
  ExpectRejected(json::array({{{"name", "loop"}, {"type", "symlink"}, {"linkname", "/loop"}},
                              {{"name", "loop/x"}, {"data", "x"}}}),
                 "entry \"loop/x\": open parent \"loop\": too many levels of symbolic links");
}

TEST_F(UnpackTest, HostileSymlinkAsFinalComponentIsReplacedNotFollowed) {
  ExpectContained(json::array({
      {{"name", "t"}, {"type", "symlink"}, {"linkname", outside_ + "/target"}},
      {{"name", "t"}, {"data", "replaced"}},
      {{"name", "u"}, {"type", "symlink"}, {"linkname", outside_ + "/target"}},
      {{"name", "u"}, {"type", "dir"}},
      {{"name", "v"}, {"type", "symlink"}, {"linkname", "../outside/target"}},
      {{"name", "v"}, {"type", "char"}, {"major", 1}, {"minor", 3}},
  }));
  EXPECT_EQ(ReadFile(outside_ + "/target"), "original");
  EXPECT_EQ(ReadFile(layer_ + "/t"), "replaced");
  EXPECT_TRUE(fs::is_directory(fs::symlink_status(layer_ + "/u")));
}

TEST_F(UnpackTest, HostileHardlinks) {
  ExpectRejected(
      json::array({{{"name", "h"}, {"type", "hardlink"}, {"linkname", "../outside/secret"}}}),
      "entry \"h\": hardlink target \"../outside/secret\" escapes the layer");
  // Absolute: looked up in the layer, where it does not exist.
  ExpectRejected(
      json::array({{{"name", "h"}, {"type", "hardlink"}, {"linkname", outside_ + "/secret"}}}),
      "entry \"h\": hardlink target");
  // Through a symlink leading out: resolved inside the layer, so not found.
  ExpectRejected(json::array({{{"name", "out"}, {"type", "symlink"}, {"linkname", outside_}},
                              {{"name", "h"}, {"type", "hardlink"}, {"linkname", "out/secret"}}}),
                 "entry \"h\": hardlink target \"out/secret\"");
  ExpectRejected(
      json::array(
          {{{"name", "out"}, {"type", "symlink"}, {"linkname", "../../../../.."}},
           {{"name", "h"}, {"type", "hardlink"}, {"linkname", "out" + outside_ + "/secret"}}}),
      "hardlink target");
  // Must already exist in this layer.
  ExpectRejected(json::array({{{"name", "h"}, {"type", "hardlink"}, {"linkname", "later"}},
                              {{"name", "later"}, {"data", "x"}}}),
                 "entry \"h\": hardlink target \"later\"");
  // A hardlink to a symlink that leads out links the symlink itself.
  ExpectContained(
      json::array({{{"name", "sl"}, {"type", "symlink"}, {"linkname", outside_ + "/secret"}},
                   {{"name", "h"}, {"type", "hardlink"}, {"linkname", "sl"}},
                   {{"name", "h2"}, {"type", "hardlink"}, {"linkname", "/sl"}}}));
  EXPECT_TRUE(fs::is_symlink(layer_ + "/h"));
  EXPECT_TRUE(fs::is_symlink(layer_ + "/h2"));
  // Directories cannot be hardlinked.
  ExpectRejected(json::array({{{"name", "dir/"}, {"type", "dir"}},
                              {{"name", "h"}, {"type", "hardlink"}, {"linkname", "dir"}}}),
                 "is a directory");
}

TEST_F(UnpackTest, HostileFileReplacingADirectoryThatWasASymlinkTarget) {
  ExpectRejected(json::array({
                     {{"name", "d/"}, {"type", "dir"}},
                     {{"name", "d/a"}, {"data", "a"}},
                     {{"name", "l"}, {"type", "symlink"}, {"linkname", "d"}},
                     {{"name", "d"}, {"data", "now a file"}},
                     {{"name", "l/x"}, {"data", "x"}},
                 }),
                 "entry \"l/x\": parent \"l\" is not a directory");
  // The directory replaced by a symlink leading out, while its old fd was cached.
  fs::remove_all(layer_);
  fs::create_directories(layer_);
  ExpectContained(json::array({
      {{"name", "d/"}, {"type", "dir"}},
      {{"name", "d/a"}, {"data", "a"}},
      {{"name", "d"}, {"type", "symlink"}, {"linkname", outside_}},
      {{"name", "d/secret"}, {"data", "pwned"}},
  }));
  EXPECT_EQ(ReadFile(layer_ + outside_ + "/secret"), "pwned");
}

TEST_F(UnpackTest, HostileSizesAndCounts) {
  UnpackOptions o;
  o.max_bytes = 1 << 20;
  ExpectRejected(json::array({{{"name", "huge"}, {"size", int64_t{1} << 40}}}),
                 "entry \"huge\": size 1099511627776 exceeds the limit", o);
  json many = json::array();
  for (int i = 0; i < 6; ++i)
    many.push_back({{"name", "part" + std::to_string(i)}, {"data", std::string(512 << 10, 'b')}});
  ExpectRejected(many, "uncompressed layer larger than the limit of 1048576 bytes", o);
  // A header promising more data than follows.
  ExpectRejected(json::array({{{"name", "liar"}, {"size", 100000}}}), "unpack layer");
  UnpackOptions few;
  few.max_entries = 3;
  ExpectRejected(json::array({{{"name", "1"}}, {{"name", "2"}}, {{"name", "3"}}, {{"name", "4"}}}),
                 "more than 3 entries", few);
}

TEST_F(UnpackTest, HostileNames) {
  std::string long_path;
  while (long_path.size() < 5000) long_path += "aaaaaaaaaa/";
  long_path += "f";
  ExpectRejected(json::array({{{"name", long_path}, {"data", "x"}}}), "file name too long");
  ExpectRejected(json::array({{{"name", std::string(300, 'n')}, {"data", "x"}}}),
                 "file name too long");
  ExpectRejected(json::array({{{"name", "d/.wh.."}}}), "invalid whiteout");
  // Overlay's own xattrs are never taken from a layer.
  auto r =
      Unpack(json::array({{{"name", "f"},
                           {"data", "x"},
                           {"xattrs", {{"trusted.overlay.redirect", "2f6574632f736861646f77"}}}}}));
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(Xattr(layer_ + "/f", "trusted.overlay.redirect"), "<none>");
  ASSERT_FALSE(r->notes.empty());
  EXPECT_NE(r->notes[0].find("trusted.overlay.redirect"), std::string::npos);
}

TEST_F(UnpackTest, NonAsciiAndGnuNames) {
  std::string name = "caf\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac/" + std::string(150, 'x');
  for (const char* fmt : {"pax", "gnu"}) {
    fs::remove_all(layer_);
    fs::create_directories(layer_);
    std::string tar = tmp_ + "/in.tar";
    fs::remove(tar);
    ASSERT_TRUE(BuildTar({{"format", fmt},
                          {"entries", json::array({{{"name", name}, {"data", "ok"}},
                                                   {{"name", "l"},
                                                    {"type", "symlink"},
                                                    {"linkname", std::string(200, 't')}}})}},
                         tar));
    auto r = UnpackFile(tar);
    ASSERT_TRUE(r) << fmt << ": " << r.error().what();
    EXPECT_EQ(ReadFile(layer_ + "/" + name), "ok") << fmt;
    EXPECT_EQ(fs::read_symlink(layer_ + "/l").string(), std::string(200, 't')) << fmt;
  }
}

// Unpacking a real tree gives what GNU tar gives (as root, owners, modes, links, times).
TEST_F(UnpackTest, SameAsGnuTarOnARealTree) {
  std::string src = "/usr/share/doc";
  if (!fs::exists(src)) GTEST_SKIP() << src << " missing";
  std::string tar = tmp_ + "/in.tar.gz";
  ASSERT_EQ(Sh("tar -C /usr/share -czf " + tar + " doc").code, 0);
  auto r = UnpackFile(tar);
  ASSERT_TRUE(r) << r.error().what();
  std::string ref = tmp_ + "/in.ref";
  fs::create_directories(ref);
  ASSERT_EQ(Sh("tar -C " + ref + " --same-owner --numeric-owner -xzpf " + tar).code, 0);
  auto diffs = CompareTrees(ref, layer_, {.root_metadata = false});
  for (size_t i = 0; i < std::min<size_t>(diffs.size(), 20); ++i) ADD_FAILURE() << diffs[i];
}

}  // namespace
}  // namespace berth::it::image
