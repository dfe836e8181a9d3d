// Running the OCI runtime's command line from the shim (runc's CLI: berth-runtime, runc, crun),
// and reading back its error message.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "util/fd.h"
#include "util/result.h"

namespace berth::shim {

// The runtime process's stdio. -1: stdin from /dev/null; stdout/stderr into a capture buffer
// (a memfd) returned as RuntimeRun::output.
struct RuntimeStdio {
  int in = -1, out = -1, err = -1;
};

struct RuntimeRun {
  int wait_status = 0;
  std::string output;  // what the runtime wrote to a captured stdout/stderr
  bool ok() const { return wait_status == 0; }
};

class Runtime {
 public:
  Runtime(std::string binary, std::string root, std::vector<std::string> global_args)
      : binary_(std::move(binary)), root_(std::move(root)), global_(std::move(global_args)) {}

  // Runs `<binary> --root <root> <global args> <args>` to completion. The shim is a subreaper
  // and the only reaper of its children: any other child that exits meanwhile is reaped too and
  // handed to `on_other_exit` (pid, wait status).
  Result<RuntimeRun> run(const std::vector<std::string>& args, RuntimeStdio stdio,
                         const std::function<void(pid_t, int)>& on_other_exit);

  const std::string& binary() const { return binary_; }

 private:
  std::string binary_, root_;
  std::vector<std::string> global_;
};

// The runtime's error message from what it printed: the last line that says something, with
// runc's logrus text (level=error msg="...") or JSON ({"msg": ...}) form decoded. Falls back to
// "exit status N" when it printed nothing.
std::string runtime_error_text(std::string_view output, int wait_status);

}  // namespace berth::shim
