// The image service end to end: pull from a real registry into the content store and
// snapshots, bundle, run with berth-runtime, push, tag, gc — what `berth pull` / `berth run`
// users see. Images come from tests/fixtures (busybox-static), served by docker-registry.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "image/images.h"
#include "registry_fixture.h"
#include "util/fd.h"

namespace berth::test {
namespace {

using image::ImageService;
using image::PullOptions;
using json = nlohmann::json;
using ::testing::HasSubstr;

const std::string kRuntime = std::string(BERTH_BIN_DIR) + "/berth-runtime";

class Pull : public ::testing::Test {
 protected:
  void SetUp() override {
    BERTH_SKIP_UNLESS_REGISTRY();
    auto reg = LocalRegistry::Start();
    ASSERT_TRUE(reg) << reg.error().what();
    reg_ = std::move(*reg);
    auto svc = ImageService::open(tmp_.sub("root"));
    ASSERT_TRUE(svc) << svc.error().what();
    svc_ = std::move(*svc);
  }
  void TearDown() override {
    // Nothing mounted may stay below the temp dir.
    std::ifstream mounts("/proc/self/mountinfo");
    for (std::string line; std::getline(mounts, line);)
      EXPECT_THAT(line, ::testing::Not(HasSubstr(tmp_.path()))) << "mount left behind";
  }

  PullOptions Opts() {
    PullOptions o;
    o.registry = reg_->client_options();
    o.registry.docker_config = "/nonexistent/berth-test/config.json";
    o.progress = [this](const image::Progress& p) { progress_.push_back(p.id + " " + p.status); };
    return o;
  }

  // A busybox image pushed as <name_tag>; returns the full reference.
  std::string PushBusybox(const std::string& name_tag, std::vector<std::string> args = {}) {
    auto img = BuildBusyboxImage(tmp_.sub("build-" + std::to_string(n_++)), args);
    EXPECT_TRUE(img) << img.error().what();
    if (!img) return "";
    auto pushed = reg_->Push(img->layout, img->tag, name_tag);
    EXPECT_TRUE(pushed) << pushed.error().what();
    return reg_->ref(name_tag);
  }

  // Runs the bundle with berth-runtime; returns its output.
  CommandResult RunBundle(const std::string& bundle, const std::string& id) {
    return RunCommand({kRuntime, "--root", tmp_.sub("state"), "run", "--bundle", bundle, id});
  }

  TempDir tmp_{"berth-pull"};
  std::unique_ptr<LocalRegistry> reg_;
  std::unique_ptr<ImageService> svc_;
  std::vector<std::string> progress_;
  int n_ = 0;
};

TEST_F(Pull, BusyboxPullBundleAndRun) {
  std::string ref = PushBusybox(
      "tools/busybox:1", {"--cmd", R"(["echo","hello from the image"])", "--env", "GREETING=hi"});
  auto img = svc_->pull(ref, Opts());
  ASSERT_TRUE(img) << img.error().what();
  EXPECT_EQ(img->record.name, ref);
  EXPECT_EQ(img->chain_ids.size(), 2u);
  for (const auto& chain : img->chain_ids) EXPECT_TRUE(svc_->snapshots().exists(chain.str()));
  EXPECT_TRUE(svc_->content().has(img->record.config));
  EXPECT_THAT(progress_, ::testing::Contains(HasSubstr("Pull complete")));

  // Found again by name, short name forms, image ID and ID prefix.
  auto again = svc_->resolve(ref);
  ASSERT_TRUE(again) << again.error().what();
  EXPECT_EQ(again->record.config, img->record.config);
  auto by_id = svc_->resolve(std::string(img->record.config.hex().substr(0, 12)));
  ASSERT_TRUE(by_id) << by_id.error().what();
  EXPECT_EQ(by_id->record.name, ref);

  if (access(kRuntime.c_str(), X_OK) != 0) GTEST_SKIP() << "no " << kRuntime;
  std::string bundle = tmp_.sub("bundle");
  auto spec = svc_->create_bundle(*img, "c1", bundle, {});
  ASSERT_TRUE(spec) << spec.error().what();
  EXPECT_EQ(spec->process->args, (std::vector<std::string>{"echo", "hello from the image"}));
  EXPECT_THAT(spec->process->env, ::testing::Contains("GREETING=hi"));
  auto run = RunBundle(bundle, "c1");
  EXPECT_TRUE(run.ok()) << run.output;
  EXPECT_THAT(run.output, HasSubstr("hello from the image"));

  // Writes land in the container's own snapshot, not in the image.
  image::BundleOptions write;
  write.cmd = std::vector<std::string>{"sh", "-c",
                                       "echo changed > /etc/berth-fixture; cat /etc/berth-fixture"};
  ASSERT_TRUE(svc_->remove_bundle("c1", bundle));
  ASSERT_TRUE(svc_->create_bundle(*img, "c2", bundle, write));
  auto wrote = RunBundle(bundle, "c2");
  EXPECT_THAT(wrote.output, HasSubstr("changed"));
  ASSERT_TRUE(svc_->remove_bundle("c2", bundle));
  ASSERT_TRUE(svc_->create_bundle(*img, "c3", bundle, {}));
  auto fresh = RunBundle(bundle, "c3");
  EXPECT_THAT(fresh.output, ::testing::Not(HasSubstr("changed")));
  ASSERT_TRUE(svc_->remove_bundle("c3", bundle));
  EXPECT_FALSE(svc_->snapshots().exists("c3"));
  EXPECT_NE(access(bundle.c_str(), F_OK), 0) << "bundle dir left behind";
}

TEST_F(Pull, SecondPullReusesLayersAndAnotherImageSharesThem) {
  std::string ref = PushBusybox("a/b:1");
  ASSERT_TRUE(svc_->pull(ref, Opts()));
  progress_.clear();
  auto again = svc_->pull(ref, Opts());
  ASSERT_TRUE(again) << again.error().what();
  EXPECT_THAT(progress_, ::testing::Contains(HasSubstr("Already exists")));
  EXPECT_THAT(progress_, ::testing::Not(::testing::Contains(HasSubstr("Downloading"))));
}

TEST_F(Pull, MultiArchIndexSelectsThePlatform) {
  std::string root = tmp_.sub("rootfs");
  ASSERT_TRUE(MakeBusyboxRootfs(root));
  auto built = BuildImage(tmp_.sub("multi"),
                          {"--platform", "linux/amd64", "--layer", root, "--cmd", R"(["amd64"])",
                           "--platform", "linux/arm64/v8", "--layer", root, "--cmd", R"(["arm64"])",
                           "--platform", "linux/arm/v7", "--layer", root, "--cmd", R"(["armv7"])"});
  ASSERT_TRUE(built) << built.error().what();
  ASSERT_TRUE(reg_->Push(built->layout, built->tag, "multi:1"));
  auto opts = Opts();
  opts.platform = *oci::image::parse_platform("linux/arm64");
  auto arm = svc_->pull(reg_->ref("multi:1"), opts);
  ASSERT_TRUE(arm) << arm.error().what();
  EXPECT_EQ(arm->config.architecture, "arm64");
  EXPECT_EQ(*arm->config.config.cmd, std::vector<std::string>{"arm64"});
  EXPECT_EQ(arm->record.target.digest.str(), built->digest);  // the name points at the index

  opts.platform = *oci::image::parse_platform("linux/arm/v6");
  auto v6 = svc_->pull(reg_->ref("multi:1"), opts);
  ASSERT_FALSE(v6);
  EXPECT_THAT(v6.error().what(), HasSubstr("no matching manifest for linux/arm/v6"));

  opts.platform.reset();  // the host's
  auto host = svc_->pull(reg_->ref("multi:1"), opts);
  ASSERT_TRUE(host) << host.error().what();
  EXPECT_EQ(host->config.architecture, oci::image::host_platform().architecture);
}

TEST_F(Pull, CorruptedBlobInTheRegistryIsRejectedAndLeavesNothing) {
  std::string ref = PushBusybox("bad/blob:1");
  // Flip bytes in the biggest blob the registry stores (the busybox layer).
  std::string biggest;
  off_t size = 0;
  auto r = RunCommand({"find", reg_->storage_dir(), "-name", "data", "-size", "+100k"});
  for (std::string_view line : {std::string_view(r.output)}) {
    size_t nl = line.find('\n');
    biggest = std::string(line.substr(0, nl));
  }
  ASSERT_FALSE(biggest.empty()) << r.output;
  {
    UniqueFd fd(open(biggest.c_str(), O_RDWR | O_CLOEXEC));
    ASSERT_TRUE(fd.valid());
    struct stat st {};
    fstat(fd.get(), &st);
    size = st.st_size;
    ASSERT_EQ(pwrite(fd.get(), "berth", 5, size / 2), 5);
  }
  auto img = svc_->pull(ref, Opts());
  ASSERT_FALSE(img);
  EXPECT_THAT(img.error().what(), ::testing::AnyOf(HasSubstr("digest"), HasSubstr("diff ID")));
  EXPECT_FALSE(svc_->resolve(ref)) << "a failed pull must not name the image";
  auto snaps = svc_->snapshots().list();
  ASSERT_TRUE(snaps);
  // The corrupted layer is the base: nothing may be committed, nothing half-done may stay.
  EXPECT_TRUE(snaps->empty()) << snaps->front().key;
  auto blobs = svc_->content().list();
  ASSERT_TRUE(blobs);
  for (const auto& b : *blobs) EXPECT_NE(b.size, size) << "the corrupted blob was stored";
}

TEST_F(Pull, BasicAuthNeedsCredentials) {
  reg_.reset();
  auto reg = LocalRegistry::Start({.basic_auth = true});
  ASSERT_TRUE(reg) << reg.error().what();
  reg_ = std::move(*reg);
  std::string ref = PushBusybox("private/app:1");
  auto opts = Opts();
  opts.registry.credentials.reset();
  auto denied = svc_->pull(ref, opts);
  ASSERT_FALSE(denied);
  EXPECT_THAT(denied.error().what(),
              ::testing::AnyOf(HasSubstr("unauthorized"), HasSubstr("authentication required"),
                               HasSubstr("docker login")));
  auto ok = svc_->pull(ref, Opts());
  EXPECT_TRUE(ok) << ok.error().what();
}

TEST_F(Pull, DroppedConnectionsResumeAndTheImageIsIntact) {
  auto built = BuildBusyboxImage(tmp_.sub("drop"));
  ASSERT_TRUE(built) << built.error().what();
  auto faulty =
      FaultyRegistry::Start(built->layout, {"--drop-after", "300000", "--drop-count", "0"});
  ASSERT_TRUE(faulty) << faulty.error().what();
  PullOptions o;
  o.registry.docker_config = "/nonexistent/berth-test/config.json";
  o.registry.initial_backoff_ms = 10;
  auto img = svc_->pull((*faulty)->host() + "/fixture:" + built->tag, o);
  ASSERT_TRUE(img) << img.error().what();
  auto reqs = (*faulty)->Requests();
  ASSERT_TRUE(reqs);
  bool ranged = false;
  for (const auto& r : *reqs)
    if (r["headers"].contains("range")) ranged = true;
  EXPECT_TRUE(ranged) << "expected a resumed (Range) request";
  if (access(kRuntime.c_str(), X_OK) != 0) return;
  std::string bundle = tmp_.sub("bundle");
  image::BundleOptions b;
  b.cmd = std::vector<std::string>{"sh", "-c", "busybox | head -1"};
  ASSERT_TRUE(svc_->create_bundle(*img, "d1", bundle, b));
  auto run = RunBundle(bundle, "d1");
  EXPECT_THAT(run.output, HasSubstr("BusyBox")) << run.output;
  ASSERT_TRUE(svc_->remove_bundle("d1", bundle));
}

TEST_F(Pull, PushToAnotherRegistryKeepsTheManifestDigest) {
  std::string ref = PushBusybox("src/app:1");
  auto img = svc_->pull(ref, Opts());
  ASSERT_TRUE(img) << img.error().what();
  auto other = LocalRegistry::Start();
  ASSERT_TRUE(other) << other.error().what();
  auto pushed = svc_->push(ref, (*other)->ref("copy/app:2"), (*other)->client_options());
  ASSERT_TRUE(pushed) << pushed.error().what();
  auto raw = (*other)->InspectRaw("copy/app:2");
  ASSERT_TRUE(raw) << raw.error().what();
  EXPECT_EQ(sha256_of(*raw), img->record.manifest.digest);
  // Pushing again finds every blob there already.
  std::vector<std::string> lines;
  ASSERT_TRUE(svc_->push(ref, (*other)->ref("copy/app:3"), (*other)->client_options(),
                         [&](const image::Progress& p) { lines.push_back(p.status); }));
  EXPECT_THAT(lines, ::testing::Contains("Layer already exists"));
  EXPECT_THAT(lines, ::testing::Not(::testing::Contains("Pushed")));
}

TEST_F(Pull, UntagThenGcRemovesWhatNothingUses) {
  // a = busybox + a layer of its own; b = busybox (shares a's base layer).
  std::string root = tmp_.sub("rootfs"), own = tmp_.sub("own");
  ASSERT_TRUE(MakeBusyboxRootfs(root));
  ASSERT_EQ(mkdir(own.c_str(), 0755), 0);
  WriteFile(own + "/only-in-a", std::string(100000, 'a'));
  auto built = BuildImage(tmp_.sub("gc-a"), {"--layer", root, "--layer", own});
  ASSERT_TRUE(built) << built.error().what();
  ASSERT_TRUE(reg_->Push(built->layout, built->tag, "gc/a:1"));
  std::string a = reg_->ref("gc/a:1");
  auto b_built = BuildImage(tmp_.sub("gc-b"), {"--layer", root, "--cmd", R"(["true"])"});
  ASSERT_TRUE(b_built) << b_built.error().what();
  ASSERT_TRUE(reg_->Push(b_built->layout, b_built->tag, "gc/b:1"));
  std::string b = reg_->ref("gc/b:1");
  auto ia = svc_->pull(a, Opts());
  auto ib = svc_->pull(b, Opts());
  ASSERT_TRUE(ia && ib);
  ASSERT_EQ(ia->chain_ids.front(), ib->chain_ids.front()) << "the base layer should be shared";
  // Nothing unreferenced yet.
  auto none = svc_->gc();
  ASSERT_TRUE(none) << none.error().what();
  EXPECT_TRUE(none->removed_blobs.empty());
  EXPECT_TRUE(none->removed_snapshots.empty());

  // A container snapshot keeps its image's layers even without a name; the documents go.
  ASSERT_TRUE(svc_->snapshots().prepare("container-1", ia->chain_ids.back().str()));
  ASSERT_TRUE(svc_->untag(a));
  auto kept = svc_->gc();
  ASSERT_TRUE(kept) << kept.error().what();
  EXPECT_TRUE(kept->removed_snapshots.empty());
  EXPECT_TRUE(svc_->snapshots().exists(ia->chain_ids.back().str()));
  EXPECT_FALSE(svc_->content().has(ia->record.manifest.digest));

  ASSERT_TRUE(svc_->snapshots().remove("container-1"));
  auto swept = svc_->gc();
  ASSERT_TRUE(swept) << swept.error().what();
  EXPECT_EQ(swept->removed_snapshots, std::vector<std::string>{ia->chain_ids.back().str()});
  EXPECT_GE(swept->reclaimed_bytes, 100000u);
  EXPECT_FALSE(svc_->snapshots().exists(ia->chain_ids.back().str()));
  // b still resolves and every layer of b is still there (the base layer is shared).
  auto still = svc_->resolve(b);
  ASSERT_TRUE(still) << still.error().what();
  for (const auto& chain : still->chain_ids) EXPECT_TRUE(svc_->snapshots().exists(chain.str()));
  for (const auto& l : still->manifest.layers) EXPECT_TRUE(svc_->content().has(l.digest));
}

TEST_F(Pull, UnknownImageAndSchemaErrors) {
  auto missing = svc_->pull(reg_->ref("no/such:tag"), Opts());
  ASSERT_FALSE(missing);
  EXPECT_THAT(missing.error().what(),
              ::testing::AnyOf(HasSubstr("manifest unknown"), HasSubstr("not found")));
  auto bad = svc_->pull("Not A Reference", Opts());
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error().what(), HasSubstr("invalid reference format"));
  auto unknown = svc_->resolve("never-pulled");
  ASSERT_FALSE(unknown);
  EXPECT_THAT(unknown.error().what(), HasSubstr("No such image: never-pulled"));
}

// ---- image config -> config.json -------------------------------------------------------------

class BundleUser : public Pull {};

TEST_F(BundleUser, UserResolvedThroughTheImagesPasswdAndGroup) {
  std::string root = tmp_.sub("rootfs");
  ASSERT_TRUE(MakeBusyboxRootfs(root));
  WriteFile(root + "/etc/passwd",
            "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n");
  WriteFile(root + "/etc/group",
            "root:x:0:\napp:x:1000:\nstaff:x:50:app,other\nwheel:x:10:other\n");
  ASSERT_EQ(mkdir((root + "/data").c_str(), 0755), 0);
  WriteFile(root + "/data/seed", "from the image");
  auto built =
      BuildImage(tmp_.sub("user"),
                 {"--layer", root, "--user", "app", "--workdir", "/home/app", "--cmd", R"(["id"])",
                  "--expose", "8080/tcp", "--label", "team=berth", "--volume", "/data"});
  ASSERT_TRUE(built) << built.error().what();
  ASSERT_TRUE(reg_->Push(built->layout, built->tag, "user/app:1"));
  auto img = svc_->pull(reg_->ref("user/app:1"), Opts());
  ASSERT_TRUE(img) << img.error().what();

  std::string bundle = tmp_.sub("bundle");
  auto spec = svc_->create_bundle(*img, "u1", bundle, {});
  ASSERT_TRUE(spec) << spec.error().what();
  EXPECT_EQ(spec->process->user.uid, 1000u);
  EXPECT_EQ(spec->process->user.gid, 1000u);
  EXPECT_EQ(spec->process->user.additional_gids, std::vector<uint32_t>{50});
  EXPECT_EQ(spec->process->cwd, "/home/app");
  EXPECT_THAT(spec->process->env, ::testing::Contains("HOME=/home/app"));
  EXPECT_EQ(spec->annotations["org.opencontainers.image.exposedPorts"], "8080/tcp");
  EXPECT_EQ(spec->annotations["team"], "berth");
  // The image's volume is a bind mount of a bundle directory filled from the image.
  auto vol = std::find_if(spec->mounts.begin(), spec->mounts.end(),
                          [](const oci::Mount& m) { return m.destination == "/data"; });
  ASSERT_NE(vol, spec->mounts.end());
  EXPECT_EQ(vol->type, "bind");
  std::ifstream seed(vol->source + "/seed");
  std::string seeded((std::istreambuf_iterator<char>(seed)), std::istreambuf_iterator<char>());
  EXPECT_EQ(seeded, "from the image");
  if (access(kRuntime.c_str(), X_OK) == 0) {
    auto run = RunBundle(bundle, "u1");
    EXPECT_THAT(run.output, HasSubstr("uid=1000"));
    EXPECT_THAT(run.output, HasSubstr("50"));
  }
  ASSERT_TRUE(svc_->remove_bundle("u1", bundle));

  // Caller overrides: numeric user absent from passwd, explicit group, unknown names.
  image::BundleOptions o;
  o.user = "4242:staff";
  auto numeric = svc_->create_bundle(*img, "u2", bundle, o);
  ASSERT_TRUE(numeric) << numeric.error().what();
  EXPECT_EQ(numeric->process->user.uid, 4242u);
  EXPECT_EQ(numeric->process->user.gid, 50u);
  EXPECT_THAT(numeric->process->env, ::testing::Contains("HOME=/"));
  ASSERT_TRUE(svc_->remove_bundle("u2", bundle));
  o.user = "nobody-here";
  auto unknown = svc_->create_bundle(*img, "u3", bundle, o);
  ASSERT_FALSE(unknown);
  EXPECT_THAT(unknown.error().what(),
              HasSubstr("unable to find user nobody-here: no matching entries in passwd file"));
  EXPECT_NE(access(bundle.c_str(), F_OK), 0) << "a failed bundle must leave nothing";
  EXPECT_FALSE(svc_->snapshots().exists("u3"));
  o.user = "app:nogroup";
  auto nogroup = svc_->create_bundle(*img, "u4", bundle, o);
  ASSERT_FALSE(nogroup);
  EXPECT_THAT(nogroup.error().what(), HasSubstr("unable to find group nogroup"));
}

}  // namespace
}  // namespace berth::test

namespace berth::test {
namespace {

// kill -9 in the middle of a pull: the store stays consistent (no name, no half snapshot), the
// partial download stays, and the next pull continues it with a Range request.
TEST_F(Pull, KilledMidPullLeavesAConsistentStoreAndTheNextPullResumes) {
  std::string tool = std::string(BERTH_BIN_DIR) + "/berth-image";
  if (access(tool.c_str(), X_OK) != 0) GTEST_SKIP() << "no " << tool;
  auto built = BuildBusyboxImage(tmp_.sub("kill"));
  ASSERT_TRUE(built) << built.error().what();
  auto stalling = FaultyRegistry::Start(built->layout, {"--stall-after", "400000"});
  ASSERT_TRUE(stalling) << stalling.error().what();
  std::string root = tmp_.sub("killed-root");
  std::string ref = (*stalling)->host() + "/fixture:" + built->tag;

  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int null = open("/dev/null", O_RDWR);
    dup2(null, 1);
    dup2(null, 2);
    execl(tool.c_str(), tool.c_str(), "--root", root.c_str(), "pull", ref.c_str(), nullptr);
    _exit(127);
  }
  ChildProcess child(pid);
  // Wait until a layer's partial download reached the stall point, then kill -9.
  bool partial = false;
  for (int i = 0; i < 200 && !partial; i++) {
    auto found = RunCommand({"find", root + "/content/ingest", "-name", "data", "-size", "+380k"});
    partial = found.ok() && !found.output.empty();
    if (!partial) usleep(50'000);
  }
  ASSERT_TRUE(partial) << "the pull never got to the stalled layer";
  kill(pid, SIGKILL);
  child.wait();
  stalling->reset();

  {
    auto svc = ImageService::open(root);  // cleans what the killed pull left
    ASSERT_TRUE(svc) << svc.error().what();
    EXPECT_FALSE((*svc)->resolve(ref)) << "a killed pull must not name the image";
    auto snaps = (*svc)->snapshots().list();
    ASSERT_TRUE(snaps);
    for (const auto& s : *snaps)
      EXPECT_EQ(s.kind, snapshot::Kind::Committed) << "left behind: " << s.key;
  }

  auto serving = FaultyRegistry::Start(built->layout);
  ASSERT_TRUE(serving) << serving.error().what();
  auto svc = ImageService::open(root);
  ASSERT_TRUE(svc) << svc.error().what();
  PullOptions o;
  o.registry.docker_config = "/nonexistent/berth-test/config.json";
  auto img = (*svc)->pull((*serving)->host() + "/fixture:" + built->tag, o);
  ASSERT_TRUE(img) << img.error().what();
  auto reqs = (*serving)->Requests();
  ASSERT_TRUE(reqs);
  bool resumed = false;
  for (const auto& r : *reqs)
    if (r["headers"].contains("range")) resumed = true;
  EXPECT_TRUE(resumed) << "the partial download should have been continued with Range";
  for (const auto& chain : img->chain_ids) EXPECT_TRUE((*svc)->snapshots().exists(chain.str()));
}

}  // namespace
}  // namespace berth::test

namespace berth::test {
namespace {

// A registry serving an image whose second layer is hostile: the pull fails naming the entry
// (not with another layer's "pull cancelled"), writes nothing outside the store and names
// nothing. The layer is swapped into a built layout, with manifest, config and index re-hashed.
TEST_F(Pull, HostileLayerFailsNamingTheEntryAndLeavesNothing) {
  if (!HaveProgram("python3")) GTEST_SKIP() << "needs python3";
  std::string root = tmp_.sub("rootfs"), small = tmp_.sub("small");
  ASSERT_TRUE(MakeBusyboxRootfs(root));
  ASSERT_EQ(mkdir(small.c_str(), 0755), 0);
  WriteFile(small + "/placeholder", "x");
  auto built = BuildImage(tmp_.sub("hostile"), {"--layer", root, "--layer", small});
  ASSERT_TRUE(built) << built.error().what();
  std::string victim = tmp_.sub("victim");
  const char* swap = R"PY(
import gzip, hashlib, io, json, os, sys, tarfile
layout, victim = sys.argv[1], sys.argv[2]
blob = lambda d: os.path.join(layout, "blobs", "sha256", d.split(":")[1])
def put(data):
    d = "sha256:" + hashlib.sha256(data).hexdigest()
    open(blob(d), "wb").write(data)
    return d, len(data)
raw = io.BytesIO()
with tarfile.open(fileobj=raw, mode="w") as t:
    info = tarfile.TarInfo("../../../../../../.." + victim)
    data = b"escaped\n"
    info.size = len(data)
    t.addfile(info, io.BytesIO(data))
tar = raw.getvalue()
index = json.load(open(os.path.join(layout, "index.json")))
mdesc = index["manifests"][0]
manifest = json.load(open(blob(mdesc["digest"])))
config = json.load(open(blob(manifest["config"]["digest"])))
ldig, lsize = put(gzip.compress(tar, mtime=0))
manifest["layers"][1].update(digest=ldig, size=lsize)
config["rootfs"]["diff_ids"][1] = "sha256:" + hashlib.sha256(tar).hexdigest()
cdig, csize = put(json.dumps(config).encode())
manifest["config"].update(digest=cdig, size=csize)
mdig, msize = put(json.dumps(manifest).encode())
mdesc.update(digest=mdig, size=msize)
json.dump(index, open(os.path.join(layout, "index.json"), "w"))
)PY";
  auto swapped = RunCommand({"python3", "-c", swap, built->layout, victim});
  ASSERT_TRUE(swapped.ok()) << swapped.output;
  ASSERT_TRUE(reg_->Push(built->layout, built->tag, "hostile/app:1"));

  auto img = svc_->pull(reg_->ref("hostile/app:1"), Opts());
  ASSERT_FALSE(img);
  EXPECT_THAT(img.error().what(), HasSubstr("path escapes the layer"));
  EXPECT_THAT(img.error().what(), ::testing::Not(HasSubstr("cancelled")));
  EXPECT_NE(access(victim.c_str(), F_OK), 0) << "the hostile entry was written outside";
  EXPECT_FALSE(svc_->resolve(reg_->ref("hostile/app:1")));
  auto snaps = svc_->snapshots().list();
  ASSERT_TRUE(snaps);
  for (const auto& s : *snaps) EXPECT_EQ(s.kind, snapshot::Kind::Committed) << s.key;
}

}  // namespace
}  // namespace berth::test
