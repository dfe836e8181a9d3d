// Re-executing the runtime from a sealed copy of itself (CVE-2019-5736): a process that ends
// up visible inside a container (exec) then has a memfd as its image, which cannot be
// written, instead of the host's berth-runtime binary.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "runtime/container.h"
#include "util/fd.h"

extern char** environ;

namespace berth::runtime {

namespace {
constexpr const char* kSealedMarker = "_BERTH_RUNTIME_SEALED";
}

Result<void> reexec_sealed(char** argv) {
  if (::getenv(kSealedMarker)) {
    ::unsetenv(kSealedMarker);  // not passed on to anything we start
    return ok();
  }
  UniqueFd self(::open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
  if (!self) return Error::sys("open /proc/self/exe");
  struct stat st;
  if (::fstat(self.get(), &st) < 0) return Error::sys("stat /proc/self/exe");
  UniqueFd copy(::memfd_create("berth-runtime", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!copy) return Error::sys("memfd_create");
  off_t left = st.st_size;
  while (left > 0) {
    ssize_t n = ::sendfile(copy.get(), self.get(), nullptr, static_cast<size_t>(left));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Error::sys("copy the runtime binary");
    left -= n;
  }
  if (::fchmod(copy.get(), 0555) < 0 ||
      ::fcntl(copy.get(), F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) <
          0)
    return Error::sys("seal the runtime copy");
  std::string cmdline;
  std::vector<char*> args;
  if (!argv) {  // the command line we were started with
    cmdline = BERTH_TRY(read_file("/proc/self/cmdline", 1 << 20));
    for (size_t i = 0; i < cmdline.size(); i += strlen(&cmdline[i]) + 1)
      args.push_back(&cmdline[i]);
    args.push_back(nullptr);
    argv = args.data();
  }
  ::setenv(kSealedMarker, "1", 1);
  syscall(SYS_execveat, copy.get(), "", argv, environ, AT_EMPTY_PATH);
  int e = errno;
  ::unsetenv(kSealedMarker);
  return Error::from_errno(e, "re-exec from a sealed copy");
}

}  // namespace berth::runtime
