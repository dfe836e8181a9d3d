// Image archives (src/image/archive.h): save/load round trips in both formats, OCI layout
// directories, docker's legacy layout, interop with skopeo, podman and docker (each with a
// private store), and hostile archives (each asserts the error and that no name and no snapshot
// was left behind).
//
// Fixture images come from tests/fixtures/build-image.sh: a busybox layer (gzip), a small layer
// (uncompressed) and a layer with modes and a symlink (gzip). Loaded images are checked in the
// snapshots (each committed snapshot holds its own layer's files).
#include "image/archive.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "registry_fixture.h"
#include "util/digest.h"
#include "util/fd.h"

namespace berth::it::archive {
namespace {

namespace fs = std::filesystem;
namespace img = berth::oci::image;
using berth::image::ArchiveFormat;
using berth::image::ImageService;
using berth::image::LoadResult;
using berth::test::RunCommand;
using berth::test::TempDir;
using json = nlohmann::json;

std::string ArchiveSkipReason() {
  if (geteuid() != 0) return "needs root";
  for (const char* p : {"tar", "gzip", "jq", "sha256sum", "python3"})
    if (!berth::test::HaveProgram(p)) return std::string("needs ") + p;
  if (access("/bin/busybox", X_OK) != 0) return "needs /bin/busybox (apt install busybox-static)";
  return {};
}

std::string Slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Builds a tar with python's tarfile from a JSON spec: {"compress": "gz"|"", "entries":
// [{"name", "type": file|dir|symlink|hardlink|fifo, "data": text, "data_file": path,
// "linkname"}]}.
bool MakeTar(const json& spec, const std::string& path) {
  static const char* kScript = R"PY(
import json, sys, tarfile, io
spec = json.load(open(sys.argv[1]))
types = {'file': tarfile.REGTYPE, 'dir': tarfile.DIRTYPE, 'symlink': tarfile.SYMTYPE,
         'hardlink': tarfile.LNKTYPE, 'fifo': tarfile.FIFOTYPE}
with tarfile.open(sys.argv[2], 'w:' + spec.get('compress', ''), format=tarfile.PAX_FORMAT) as tf:
    for e in spec['entries']:
        ti = tarfile.TarInfo(e['name'])
        ti.type = types[e.get('type', 'file')]
        ti.mode = 0o755 if ti.type == tarfile.DIRTYPE else 0o644
        ti.linkname = e.get('linkname', '')
        data = None
        if ti.type == tarfile.REGTYPE:
            data = open(e['data_file'], 'rb').read() if 'data_file' in e else e.get('data', '').encode()
            ti.size = len(data)
        tf.addfile(ti, io.BytesIO(data) if data is not None else None)
)PY";
  std::string script = path + ".py", specf = path + ".json";
  std::ofstream(script) << kScript;
  std::ofstream(specf) << spec.dump();
  auto r = RunCommand({"python3", script, specf, path});
  fs::remove(script);
  fs::remove(specf);
  if (!r.ok()) ADD_FAILURE() << "MakeTar: " << r.output;
  return r.ok();
}

struct Loaded {
  Result<LoadResult> result = Error::internal("not run");
  std::vector<std::string> lines;  // progress lines without a layer id
};

Loaded LoadFile(ImageService& images, const std::string& path) {
  Loaded out;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    out.result = Error::sys("open " + path);
    return out;
  }
  out.result = berth::image::load_archive(images, fd.get(), [&](const berth::image::Progress& p) {
    if (p.id.empty()) out.lines.push_back(p.status);
  });
  return out;
}

Result<void> SaveFile(ImageService& images, const std::vector<std::string>& names,
                      const std::string& path, ArchiveFormat format = ArchiveFormat::Docker) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd) return Error::sys("create " + path);
  return berth::image::save_archive(images, names, fd.get(), format);
}

// Entries of a tar, in order, with GNU tar.
std::vector<std::string> TarList(const std::string& path) {
  auto r = RunCommand({"tar", "-tf", path});
  std::vector<std::string> out;
  std::stringstream ss(r.output);
  for (std::string line; std::getline(ss, line);) out.push_back(line);
  return out;
}

std::string TarCat(const std::string& path, const std::string& member) {
  return RunCommand({"tar", "-xOf", path, member}).output;
}

class ArchiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string why = ArchiveSkipReason(); !why.empty()) GTEST_SKIP() << why;
    tmp_ = std::make_unique<TempDir>("berth-archive");
    images_ = OpenStore("store");
    ASSERT_TRUE(images_);
  }

  std::unique_ptr<ImageService> OpenStore(const std::string& name) {
    auto s = ImageService::open(tmp_->sub(name));
    if (!s) ADD_FAILURE() << s.error().what();
    return s ? std::move(*s) : nullptr;
  }

  // The fixture image as an OCI layout: busybox (gzip), /etc/berth-fixture (plain), and a
  // layer with modes and a symlink (gzip).
  std::string FixtureLayout() {
    if (!layout_.empty()) return layout_;
    std::string work = tmp_->sub("fixture");
    fs::create_directories(work + "/extra/etc");
    fs::create_directories(work + "/data/srv/sub");
    EXPECT_TRUE(berth::test::MakeBusyboxRootfs(work + "/rootfs"));
    berth::test::WriteFile(work + "/extra/etc/berth-fixture", "berth fixture image\n");
    berth::test::WriteFile(work + "/data/srv/run.sh", "#!/bin/sh\necho archive\n", 0750);
    ::chmod((work + "/data/srv/run.sh").c_str(), 0750);
    ::chmod((work + "/data/srv/sub").c_str(), 0700);
    ::symlink("run.sh", (work + "/data/srv/link").c_str());
    auto built =
        berth::test::BuildImage(work + "/layout",
                                {"--layer", work + "/rootfs", "--compression", "none", "--layer",
                                 work + "/extra", "--compression", "gzip", "--layer",
                                 work + "/data", "--cmd", R"(["sh"])", "--env", "ARCHIVE=1"},
                                "latest");
    EXPECT_TRUE(built) << (built ? "" : built.error().what());
    layout_ = work + "/layout";
    return layout_;
  }

  // Imports the fixture into `images` as `name` and returns its image ID.
  std::string ImportFixture(ImageService& images, const std::string& name = "fixture:1") {
    auto r = berth::image::import_oci_layout(images, FixtureLayout(), "latest", name);
    EXPECT_TRUE(r) << (r ? "" : r.error().what());
    if (!r || r->ids.empty()) return {};
    return r->ids[0].str();
  }

  // The loaded image's layers in its snapshots: files, modes, symlinks.
  void ExpectFixtureRootfs(ImageService& images, const std::string& name) {
    auto im = images.resolve(name);
    ASSERT_TRUE(im) << im.error().what();
    ASSERT_EQ(im->chain_ids.size(), 3u);
    for (const auto& c : im->chain_ids) ASSERT_TRUE(images.snapshots().exists(c.str())) << c.str();
    std::string l0 = images.snapshots().upper_path(im->chain_ids[0].str());
    std::string l1 = images.snapshots().upper_path(im->chain_ids[1].str());
    std::string l2 = images.snapshots().upper_path(im->chain_ids[2].str());
    struct stat st {};
    ASSERT_EQ(::lstat((l0 + "/bin/busybox").c_str(), &st), 0);
    EXPECT_TRUE(S_ISREG(st.st_mode));
    EXPECT_EQ(st.st_mode & 07777, 0755u);
    EXPECT_EQ(Slurp(l0 + "/bin/busybox"), Slurp("/bin/busybox"));
    ASSERT_EQ(::lstat((l0 + "/bin/sh").c_str(), &st), 0);
    EXPECT_TRUE(S_ISLNK(st.st_mode));
    ASSERT_EQ(::lstat((l0 + "/tmp").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 01777u);
    EXPECT_EQ(Slurp(l1 + "/etc/berth-fixture"), "berth fixture image\n");
    ASSERT_EQ(::lstat((l2 + "/srv/run.sh").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0750u);
    EXPECT_EQ(Slurp(l2 + "/srv/run.sh"), "#!/bin/sh\necho archive\n");
    EXPECT_EQ(fs::read_symlink(l2 + "/srv/link"), "run.sh");
    ASSERT_EQ(::lstat((l2 + "/srv/sub").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0700u);
    EXPECT_FALSE(fs::exists(l2 + "/etc/berth-fixture"));  // layers stay separate
    EXPECT_EQ(im->config.config.env.back(), "ARCHIVE=1");
  }

  void ExpectNothingLeft(ImageService& images) {
    auto names = images.names().list();
    ASSERT_TRUE(names);
    EXPECT_TRUE(names->empty()) << names->front().name;
    auto snaps = images.snapshots().list();
    ASSERT_TRUE(snaps);
    EXPECT_TRUE(snaps->empty()) << snaps->front().key;
  }

  std::unique_ptr<TempDir> tmp_;
  std::unique_ptr<ImageService> images_;
  std::string layout_;
};

// ---- berth with itself ------------------------------------------------------------------------

TEST_F(ArchiveTest, ImportsAnOciLayoutDirectory) {
  auto r = berth::image::import_oci_layout(*images_, FixtureLayout(), "latest", "fixture:1");
  ASSERT_TRUE(r) << r.error().what();
  ASSERT_EQ(r->names, std::vector<std::string>{"docker.io/library/fixture:1"});
  ExpectFixtureRootfs(*images_, "fixture:1");
  // The layout's own name is a bare tag: without a name the image is loaded untagged.
  auto store2 = OpenStore("store2");
  auto u = berth::image::import_oci_layout(*store2, FixtureLayout());
  ASSERT_TRUE(u) << u.error().what();
  EXPECT_TRUE(u->names.empty());
  ASSERT_EQ(u->ids.size(), 1u);
  EXPECT_EQ(u->ids[0], r->ids[0]);
  auto by_id = store2->resolve(u->ids[0].str());
  ASSERT_TRUE(by_id) << by_id.error().what();
  EXPECT_TRUE(berth::image::is_dangling_name(by_id->record.name));
  ASSERT_TRUE(store2->gc());
  EXPECT_TRUE(store2->resolve(u->ids[0].str())) << "gc removed an untagged image";
  auto missing = berth::image::import_oci_layout(*store2, FixtureLayout(), "nope");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().what().find("no image tagged \"nope\""), std::string::npos)
      << missing.error().what();
}

TEST_F(ArchiveTest, ExportsToANewAndAnExistingLayout) {
  std::string id = ImportFixture(*images_);
  ASSERT_TRUE(images_->tag("fixture:1", "other/fixture:2"));
  std::string dir = tmp_->sub("export");
  ASSERT_TRUE(berth::image::export_oci_layout(*images_, "fixture:1", dir));
  ASSERT_TRUE(berth::image::export_oci_layout(*images_, "other/fixture:2", dir));
  ASSERT_TRUE(berth::image::export_oci_layout(*images_, "fixture:1", dir, "again"));
  ASSERT_TRUE(berth::image::export_oci_layout(*images_, "fixture:1", dir, "again"));  // replaced
  json index = json::parse(Slurp(dir + "/index.json"));
  ASSERT_EQ(index["manifests"].size(), 3u) << index.dump();
  std::set<std::string> tags;
  for (const auto& m : index["manifests"])
    tags.insert(m["annotations"]["org.opencontainers.image.ref.name"].get<std::string>());
  EXPECT_EQ(tags, (std::set<std::string>{"1", "2", "again"}));
  EXPECT_EQ(json::parse(Slurp(dir + "/oci-layout"))["imageLayoutVersion"], "1.0.0");

  auto store2 = OpenStore("store2");
  auto r = berth::image::import_oci_layout(*store2, dir, "2", "copy:2");
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->ids[0].str(), id);
  ExpectFixtureRootfs(*store2, "copy:2");
  if (berth::test::HaveProgram("skopeo")) {
    auto s = RunCommand({"skopeo", "inspect", "oci:" + dir + ":again"});
    EXPECT_TRUE(s.ok()) << s.output;
  }
}

TEST_F(ArchiveTest, SaveWritesDockerAndOciLayouts) {
  std::string id = ImportFixture(*images_);
  ASSERT_TRUE(images_->tag("fixture:1", "localhost:5000/team/fixture:2"));
  std::string tar = tmp_->sub("save.tar");
  ASSERT_TRUE(SaveFile(*images_, {"fixture:1", "localhost:5000/team/fixture:2"}, tar));
  auto entries = TarList(tar);
  auto im = images_->resolve("fixture:1");
  ASSERT_TRUE(im);
  // Each blob once: 3 layers, config, manifest.
  size_t blobs = std::count_if(entries.begin(), entries.end(), [](const std::string& e) {
    return e.starts_with("blobs/sha256/") && e.size() > 13;
  });
  EXPECT_EQ(blobs, 5u);
  for (const char* f : {"index.json", "manifest.json", "oci-layout", "repositories"})
    EXPECT_NE(std::find(entries.begin(), entries.end(), f), entries.end()) << f;

  json manifest = json::parse(TarCat(tar, "manifest.json"));
  ASSERT_EQ(manifest.size(), 1u);
  EXPECT_EQ(manifest[0]["Config"], "blobs/sha256/" + id.substr(7));
  EXPECT_EQ(manifest[0]["RepoTags"], json::array({"fixture:1", "localhost:5000/team/fixture:2"}));
  ASSERT_EQ(manifest[0]["Layers"].size(), 3u);
  EXPECT_EQ(manifest[0]["Layers"][0],
            "blobs/sha256/" + std::string(im->manifest.layers[0].digest.hex()));
  json index = json::parse(TarCat(tar, "index.json"));
  ASSERT_EQ(index["manifests"].size(), 2u);
  EXPECT_EQ(index["manifests"][1]["annotations"]["io.containerd.image.name"],
            "localhost:5000/team/fixture:2");
  EXPECT_EQ(index["manifests"][1]["annotations"]["org.opencontainers.image.ref.name"], "2");
  EXPECT_EQ(index["manifests"][0]["digest"], im->record.manifest.digest.str());
  json repos = json::parse(TarCat(tar, "repositories"));
  EXPECT_TRUE(repos.contains("localhost:5000/team/fixture")) << repos.dump();

  std::string oci = tmp_->sub("save-oci.tar");
  ASSERT_TRUE(SaveFile(*images_, {id}, oci, ArchiveFormat::Oci));
  auto oentries = TarList(oci);
  EXPECT_EQ(std::find(oentries.begin(), oentries.end(), "manifest.json"), oentries.end());
  json oindex = json::parse(TarCat(oci, "index.json"));
  ASSERT_EQ(oindex["manifests"].size(), 1u);
  EXPECT_FALSE(oindex["manifests"][0].contains("annotations"));  // saved by ID: untagged

  auto bad = SaveFile(*images_, {"nope:1"}, tmp_->sub("bad.tar"));
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().what().find("No such image"), std::string::npos) << bad.error().what();
}

TEST_F(ArchiveTest, SaveThenLoadRoundTrips) {
  std::string id = ImportFixture(*images_);
  ASSERT_TRUE(images_->tag("fixture:1", "fixture:latest"));
  auto src = images_->resolve("fixture:1");
  ASSERT_TRUE(src);
  for (ArchiveFormat format : {ArchiveFormat::Docker, ArchiveFormat::Oci}) {
    SCOPED_TRACE(format == ArchiveFormat::Docker ? "docker" : "oci");
    std::string tar = tmp_->sub(format == ArchiveFormat::Docker ? "d.tar" : "o.tar");
    ASSERT_TRUE(SaveFile(*images_, {"fixture:1", "fixture"}, tar, format));
    auto store = OpenStore(format == ArchiveFormat::Docker ? "load-d" : "load-o");
    Loaded l = LoadFile(*store, tar);
    ASSERT_TRUE(l.result) << l.result.error().what();
    EXPECT_EQ(l.result->names, (std::vector<std::string>{"docker.io/library/fixture:1",
                                                         "docker.io/library/fixture:latest"}));
    ASSERT_EQ(l.result->ids.size(), 1u);
    EXPECT_EQ(l.result->ids[0].str(), id);
    EXPECT_EQ(l.lines, (std::vector<std::string>{"Loaded image: fixture:1",
                                                 "Loaded image: fixture:latest"}));
    auto im = store->resolve("fixture:latest");
    ASSERT_TRUE(im);
    EXPECT_EQ(im->record.manifest.digest, src->record.manifest.digest);  // the same manifest
    ExpectFixtureRootfs(*store, "fixture:1");
    // Loading again changes nothing and needs no new snapshot.
    Loaded again = LoadFile(*store, tar);
    ASSERT_TRUE(again.result) << again.result.error().what();
    EXPECT_EQ(store->snapshots().list()->size(), 3u);
  }
}

TEST_F(ArchiveTest, LoadsCompressedStreamsFromAPipe) {
  ImportFixture(*images_);
  std::string tar = tmp_->sub("s.tar");
  ASSERT_TRUE(SaveFile(*images_, {"fixture:1"}, tar));
  std::vector<std::pair<std::string, std::string>> filters = {{"gz", "gzip -c"}};
  if (berth::test::HaveProgram("zstd")) filters.push_back({"zst", "zstd -q -c"});
  for (const auto& [ext, cmd] : filters) {
    SCOPED_TRACE(ext);
    auto c = RunCommand({"sh", "-c", cmd + " " + tar + " > " + tar + "." + ext});
    ASSERT_TRUE(c.ok()) << c.output;
    std::string data = Slurp(tar + "." + ext);
    int p[2];
    ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
    UniqueFd rd(p[0]), wr(p[1]);
    std::thread feeder([&] {
      (void)write_all(wr.get(), data);
      wr.reset();
    });
    auto store = OpenStore("pipe-" + ext);
    auto r = berth::image::load_archive(*store, rd.get());
    feeder.join();
    ASSERT_TRUE(r) << r.error().what();
    EXPECT_EQ(r->names, std::vector<std::string>{"docker.io/library/fixture:1"});
    ExpectFixtureRootfs(*store, "fixture:1");
  }
}

// docker ≤ 24: <id>/layer.tar (plain tars), <config hex>.json, a layer shared by two images
// written once and linked; podman: <hex>.tar at the top.
TEST_F(ArchiveTest, LoadsDockerLegacyLayouts) {
  std::string layout = FixtureLayout();
  json index = json::parse(Slurp(layout + "/index.json"));
  std::string mdigest = index["manifests"][0]["digest"];
  json m = json::parse(Slurp(layout + "/blobs/sha256/" + mdigest.substr(7)));
  std::string cfg_hex = m["config"]["digest"].get<std::string>().substr(7);
  std::string work = tmp_->sub("legacy");
  fs::create_directories(work);
  std::vector<std::string> plain;  // uncompressed layer files
  for (size_t i = 0; i < m["layers"].size(); i++) {
    std::string blob =
        layout + "/blobs/sha256/" + m["layers"][i]["digest"].get<std::string>().substr(7);
    std::string out = work + "/layer" + std::to_string(i) + ".tar";
    auto c =
        RunCommand({"sh", "-c",
                    "gzip -dc < " + blob + " > " + out + " 2>/dev/null || cp " + blob + " " + out});
    ASSERT_TRUE(c.ok()) << c.output;
    plain.push_back(out);
  }
  // Image A: all three layers; image B: the first layer only (its own config), linked.
  json cfg = json::parse(Slurp(layout + "/blobs/sha256/" + cfg_hex));
  json cfg_b = cfg;
  cfg_b["rootfs"]["diff_ids"] = json::array({cfg["rootfs"]["diff_ids"][0]});
  cfg_b["history"] = json::array({cfg["history"][0]});
  std::string cfg_b_text = cfg_b.dump();
  std::string cfg_b_hex(sha256_of(cfg_b_text).hex());
  json entries = json::array();
  entries.push_back(
      {{"name", cfg_hex + ".json"}, {"data_file", layout + "/blobs/sha256/" + cfg_hex}});
  entries.push_back({{"name", cfg_b_hex + ".json"}, {"data", cfg_b_text}});
  json layers_a = json::array();
  for (size_t i = 0; i < plain.size(); i++) {
    std::string dir = "id" + std::to_string(i);
    entries.push_back({{"name", dir}, {"type", "dir"}});
    entries.push_back({{"name", dir + "/VERSION"}, {"data", "1.0"}});
    entries.push_back({{"name", dir + "/json"}, {"data", "{}"}});
    entries.push_back({{"name", dir + "/layer.tar"}, {"data_file", plain[i]}});
    layers_a.push_back(dir + "/layer.tar");
  }
  entries.push_back({{"name", "idb"}, {"type", "dir"}});
  entries.push_back(
      {{"name", "idb/layer.tar"}, {"type", "symlink"}, {"linkname", "../id0/layer.tar"}});
  json manifest = json::array(
      {{{"Config", cfg_hex + ".json"}, {"RepoTags", {"legacy:a"}}, {"Layers", layers_a}},
       {{"Config", cfg_b_hex + ".json"}, {"RepoTags", nullptr}, {"Layers", {"idb/layer.tar"}}}});
  entries.push_back({{"name", "manifest.json"}, {"data", manifest.dump()}});
  entries.push_back({{"name", "repositories"}, {"data", "{}"}});
  ASSERT_TRUE(MakeTar({{"entries", entries}}, work + "/docker.tar"));

  Loaded l = LoadFile(*images_, work + "/docker.tar");
  ASSERT_TRUE(l.result) << l.result.error().what();
  EXPECT_EQ(l.result->names, std::vector<std::string>{"docker.io/library/legacy:a"});
  ASSERT_EQ(l.result->ids.size(), 2u);
  EXPECT_EQ(l.result->ids[0].str(), "sha256:" + cfg_hex);  // image ID = docker's
  EXPECT_EQ(l.result->ids[1].str(), "sha256:" + cfg_b_hex);
  EXPECT_EQ(l.lines.back(), "Loaded image ID: sha256:" + cfg_b_hex);
  ExpectFixtureRootfs(*images_, "legacy:a");
  auto a = images_->resolve("legacy:a");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->manifest.layers[0].media_type, img::kOciLayer);  // kept uncompressed
  EXPECT_TRUE(images_->resolve("sha256:" + cfg_b_hex));

  // podman's docker-archive: <hex>.tar layers and <hex>.json config at the top.
  json pentries = json::array();
  json players = json::array();
  pentries.push_back(
      {{"name", cfg_hex + ".json"}, {"data_file", layout + "/blobs/sha256/" + cfg_hex}});
  for (size_t i = 0; i < plain.size(); i++) {
    std::string n = "l" + std::to_string(i) + ".tar";
    pentries.push_back({{"name", "./" + n}, {"data_file", plain[i]}});  // "./" as tar -C d . has
    players.push_back(n);
  }
  pentries.push_back({{"name", "manifest.json"},
                      {"data", json::array({{{"Config", cfg_hex + ".json"},
                                             {"RepoTags", {"localhost/podman:x"}},
                                             {"Layers", players}}})
                                   .dump()}});
  ASSERT_TRUE(MakeTar({{"entries", pentries}, {"compress", "gz"}}, work + "/podman.tar.gz"));
  auto store2 = OpenStore("store2");
  Loaded p = LoadFile(*store2, work + "/podman.tar.gz");
  ASSERT_TRUE(p.result) << p.result.error().what();
  EXPECT_EQ(p.result->names, std::vector<std::string>{"localhost/podman:x"});
  ExpectFixtureRootfs(*store2, "localhost/podman:x");
}

// ---- hostile archives -------------------------------------------------------------------------

class ArchiveHostileTest : public ArchiveTest {
 protected:
  // Loads the tar made from `entries` into a fresh store; expects an error containing `want`
  // and nothing named or unpacked.
  void ExpectRefused(const json& entries, const std::string& want) {
    std::string tar = tmp_->sub("hostile-" + std::to_string(n_++) + ".tar");
    ASSERT_TRUE(MakeTar({{"entries", entries}}, tar));
    auto store = OpenStore("hostile-store-" + std::to_string(n_));
    Loaded l = LoadFile(*store, tar);
    ASSERT_FALSE(l.result) << "loaded: " << (l.result ? l.result->ids.size() : 0) << " images";
    EXPECT_NE(l.result.error().what().find(want), std::string::npos) << l.result.error().what();
    ExpectNothingLeft(*store);
    EXPECT_FALSE(fs::exists(tmp_->sub("evil")));
  }

  // A valid one-layer image: config text, layer tar path, and the manifest.json entry.
  void MakeImage(json& entries, const std::string& diff_id_override = "") {
    std::string work = tmp_->sub("h-layer");
    fs::create_directories(work + "/d");
    berth::test::WriteFile(work + "/d/file", "layer file\n");
    auto c = RunCommand({"tar", "-C", work + "/d", "-cf", work + "/layer.tar", "file"});
    ASSERT_TRUE(c.ok()) << c.output;
    std::string diff = "sha256:" + std::string(sha256_of(Slurp(work + "/layer.tar")).hex());
    json cfg = {
        {"architecture", "amd64"},
        {"os", "linux"},
        {"rootfs",
         {{"type", "layers"}, {"diff_ids", {diff_id_override.empty() ? diff : diff_id_override}}}}};
    entries.push_back({{"name", "cfg.json"}, {"data", cfg.dump()}});
    entries.push_back({{"name", "l/layer.tar"}, {"data_file", work + "/layer.tar"}});
  }

  int n_ = 0;
};

TEST_F(ArchiveHostileTest, TraversalAndAbsoluteNames) {
  json e = json::array();
  MakeImage(e);
  e.push_back({{"name", "../../evil"}, {"data", "x"}});
  ExpectRefused(e, "\"../../evil\": path escapes the archive");
  json a = json::array();
  MakeImage(a);
  a.push_back({{"name", "/evil"}, {"data", "x"}});
  ExpectRefused(a, "\"/evil\": absolute path");
  json b = json::array();
  MakeImage(b);
  b.push_back({{"name", "blobs/sha256/../../../evil"}, {"data", "x"}});
  ExpectRefused(b, "path escapes the archive");
}

TEST_F(ArchiveHostileTest, BlobWhoseBytesDoNotMatchItsName) {
  std::string fake(64, 'a');
  json e = json::array({{{"name", "blobs/sha256/" + fake}, {"data", "not what the name says"}}});
  e.push_back(
      {{"name", "index.json"},
       {"data",
        json{{"schemaVersion", 2},
             {"manifests",
              {{{"mediaType", img::kOciManifest}, {"digest", "sha256:" + fake}, {"size", 22}}}}}
            .dump()}});
  ExpectRefused(e, "sha256:" + fake);
}

TEST_F(ArchiveHostileTest, ManifestPointingAtAMissingLayer) {
  json e = json::array();
  MakeImage(e);
  e.push_back({{"name", "manifest.json"},
               {"data", json::array({{{"Config", "cfg.json"},
                                      {"RepoTags", {"evil:1"}},
                                      {"Layers", {"l/layer.tar", "gone/layer.tar"}}}})
                            .dump()}});
  ExpectRefused(e, "\"gone/layer.tar\" is not in the archive");
}

TEST_F(ArchiveHostileTest, HugeManifestJson) {
  std::string big = tmp_->sub("big.json");
  {
    std::ofstream f(big);
    f << "[";
    for (int i = 0; i < 10 * 1024 * 1024 / 16; i++) f << "\"aaaaaaaaaaaaa\",";
    f << "1]";
  }
  json e = json::array();
  MakeImage(e);
  e.push_back({{"name", "manifest.json"}, {"data_file", big}});
  ExpectRefused(e, "\"manifest.json\": 10485");
}

TEST_F(ArchiveHostileTest, LinksWhereBlobsMustBeFiles) {
  json e = json::array();
  MakeImage(e);
  std::string hex(64, 'b');
  e.push_back({{"name", "blobs/sha256/" + hex}, {"type", "symlink"}, {"linkname", "/etc/passwd"}});
  ExpectRefused(e, "\"blobs/sha256/" + hex + "\": a symbolic link where a regular file");
  // A legacy layer.tar linking out of the archive.
  json l = json::array();
  MakeImage(l);
  l.push_back({{"name", "x/layer.tar"}, {"type", "symlink"}, {"linkname", "../../../etc/passwd"}});
  l.push_back({{"name", "manifest.json"},
               {"data", json::array({{{"Config", "cfg.json"},
                                      {"RepoTags", {"evil:1"}},
                                      {"Layers", {"x/layer.tar"}}}})
                            .dump()}});
  ExpectRefused(l, "\"x/layer.tar\" is a link that leaves the archive");
  // A hard link as manifest.json.
  json h = json::array();
  MakeImage(h);
  h.push_back({{"name", "manifest.json"}, {"type", "hardlink"}, {"linkname", "cfg.json"}});
  ExpectRefused(h, "\"manifest.json\": a hard link");
}

TEST_F(ArchiveHostileTest, DiffIdMismatchLeavesNoSnapshotOfEarlierImages) {
  // Image 1 is fine; image 2 shares its layer and has a second one whose diff ID is wrong:
  // the snapshot image 1 made must go too.
  json e = json::array();
  MakeImage(e);
  std::string work = tmp_->sub("h2");
  fs::create_directories(work + "/d");
  berth::test::WriteFile(work + "/d/second", "second\n");
  ASSERT_TRUE(RunCommand({"tar", "-C", work + "/d", "-cf", work + "/l2.tar", "second"}).ok());
  std::string diff1 =
      "sha256:" + std::string(sha256_of(Slurp(tmp_->sub("h-layer/layer.tar"))).hex());
  json cfg2 = {
      {"architecture", "amd64"},
      {"os", "linux"},
      {"rootfs", {{"type", "layers"}, {"diff_ids", {diff1, "sha256:" + std::string(64, 'c')}}}}};
  e.push_back({{"name", "cfg2.json"}, {"data", cfg2.dump()}});
  e.push_back({{"name", "l2/layer.tar"}, {"data_file", work + "/l2.tar"}});
  e.push_back({{"name", "manifest.json"},
               {"data", json::array({{{"Config", "cfg.json"},
                                      {"RepoTags", {"good:1"}},
                                      {"Layers", {"l/layer.tar"}}},
                                     {{"Config", "cfg2.json"},
                                      {"RepoTags", {"bad:1"}},
                                      {"Layers", {"l/layer.tar", "l2/layer.tar"}}}})
                            .dump()}});
  ExpectRefused(e, "the image config says sha256:" + std::string(64, 'c'));
}

TEST_F(ArchiveHostileTest, NotAnImageArchive) {
  json e = json::array({{{"name", "hello.txt"}, {"data", "hi"}}});
  ExpectRefused(e, "neither manifest.json nor index.json");
  std::string junk = tmp_->sub("junk");
  berth::test::WriteFile(junk, std::string(5000, 'z'));
  auto store = OpenStore("junk-store");
  Loaded l = LoadFile(*store, junk);
  ASSERT_FALSE(l.result);
  ExpectNothingLeft(*store);
  json bad = json::array();
  MakeImage(bad);
  bad.push_back({{"name", "manifest.json"},
                 {"data", json::array({{{"Config", "cfg.json"},
                                        {"RepoTags", {"Bad Name!"}},
                                        {"Layers", {"l/layer.tar"}}}})
                              .dump()}});
  ExpectRefused(bad, "RepoTags");
}

TEST_F(ArchiveHostileTest, LayoutDirectoryWithASymlinkedBlob) {
  std::string dir = tmp_->sub("linked-layout");
  fs::copy(FixtureLayout(), dir, fs::copy_options::recursive);
  json index = json::parse(Slurp(dir + "/index.json"));
  std::string mdigest = index["manifests"][0]["digest"];
  json m = json::parse(Slurp(dir + "/blobs/sha256/" + mdigest.substr(7)));
  std::string layer =
      dir + "/blobs/sha256/" + m["layers"][1]["digest"].get<std::string>().substr(7);
  fs::remove(layer);
  fs::create_symlink("/etc/passwd", layer);
  auto store = OpenStore("linked-store");
  auto r = berth::image::import_oci_layout(*store, dir, "latest", "linked:1");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().what().find("too many levels of symbolic links"), std::string::npos)
      << r.error().what();
  ExpectNothingLeft(*store);
}

// ---- skopeo -----------------------------------------------------------------------------------

TEST_F(ArchiveTest, SkopeoReadsOurArchiveAndWritesOnesWeLoad) {
  if (!berth::test::HaveProgram("skopeo")) GTEST_SKIP() << "needs skopeo";
  std::string id = ImportFixture(*images_);
  std::string tar = tmp_->sub("ours.tar");
  ASSERT_TRUE(SaveFile(*images_, {"fixture:1"}, tar));
  auto inspect = RunCommand({"skopeo", "inspect", "docker-archive:" + tar});
  ASSERT_TRUE(inspect.ok()) << inspect.output;
  json info = json::parse(inspect.output.substr(inspect.output.find('{')));
  EXPECT_EQ(info["Layers"].size(), 3u);
  EXPECT_EQ(info["Env"].back(), "ARCHIVE=1");
  auto copy =
      RunCommand({"skopeo", "copy", "docker-archive:" + tar, "oci:" + tmp_->sub("sk-oci") + ":x"});
  ASSERT_TRUE(copy.ok()) << copy.output;
  auto copy_oci =
      RunCommand({"skopeo", "copy", "oci-archive:" + tar, "oci:" + tmp_->sub("sk-oci2") + ":y"});
  EXPECT_TRUE(copy_oci.ok()) << copy_oci.output;

  // skopeo's docker-archive (from the OCI layout) and oci-archive, loaded by us.
  std::string sk = tmp_->sub("skopeo.tar");
  auto w = RunCommand({"skopeo", "copy", "oci:" + FixtureLayout() + ":latest",
                       "docker-archive:" + sk + ":skopeo/made:v1"});
  ASSERT_TRUE(w.ok()) << w.output;
  auto store = OpenStore("from-skopeo");
  Loaded l = LoadFile(*store, sk);
  ASSERT_TRUE(l.result) << l.result.error().what();
  EXPECT_EQ(l.result->names, std::vector<std::string>{"docker.io/skopeo/made:v1"});
  EXPECT_EQ(l.result->ids[0].str(), id);
  ExpectFixtureRootfs(*store, "skopeo/made:v1");

  std::string ska = tmp_->sub("skopeo-oci.tar");
  auto wo = RunCommand(
      {"skopeo", "copy", "oci:" + FixtureLayout() + ":latest", "oci-archive:" + ska + ":1.0"});
  ASSERT_TRUE(wo.ok()) << wo.output;
  auto store2 = OpenStore("from-skopeo-oci");
  Loaded lo = LoadFile(*store2, ska);
  ASSERT_TRUE(lo.result) << lo.result.error().what();
  EXPECT_TRUE(lo.result->names.empty());  // ref.name "1.0" names no repository
  EXPECT_EQ(lo.lines, std::vector<std::string>{"Loaded image ID: " + id});
  EXPECT_TRUE(store2->resolve(id));
}

// ---- podman -----------------------------------------------------------------------------------

TEST_F(ArchiveTest, PodmanLoadsOurArchiveAndSavesOnesWeLoad) {
  if (!berth::test::HaveProgram("podman")) GTEST_SKIP() << "needs podman";
  std::string id = ImportFixture(*images_);
  ASSERT_TRUE(images_->tag("fixture:1", "fixture:2"));
  std::string tar = tmp_->sub("ours.tar");
  ASSERT_TRUE(SaveFile(*images_, {"fixture:1", "fixture:2"}, tar));
  std::string proot = tmp_->sub("podman");
  std::vector<std::string> podman = {
      "podman",       "--root",           proot + "/root", "--runroot",
      proot + "/run", "--tmpdir",         proot + "/tmp",  "--storage-driver",
      "vfs",          "--cgroup-manager", "cgroupfs",      "--events-backend",
      "none"};
  auto P = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = podman;
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, {{"CONTAINERS_CONF", "/dev/null"}});
  };
  auto load = P({"load", "-i", tar});
  ASSERT_TRUE(load.ok()) << load.output;
  // podman reads manifest.json here (index.json lists two tags, its oci-archive reader wants
  // one) and, as with docker's own archives, puts the familiar names under localhost/.
  EXPECT_NE(load.output.find("Loaded image: localhost/fixture:2"), std::string::npos)
      << load.output;
  auto ins = P({"image", "inspect", "--format", "{{.Id}}", "fixture:2"});
  ASSERT_TRUE(ins.ok()) << ins.output << "\npodman load said: " << load.output
                        << "\npodman images: " << P({"images"}).output;
  EXPECT_EQ(ins.output.substr(0, 64), id.substr(7));

  for (std::string format : {"docker-archive", "oci-archive"}) {
    SCOPED_TRACE(format);
    std::string back = tmp_->sub("podman-" + format + ".tar");
    auto save = P({"save", "--format", format, "-o", back, "fixture:1"});
    ASSERT_TRUE(save.ok()) << save.output;
    auto store = OpenStore("from-" + format);
    Loaded l = LoadFile(*store, back);
    ASSERT_TRUE(l.result) << l.result.error().what();
    EXPECT_EQ(l.result->ids[0].str(), id);
    EXPECT_EQ(l.result->names, std::vector<std::string>{"localhost/fixture:1"});
    ExpectFixtureRootfs(*store, "localhost/fixture:1");
  }
  // vfs storage has no mounts: everything podman made is under the temp dir, removed with it.
}

// ---- docker -----------------------------------------------------------------------------------

// dockerd from Debian with a private data root, exec root and socket (flags as
// tests/compat/dockerd.sh), no networking. Stopped and cleaned in the destructor.
class PrivateDockerd {
 public:
  static std::string SkipReason() {
    for (const char* p : {"dockerd", "docker", "containerd"})
      if (!berth::test::HaveProgram(p))
        return std::string("needs ") + p + " (apt install docker.io)";
    return {};
  }

  explicit PrivateDockerd(const std::string& work) : work_(work) {
    fs::create_directories(work_ + "/data");
    fs::create_directories(work_ + "/exec");
    fs::create_directories(work_ + "/cli");
    berth::test::WriteFile(work_ + "/daemon.json", "{}");
    std::string log = work_ + "/dockerd.log";
    std::vector<std::string> args = {"dockerd",
                                     "--config-file",
                                     work_ + "/daemon.json",
                                     "--data-root",
                                     work_ + "/data",
                                     "--exec-root",
                                     work_ + "/exec",
                                     "-H",
                                     "unix://" + work_ + "/docker.sock",
                                     "--pidfile",
                                     work_ + "/docker.pid",
                                     "--bridge",
                                     "none",
                                     "--iptables=false",
                                     "--ip-masq=false",
                                     "--ip6tables=false",
                                     "--userland-proxy=false",
                                     "--exec-opt",
                                     "native.cgroupdriver=cgroupfs",
                                     "--storage-driver",
                                     "overlay2",
                                     "--log-level",
                                     "warn"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = fork();
    if (pid == 0) {
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(fd, 1);
      dup2(fd, 2);
      int nul = ::open("/dev/null", O_RDONLY);
      dup2(nul, 0);
      setsid();
      execvp("dockerd", argv.data());
      _exit(127);
    }
    pid_ = pid;
    for (int i = 0; i < 150; i++) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        break;
      }
      if (Docker({"version"}).ok()) {
        ready_ = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }

  ~PrivateDockerd() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int st;
      bool gone = false;
      for (int i = 0; i < 300 && !gone; i++) {
        gone = waitpid(pid_, &st, WNOHANG) == pid_;
        if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      if (!gone) {
        ::kill(pid_, SIGKILL);
        waitpid(pid_, &st, 0);
      }
    }
    // A containerd dockerd started and did not stop: its pid file is ours.
    std::string cpid = Slurp(work_ + "/exec/containerd/containerd.pid");
    if (!cpid.empty()) {
      pid_t c = std::atoi(cpid.c_str());
      std::string cmdline = Slurp("/proc/" + std::to_string(c) + "/cmdline");
      if (c > 0 && cmdline.find(work_) != std::string::npos) {
        ::kill(c, SIGKILL);
      }
    }
    // Mounts dockerd left under its roots, deepest first.
    std::vector<std::string> mounts;
    std::ifstream mi("/proc/self/mountinfo");
    for (std::string line; std::getline(mi, line);) {
      std::stringstream ss(line);
      std::string a, b, c, d, mp;
      ss >> a >> b >> c >> d >> mp;
      if (mp.starts_with(work_)) mounts.push_back(mp);
    }
    std::sort(mounts.rbegin(), mounts.rend());
    for (const auto& m : mounts) ::umount2(m.c_str(), MNT_DETACH);
  }

  bool ready() const { return ready_; }
  std::string log() const { return Slurp(work_ + "/dockerd.log"); }

  berth::test::CommandResult Docker(std::vector<std::string> args) const {
    std::vector<std::string> argv = {"docker"};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, {{"DOCKER_HOST", "unix://" + work_ + "/docker.sock"},
                             {"DOCKER_CONFIG", work_ + "/cli"}});
  }

 private:
  std::string work_;
  pid_t pid_ = -1;
  bool ready_ = false;
};

TEST_F(ArchiveTest, DockerLoadsOurArchiveAndSavesOnesWeLoad) {
  if (std::string why = PrivateDockerd::SkipReason(); !why.empty()) GTEST_SKIP() << why;
  std::string id = ImportFixture(*images_);
  std::string tar = tmp_->sub("ours.tar");
  ASSERT_TRUE(SaveFile(*images_, {"fixture:1"}, tar));
  // dockerd's roots outside the test's temp dir would be fine too; inside it they go with it.
  PrivateDockerd docker(tmp_->sub("dockerd"));
  if (!docker.ready()) GTEST_SKIP() << "dockerd did not start here: " << docker.log();
  auto load = docker.Docker({"load", "-i", tar});
  ASSERT_TRUE(load.ok()) << load.output;
  EXPECT_NE(load.output.find("Loaded image: fixture:1"), std::string::npos) << load.output;
  auto ins = docker.Docker({"image", "inspect", "--format", "{{.Id}}", "fixture:1"});
  ASSERT_TRUE(ins.ok()) << ins.output;
  EXPECT_EQ(ins.output.substr(0, 71), id);
  auto run = docker.Docker({"tag", "fixture:1", "docker-made:2"});
  ASSERT_TRUE(run.ok()) << run.output;

  std::string back = tmp_->sub("docker.tar");
  auto save = docker.Docker({"save", "-o", back, "docker-made:2", "fixture:1"});
  ASSERT_TRUE(save.ok()) << save.output;
  auto store = OpenStore("from-docker");
  Loaded l = LoadFile(*store, back);
  ASSERT_TRUE(l.result) << l.result.error().what();
  ASSERT_EQ(l.result->ids.size(), 1u);
  EXPECT_EQ(l.result->ids[0].str(), id);
  std::set<std::string> names(l.result->names.begin(), l.result->names.end());
  EXPECT_EQ(names, (std::set<std::string>{"docker.io/library/docker-made:2",
                                          "docker.io/library/fixture:1"}));
  ExpectFixtureRootfs(*store, "docker-made:2");
  auto rm = docker.Docker({"rmi", "-f", "fixture:1", "docker-made:2"});
  EXPECT_TRUE(rm.ok()) << rm.output;
}

}  // namespace
}  // namespace berth::it::archive
