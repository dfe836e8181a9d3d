#include "shim/logfile.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shim/encode.h"
#include "util/log.h"

namespace berth::shim {

Result<JsonFileLog> JsonFileLog::open(const std::string& path, uint64_t max_size, int max_files) {
  JsonFileLog l;
  l.fd_.reset(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640));
  if (!l.fd_) return Error::sys("open log " + path);
  struct stat st;
  if (::fstat(l.fd_.get(), &st) == 0) l.size_ = static_cast<uint64_t>(st.st_size);
  l.path_ = path;
  l.max_size_ = max_size;
  l.max_files_ = max_files < 1 ? 1 : max_files;
  return l;
}

void JsonFileLog::write(bool err, std::string_view data) {
  if (!enabled()) return;
  std::string& open = open_line_[err ? 1 : 0];
  while (!data.empty()) {
    size_t nl = data.find('\n');
    if (nl == std::string_view::npos) {
      size_t room = kMaxLine - open.size();
      if (data.size() < room) {
        open.append(data);
        return;
      }
      open.append(data.substr(0, room));  // a full buffer without newline: a partial message
      data.remove_prefix(room);
      emit(err, open);
      open.clear();
      continue;
    }
    std::string_view line = data.substr(0, nl + 1);
    data.remove_prefix(nl + 1);
    if (open.empty()) {
      emit(err, line);
    } else {
      open.append(line);
      emit(err, open);
      open.clear();
    }
  }
}

void JsonFileLog::flush() {
  for (int i = 0; i < 2; i++) {
    if (!open_line_[i].empty()) emit(i == 1, open_line_[i]);
    open_line_[i].clear();
    open_line_[i].shrink_to_fit();
  }
}

void JsonFileLog::emit(bool err, std::string_view line) {
  std::string text = log_line(line, err ? "stderr" : "stdout", now_time());
  rotate_if_full();
  auto r = write_all(fd_.get(), text);
  if (!r) {
    if (!failed_) log::error("container log " + path_ + ": " + r.error().what());
    failed_ = true;
    return;
  }
  size_ += text.size();
}

void JsonFileLog::rotate_if_full() {
  if (max_size_ == 0 || size_ < max_size_) return;
  rotate();
}

void JsonFileLog::rotate() {
  if (max_files_ > 1) {
    std::string oldest = path_ + "." + std::to_string(max_files_ - 1);
    ::unlink(oldest.c_str());
    for (int i = max_files_ - 2; i >= 1; i--) {
      std::string from = path_ + "." + std::to_string(i);
      ::rename(from.c_str(), (path_ + "." + std::to_string(i + 1)).c_str());
    }
    if (::rename(path_.c_str(), (path_ + ".1").c_str()) < 0) {
      log::error("rotate " + path_ + ": " + errno_text(errno));
      return;
    }
    UniqueFd fd(
        ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640));
    if (!fd) {
      log::error("reopen " + path_ + ": " + errno_text(errno));
      return;
    }
    fd_ = std::move(fd);
  } else if (::ftruncate(fd_.get(), 0) < 0) {
    log::error("truncate " + path_ + ": " + errno_text(errno));
    return;
  }
  size_ = 0;
}

}  // namespace berth::shim
