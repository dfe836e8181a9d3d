// The container's log in docker's json-file format, written by the shim so that logs keep
// flowing while berthd is down.
//
// Like docker's copier, output is cut into lines at '\n' (the newline stays in "log"); a line
// still open is kept until its newline comes, it reaches 16 KiB (then it is written as a
// partial message without the newline) or the stream ends. Rotation is docker's: before a
// write, a file that has reached max_size becomes <path>.1 (and .1 becomes .2 ... up to
// .(max_files-1), the oldest dropped); with max_files 1 the file is truncated instead.
#pragma once

#include <string>
#include <string_view>

#include "util/fd.h"
#include "util/result.h"

namespace berth::shim {

class JsonFileLog {
 public:
  static constexpr size_t kMaxLine = 16 * 1024;

  // Opens (appends to) `path`, mode 0640. max_size 0 = no rotation.
  static Result<JsonFileLog> open(const std::string& path, uint64_t max_size, int max_files);
  JsonFileLog() = default;

  bool enabled() const { return fd_.valid(); }
  // Output read from the container's stdout (stderr = false) or stderr.
  void write(bool err, std::string_view data);
  // Writes any open lines (the streams have ended).
  void flush();

 private:
  void emit(bool err, std::string_view line);
  void rotate_if_full();
  void rotate();

  UniqueFd fd_;
  std::string path_;
  uint64_t max_size_ = 0;
  int max_files_ = 1;
  uint64_t size_ = 0;
  std::string open_line_[2];  // stdout, stderr
  bool failed_ = false;       // a write error was logged once
};

}  // namespace berth::shim
