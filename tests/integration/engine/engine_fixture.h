// Fixture for the engine integration tests: an Engine on a fresh data root and exec root in a
// temp dir, with a static-busybox image loaded as "busybox:latest", and the real berth-shim and
// berth-runtime from the build. TearDown force-removes what a test left, drops the engine and
// checks that nothing leaked: no shim process for this exec root, no mount under the temp dir,
// no cgroup /berth/<id> of a container the test created.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>

#include "engine/containers.h"
#include "engine/engine.h"
#include "engine/events.h"
#include "util/fd.h"

namespace berth::test {

using nlohmann::json;

struct Output {
  std::string out, err;
};

class EngineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite();
  static void TearDownTestSuite();
  void SetUp() override;
  void TearDown() override;

  engine::ContainerService& containers() { return engine_->containers(); }
  // Opens an engine on the test's roots (recovery runs).
  void open_engine();
  // Drops the engine without stopping containers (as a killed berthd), then opens a new one.
  void reopen_engine();

  // Creates a container from `body` (Image defaults to busybox); fails the test on error.
  std::string create(json body, const std::string& name = "");
  // A socketpair end attached to the container (multiplexed frames unless Tty).
  UniqueFd attach(const std::string& id, bool stdin = false);
  // Reads frames until EOF.
  static Output demux(int fd);
  static std::string read_until_eof(int fd);
  std::string shim_pid_file(const std::string& id) const;
  void expect_no_leaks();

  std::string root_;
  engine::Config config_;
  std::unique_ptr<engine::Engine> engine_;
  std::set<std::string> ids_;  // every container the test created

  static std::string archive_dir_;
};

// Skips when not root or the binaries are missing.
#define BERTH_SKIP_UNLESS_ENGINE()                                              \
  do {                                                                          \
    if (geteuid() != 0) GTEST_SKIP() << "needs root";                           \
    if (access(BERTH_BIN_DIR "/berth-shim", X_OK) != 0)                         \
      GTEST_SKIP() << "berth-shim not built (" BERTH_BIN_DIR "/berth-shim)";    \
    if (access(BERTH_BIN_DIR "/berth-runtime", X_OK) != 0)                      \
      GTEST_SKIP() << "berth-runtime not built";                                \
    if (archive_dir_.empty()) GTEST_SKIP() << "could not build the test image"; \
  } while (0)

}  // namespace berth::test
