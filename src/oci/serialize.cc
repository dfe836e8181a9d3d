// oci::Spec -> config.json text, in the field order of the runtime-spec's Go types (what
// `runc spec` prints). Absent optionals, empty strings, empty lists and false booleans are
// omitted, as Go's `omitempty` does, so parse_spec(to_json(s)) gives back s.
#include <nlohmann/json.hpp>

#include "oci/spec.h"

namespace berth::oci {
namespace {

using ojson = nlohmann::ordered_json;

void put(ojson& j, const char* key, const std::string& v) {
  if (!v.empty()) j[key] = v;
}
void put(ojson& j, const char* key, bool v) {
  if (v) j[key] = true;
}
void put(ojson& j, const char* key, const std::vector<std::string>& v) {
  if (!v.empty()) j[key] = v;
}
template <class T>
void put(ojson& j, const char* key, const std::optional<T>& v) {
  if (v) j[key] = *v;
}
void put(ojson& j, const char* key, const std::map<std::string, std::string>& v) {
  if (v.empty()) return;
  ojson m = ojson::object();
  for (const auto& [k, val] : v) m[k] = val;
  j[key] = std::move(m);
}

template <class T, class F>
void put_list(ojson& j, const char* key, const std::vector<T>& v, F&& to) {
  if (v.empty()) return;
  ojson a = ojson::array();
  for (const T& x : v) a.push_back(to(x));
  j[key] = std::move(a);
}

ojson id_mapping(const IdMapping& m) {
  return ojson{{"containerID", m.container_id}, {"hostID", m.host_id}, {"size", m.size}};
}

ojson process(const Process& p) {
  ojson j = ojson::object();
  put(j, "terminal", p.terminal);
  if (p.console_size)
    j["consoleSize"] = {{"height", p.console_size->height}, {"width", p.console_size->width}};
  ojson user = {{"uid", p.user.uid}, {"gid", p.user.gid}};
  put(user, "umask", p.user.umask);
  if (!p.user.additional_gids.empty()) user["additionalGids"] = p.user.additional_gids;
  put(user, "username", p.user.username);
  j["user"] = std::move(user);
  put(j, "args", p.args);
  put(j, "commandLine", p.command_line);
  put(j, "env", p.env);
  j["cwd"] = p.cwd;
  if (p.capabilities) {
    ojson caps = ojson::object();
    put(caps, "bounding", p.capabilities->bounding);
    put(caps, "effective", p.capabilities->effective);
    put(caps, "inheritable", p.capabilities->inheritable);
    put(caps, "permitted", p.capabilities->permitted);
    put(caps, "ambient", p.capabilities->ambient);
    j["capabilities"] = std::move(caps);
  }
  put_list(j, "rlimits", p.rlimits, [](const Rlimit& r) {
    return ojson{{"type", r.type}, {"hard", r.hard}, {"soft", r.soft}};
  });
  put(j, "noNewPrivileges", p.no_new_privileges);
  put(j, "apparmorProfile", p.apparmor_profile);
  put(j, "oomScoreAdj", p.oom_score_adj);
  if (p.scheduler) {
    const Scheduler& s = *p.scheduler;
    ojson sj = {{"policy", s.policy}};
    put(sj, "nice", s.nice);
    put(sj, "priority", s.priority);
    put(sj, "flags", s.flags);
    put(sj, "runtime", s.runtime);
    put(sj, "deadline", s.deadline);
    put(sj, "period", s.period);
    j["scheduler"] = std::move(sj);
  }
  put(j, "selinuxLabel", p.selinux_label);
  if (p.io_priority)
    j["ioPriority"] = {{"class", p.io_priority->klass}, {"priority", p.io_priority->priority}};
  return j;
}

ojson mount(const Mount& m) {
  ojson j = {{"destination", m.destination}};
  put(j, "type", m.type);
  put(j, "source", m.source);
  put(j, "options", m.options);
  put_list(j, "uidMappings", m.uid_mappings, id_mapping);
  put_list(j, "gidMappings", m.gid_mappings, id_mapping);
  return j;
}

ojson hook(const Hook& h) {
  ojson j = {{"path", h.path}};
  put(j, "args", h.args);
  put(j, "env", h.env);
  put(j, "timeout", h.timeout);
  return j;
}

ojson hooks(const Hooks& h) {
  ojson j = ojson::object();
  put_list(j, "prestart", h.prestart, hook);
  put_list(j, "createRuntime", h.create_runtime, hook);
  put_list(j, "createContainer", h.create_container, hook);
  put_list(j, "startContainer", h.start_container, hook);
  put_list(j, "poststart", h.poststart, hook);
  put_list(j, "poststop", h.poststop, hook);
  return j;
}

ojson throttle(const ThrottleDevice& t) {
  return ojson{{"major", t.major}, {"minor", t.minor}, {"rate", t.rate}};
}

ojson resources(const Resources& r) {
  ojson j = ojson::object();
  put_list(j, "devices", r.devices, [](const DeviceCgroupRule& d) {
    ojson dj = {{"allow", d.allow}};
    put(dj, "type", d.type);
    put(dj, "major", d.major);
    put(dj, "minor", d.minor);
    put(dj, "access", d.access);
    return dj;
  });
  if (r.memory) {
    const Resources::Memory& m = *r.memory;
    ojson mj = ojson::object();
    put(mj, "limit", m.limit);
    put(mj, "reservation", m.reservation);
    put(mj, "swap", m.swap);
    put(mj, "kernel", m.kernel);
    put(mj, "kernelTCP", m.kernel_tcp);
    put(mj, "swappiness", m.swappiness);
    put(mj, "disableOOMKiller", m.disable_oom_killer);
    put(mj, "useHierarchy", m.use_hierarchy);
    put(mj, "checkBeforeUpdate", m.check_before_update);
    j["memory"] = std::move(mj);
  }
  if (r.cpu) {
    const Resources::Cpu& c = *r.cpu;
    ojson cj = ojson::object();
    put(cj, "shares", c.shares);
    put(cj, "quota", c.quota);
    put(cj, "burst", c.burst);
    put(cj, "period", c.period);
    put(cj, "realtimeRuntime", c.realtime_runtime);
    put(cj, "realtimePeriod", c.realtime_period);
    put(cj, "cpus", c.cpus);
    put(cj, "mems", c.mems);
    put(cj, "idle", c.idle);
    j["cpu"] = std::move(cj);
  }
  if (r.pids_limit) j["pids"] = {{"limit", *r.pids_limit}};
  if (r.block_io) {
    const Resources::BlockIo& b = *r.block_io;
    ojson bj = ojson::object();
    put(bj, "weight", b.weight);
    put(bj, "leafWeight", b.leaf_weight);
    put_list(bj, "weightDevice", b.weight_device, [](const WeightDevice& w) {
      ojson wj = {{"major", w.major}, {"minor", w.minor}};
      put(wj, "weight", w.weight);
      put(wj, "leafWeight", w.leaf_weight);
      return wj;
    });
    put_list(bj, "throttleReadBpsDevice", b.throttle_read_bps, throttle);
    put_list(bj, "throttleWriteBpsDevice", b.throttle_write_bps, throttle);
    put_list(bj, "throttleReadIOPSDevice", b.throttle_read_iops, throttle);
    put_list(bj, "throttleWriteIOPSDevice", b.throttle_write_iops, throttle);
    j["blockIO"] = std::move(bj);
  }
  put_list(j, "hugepageLimits", r.hugepage_limits, [](const Resources::HugepageLimit& h) {
    return ojson{{"pageSize", h.page_size}, {"limit", h.limit}};
  });
  if (r.network) {
    ojson nj = ojson::object();
    put(nj, "classID", r.network->class_id);
    put_list(nj, "priorities", r.network->priorities,
             [](const std::pair<std::string, uint32_t>& p) {
               return ojson{{"name", p.first}, {"priority", p.second}};
             });
    j["network"] = std::move(nj);
  }
  if (!r.rdma.empty()) {
    ojson rj = ojson::object();
    for (const auto& [dev, lim] : r.rdma) {
      ojson l = ojson::object();
      put(l, "hcaHandles", lim.hca_handles);
      put(l, "hcaObjects", lim.hca_objects);
      rj[dev] = std::move(l);
    }
    j["rdma"] = std::move(rj);
  }
  put(j, "unified", r.unified);
  return j;
}

ojson seccomp(const Seccomp& s) {
  ojson j = {{"defaultAction", s.default_action}};
  put(j, "defaultErrnoRet", s.default_errno_ret);
  put(j, "architectures", s.architectures);
  put(j, "flags", s.flags);
  put(j, "listenerPath", s.listener_path);
  put(j, "listenerMetadata", s.listener_metadata);
  put_list(j, "syscalls", s.syscalls, [](const SeccompSyscall& sc) {
    ojson sj = {{"names", sc.names}, {"action", sc.action}};
    put(sj, "errnoRet", sc.errno_ret);
    put_list(sj, "args", sc.args, [](const SeccompArg& a) {
      ojson aj = {{"index", a.index}, {"value", a.value}};
      if (a.value_two) aj["valueTwo"] = a.value_two;
      aj["op"] = a.op;
      return aj;
    });
    return sj;
  });
  return j;
}

ojson linux_section(const Linux& l) {
  ojson j = ojson::object();
  put_list(j, "uidMappings", l.uid_mappings, id_mapping);
  put_list(j, "gidMappings", l.gid_mappings, id_mapping);
  put(j, "sysctl", l.sysctl);
  if (l.resources) j["resources"] = resources(*l.resources);
  put(j, "cgroupsPath", l.cgroups_path);
  put_list(j, "namespaces", l.namespaces, [](const Namespace& ns) {
    ojson nj = {{"type", json_name(ns.type)}};
    put(nj, "path", ns.path);
    return nj;
  });
  put_list(j, "devices", l.devices, [](const Device& d) {
    ojson dj = {{"path", d.path}, {"type", std::string(1, d.type)}};
    dj["major"] = d.major;
    dj["minor"] = d.minor;
    put(dj, "fileMode", d.file_mode);
    put(dj, "uid", d.uid);
    put(dj, "gid", d.gid);
    return dj;
  });
  if (l.seccomp) j["seccomp"] = seccomp(*l.seccomp);
  put(j, "rootfsPropagation", l.rootfs_propagation);
  put(j, "maskedPaths", l.masked_paths);
  put(j, "readonlyPaths", l.readonly_paths);
  put(j, "mountLabel", l.mount_label);
  if (l.intel_rdt || !l.intel_rdt_clos_id.empty()) {
    ojson rdt = ojson::object();
    put(rdt, "closID", l.intel_rdt_clos_id);
    j["intelRdt"] = std::move(rdt);
  }
  if (l.personality) {
    ojson pj = {{"domain", l.personality->domain}};
    put(pj, "flags", l.personality->flags);
    j["personality"] = std::move(pj);
  }
  if (!l.time_offsets_secs.empty() || !l.time_offsets_nanosecs.empty()) {
    ojson offsets = ojson::object();
    for (const auto& [clock, secs] : l.time_offsets_secs) offsets[clock]["secs"] = secs;
    for (const auto& [clock, ns] : l.time_offsets_nanosecs) offsets[clock]["nanosecs"] = ns;
    j["timeOffsets"] = std::move(offsets);
  }
  return j;
}

}  // namespace

std::string to_json(const Spec& spec, int indent) {
  ojson j = ojson::object();
  j["ociVersion"] = spec.oci_version;
  if (spec.process) j["process"] = process(*spec.process);
  if (!spec.root.path.empty() || spec.root.readonly) {
    ojson root = {{"path", spec.root.path}};
    put(root, "readonly", spec.root.readonly);
    j["root"] = std::move(root);
  }
  put(j, "hostname", spec.hostname);
  put(j, "domainname", spec.domainname);
  put_list(j, "mounts", spec.mounts, mount);
  if (spec.hooks) j["hooks"] = hooks(*spec.hooks);
  put(j, "annotations", spec.annotations);
  if (spec.linux) j["linux"] = linux_section(*spec.linux);
  // A Spec built in code may hold invalid UTF-8; replace it rather than throw.
  return j.dump(indent, ' ', /*ensure_ascii=*/false, ojson::error_handler_t::replace);
}

}  // namespace berth::oci
