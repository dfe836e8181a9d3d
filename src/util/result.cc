#include "util/result.h"

#include <cctype>
#include <cstring>

namespace berth {

const char* error_kind_name(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::Unknown: return "unknown";
    case ErrorKind::NotFound: return "not found";
    case ErrorKind::Conflict: return "conflict";
    case ErrorKind::InvalidArgument: return "invalid argument";
    case ErrorKind::PermissionDenied: return "permission denied";
    case ErrorKind::Unsupported: return "unsupported";
    case ErrorKind::Io: return "i/o";
    case ErrorKind::Timeout: return "timeout";
    case ErrorKind::Internal: return "internal";
  }
  return "unknown";
}

static ErrorKind kind_of_errno(int e) {
  switch (e) {
    case ENOENT:
    case ESRCH:
    case ENXIO:
    case ENODEV: return ErrorKind::NotFound;
    case EEXIST:
    case EBUSY:
    case ENOTEMPTY: return ErrorKind::Conflict;
    case EINVAL:
    case ENAMETOOLONG:
    case E2BIG:
    case ERANGE:
    case ENOTDIR:
    case EISDIR:
    case ELOOP: return ErrorKind::InvalidArgument;
    case EPERM:
    case EACCES:
    case EROFS: return ErrorKind::PermissionDenied;
    case ENOSYS:
    case EOPNOTSUPP: return ErrorKind::Unsupported;
    case ETIMEDOUT: return ErrorKind::Timeout;
    default: return ErrorKind::Io;
  }
}

Error Error::from_errno(int errnum, std::string message) {
  return Error(kind_of_errno(errnum), errnum, std::move(message));
}

std::string errno_text(int errnum) {
  char buf[128];
  const char* s = strerror_r(errnum, buf, sizeof buf);  // GNU variant
  std::string out = s;
  if (!out.empty() && std::isupper(static_cast<unsigned char>(out[0])) &&
      !(out.size() > 1 && std::isupper(static_cast<unsigned char>(out[1]))))
    out[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(out[0])));
  return out;
}

std::string Error::what() const {
  if (errno_ == 0) return message_;
  if (message_.empty()) return errno_text(errno_);
  return message_ + ": " + errno_text(errno_);
}

Error& Error::wrap(std::string_view context) & {
  if (context.empty()) return *this;
  if (message_.empty())
    message_ = std::string(context);
  else
    message_ = std::string(context) + ": " + message_;
  return *this;
}

Error&& Error::wrap(std::string_view context) && { return std::move(wrap(context)); }

}  // namespace berth
