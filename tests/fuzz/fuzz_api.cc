// libFuzzer target for Docker API request bodies and queries that berthd parses before it
// touches anything (src/engine/container_spec.cc, src/api/json_util.cc): the input is a
// container create body (docker's ContainerConfig with HostConfig); its HostConfig goes
// through validate_host_config, then apply_host_config onto the default spec — without Binds
// and Mounts, whose sources are created on the host — and the input as a whole is also a
// `filters` query and a wait condition. Besides the sanitizers it checks that every error has
// a one-line, bounded message.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "api/json_util.h"
#include "engine/containers.h"
#include "engine/containers_internal.h"
#include "engine/engine.h"
#include "oci/spec.h"

namespace {

void check_error(const berth::Error& e) {
  const std::string& m = e.message();
  if (m.empty() || m.size() > 4096 || m.find('\n') != std::string::npos) {
    std::fprintf(stderr, "fuzz_api: bad error message: %s\n", m.substr(0, 4096).c_str());
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto f = berth::api::parse_filters(in); !f) check_error(f.error());
  if (auto w = berth::engine::parse_wait_condition(in); !w) check_error(w.error());

  nlohmann::json body = nlohmann::json::parse(in, nullptr, false);
  if (!body.is_object()) return 0;
  nlohmann::json hc = body.contains("HostConfig") ? body["HostConfig"] : nlohmann::json::object();
  if (!hc.is_object()) return 0;
  berth::engine::Config config;
  config.runtimes = {{"berth", "/nonexistent/berth-runtime"}};
  if (auto v = berth::engine::validate_host_config(hc, config); !v) {
    check_error(v.error());
    return 0;
  }
  hc.erase("Binds");
  hc.erase("Mounts");
  berth::oci::Spec spec = berth::oci::default_spec(false);
  nlohmann::json mounts = nlohmann::json::array();
  berth::engine::SpecContext ctx{"0123456789abcdef", "/nonexistent/containers/x", "/nonexistent",
                                 false};
  std::vector<berth::engine::HostDir> dirs;
  if (auto r = berth::engine::apply_host_config(hc, body, ctx, spec, mounts, dirs); !r)
    check_error(r.error());
  return 0;
}
