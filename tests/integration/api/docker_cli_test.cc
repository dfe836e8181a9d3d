// The image endpoints as the real docker CLI (28, /usr/local/bin/docker) uses them, against
// the API server on a temp root: version, load, images, inspect, history, tag, rmi, save,
// pull from a local registry (docker-registry), push, events.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "api_fixture.h"

namespace berth::test {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kDocker = "/usr/local/bin/docker";

std::string SkipReason() {
  if (geteuid() != 0) return "needs root (overlayfs snapshots)";
  if (access(kDocker, X_OK) != 0) return std::string(kDocker) + " is not installed";
  return RegistrySkipReason();
}

class DockerCliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!SkipReason().empty()) return;
    work_ = new TempDir("berth-api-cli");
    auto img = BuildBusyboxImage(work_->sub("img"), {"--cmd", R"(["sh"])"});
    if (!img) {
      setup_error_ = img.error().what();
      return;
    }
    image_ = new BuiltImage(*img);
    tar_ = work_->sub("busybox.tar");
    auto r = RunCommand({"skopeo", "copy", "--quiet", "oci:" + img->layout + ":" + img->tag,
                         "docker-archive:" + tar_ + ":berth-test/busybox:1"});
    if (!r.ok()) setup_error_ = "skopeo docker-archive: " + r.output;
  }
  static void TearDownTestSuite() {
    delete image_;
    image_ = nullptr;
    delete work_;
    work_ = nullptr;
  }
  void SetUp() override {
    if (auto why = SkipReason(); !why.empty()) GTEST_SKIP() << why;
    ASSERT_TRUE(setup_error_.empty()) << setup_error_;
    auto s = ApiServer::Start();
    ASSERT_TRUE(s) << s.error().what();
    server_ = std::move(*s);
  }
  CommandResult Docker(const std::vector<std::string>& args) { return server_->Docker(args); }
  void Load() {
    auto r = Docker({"load", "-i", tar_});
    ASSERT_TRUE(r.ok()) << r.output;
    ASSERT_THAT(r.output, HasSubstr("Loaded image: berth-test/busybox:1"));
  }

  static TempDir* work_;
  static BuiltImage* image_;
  static std::string tar_, setup_error_;
  std::unique_ptr<ApiServer> server_;
};

TempDir* DockerCliTest::work_ = nullptr;
BuiltImage* DockerCliTest::image_ = nullptr;
std::string DockerCliTest::tar_, DockerCliTest::setup_error_;

TEST_F(DockerCliTest, Version) {
  auto r = Docker(
      {"version", "--format", "{{.Server.APIVersion}} {{.Server.Os}} {{.Client.APIVersion}}"});
  ASSERT_TRUE(r.ok()) << r.output;
  EXPECT_EQ(r.output, "1.47 linux 1.47\n");  // the client negotiated down to the server's
}

TEST_F(DockerCliTest, LoadImagesInspectHistory) {
  Load();
  auto ls = Docker({"images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}"});
  ASSERT_TRUE(ls.ok()) << ls.output;
  EXPECT_THAT(ls.output, HasSubstr("berth-test/busybox:1 "));

  auto id = Docker({"image", "inspect", "--format", "{{.Id}}", "berth-test/busybox:1"});
  ASSERT_TRUE(id.ok()) << id.output;
  EXPECT_THAT(id.output, HasSubstr("sha256:"));
  auto full = Docker({"image", "inspect", "berth-test/busybox:1"});
  ASSERT_TRUE(full.ok()) << full.output;
  json j = json::parse(full.output);
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["RepoTags"], json({"berth-test/busybox:1"}));
  EXPECT_EQ(j[0]["Os"], "linux");
  EXPECT_EQ(j[0]["Config"]["Cmd"], json({"sh"}));
  EXPECT_EQ(j[0]["RootFS"]["Type"], "layers");
  EXPECT_EQ(j[0]["RootFS"]["Layers"].size(), 2u);
  EXPECT_GT(j[0]["Size"].get<int64_t>(), 0);

  auto hist = Docker(
      {"history", "--no-trunc", "--format", "{{.ID}}|{{.CreatedBy}}", "berth-test/busybox:1"});
  ASSERT_TRUE(hist.ok()) << hist.output;
  EXPECT_THAT(hist.output, HasSubstr(json::parse(full.output)[0]["Id"].get<std::string>()));

  auto missing = Docker({"image", "inspect", "nosuch:1"});
  EXPECT_FALSE(missing.ok());
  EXPECT_THAT(missing.output, HasSubstr("No such image: nosuch:1"));
}

TEST_F(DockerCliTest, TagRmiAndDelete) {
  Load();
  auto tag = Docker({"tag", "berth-test/busybox:1", "other/name:2"});
  ASSERT_TRUE(tag.ok()) << tag.output;
  auto ls = Docker({"images", "--format", "{{.Repository}}:{{.Tag}}"});
  EXPECT_THAT(ls.output, HasSubstr("other/name:2"));
  // Two names: removing by ID needs -f.
  auto id = Docker({"image", "inspect", "--format", "{{.Id}}", "other/name:2"});
  std::string sid = id.output.substr(7, 12);
  auto by_id = Docker({"rmi", sid});
  EXPECT_FALSE(by_id.ok());
  EXPECT_THAT(by_id.output, HasSubstr("image is referenced in multiple repositories"));
  // Untag one name: the image stays.
  auto untag = Docker({"rmi", "other/name:2"});
  ASSERT_TRUE(untag.ok()) << untag.output;
  EXPECT_THAT(untag.output, HasSubstr("Untagged: other/name:2"));
  EXPECT_THAT(untag.output, Not(HasSubstr("Deleted")));
  // The last name: untagged and deleted.
  auto last = Docker({"rmi", "berth-test/busybox:1"});
  ASSERT_TRUE(last.ok()) << last.output;
  EXPECT_THAT(last.output, HasSubstr("Untagged: berth-test/busybox:1"));
  EXPECT_THAT(last.output, HasSubstr("Deleted: sha256:"));
  auto empty = Docker({"images", "-q"});
  EXPECT_EQ(empty.output, "");
  auto again = Docker({"rmi", "berth-test/busybox:1"});
  EXPECT_FALSE(again.ok());
  EXPECT_THAT(again.output, HasSubstr("No such image"));
  auto bad_tag = Docker({"tag", "nosuch", "x:1"});
  EXPECT_FALSE(bad_tag.ok());
  EXPECT_THAT(bad_tag.output, HasSubstr("No such image: nosuch"));
}

TEST_F(DockerCliTest, SaveAndLoadBack) {
  Load();
  ASSERT_TRUE(Docker({"tag", "berth-test/busybox:1", "copy/busybox:2"}).ok());
  std::string out = server_->dir() + "/saved.tar";
  auto save = Docker({"save", "-o", out, "berth-test/busybox:1", "copy/busybox:2"});
  ASSERT_TRUE(save.ok()) << save.output;
  auto list = RunCommand({"tar", "-tf", out});
  ASSERT_TRUE(list.ok()) << list.output;
  EXPECT_THAT(list.output, HasSubstr("manifest.json"));
  EXPECT_THAT(list.output, HasSubstr("index.json"));
  ASSERT_TRUE(Docker({"rmi", "-f", "berth-test/busybox:1", "copy/busybox:2"}).ok());
  EXPECT_EQ(Docker({"images", "-q"}).output, "");
  auto load = Docker({"load", "-i", out});
  ASSERT_TRUE(load.ok()) << load.output;
  EXPECT_THAT(load.output, HasSubstr("Loaded image: berth-test/busybox:1"));
  EXPECT_THAT(load.output, HasSubstr("Loaded image: copy/busybox:2"));
  auto missing = Docker({"save", "-o", server_->dir() + "/x.tar", "nosuch:1"});
  EXPECT_FALSE(missing.ok());
  EXPECT_THAT(missing.output, HasSubstr("No such image: nosuch:1"));
  // A broken archive: docker's error, nothing loaded.
  WriteFile(server_->dir() + "/junk.tar", std::string(4096, 'j'));
  auto junk = Docker({"load", "-i", server_->dir() + "/junk.tar"});
  EXPECT_FALSE(junk.ok()) << junk.output;
}

TEST_F(DockerCliTest, PullPushAndEvents) {
  auto reg = LocalRegistry::Start();
  ASSERT_TRUE(reg) << reg.error().what();
  ASSERT_TRUE((*reg)->Push(image_->layout, image_->tag, "app:1"));
  int64_t since = time(nullptr) - 1;

  std::string ref = (*reg)->ref("app:1");
  auto pull = Docker({"pull", ref});
  ASSERT_TRUE(pull.ok()) << pull.output;
  EXPECT_THAT(pull.output, HasSubstr("1: Pulling from app"));
  EXPECT_THAT(pull.output, HasSubstr("Pull complete"));
  EXPECT_THAT(pull.output, HasSubstr("Digest: sha256:"));
  EXPECT_THAT(pull.output, HasSubstr("Status: Downloaded newer image for " + ref));
  auto ls = Docker({"images", "--format", "{{.Repository}}:{{.Tag}}"});
  EXPECT_THAT(ls.output, HasSubstr(ref));

  auto unknown = Docker({"pull", (*reg)->ref("nosuch:1")});
  EXPECT_FALSE(unknown.ok());
  EXPECT_THAT(unknown.output, HasSubstr("not found"));

  // Push under a new name, then the registry has it.
  std::string pushed = (*reg)->ref("pushed/app:7");
  ASSERT_TRUE(Docker({"tag", ref, pushed}).ok());
  auto push = Docker({"push", pushed});
  ASSERT_TRUE(push.ok()) << push.output;
  EXPECT_THAT(push.output,
              HasSubstr("The push refers to repository [" + (*reg)->host() + "/pushed/app]"));
  EXPECT_THAT(push.output, HasSubstr("7: digest: sha256:"));
  auto raw = (*reg)->InspectRaw("pushed/app:7");
  EXPECT_TRUE(raw) << raw.error().what();
  auto no_local = Docker({"push", (*reg)->ref("never/tagged:1")});
  EXPECT_FALSE(no_local.ok());
  EXPECT_THAT(no_local.output, HasSubstr("An image does not exist locally with the tag"));

  auto ev = Docker({"events", "--since", std::to_string(since), "--until",
                    std::to_string(time(nullptr) + 1), "--filter", "type=image", "--format",
                    "{{.Type}} {{.Action}} {{.Actor.ID}}"});
  ASSERT_TRUE(ev.ok()) << ev.output;
  EXPECT_THAT(ev.output, HasSubstr("image pull " + ref));
  EXPECT_THAT(ev.output, HasSubstr("image tag sha256:"));
  EXPECT_THAT(ev.output, HasSubstr("image push " + pushed));
}

TEST_F(DockerCliTest, ImageFiltersAndPrune) {
  Load();
  auto dangling = Docker({"images", "-q", "--filter", "dangling=true"});
  ASSERT_TRUE(dangling.ok()) << dangling.output;
  EXPECT_EQ(dangling.output, "");
  auto ref =
      Docker({"images", "--format", "{{.Repository}}", "--filter", "reference=berth-test/*"});
  EXPECT_EQ(ref.output, "berth-test/busybox\n");
  auto none = Docker({"images", "--format", "{{.Repository}}", "--filter", "reference=nomatch*"});
  EXPECT_EQ(none.output, "");
  auto bad = Docker({"images", "--filter", "bogus=1"});
  EXPECT_FALSE(bad.ok());
  EXPECT_THAT(bad.output, HasSubstr("invalid filter 'bogus'"));
  // Prune of dangling images: the tagged one stays; -a removes it.
  auto prune = Docker({"image", "prune", "-f"});
  ASSERT_TRUE(prune.ok()) << prune.output;
  EXPECT_THAT(Docker({"images", "-q"}).output, Not(""));
  auto all = Docker({"image", "prune", "-a", "-f"});
  ASSERT_TRUE(all.ok()) << all.output;
  EXPECT_THAT(all.output, HasSubstr("Total reclaimed space"));
  EXPECT_EQ(Docker({"images", "-q"}).output, "");
}

}  // namespace
}  // namespace berth::test
