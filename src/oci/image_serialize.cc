// oci::image types -> canonical JSON: keys sorted (nlohmann's object is a std::map), no
// whitespace, empty optional fields left out. What is written parses back to equal values.
#include <nlohmann/json.hpp>

#include "oci/image.h"

namespace berth::oci::image {
namespace {

using json = nlohmann::json;

std::string dump(const json& j) {
  // Strings that came through the parsers are valid UTF-8; anything else is replaced rather
  // than thrown on.
  return j.dump(-1, ' ', /*ensure_ascii=*/false, json::error_handler_t::replace);
}

json string_list(const std::vector<std::string>& v) {
  json a = json::array();
  for (const std::string& s : v) a.push_back(s);
  return a;
}

json string_map(const std::map<std::string, std::string>& m) {
  json o = json::object();
  for (const auto& [k, v] : m) o[k] = v;
  return o;
}

// Docker's sets: {"80/tcp": {}}.
json key_set(const std::vector<std::string>& keys) {
  json o = json::object();
  for (const std::string& k : keys) o[k] = json::object();
  return o;
}

void put_string(json& o, const char* key, const std::string& v) {
  if (!v.empty()) o[key] = v;
}

json to_json(const Platform& p) {
  json o = json::object();
  o["architecture"] = p.architecture;
  o["os"] = p.os;
  put_string(o, "os.version", p.os_version);
  if (!p.os_features.empty()) o["os.features"] = string_list(p.os_features);
  put_string(o, "variant", p.variant);
  return o;
}

json to_json(const Descriptor& d) {
  json o = json::object();
  o["mediaType"] = d.media_type;
  o["digest"] = d.digest.str();
  o["size"] = d.size;
  if (!d.urls.empty()) o["urls"] = string_list(d.urls);
  if (!d.annotations.empty()) o["annotations"] = string_map(d.annotations);
  if (d.platform) o["platform"] = to_json(*d.platform);
  put_string(o, "artifactType", d.artifact_type);
  return o;
}

json descriptor_list(const std::vector<Descriptor>& v) {
  json a = json::array();
  for (const Descriptor& d : v) a.push_back(to_json(d));
  return a;
}

json to_json(const HealthCheck& h) {
  json o = json::object();
  if (!h.test.empty()) o["Test"] = string_list(h.test);
  if (h.interval_ns) o["Interval"] = h.interval_ns;
  if (h.timeout_ns) o["Timeout"] = h.timeout_ns;
  if (h.start_period_ns) o["StartPeriod"] = h.start_period_ns;
  if (h.start_interval_ns) o["StartInterval"] = h.start_interval_ns;
  if (h.retries) o["Retries"] = h.retries;
  return o;
}

json to_json(const ContainerConfig& c) {
  json o = json::object();
  put_string(o, "User", c.user);
  if (!c.exposed_ports.empty()) o["ExposedPorts"] = key_set(c.exposed_ports);
  if (!c.env.empty()) o["Env"] = string_list(c.env);
  // null and [] differ (an empty Entrypoint resets the base image's), so [] is written.
  if (c.entrypoint) o["Entrypoint"] = string_list(*c.entrypoint);
  if (c.cmd) o["Cmd"] = string_list(*c.cmd);
  if (!c.volumes.empty()) o["Volumes"] = key_set(c.volumes);
  put_string(o, "WorkingDir", c.working_dir);
  if (!c.labels.empty()) o["Labels"] = string_map(c.labels);
  put_string(o, "StopSignal", c.stop_signal);
  if (c.healthcheck) o["Healthcheck"] = to_json(*c.healthcheck);
  if (!c.shell.empty()) o["Shell"] = string_list(c.shell);
  if (c.args_escaped) o["ArgsEscaped"] = true;
  return o;
}

json to_json(const History& h) {
  json o = json::object();
  put_string(o, "created", h.created);
  put_string(o, "created_by", h.created_by);
  put_string(o, "author", h.author);
  put_string(o, "comment", h.comment);
  if (h.empty_layer) o["empty_layer"] = true;
  return o;
}

}  // namespace

std::string serialize(const Descriptor& d) { return dump(to_json(d)); }

std::string serialize(const Manifest& m) {
  json o = json::object();
  o["schemaVersion"] = m.schema_version;
  put_string(o, "mediaType", m.media_type);
  put_string(o, "artifactType", m.artifact_type);
  o["config"] = to_json(m.config);
  o["layers"] = descriptor_list(m.layers);
  if (m.subject) o["subject"] = to_json(*m.subject);
  if (!m.annotations.empty()) o["annotations"] = string_map(m.annotations);
  return dump(o);
}

std::string serialize(const Index& i) {
  json o = json::object();
  o["schemaVersion"] = i.schema_version;
  put_string(o, "mediaType", i.media_type);
  o["manifests"] = descriptor_list(i.manifests);
  if (i.subject) o["subject"] = to_json(*i.subject);
  if (!i.annotations.empty()) o["annotations"] = string_map(i.annotations);
  return dump(o);
}

std::string serialize(const ImageConfig& c) {
  json o = json::object();
  put_string(o, "created", c.created);
  put_string(o, "author", c.author);
  put_string(o, "architecture", c.architecture);
  put_string(o, "os", c.os);
  put_string(o, "variant", c.variant);
  put_string(o, "os.version", c.os_version);
  if (!c.os_features.empty()) o["os.features"] = string_list(c.os_features);
  json config = to_json(c.config);
  if (!config.empty()) o["config"] = std::move(config);
  json diff_ids = json::array();
  for (const Digest& d : c.diff_ids) diff_ids.push_back(d.str());
  o["rootfs"] = {{"type", c.rootfs_type.empty() ? std::string("layers") : c.rootfs_type},
                 {"diff_ids", std::move(diff_ids)}};
  if (!c.history.empty()) {
    json history = json::array();
    for (const History& h : c.history) history.push_back(to_json(h));
    o["history"] = std::move(history);
  }
  return dump(o);
}

}  // namespace berth::oci::image
