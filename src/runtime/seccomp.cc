// linux.seccomp: compile with libseccomp in the parent, load the exported BPF with seccomp(2)
// in the init, and hand a notify listener to the agent at listenerPath.
#include "runtime/seccomp.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

#include "runtime/sync.h"

namespace berth::runtime::seccomp {
namespace {

using std::string;
using std::string_view;

constexpr const char* kBase = "linux.seccomp";

string q(string_view s) { return oci::quote_for_message(s); }
string indexed(string_view base, size_t i) { return string(base) + "[" + std::to_string(i) + "]"; }
Error invalid(const string& field, const string& what) {
  return Error::invalid(field + ": " + what);
}

// ---------------------------------------------------------------------------------------------
// Names -> libseccomp values.

struct ArchName {
  string_view name;
  uint32_t token;  // 0: not known to this libseccomp
};

// Every architecture the runtime-spec lists. Tokens this libseccomp lacks are 0.
constexpr ArchName kArchitectures[] = {
    {"SCMP_ARCH_X86", SCMP_ARCH_X86},
    {"SCMP_ARCH_X86_64", SCMP_ARCH_X86_64},
    {"SCMP_ARCH_X32", SCMP_ARCH_X32},
    {"SCMP_ARCH_ARM", SCMP_ARCH_ARM},
    {"SCMP_ARCH_AARCH64", SCMP_ARCH_AARCH64},
    {"SCMP_ARCH_MIPS", SCMP_ARCH_MIPS},
    {"SCMP_ARCH_MIPS64", SCMP_ARCH_MIPS64},
    {"SCMP_ARCH_MIPS64N32", SCMP_ARCH_MIPS64N32},
    {"SCMP_ARCH_MIPSEL", SCMP_ARCH_MIPSEL},
    {"SCMP_ARCH_MIPSEL64", SCMP_ARCH_MIPSEL64},
    {"SCMP_ARCH_MIPSEL64N32", SCMP_ARCH_MIPSEL64N32},
    {"SCMP_ARCH_PPC", SCMP_ARCH_PPC},
    {"SCMP_ARCH_PPC64", SCMP_ARCH_PPC64},
    {"SCMP_ARCH_PPC64LE", SCMP_ARCH_PPC64LE},
    {"SCMP_ARCH_S390", SCMP_ARCH_S390},
    {"SCMP_ARCH_S390X", SCMP_ARCH_S390X},
    {"SCMP_ARCH_PARISC", SCMP_ARCH_PARISC},
    {"SCMP_ARCH_PARISC64", SCMP_ARCH_PARISC64},
    {"SCMP_ARCH_RISCV64", SCMP_ARCH_RISCV64},
#ifdef SCMP_ARCH_LOONGARCH64
    {"SCMP_ARCH_LOONGARCH64", SCMP_ARCH_LOONGARCH64},
#else
    {"SCMP_ARCH_LOONGARCH64", 0},
#endif
#ifdef SCMP_ARCH_M68K
    {"SCMP_ARCH_M68K", SCMP_ARCH_M68K},
#else
    {"SCMP_ARCH_M68K", 0},
#endif
#ifdef SCMP_ARCH_SH
    {"SCMP_ARCH_SH", SCMP_ARCH_SH},
    {"SCMP_ARCH_SHEB", SCMP_ARCH_SHEB},
#else
    {"SCMP_ARCH_SH", 0},
    {"SCMP_ARCH_SHEB", 0},
#endif
};

struct FlagName {
  string_view name;
  unsigned bit;
};
constexpr FlagName kFlags[] = {
    {"SECCOMP_FILTER_FLAG_TSYNC", SECCOMP_FILTER_FLAG_TSYNC},
    {"SECCOMP_FILTER_FLAG_LOG", SECCOMP_FILTER_FLAG_LOG},
    {"SECCOMP_FILTER_FLAG_SPEC_ALLOW", SECCOMP_FILTER_FLAG_SPEC_ALLOW},
    {"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV},
};

struct OpName {
  string_view name;
  scmp_compare op;
};
constexpr OpName kOps[] = {
    {"SCMP_CMP_NE", SCMP_CMP_NE},
    {"SCMP_CMP_LT", SCMP_CMP_LT},
    {"SCMP_CMP_LE", SCMP_CMP_LE},
    {"SCMP_CMP_EQ", SCMP_CMP_EQ},
    {"SCMP_CMP_GE", SCMP_CMP_GE},
    {"SCMP_CMP_GT", SCMP_CMP_GT},
    {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
};

// The errno/trace value lives in the low 16 bits of the action (SECCOMP_RET_DATA).
constexpr uint32_t kMaxRetData = 0xffff;

// `field` names the action; the errnoRet field is `errno_field`.
Result<uint32_t> action_of(const string& name, std::optional<uint32_t> errno_ret,
                           const string& field, const string& errno_field) {
  auto data = [&]() -> Result<uint32_t> {
    uint32_t v = errno_ret.value_or(EPERM);
    if (v > kMaxRetData)
      return invalid(errno_field,
                     std::to_string(v) + " out of range (0.." + std::to_string(kMaxRetData) + ")");
    return v;
  };
  auto no_data = [&]() -> Result<void> {
    if (errno_ret) return invalid(errno_field, "only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE");
    return ok();
  };
  if (name == "SCMP_ACT_ERRNO") return SCMP_ACT_ERRNO(BERTH_TRY(data()));
  if (name == "SCMP_ACT_TRACE") return SCMP_ACT_TRACE(BERTH_TRY(data()));
  BERTH_TRY(no_data());
  // runc maps SCMP_ACT_KILL to KILL_THREAD, which is what libseccomp's SCMP_ACT_KILL is.
  if (name == "SCMP_ACT_KILL" || name == "SCMP_ACT_KILL_THREAD") return SCMP_ACT_KILL_THREAD;
  if (name == "SCMP_ACT_KILL_PROCESS") return SCMP_ACT_KILL_PROCESS;
  if (name == "SCMP_ACT_TRAP") return SCMP_ACT_TRAP;
  if (name == "SCMP_ACT_ALLOW") return SCMP_ACT_ALLOW;
  if (name == "SCMP_ACT_LOG") return SCMP_ACT_LOG;
  if (name == "SCMP_ACT_NOTIFY") return SCMP_ACT_NOTIFY;
  if (name.empty()) return invalid(field, "required");
  return invalid(field, "unknown action " + q(name));
}

// Actions that let a call through: the ENOSYS stub is not wanted with such a default (runc:
// a tracer handles new syscalls itself).
bool lets_through(uint32_t action) {
  uint32_t kind = action & SECCOMP_RET_ACTION_FULL;
  return kind == SECCOMP_RET_ALLOW || kind == SECCOMP_RET_LOG || kind == SECCOMP_RET_TRACE;
}

struct CtxDeleter {
  void operator()(void* ctx) const { seccomp_release(ctx); }
};
using Ctx = std::unique_ptr<void, CtxDeleter>;

Error lib_error(int rc, const string& what) { return Error::from_errno(-rc, what); }

string hex(unsigned long v) {
  char buf[24];
  snprintf(buf, sizeof buf, "0x%lx", v);
  return buf;
}

// ---------------------------------------------------------------------------------------------
// compile() steps.

// Adds linux.seccomp.architectures; returns the tokens in the filter (native first).
Result<std::vector<uint32_t>> add_architectures(scmp_filter_ctx ctx, const oci::Seccomp& c) {
  std::vector<uint32_t> tokens = {seccomp_arch_native()};
  for (size_t i = 0; i < c.architectures.size(); ++i) {
    const string& name = c.architectures[i];
    auto it = std::find_if(std::begin(kArchitectures), std::end(kArchitectures),
                           [&](const ArchName& a) { return a.name == name; });
    if (it == std::end(kArchitectures))
      return invalid(indexed(string(kBase) + ".architectures", i),
                     "unknown architecture " + q(name));
    if (it->token == 0) continue;  // not in this libseccomp, and not native: skipped
    if (std::find(tokens.begin(), tokens.end(), it->token) != tokens.end()) continue;
    int rc = seccomp_arch_add(ctx, it->token);
    if (rc == -EEXIST) continue;
    if (rc < 0) return lib_error(rc, indexed(string(kBase) + ".architectures", i) + " " + q(name));
    tokens.push_back(it->token);
  }
  return tokens;
}

Result<unsigned> flags_of(const oci::Seccomp& c) {
  unsigned flags = 0;
  for (size_t i = 0; i < c.flags.size(); ++i) {
    auto it = std::find_if(std::begin(kFlags), std::end(kFlags),
                           [&](const FlagName& f) { return f.name == c.flags[i]; });
    if (it == std::end(kFlags))
      return invalid(indexed(string(kBase) + ".flags", i), "unknown flag " + q(c.flags[i]));
    flags |= it->bit;
  }
  return flags;
}

Result<std::vector<scmp_arg_cmp>> conditions_of(const oci::SeccompSyscall& sc,
                                                const string& field) {
  std::vector<scmp_arg_cmp> conds;
  conds.reserve(sc.args.size());
  if (sc.args.size() > 6) return invalid(field + ".args", "a syscall has at most 6 arguments");
  for (size_t k = 0; k < sc.args.size(); ++k) {
    const oci::SeccompArg& a = sc.args[k];
    string arg = indexed(field + ".args", k);
    if (a.index > 5)
      return invalid(arg + ".index", std::to_string(a.index) + " out of range (0..5)");
    auto it = std::find_if(std::begin(kOps), std::end(kOps),
                           [&](const OpName& o) { return o.name == a.op; });
    if (it == std::end(kOps)) return invalid(arg + ".op", "unknown operator " + q(a.op));
    // MASKED_EQ: (arg & value) == valueTwo. The others compare with value alone.
    uint64_t datum_b = it->op == SCMP_CMP_MASKED_EQ ? a.value_two : 0;
    conds.push_back(scmp_arg_cmp{a.index, it->op, a.value, datum_b});
  }
  return conds;
}

// True when two conditions test the same argument: libseccomp cannot AND those in one rule,
// so runc falls back to one rule per condition (which ORs them).
bool repeats_an_index(const std::vector<scmp_arg_cmp>& conds) {
  unsigned seen = 0;
  for (const scmp_arg_cmp& c : conds) {
    if (seen & (1u << c.arg)) return true;
    seen |= 1u << c.arg;
  }
  return false;
}

// Adds one linux.seccomp.syscalls entry. Returns whether it produced a notify rule.
Result<bool> add_rules(scmp_filter_ctx ctx, const oci::SeccompSyscall& sc, size_t i,
                       uint32_t default_action) {
  string field = indexed(string(kBase) + ".syscalls", i);
  uint32_t action =
      BERTH_TRY(action_of(sc.action, sc.errno_ret, field + ".action", field + ".errnoRet"));
  if (sc.names.empty()) return invalid(field + ".names", "must not be empty");
  std::vector<scmp_arg_cmp> conds = BERTH_TRY(conditions_of(sc, field));
  if (action == SCMP_ACT_NOTIFY) {
    for (size_t k = 0; k < sc.names.size(); ++k)
      if (sc.names[k] == "write")
        return invalid(indexed(field + ".names", k),
                       "SCMP_ACT_NOTIFY cannot be used for write: the runtime needs it to hand "
                       "the listener over");
  }
  for (size_t k = 0; k < sc.names.size(); ++k)
    if (sc.names[k].empty()) return invalid(indexed(field + ".names", k), "must not be empty");
  if (action == default_action) return false;  // redundant; libseccomp would refuse it

  bool added = false;
  for (size_t k = 0; k < sc.names.size(); ++k) {
    const string& name = sc.names[k];
    int nr = seccomp_syscall_resolve_name(name.c_str());
    if (nr == __NR_SCMP_ERROR) continue;  // newer than this libseccomp: skipped, like runc
    auto fail = [&](int rc) {
      return lib_error(rc, indexed(field + ".names", k) + ": adding the rule for " + q(name));
    };
    if (!repeats_an_index(conds)) {
      int rc = seccomp_rule_add_array(ctx, action, nr, conds.size(), conds.data());
      if (rc < 0) return fail(rc);
    } else {
      for (const scmp_arg_cmp& cond : conds) {
        int rc = seccomp_rule_add_array(ctx, action, nr, 1, &cond);
        if (rc < 0) return fail(rc);
      }
    }
    added = true;
  }
  return added && action == SCMP_ACT_NOTIFY;
}

// seccomp_export_bpf writes to an fd (libseccomp 2.5 has no in-memory export): a memfd, read
// back.
Result<std::vector<sock_filter>> export_program(scmp_filter_ctx ctx) {
  UniqueFd mem(::memfd_create("berth-seccomp", MFD_CLOEXEC));
  if (!mem) return Error::sys("seccomp: memfd_create");
  int rc = seccomp_export_bpf(ctx, mem.get());
  if (rc < 0) return lib_error(rc, "seccomp: generating the BPF program");
  struct stat st = {};
  if (::fstat(mem.get(), &st) < 0) return Error::sys("seccomp: fstat memfd");
  size_t size = static_cast<size_t>(st.st_size);
  if (size == 0 || size % sizeof(sock_filter) != 0)
    return Error::internal("seccomp: libseccomp exported a program of " + std::to_string(size) +
                           " bytes");
  std::vector<sock_filter> program(size / sizeof(sock_filter));
  char* out = reinterpret_cast<char*>(program.data());
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::pread(mem.get(), out + done, size - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::sys("seccomp: reading the BPF program");
    if (n == 0) return Error::internal("seccomp: short BPF program");
    done += static_cast<size_t>(n);
  }
  return program;
}

// --- The ENOSYS stub (runc's patchbpf, rebuilt). -------------------------------------------
//
// For each architecture in the filter, a section:
//     ld   [arch]
//     jeq  AUDIT_ARCH, 0, <next section>
//     ld   [nr]
//     (x86_64 only) jset X32_BIT: the section is for one of the two ABIs, skip the other
//     (s390/s390x only) jeq 0 -> ENOSYS: setup(2), the multiplexer of unknown syscalls
//     jgt  MAX -> ENOSYS
// then `ja 1; ret ERRNO(ENOSYS)` and libseccomp's program, which starts by loading the arch
// itself. MAX is the largest number the profile names on that architecture, so a syscall
// newer than the profile gets ENOSYS (libc falls back) instead of the default errno.

constexpr uint32_t kX32Bit = 0x40000000;

struct StubSection {
  uint32_t audit_arch;
  enum { Any, NotX32, X32Only } abi;
  bool s390;
  uint32_t max_nr;
};

sock_filter stmt(uint16_t code, uint32_t k) { return sock_filter{code, 0, 0, k}; }
sock_filter jump(uint16_t code, uint32_t k, uint8_t jt, uint8_t jf) {
  return sock_filter{code, jt, jf, k};
}

std::optional<StubSection> stub_section(uint32_t token, const oci::Seccomp& c) {
  StubSection s{token, StubSection::Any, false, 0};
  if (token == SCMP_ARCH_X86_64) {
    s.abi = StubSection::NotX32;
  } else if (token == SCMP_ARCH_X32) {
    s.audit_arch = AUDIT_ARCH_X86_64;
    s.abi = StubSection::X32Only;
  }
  s.s390 = token == SCMP_ARCH_S390 || token == SCMP_ARCH_S390X;
  bool any = false;
  for (const oci::SeccompSyscall& sc : c.syscalls)
    for (const string& name : sc.names) {
      int nr = seccomp_syscall_resolve_name_arch(token, name.c_str());
      if (nr < 0) continue;  // not on this architecture (or a multiplexed pseudo-syscall)
      any = true;
      s.max_nr = std::max(s.max_nr, static_cast<uint32_t>(nr));
    }
  if (!any) return std::nullopt;
  return s;
}

std::vector<sock_filter> enosys_stub(const std::vector<uint32_t>& tokens, const oci::Seccomp& c) {
  std::vector<sock_filter> stub;
  std::vector<size_t> to_enosys;  // instructions whose jt must reach the ENOSYS return
  for (uint32_t token : tokens) {
    std::optional<StubSection> s = stub_section(token, c);
    if (!s) continue;
    std::vector<sock_filter> rest;  // the instructions after the jeq on the arch
    std::vector<size_t> rest_enosys;
    rest.push_back(stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)));
    // Remaining instruction counts are patched below; build with placeholders.
    size_t abi_at = rest.size();
    if (s->abi != StubSection::Any) rest.push_back(jump(BPF_JMP | BPF_JSET | BPF_K, kX32Bit, 0, 0));
    if (s->s390) {
      rest_enosys.push_back(rest.size());
      rest.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 0));
    }
    rest_enosys.push_back(rest.size());
    rest.push_back(jump(BPF_JMP | BPF_JGT | BPF_K, s->max_nr, 0, 0));
    if (s->abi != StubSection::Any) {
      uint8_t skip = static_cast<uint8_t>(rest.size() - abi_at - 1);  // to the section's end
      if (s->abi == StubSection::NotX32)
        rest[abi_at].jt = skip;
      else
        rest[abi_at].jf = skip;
    }
    stub.push_back(stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)));
    stub.push_back(
        jump(BPF_JMP | BPF_JEQ | BPF_K, s->audit_arch, 0, static_cast<uint8_t>(rest.size())));
    size_t base = stub.size();
    for (size_t r : rest_enosys) to_enosys.push_back(base + r);
    stub.insert(stub.end(), rest.begin(), rest.end());
  }
  if (stub.empty()) return stub;
  stub.push_back(stmt(BPF_JMP | BPF_JA, 1));
  size_t enosys_at = stub.size();
  stub.push_back(stmt(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS));
  for (size_t at : to_enosys) stub[at].jt = static_cast<uint8_t>(enosys_at - at - 1);
  return stub;
}

bool wants_enosys_stub(uint32_t default_action) {
  if (lets_through(default_action)) return false;
  if (default_action == SCMP_ACT_ERRNO(ENOSYS)) return false;  // already the answer
  return true;
}

}  // namespace

Result<Filter> compile(const oci::Seccomp& c) {
  const string base = kBase;
  uint32_t default_action = BERTH_TRY(action_of(
      c.default_action, c.default_errno_ret, base + ".defaultAction", base + ".defaultErrnoRet"));
  if (default_action == SCMP_ACT_NOTIFY)
    return invalid(base + ".defaultAction", "SCMP_ACT_NOTIFY cannot be the default action");

  Ctx ctx(seccomp_init(default_action));
  if (!ctx) return Error::internal("seccomp: libseccomp refused to create a filter");
  // The runtime decides no_new_privs; libseccomp would set it on load otherwise (we never
  // call seccomp_load, but keep the attribute honest for anyone exporting this context).
  if (int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_NNP, 0); rc < 0)
    return lib_error(rc, "seccomp: clearing the no_new_privs attribute");

  Filter filter;
  std::vector<uint32_t> tokens = BERTH_TRY(add_architectures(ctx.get(), c));
  filter.flags = BERTH_TRY(flags_of(c));

  // A binary tree of syscall numbers instead of a linear chain, for long profiles (runc's
  // threshold; libseccomp <= 2.5.4 misbehaves with the tree and no rules).
  size_t names = 0;
  for (const oci::SeccompSyscall& sc : c.syscalls) names += sc.names.size();
  if (names > 32) seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_OPTIMIZE, 2);  // best effort

  for (size_t i = 0; i < c.syscalls.size(); ++i)
    if (BERTH_TRY(add_rules(ctx.get(), c.syscalls[i], i, default_action))) filter.notify = true;

  // The kernel refuses WAIT_KILLABLE_RECV without a listener; it means nothing without one.
  if (!filter.notify) filter.flags &= ~unsigned{SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV};

  std::vector<sock_filter> program = BERTH_TRY(export_program(ctx.get()));
  if (wants_enosys_stub(default_action)) filter.program = enosys_stub(tokens, c);
  filter.program.insert(filter.program.end(), program.begin(), program.end());
  if (filter.program.size() > BPF_MAXINSNS)
    return Error::invalid(base + ": the filter needs " + std::to_string(filter.program.size()) +
                          " BPF instructions, more than the kernel's limit of " +
                          std::to_string(BPF_MAXINSNS));
  return filter;
}

// ---------------------------------------------------------------------------------------------
// The cache of compiled programs.

namespace {

// Bump when compile()'s output for the same input changes.
constexpr std::string_view kCacheMagic = "BERTHSC2";
constexpr size_t kCacheMaxEntries = 256;
constexpr size_t kCacheMaxFile = 1 << 20;

template <class T>
void put(string& out, T v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}
void put_str(string& out, string_view s) {
  put(out, static_cast<uint32_t>(s.size()));
  out += s;
}
void put_opt(string& out, std::optional<uint32_t> v) {
  put(out, static_cast<uint8_t>(v.has_value()));
  put(out, v.value_or(0));
}
void put_strs(string& out, const std::vector<string>& v) {
  put(out, static_cast<uint32_t>(v.size()));
  for (const string& s : v) put_str(out, s);
}

// Everything compile()'s result depends on, as one byte string (length-prefixed fields, so
// two different profiles never give the same key).
string cache_key(const oci::Seccomp& c) {
  const scmp_version* v = seccomp_version();
  string key;
  put(key, v->major);
  put(key, v->minor);
  put(key, v->micro);
  put(key, seccomp_arch_native());
  put_str(key, c.default_action);
  put_opt(key, c.default_errno_ret);
  put_strs(key, c.architectures);
  put_strs(key, c.flags);
  put(key, static_cast<uint32_t>(c.syscalls.size()));
  for (const oci::SeccompSyscall& sc : c.syscalls) {
    put_strs(key, sc.names);
    put_str(key, sc.action);
    put_opt(key, sc.errno_ret);
    put(key, static_cast<uint32_t>(sc.args.size()));
    for (const oci::SeccompArg& a : sc.args) {
      put(key, a.index);
      put(key, a.value);
      put(key, a.value_two);
      put_str(key, a.op);
    }
  }
  return key;
}

// FNV-1a: names the file; the stored key makes a hit exact.
uint64_t fnv1a(string_view s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char ch : s) h = (h ^ ch) * 0x100000001b3ULL;
  return h;
}

template <class T>
bool take(string_view& in, T& v) {
  if (in.size() < sizeof v) return false;
  memcpy(&v, in.data(), sizeof v);
  in.remove_prefix(sizeof v);
  return true;
}

string cache_entry(const string& key, const Filter& f) {
  string out(kCacheMagic);
  put(out, static_cast<uint32_t>(key.size()));
  out += key;
  put(out, static_cast<uint32_t>(f.flags));
  put(out, static_cast<uint32_t>(f.notify));
  put(out, static_cast<uint32_t>(f.program.size()));
  out.append(reinterpret_cast<const char*>(f.program.data()),
             f.program.size() * sizeof(sock_filter));
  put(out, fnv1a(out));  // catches a damaged entry
  return out;
}

std::optional<Filter> parse_cache_entry(string_view in, const string& key) {
  uint64_t sum = 0;
  if (in.size() < sizeof sum) return std::nullopt;
  memcpy(&sum, in.data() + in.size() - sizeof sum, sizeof sum);
  in.remove_suffix(sizeof sum);
  if (fnv1a(in) != sum) return std::nullopt;
  if (in.substr(0, kCacheMagic.size()) != kCacheMagic) return std::nullopt;
  in.remove_prefix(kCacheMagic.size());
  uint32_t key_len = 0, flags = 0, notify = 0, count = 0;
  if (!take(in, key_len) || in.size() < key_len || in.substr(0, key_len) != key)
    return std::nullopt;
  in.remove_prefix(key_len);
  if (!take(in, flags) || !take(in, notify) || !take(in, count)) return std::nullopt;
  if (count == 0 || count > BPF_MAXINSNS || in.size() != count * sizeof(sock_filter))
    return std::nullopt;
  Filter f;
  f.flags = flags;
  f.notify = notify != 0;
  f.program.resize(count);
  memcpy(f.program.data(), in.data(), in.size());
  return f;
}

size_t count_entries(const string& dir) {
  size_t n = 0;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (struct dirent* e = ::readdir(d))
      if (e->d_name[0] != '.') ++n;
    ::closedir(d);
  }
  return n;
}

}  // namespace

Result<Filter> compile_cached(const oci::Seccomp& c, const string& cache_dir) {
  string key = cache_key(c);
  char name[32];
  snprintf(name, sizeof name, "/%016llx.bpf", static_cast<unsigned long long>(fnv1a(key)));
  string path = cache_dir + name;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  struct stat st = {};
  if (fd && ::fstat(fd.get(), &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == ::geteuid() &&
      static_cast<size_t>(st.st_size) <= kCacheMaxFile) {
    if (Result<string> data = read_all(fd.get(), kCacheMaxFile))
      if (std::optional<Filter> hit = parse_cache_entry(*data, key)) return std::move(*hit);
  }
  fd.reset();
  Filter f = BERTH_TRY(compile(c));
  if (::mkdir(cache_dir.c_str(), 0700) == 0 || errno == EEXIST) {
    if (count_entries(cache_dir) < kCacheMaxEntries)
      (void)write_file_atomic(path, cache_entry(key, f), 0600, /*durable=*/false);
  }
  return f;
}

Result<UniqueFd> install(const Filter& f) {
  if (f.program.empty() || f.program.size() > BPF_MAXINSNS)
    return Error::invalid("seccomp: a filter program of " + std::to_string(f.program.size()) +
                          " instructions");
  struct sock_fprog prog = {static_cast<unsigned short>(f.program.size()),
                            const_cast<sock_filter*>(f.program.data())};
  unsigned long flags = f.flags;
  if (f.notify) {
    flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
    // The kernel refuses TSYNC with a listener unless a failed sync is reported as ESRCH.
    if (flags & SECCOMP_FILTER_FLAG_TSYNC) flags |= SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
  }
  long rc = ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
  if (rc < 0) {
    int e = errno;
    if (e == EACCES)
      return Error::from_errno(e,
                               "loading the seccomp filter: the process has neither "
                               "no_new_privs nor CAP_SYS_ADMIN");
    if (e == EINVAL && flags != 0)
      return Error::from_errno(e, "loading the seccomp filter with flags " + hex(flags) +
                                      " (is every linux.seccomp.flags entry supported by this "
                                      "kernel?)");
    if (e == ESRCH)
      return Error::from_errno(e,
                               "loading the seccomp filter: another thread could not be "
                               "synchronized (TSYNC)");
    return Error::from_errno(e, "loading the seccomp filter");
  }
  if (!f.notify) {
    if (rc > 0)
      return Error::internal("loading the seccomp filter: thread " + std::to_string(rc) +
                             " could not be synchronized (TSYNC)");
    return UniqueFd();
  }
  return UniqueFd(static_cast<int>(rc));  // the kernel opens the listener O_CLOEXEC
}

Result<UniqueFd> connect_listener(const string& path) {
  const string what = "connecting to the seccomp agent at " + q(path);
  if (path.empty()) return Error::invalid(string(kBase) + ".listenerPath: empty");
  UniqueFd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!sock) return Error::sys(what + ": socket");
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  string target = path;
  UniqueFd dir;  // a path too long for sun_path is reached through its directory's fd
  if (target.size() >= sizeof addr.sun_path) {
    size_t slash = path.rfind('/');
    string dirname = slash == string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
    dir = UniqueFd(::open(dirname.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!dir) return Error::sys(what + ": open " + q(dirname));
    target = "/proc/self/fd/" + std::to_string(dir.get()) + "/" + path.substr(slash + 1);
    if (target.size() >= sizeof addr.sun_path)
      return Error::invalid(what + ": the socket's name is too long");
  }
  memcpy(addr.sun_path, target.c_str(), target.size() + 1);
  while (::connect(sock.get(), reinterpret_cast<struct sockaddr*>(&addr), sizeof addr) < 0) {
    if (errno != EINTR) return Error::sys(what);
  }
  return sock;
}

Result<string> container_process_state(const string& state_json, const string& metadata,
                                       pid_t pid) {
  using ojson = nlohmann::ordered_json;
  ojson state = ojson::parse(state_json, nullptr, /*allow_exceptions=*/false);
  if (state.is_discarded() || !state.is_object())
    return Error::invalid("seccomp agent message: the container state is not a JSON object");
  if (pid == 0) {
    auto it = state.find("pid");
    if (it != state.end() && it->is_number_integer()) pid = it->get<pid_t>();
  }
  ojson msg = ojson::object();
  msg["ociVersion"] = oci::kSpecVersion;
  msg["fds"] = ojson::array({"seccompFd"});
  msg["pid"] = pid;
  if (!metadata.empty()) msg["metadata"] = metadata;
  msg["state"] = std::move(state);
  // Invalid UTF-8 in the metadata or state must not throw out of src/runtime.
  return msg.dump(-1, ' ', false, ojson::error_handler_t::replace);
}

Result<void> send_listener(int agent_socket, int listener_fd, const string& state_json,
                           const string& metadata, pid_t pid) {
  const string what = "sending the seccomp listener to the agent";
  string payload = BERTH_TRY_CTX(container_process_state(state_json, metadata, pid), what);
  // The fd rides on the first sendmsg; a stream socket may take the text in several parts.
  struct iovec iov = {payload.data(), payload.size()};
  size_t done = BERTH_TRY_CTX(send_with_fd(agent_socket, &iov, 1, listener_fd), what);
  ssize_t n;
  while (done < payload.size()) {
    n = ::send(agent_socket, payload.data() + done, payload.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::sys(what);
    done += static_cast<size_t>(n);
  }
  return ok();
}

}  // namespace berth::runtime::seccomp
