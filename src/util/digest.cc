#include "util/digest.h"

#include <openssl/evp.h>

#include <cstring>

namespace berth {
namespace {

size_t hex_length(std::string_view algorithm) {
  if (algorithm == "sha256") return 64;
  if (algorithm == "sha512") return 128;
  return 0;
}

const EVP_MD* md_for(std::string_view algorithm) {
  return algorithm == "sha512" ? EVP_sha512() : EVP_sha256();
}

}  // namespace

Result<Digest> Digest::parse(std::string_view s) {
  auto fail = [&](std::string_view why) {
    // The input is untrusted: bounded, and bytes that are not printable ASCII (or a quote)
    // shown as '?' so that a message stays one readable line.
    std::string shown(s.substr(0, 150));
    for (char& c : shown)
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f ||
          c == '"' || c == '\\')
        c = '?';
    if (s.size() > shown.size()) shown += "...";
    return Error::invalid("invalid digest \"" + shown + "\": " + std::string(why));
  };
  size_t colon = s.find(':');
  if (colon == std::string_view::npos) return fail("missing algorithm");
  std::string_view alg = s.substr(0, colon), hex = s.substr(colon + 1);
  size_t want = hex_length(alg);
  if (want == 0) {
    // The image-spec grammar allows other algorithms; berth can verify only these.
    bool well_formed =
        !alg.empty() && alg.size() <= 32 &&
        alg.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789+._-") == std::string_view::npos;
    return fail(well_formed ? "unsupported digest algorithm" : "malformed algorithm");
  }
  if (hex.size() != want) return fail("wrong length for " + std::string(alg));
  if (hex.find_first_not_of("0123456789abcdef") != std::string_view::npos)
    return fail("encoded part must be lower-case hex");
  return Digest(std::string(s));
}

std::string_view Digest::algorithm() const {
  std::string_view s = str_;
  return s.substr(0, s.find(':'));
}

std::string_view Digest::hex() const {
  std::string_view s = str_;
  size_t colon = s.find(':');
  return colon == std::string_view::npos ? std::string_view() : s.substr(colon + 1);
}

struct Hasher::Impl {
  std::string algorithm;
  EVP_MD_CTX* ctx = nullptr;
  ~Impl() { EVP_MD_CTX_free(ctx); }
  void init() { EVP_DigestInit_ex(ctx, md_for(algorithm), nullptr); }
};

Hasher::Hasher(std::string_view algorithm) : impl_(std::make_unique<Impl>()) {
  impl_->algorithm = hex_length(algorithm) ? std::string(algorithm) : "sha256";
  impl_->ctx = EVP_MD_CTX_new();
  impl_->init();
}
Hasher::~Hasher() = default;
Hasher::Hasher(Hasher&&) noexcept = default;
Hasher& Hasher::operator=(Hasher&&) noexcept = default;

void Hasher::update(const void* data, size_t len) { EVP_DigestUpdate(impl_->ctx, data, len); }

Digest Hasher::finish() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(impl_->ctx, md, &len);
  static const char kHex[] = "0123456789abcdef";
  std::string out = impl_->algorithm + ":";
  for (unsigned i = 0; i < len; i++) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  impl_->init();
  return Digest(std::move(out));
}

Digest sha256_of(std::string_view data) {
  Hasher h;
  h.update(data);
  return h.finish();
}

}  // namespace berth
