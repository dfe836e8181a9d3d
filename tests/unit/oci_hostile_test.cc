// Hostile config.json samples: tests/data/hostile/<name>.json, each with <name>.expect naming
// the step that must reject it and a substring of the error:
//   parse: <substring>      parse_spec fails
//   validate: <substring>   parse_spec succeeds, validate fails
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "oci/spec.h"

namespace berth::oci {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

TEST(OciHostile, EverySampleIsRejectedWithItsMessage) {
  fs::path dir = fs::path(BERTH_TEST_DATA) / "hostile";
  std::vector<fs::path> samples;
  for (const fs::directory_entry& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".json") samples.push_back(e.path());
  std::sort(samples.begin(), samples.end());
  ASSERT_GE(samples.size(), 20u) << "hostile samples missing under " << dir;

  for (const fs::path& sample : samples) {
    SCOPED_TRACE(sample.filename().string());
    fs::path expect_file = sample;
    expect_file.replace_extension(".expect");
    ASSERT_TRUE(fs::exists(expect_file)) << "no .expect for " << sample;
    std::string expect = trim(slurp(expect_file));
    size_t colon = expect.find(": ");
    ASSERT_NE(colon, std::string::npos) << expect;
    std::string step = expect.substr(0, colon);
    std::string substring = expect.substr(colon + 2);
    ASSERT_TRUE(step == "parse" || step == "validate") << expect;

    Result<Spec> spec = parse_spec(slurp(sample));
    if (step == "parse") {
      ASSERT_FALSE(spec) << "parsed, but should fail with: " << substring;
      EXPECT_NE(spec.error().message().find(substring), std::string::npos)
          << "got: " << spec.error().message() << "\nwant: " << substring;
      EXPECT_LT(spec.error().message().size(), 600u);
      continue;
    }
    ASSERT_TRUE(spec) << spec.error().what();
    Result<void> r = validate(*spec);
    ASSERT_FALSE(r) << "validated, but should fail with: " << substring;
    EXPECT_NE(r.error().message().find(substring), std::string::npos)
        << "got: " << r.error().message() << "\nwant: " << substring;
    // Whatever was parsed can be written back out and read again.
    EXPECT_TRUE(parse_spec(to_json(*spec)));
  }
}

// Every .expect has its sample (a typo in a file name must not silently drop a case).
TEST(OciHostile, NoOrphanExpectations) {
  fs::path dir = fs::path(BERTH_TEST_DATA) / "hostile";
  for (const fs::directory_entry& e : fs::directory_iterator(dir)) {
    if (e.path().extension() != ".expect") continue;
    fs::path sample = e.path();
    sample.replace_extension(".json");
    EXPECT_TRUE(fs::exists(sample)) << e.path();
  }
}

}  // namespace
}  // namespace berth::oci
