// The v2 device controller: rule list -> eBPF instructions -> BPF_PROG_LOAD -> BPF_PROG_ATTACH.
#include "runtime/cgroup/devices_bpf.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "util/strings.h"

namespace berth::runtime::cgroup {
namespace {

// ---- a tiny assembler: instructions plus forward jumps to labels patched at the end ----

class Assembler {
 public:
  int new_label() {
    labels_.push_back(-1);
    return static_cast<int>(labels_.size()) - 1;
  }
  void bind(int label) { labels_[static_cast<size_t>(label)] = static_cast<int>(code_.size()); }
  bool used(int label) const {
    for (const Fixup& f : fixups_)
      if (f.label == label) return true;
    return false;
  }

  void emit(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
    bpf_insn i;
    std::memset(&i, 0, sizeof i);
    i.code = code;
    i.dst_reg = dst & 0xf;
    i.src_reg = src & 0xf;
    i.off = off;
    i.imm = imm;
    code_.push_back(i);
  }
  // A conditional or unconditional jump to `label`.
  void jump(uint8_t code, uint8_t dst, uint8_t src, int32_t imm, int label) {
    fixups_.push_back({code_.size(), label});
    emit(code, dst, src, 0, imm);
  }
  // dst = 64-bit immediate (two instruction slots).
  void load_imm64(uint8_t dst, uint64_t v) {
    emit(BPF_LD | BPF_DW | BPF_IMM, dst, 0, 0, static_cast<int32_t>(v & 0xffffffffu));
    emit(0, 0, 0, 0, static_cast<int32_t>(v >> 32));
  }

  std::vector<bpf_insn> finish() {
    for (const Fixup& f : fixups_) {
      int target = labels_[static_cast<size_t>(f.label)];
      code_[f.at].off = static_cast<int16_t>(target - static_cast<int>(f.at) - 1);
    }
    return std::move(code_);
  }

 private:
  struct Fixup {
    size_t at;
    int label;
  };
  std::vector<bpf_insn> code_;
  std::vector<int> labels_;
  std::vector<Fixup> fixups_;
};

// Registers of the program (r1 holds the context on entry, then serves as scratch).
constexpr uint8_t R0 = 0, R1 = 1, R2_TYPE = 2, R3_ACCESS = 3, R4_MAJOR = 4, R5_MINOR = 5;

bool matches_all_devices(const DeviceRule& r) {
  return r.type == 'a' && r.major < 0 && r.minor < 0;
}

// if (reg != value) goto label; values above INT32_MAX go through a 64-bit immediate, since a
// 32-bit immediate is sign-extended in the comparison.
void jump_if_not_equal(Assembler& a, uint8_t reg, int64_t value, int label) {
  if (value <= INT32_MAX) {
    a.jump(BPF_JMP | BPF_JNE | BPF_K, reg, 0, static_cast<int32_t>(value), label);
  } else {
    a.load_imm64(R1, static_cast<uint64_t>(value));
    a.jump(BPF_JMP | BPF_JNE | BPF_X, reg, R1, 0, label);
  }
}

// The chain for one access bit: the rules naming it, last first; the first that matches the
// device decides. Returns after an unconditional rule (the rest could never be reached).
void emit_bit_chain(Assembler& a, const std::vector<DeviceRule>& rules, unsigned bit,
                    int allowed_label, int deny_label) {
  for (auto it = rules.rbegin(); it != rules.rend(); ++it) {
    const DeviceRule& r = *it;
    if (!(r.access & bit)) continue;
    int target = r.allow ? allowed_label : deny_label;
    if (matches_all_devices(r)) {
      a.jump(BPF_JMP | BPF_JA, 0, 0, 0, target);
      return;
    }
    int next_rule = a.new_label();
    if (r.type != 'a')
      a.jump(BPF_JMP | BPF_JNE | BPF_K, R2_TYPE, 0,
             r.type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR, next_rule);
    if (r.major >= 0) jump_if_not_equal(a, R4_MAJOR, r.major, next_rule);
    if (r.minor >= 0) jump_if_not_equal(a, R5_MINOR, r.minor, next_rule);
    a.jump(BPF_JMP | BPF_JA, 0, 0, 0, target);
    a.bind(next_rule);
  }
  a.jump(BPF_JMP | BPF_JA, 0, 0, 0, deny_label);  // no rule names this bit for the device
}

long bpf(int cmd, union bpf_attr* attr) { return ::syscall(SYS_bpf, cmd, attr, sizeof *attr); }

uint64_t ptr(const void* p) { return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p)); }

Result<std::vector<uint32_t>> attached_program_ids(int cgroup_fd) {
  std::vector<uint32_t> ids(64);
  for (int attempt = 0; attempt < 8; ++attempt) {
    union bpf_attr attr;
    std::memset(&attr, 0, sizeof attr);
    attr.query.target_fd = static_cast<uint32_t>(cgroup_fd);
    attr.query.attach_type = BPF_CGROUP_DEVICE;
    attr.query.prog_ids = ptr(ids.data());
    attr.query.prog_cnt = static_cast<uint32_t>(ids.size());
    if (bpf(BPF_PROG_QUERY, &attr) == 0) {
      ids.resize(attr.query.prog_cnt);
      return ids;
    }
    if (errno != ENOSPC) return Error::sys("BPF_PROG_QUERY (BPF_CGROUP_DEVICE)");
    ids.resize(attr.query.prog_cnt + 16);
  }
  return Error::internal("BPF_PROG_QUERY (BPF_CGROUP_DEVICE): the program list keeps growing");
}

}  // namespace

Result<std::vector<DeviceRule>> normalize_device_rules(
    const std::vector<oci::DeviceCgroupRule>& rules) {
  std::vector<DeviceRule> out;
  out.reserve(rules.size());
  for (size_t i = 0; i < rules.size(); ++i) {
    const oci::DeviceCgroupRule& in = rules[i];
    std::string field = "linux.resources.devices[" + std::to_string(i) + "]";
    DeviceRule r;
    r.allow = in.allow;
    if (in.type.empty() || in.type == "a")
      r.type = 'a';
    else if (in.type == "b" || in.type == "c")
      r.type = in.type[0];
    else
      return Error::invalid(field + ".type: " + quoted(in.type) + " is not one of a, b, c");
    for (auto [name, v, dst] :
         {std::tuple{"major", in.major, &r.major}, std::tuple{"minor", in.minor, &r.minor}}) {
      if (v && *v > static_cast<int64_t>(UINT32_MAX))
        return Error::invalid(field + "." + name + ": " + std::to_string(*v) + " is out of range");
      *dst = v && *v >= 0 ? *v : -1;  // absent or negative (runc's -1): any
    }
    std::string access = in.access.empty() ? "rwm" : in.access;
    for (char c : access) {
      switch (c) {
        case 'r': r.access |= kDevRead; break;
        case 'w': r.access |= kDevWrite; break;
        case 'm': r.access |= kDevMknod; break;
        default:
          return Error::invalid(field + ".access: " + quoted(in.access) +
                                " is not a combination of r, w and m");
      }
    }
    out.push_back(r);
  }
  return out;
}

bool device_access_allowed(const std::vector<DeviceRule>& rules, char type, uint32_t major,
                           uint32_t minor, unsigned access) {
  for (unsigned bit : {kDevMknod, kDevRead, kDevWrite}) {
    if (!(access & bit)) continue;
    bool allowed = false;
    for (auto it = rules.rbegin(); it != rules.rend(); ++it) {
      const DeviceRule& r = *it;
      if (!(r.access & bit)) continue;
      if (r.type != 'a' && r.type != type) continue;
      if (r.major >= 0 && r.major != major) continue;
      if (r.minor >= 0 && r.minor != minor) continue;
      allowed = r.allow;
      break;
    }
    if (!allowed) return false;
  }
  return true;
}

std::vector<bpf_insn> build_device_program(const std::vector<DeviceRule>& rules) {
  Assembler a;
  // struct bpf_cgroup_dev_ctx { u32 access_type (access << 16 | type); u32 major, minor; }
  a.emit(BPF_LDX | BPF_MEM | BPF_W, R2_TYPE, R1, 0, 0);
  a.emit(BPF_ALU | BPF_AND | BPF_K, R2_TYPE, 0, 0, 0xffff);
  a.emit(BPF_LDX | BPF_MEM | BPF_W, R3_ACCESS, R1, 0, 0);
  a.emit(BPF_ALU | BPF_RSH | BPF_K, R3_ACCESS, 0, 0, 16);
  a.emit(BPF_LDX | BPF_MEM | BPF_W, R4_MAJOR, R1, 4, 0);
  a.emit(BPF_LDX | BPF_MEM | BPF_W, R5_MINOR, R1, 8, 0);
  int deny = a.new_label();
  for (unsigned bit : {kDevMknod, kDevRead, kDevWrite}) {
    int next_bit = a.new_label();
    // if (!(access & bit)) goto next_bit
    a.emit(BPF_ALU | BPF_MOV | BPF_X, R1, R3_ACCESS, 0, 0);
    a.emit(BPF_ALU | BPF_AND | BPF_K, R1, 0, 0, static_cast<int32_t>(bit));
    a.jump(BPF_JMP | BPF_JEQ | BPF_K, R1, 0, 0, next_bit);
    emit_bit_chain(a, rules, bit, next_bit, deny);
    a.bind(next_bit);
  }
  a.emit(BPF_ALU | BPF_MOV | BPF_K, R0, 0, 0, 1);
  a.emit(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
  if (a.used(deny)) {  // the verifier rejects unreachable instructions
    a.bind(deny);
    a.emit(BPF_ALU | BPF_MOV | BPF_K, R0, 0, 0, 0);
    a.emit(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
  }
  return a.finish();
}

Result<UniqueFd> load_device_program(const std::vector<bpf_insn>& program) {
  static const char kLicense[] = "Apache-2.0";
  auto load = [&](char* log, uint32_t log_size) {
    union bpf_attr attr;
    std::memset(&attr, 0, sizeof attr);
    attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    attr.insns = ptr(program.data());
    attr.insn_cnt = static_cast<uint32_t>(program.size());
    attr.license = ptr(kLicense);
    std::strncpy(attr.prog_name, "berth_devices", sizeof attr.prog_name - 1);
    if (log) {
      attr.log_buf = ptr(log);
      attr.log_size = log_size;
      attr.log_level = 1;
    }
    return static_cast<int>(bpf(BPF_PROG_LOAD, &attr));
  };
  int fd = load(nullptr, 0);
  if (fd >= 0) return UniqueFd(fd);
  int err = errno;
  std::string msg = "BPF_PROG_LOAD (" + std::to_string(program.size()) + " instructions)";
  if (err == EINVAL || err == EACCES) {  // the verifier said no: say why
    std::vector<char> log(1 << 16);
    if (load(log.data(), static_cast<uint32_t>(log.size())) < 0 && log[0]) {
      std::string text(log.data());
      while (!text.empty() && text.back() == '\n') text.pop_back();
      size_t last = text.rfind('\n');
      msg += " [verifier: " + (last == std::string::npos ? text : text.substr(last + 1)) + "]";
    }
  }
  return Error::from_errno(err, msg);
}

Result<void> attach_device_program(int cgroup_fd, int prog_fd) {
  std::vector<uint32_t> old_ids = BERTH_TRY(attached_program_ids(cgroup_fd));
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.target_fd = static_cast<uint32_t>(cgroup_fd);
  attr.attach_bpf_fd = static_cast<uint32_t>(prog_fd);
  attr.attach_type = BPF_CGROUP_DEVICE;
  attr.attach_flags = BPF_F_ALLOW_MULTI;
  if (bpf(BPF_PROG_ATTACH, &attr) < 0)
    return Error::sys("BPF_PROG_ATTACH (BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI)");
  for (uint32_t id : old_ids) {
    std::memset(&attr, 0, sizeof attr);
    attr.prog_id = id;
    UniqueFd old(static_cast<int>(bpf(BPF_PROG_GET_FD_BY_ID, &attr)));
    if (!old) {
      if (errno == ENOENT) continue;  // gone meanwhile
      return Error::sys("BPF_PROG_GET_FD_BY_ID " + std::to_string(id));
    }
    std::memset(&attr, 0, sizeof attr);
    attr.target_fd = static_cast<uint32_t>(cgroup_fd);
    attr.attach_bpf_fd = static_cast<uint32_t>(old.get());
    attr.attach_type = BPF_CGROUP_DEVICE;
    if (bpf(BPF_PROG_DETACH, &attr) < 0 && errno != ENOENT)
      return Error::sys("BPF_PROG_DETACH of the previous device program " + std::to_string(id));
  }
  return ok();
}

Result<void> apply_device_rules(int cgroup_fd, const std::vector<oci::DeviceCgroupRule>& rules) {
  std::vector<DeviceRule> normalized = BERTH_TRY(normalize_device_rules(rules));
  UniqueFd prog = BERTH_TRY_CTX(load_device_program(build_device_program(normalized)),
                                "linux.resources.devices");
  BERTH_TRY_CTX(attach_device_program(cgroup_fd, prog.get()), "linux.resources.devices");
  return ok();
}

}  // namespace berth::runtime::cgroup
