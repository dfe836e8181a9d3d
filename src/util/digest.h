// Content digests ("sha256:<64 hex>", OCI image-spec "Digests") and streaming hashing.
//
// Lives in its own library target (berth_digest) so that berth-runtime, a static-pie binary,
// never links OpenSSL.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "util/result.h"

namespace berth {

// A validated digest. Only the algorithms registered by the image-spec are accepted
// (sha256, sha512) and the encoded part must be lower-case hex of the right length, so a
// Digest is always safe to use as a file name.
class Digest {
 public:
  Digest() = default;
  // Errors name the input: `invalid digest "sha256:xyz": ...`.
  static Result<Digest> parse(std::string_view s);

  bool empty() const { return str_.empty(); }
  std::string_view algorithm() const;  // "sha256"
  std::string_view hex() const;        // the encoded part
  const std::string& str() const { return str_; }

  friend bool operator==(const Digest& a, const Digest& b) { return a.str_ == b.str_; }
  friend auto operator<=>(const Digest& a, const Digest& b) { return a.str_ <=> b.str_; }

 private:
  explicit Digest(std::string s) : str_(std::move(s)) {}
  friend class Hasher;
  std::string str_;
};

// Incremental hash; sha256 unless told otherwise.
class Hasher {
 public:
  explicit Hasher(std::string_view algorithm = "sha256");
  ~Hasher();
  Hasher(Hasher&&) noexcept;
  Hasher& operator=(Hasher&&) noexcept;
  void update(const void* data, size_t len);
  void update(std::string_view s) { update(s.data(), s.size()); }
  // The digest of everything fed so far; the hasher is then reset.
  Digest finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

Digest sha256_of(std::string_view data);

}  // namespace berth
