#include "client/stdcopy.h"

namespace berth::client {

Result<void> StdcopyDemuxer::feed(std::string_view data) {
  while (!data.empty()) {
    if (left_ == 0) {
      size_t take = std::min(data.size(), sizeof(header_) - header_len_);
      for (size_t i = 0; i < take; i++)
        header_[header_len_ + i] = static_cast<unsigned char>(data[i]);
      header_len_ += take;
      data.remove_prefix(take);
      if (header_len_ < sizeof(header_)) return ok();
      header_len_ = 0;
      stream_ = header_[0];
      if (stream_ > 3) {
        return Error::invalid("Unrecognized input header: " + std::to_string(stream_));
      }
      left_ = (uint32_t{header_[4]} << 24) | (uint32_t{header_[5]} << 16) |
              (uint32_t{header_[6]} << 8) | uint32_t{header_[7]};
      if (left_ == 0 && stream_ == 3) return Error::internal("error from daemon in stream: ");
      continue;
    }
    size_t take = std::min<size_t>(data.size(), left_);
    std::string_view piece = data.substr(0, take);
    data.remove_prefix(take);
    left_ -= static_cast<uint32_t>(take);
    if (stream_ == 3) {
      system_error_.append(piece);
      if (left_ == 0) return Error::internal("error from daemon in stream: " + system_error_);
      continue;
    }
    BERTH_TRY(stream_ == 2 ? err_(piece) : out_(piece));
  }
  return ok();
}

std::string stdcopy_frame(int stream, std::string_view payload) {
  std::string out(8, '\0');
  out[0] = static_cast<char>(stream);
  uint32_t n = static_cast<uint32_t>(payload.size());
  out[4] = static_cast<char>(n >> 24);
  out[5] = static_cast<char>(n >> 16);
  out[6] = static_cast<char>(n >> 8);
  out[7] = static_cast<char>(n);
  out.append(payload);
  return out;
}

}  // namespace berth::client
