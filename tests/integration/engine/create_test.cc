// POST /containers/create edges: --log-opt without --log-driver, log options checked at create,
// and a create that fails leaves no directory on the host.
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine_fixture.h"

namespace berth::test {
namespace {

using engine::WaitCondition;

std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) out.emplace_back(e->d_name);
    closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST_F(EngineTest, LogOptsWithoutALogDriver) {
  // What `docker run --log-opt max-size=1k --log-opt max-file=2` sends: an empty Type.
  std::string id = create(
      {{"Cmd",
        {"sh", "-c", "i=0; while [ $i -lt 100 ]; do echo line-$i-0123456789; i=$((i+1)); done"}},
       {"HostConfig",
        {{"LogConfig", {{"Type", ""}, {"Config", {{"max-size", "1k"}, {"max-file", "2"}}}}}}}});
  ASSERT_FALSE(id.empty());
  auto info = containers().inspect(id);
  ASSERT_TRUE(info);
  EXPECT_EQ((*info)["HostConfig"]["LogConfig"],
            json({{"Type", "json-file"}, {"Config", {{"max-size", "1k"}, {"max-file", "2"}}}}));
  ASSERT_TRUE(containers().start(id));
  auto w = containers().wait(id, WaitCondition::NotRunning);
  ASSERT_TRUE(w);
  // About 7 kB of log in files of at most 1 kB (docker's decimal k), two kept.
  std::string dir = config_.data_root + "/containers/" + id;
  auto names = files_in(dir);
  std::string log = id + "-json.log";
  EXPECT_NE(std::find(names.begin(), names.end(), log), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), log + ".1"), names.end());
  EXPECT_EQ(std::find(names.begin(), names.end(), log + ".2"), names.end());
  struct stat st {};
  ASSERT_EQ(stat((dir + "/" + log + ".1").c_str(), &st), 0);
  EXPECT_LE(st.st_size, 1000 + 100);  // rotated before a write that would pass 1000 bytes
}

TEST_F(EngineTest, LogOptsAreCheckedAtCreate) {
  auto with = [&](json log_config) {
    return containers().create(
        "", {{"Image", "busybox"}, {"HostConfig", {{"LogConfig", std::move(log_config)}}}});
  };
  struct Case {
    json config;
    std::string error;
  } cases[] = {
      {{{"foo", "bar"}}, "unknown log opt 'foo' for json-file log driver"},
      {{{"max-file", "1001"}, {"max-size", "1m"}},
       "failed to initialize logging driver: max-file cannot be more than 1000 (berth's limit)"},
      {{{"max-file", "0"}}, "failed to initialize logging driver: max-file cannot be less than 1"},
      {{{"max-file", "two"}},
       "failed to initialize logging driver: strconv.Atoi: parsing \"two\": invalid syntax"},
      {{{"max-size", "10x"}}, "failed to initialize logging driver: invalid suffix: 'x'"},
      {{{"max-size", "big"}}, "failed to initialize logging driver: invalid size: 'big'"},
      {{{"max-size", "0"}},
       "failed to initialize logging driver: max-size must be a positive number"},
      {{{"compress", "yes"}},
       "failed to initialize logging driver: strconv.ParseBool: parsing \"yes\": invalid syntax"},
      {{{"max-size", 10}},
       "json: cannot unmarshal number into Go struct field LogConfig.HostConfig.LogConfig.Config "
       "of "
       "type string"},
  };
  for (const auto& c : cases) {
    for (const char* type : {"", "json-file"}) {
      auto r = with({{"Type", type}, {"Config", c.config}});
      ASSERT_FALSE(r) << c.config.dump();
      EXPECT_EQ(r.error().kind(), ErrorKind::InvalidArgument) << c.config.dump();
      EXPECT_EQ(r.error().what(), c.error) << c.config.dump();
    }
  }
  // Accepted as docker accepts them.
  for (json ok : {json{{"max-size", "10m"}, {"max-file", "3"}}, json{{"max-size", "1.5MiB"}},
                  json{{"tag", "{{.Name}}"}, {"labels", "a"}, {"mode", "non-blocking"}}}) {
    auto r = with({{"Type", "json-file"}, {"Config", ok}});
    ASSERT_TRUE(r) << ok.dump() << ": " << r.error().what();
    ids_.insert(r->id);
  }
  // The none driver takes anything.
  auto none = with({{"Type", "none"}, {"Config", {{"foo", "bar"}}}});
  ASSERT_TRUE(none) << none.error().what();
  ids_.insert(none->id);
  auto list = containers().list({.all = true});
  ASSERT_TRUE(list);
  EXPECT_EQ(list->size(), 4u);
}

TEST_F(EngineTest, AFailedCreateLeavesNoHostDirectory) {
  // docker create -v <new dir>:/x -v myvol:/v --device /dev/nonexistent busybox
  std::string bind = root_ + "/host/new";
  std::string volumes = config_.data_root + "/volumes";
  auto r = containers().create(
      "", {{"Image", "busybox"},
           {"HostConfig",
            {{"Binds", {bind + ":/x", "myvol:/v"}},
             {"Devices", {{{"PathOnHost", "/dev/nonexistent"}, {"PathInContainer", "/dev/x"}}}}}}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().what(),
            "error gathering device information while adding custom device \"/dev/nonexistent\": "
            "no such file or directory");
  EXPECT_NE(access((root_ + "/host").c_str(), F_OK), 0) << "bind source left";
  EXPECT_NE(access((volumes + "/myvol").c_str(), F_OK), 0) << "volume directory left";
  // A create that succeeds makes them (docker creates a missing -v source).
  std::string id = create({{"HostConfig", {{"Binds", {bind + ":/x", "myvol:/v"}}}}});
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(access(bind.c_str(), F_OK), 0);
  EXPECT_EQ(access((volumes + "/myvol/_data").c_str(), F_OK), 0);
}

}  // namespace
}  // namespace berth::test
