#include "client/openssl.h"

#include <dlfcn.h>

#include <string>

namespace berth::client::ossl {

namespace {
Api g_api;
bool g_loaded = false;
}  // namespace

const Api& api() { return g_api; }

Result<const Api*> load() {
  Api& api = g_api;
  if (g_loaded) return &api;
  // libssl's own dependencies (libcrypto) come with it, and dlsym on its handle finds their
  // symbols too. The handle is kept for the life of the process.
  void* lib = dlopen("libssl.so.3", RTLD_NOW | RTLD_LOCAL);
  if (!lib)
    return Error::unsupported(std::string("TLS needs OpenSSL 3 (libssl.so.3): ") + dlerror());
  std::string missing;
#define BERTH_OPENSSL_RESOLVE(name)                                   \
  api.name = reinterpret_cast<decltype(api.name)>(dlsym(lib, #name)); \
  if (!api.name) missing += (missing.empty() ? "" : ", ") + std::string(#name);
  BERTH_OPENSSL_FUNCTIONS(BERTH_OPENSSL_RESOLVE)
#undef BERTH_OPENSSL_RESOLVE
  if (!missing.empty()) {
    api = Api{};
    dlclose(lib);
    return Error::unsupported("TLS: libssl.so.3 lacks " + missing);
  }
  g_loaded = true;
  return &api;
}

}  // namespace berth::client::ossl
