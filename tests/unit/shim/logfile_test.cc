// The json-file log: lines cut at '\n', partial lines, and docker's rotation.
#include "shim/logfile.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "util/fd.h"

namespace berth::shim {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

class ShimLogFile : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-shim-log-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/c-json.log";
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::vector<json> Lines(const std::string& path) {
    auto text = read_file(path);
    EXPECT_TRUE(text) << path;
    std::vector<json> out;
    std::istringstream in(text ? *text : "");
    for (std::string line; std::getline(in, line);) out.push_back(json::parse(line));
    return out;
  }

  std::string dir_, path_;
};

TEST_F(ShimLogFile, CutsLinesAndKeepsStreamsApart) {
  auto log = JsonFileLog::open(path_, 0, 1);
  ASSERT_TRUE(log) << log.error().what();
  log->write(false, "one\ntw");
  log->write(true, "err");
  log->write(false, "o\nthree");
  log->write(true, "\n");
  auto lines = Lines(path_);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0]["log"], "one\n");
  EXPECT_EQ(lines[1]["log"], "two\n");
  EXPECT_EQ(lines[1]["stream"], "stdout");
  EXPECT_EQ(lines[2]["log"], "err\n");
  EXPECT_EQ(lines[2]["stream"], "stderr");
  log->flush();  // the stream ended: the open line goes out without a newline
  lines = Lines(path_);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[3]["log"], "three");
  EXPECT_TRUE(lines[3]["time"].is_string());
}

TEST_F(ShimLogFile, LongLineWithoutNewlineIsWrittenInPartsOf16KiB) {
  auto log = JsonFileLog::open(path_, 0, 1);
  ASSERT_TRUE(log);
  log->write(false, std::string(40000, 'a'));
  auto lines = Lines(path_);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["log"].get<std::string>().size(), JsonFileLog::kMaxLine);
  log->flush();
  lines = Lines(path_);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[2]["log"].get<std::string>().size(), 40000 - 2 * JsonFileLog::kMaxLine);
}

TEST_F(ShimLogFile, RotatesIntoNumberedFilesAndDropsTheOldest) {
  auto log = JsonFileLog::open(path_, 500, 3);
  ASSERT_TRUE(log);
  for (int i = 0; i < 100; i++) log->write(false, "line " + std::to_string(i) + "\n");
  EXPECT_TRUE(fs::exists(path_ + ".1"));
  EXPECT_TRUE(fs::exists(path_ + ".2"));
  EXPECT_FALSE(fs::exists(path_ + ".3"));
  // Oldest first: .2, .1, then the current file; numbers keep increasing and end at 99.
  int last = -1;
  for (std::string p : {path_ + ".2", path_ + ".1", path_}) {
    auto lines = Lines(p);
    ASSERT_FALSE(lines.empty()) << p;
    // A file is rotated once it has reached max_size: it exceeds it by less than one line.
    EXPECT_LT(fs::file_size(p), 500u + 100u) << p;
    for (auto& l : lines) {
      int n = std::stoi(l["log"].get<std::string>().substr(5));
      EXPECT_EQ(n, last < 0 ? n : last + 1);
      last = n;
    }
  }
  EXPECT_EQ(last, 99);
}

TEST_F(ShimLogFile, OneFileIsTruncatedInsteadOfRotated) {
  auto log = JsonFileLog::open(path_, 300, 1);
  ASSERT_TRUE(log);
  for (int i = 0; i < 50; i++) log->write(false, "line " + std::to_string(i) + "\n");
  EXPECT_FALSE(fs::exists(path_ + ".1"));
  EXPECT_LT(fs::file_size(path_), 400u);
  auto lines = Lines(path_);
  EXPECT_EQ(lines.back()["log"], "line 49\n");
}

}  // namespace
}  // namespace berth::shim
