// linux.resources.devices -> eBPF: the rule checks, the reference semantics, and the generated
// program run in a small interpreter of the instructions it uses (no bpf(2), no root).
#include "runtime/cgroup/devices_bpf.h"

#include <gtest/gtest.h>

#include <random>

namespace berth::runtime::cgroup {
namespace {

// Runs a CGROUP_DEVICE program on one request. Only the instruction forms the generator
// emits are known; anything else fails the test.
int run(const std::vector<bpf_insn>& prog, char type, uint32_t major, uint32_t minor,
        unsigned access) {
  uint32_t ctx[3] = {(access << 16) | (type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR),
                     major, minor};
  uint64_t r[11] = {};
  bool r1_is_ctx = true;
  size_t pc = 0;
  for (int steps = 0; steps < 100000; ++steps) {
    if (pc >= prog.size()) {
      ADD_FAILURE() << "fell off the end";
      return -1;
    }
    const bpf_insn& i = prog[pc++];
    auto& dst = r[i.dst_reg];
    uint64_t src = r[i.src_reg];
    switch (i.code) {
      case BPF_LDX | BPF_MEM | BPF_W:
        if (i.src_reg != 1 || !r1_is_ctx || i.off % 4 || i.off > 8) {
          ADD_FAILURE() << "bad load at " << pc - 1;
          return -1;
        }
        dst = ctx[i.off / 4];
        break;
      case BPF_LD | BPF_DW | BPF_IMM:
        dst = static_cast<uint32_t>(i.imm) |
              (static_cast<uint64_t>(static_cast<uint32_t>(prog[pc].imm)) << 32);
        ++pc;
        break;
      case BPF_ALU | BPF_AND | BPF_K:
        dst = static_cast<uint32_t>(dst & static_cast<uint32_t>(i.imm));
        break;
      case BPF_ALU | BPF_RSH | BPF_K:
        dst = static_cast<uint32_t>(static_cast<uint32_t>(dst) >> i.imm);
        break;
      case BPF_ALU | BPF_MOV | BPF_X: dst = static_cast<uint32_t>(src); break;
      case BPF_ALU | BPF_MOV | BPF_K: dst = static_cast<uint32_t>(i.imm); break;
      case BPF_JMP | BPF_JA: pc += static_cast<size_t>(i.off); break;
      case BPF_JMP | BPF_JNE | BPF_K:
        if (dst != static_cast<uint64_t>(static_cast<int64_t>(i.imm)))
          pc += static_cast<size_t>(i.off);
        break;
      case BPF_JMP | BPF_JEQ | BPF_K:
        if (dst == static_cast<uint64_t>(static_cast<int64_t>(i.imm)))
          pc += static_cast<size_t>(i.off);
        break;
      case BPF_JMP | BPF_JNE | BPF_X:
        if (dst != src) pc += static_cast<size_t>(i.off);
        break;
      case BPF_JMP | BPF_EXIT: return static_cast<int>(r[0]);
      default: ADD_FAILURE() << "unexpected opcode " << int(i.code) << " at " << pc - 1; return -1;
    }
    if (i.dst_reg == 1 && i.code != (BPF_JMP | BPF_JA) && (i.code & 0x07) != BPF_JMP)
      r1_is_ctx = false;
    if (i.off < 0 && (i.code & 0x07) == BPF_JMP) {
      ADD_FAILURE() << "backward jump at " << pc - 1;
      return -1;
    }
  }
  ADD_FAILURE() << "does not terminate";
  return -1;
}

oci::DeviceCgroupRule rule(bool allow, std::string type, std::optional<int64_t> major,
                           std::optional<int64_t> minor, std::string access) {
  oci::DeviceCgroupRule r;
  r.allow = allow;
  r.type = std::move(type);
  r.major = major;
  r.minor = minor;
  r.access = std::move(access);
  return r;
}

std::vector<DeviceRule> normalized(const std::vector<oci::DeviceCgroupRule>& rules) {
  auto r = normalize_device_rules(rules);
  EXPECT_TRUE(r.has_value()) << r.error().what();
  return r ? *r : std::vector<DeviceRule>();
}

// Every request in a grid around the rules' numbers: program and model agree.
void expect_program_matches_model(const std::vector<DeviceRule>& rules) {
  auto prog = build_device_program(rules);
  ASSERT_FALSE(prog.empty());
  ASSERT_LT(prog.size(), 4096u);
  std::vector<uint32_t> numbers = {0, 1, 3, 5, 7, 136, 4095, 0x7fffffff, 0x80000000u, 0xffffffffu};
  for (const DeviceRule& r : rules) {
    if (r.major >= 0) numbers.push_back(static_cast<uint32_t>(r.major));
    if (r.minor >= 0) numbers.push_back(static_cast<uint32_t>(r.minor));
  }
  for (char type : {'b', 'c'})
    for (uint32_t major : numbers)
      for (uint32_t minor : numbers)
        for (unsigned access = 1; access <= 7; ++access) {
          bool want = device_access_allowed(rules, type, major, minor, access);
          ASSERT_EQ(run(prog, type, major, minor, access), want ? 1 : 0)
              << type << " " << major << ":" << minor << " access " << access;
        }
}

constexpr unsigned R = kDevRead, W = kDevWrite, M = kDevMknod;

TEST(DevicesBpf, EmptyListDeniesEverything) {
  auto prog = build_device_program({});
  EXPECT_EQ(run(prog, 'c', 1, 3, R), 0);
  EXPECT_EQ(run(prog, 'b', 8, 0, R | W | M), 0);
  expect_program_matches_model({});
}

TEST(DevicesBpf, AllowOneDevice) {
  auto rules = normalized({rule(false, "a", {}, {}, "rwm"), rule(true, "c", 1, 3, "rwm")});
  auto prog = build_device_program(rules);
  EXPECT_EQ(run(prog, 'c', 1, 3, R | W), 1);  // /dev/null
  EXPECT_EQ(run(prog, 'c', 1, 5, R), 0);      // /dev/zero
  EXPECT_EQ(run(prog, 'b', 1, 3, R), 0);      // a block device with the same numbers
  expect_program_matches_model(rules);
}

TEST(DevicesBpf, LastRuleWins) {
  // allow all, then deny /dev/zero: zero denied, null allowed
  auto a = normalized({rule(true, "a", {}, {}, "rwm"), rule(false, "c", 1, 5, "rwm")});
  auto pa = build_device_program(a);
  EXPECT_EQ(run(pa, 'c', 1, 5, R), 0);
  EXPECT_EQ(run(pa, 'c', 1, 3, R), 1);
  // the same two rules the other way round: the allow-all comes last and wins
  auto b = normalized({rule(false, "c", 1, 5, "rwm"), rule(true, "a", {}, {}, "rwm")});
  EXPECT_EQ(run(build_device_program(b), 'c', 1, 5, R), 1);
  expect_program_matches_model(a);
  expect_program_matches_model(b);
}

TEST(DevicesBpf, PartialAccess) {
  // docker's default: deny all, then mknod for any char/block device, then devices rwm.
  auto rules = normalized({rule(false, "a", {}, {}, "rwm"), rule(true, "c", {}, {}, "m"),
                           rule(true, "b", {}, {}, "m"), rule(true, "c", 1, 3, "rwm"),
                           rule(true, "c", 136, {}, "rwm"), rule(false, "c", 1, 3, "w")});
  auto prog = build_device_program(rules);
  EXPECT_EQ(run(prog, 'c', 10, 200, M), 1);     // mknod of anything
  EXPECT_EQ(run(prog, 'c', 10, 200, R), 0);     // but no opening it
  EXPECT_EQ(run(prog, 'c', 1, 3, R), 1);        // null readable
  EXPECT_EQ(run(prog, 'c', 1, 3, R | W), 0);    // not writable: the last rule denies w
  EXPECT_EQ(run(prog, 'c', 136, 7, R | W), 1);  // any pty
  EXPECT_EQ(run(prog, 'b', 136, 7, R), 0);
  expect_program_matches_model(rules);
}

TEST(DevicesBpf, AccessBitsAccumulateAcrossRules) {
  auto rules = normalized({rule(true, "c", 1, 3, "r"), rule(true, "c", 1, 3, "w")});
  auto prog = build_device_program(rules);
  EXPECT_EQ(run(prog, 'c', 1, 3, R | W), 1);
  EXPECT_EQ(run(prog, 'c', 1, 3, R | W | M), 0);
  expect_program_matches_model(rules);
}

TEST(DevicesBpf, WildcardMajorOrMinor) {
  auto rules = normalized(
      {rule(true, "c", {}, 3, "rw"), rule(true, "b", 8, {}, "r"), rule(true, "", 42, -1, "rwm")});
  auto prog = build_device_program(rules);
  EXPECT_EQ(run(prog, 'c', 99, 3, R), 1);
  EXPECT_EQ(run(prog, 'c', 99, 4, R), 0);
  EXPECT_EQ(run(prog, 'b', 8, 16, R), 1);
  EXPECT_EQ(run(prog, 'b', 8, 16, W), 0);
  EXPECT_EQ(run(prog, 'b', 42, 1, M), 1);  // "" and -1: any type, any minor
  expect_program_matches_model(rules);
}

TEST(DevicesBpf, LargeNumbersCompareExactly) {
  auto rules = normalized({rule(true, "c", 0xfffffffe, 0x80000001, "rwm")});
  auto prog = build_device_program(rules);
  EXPECT_EQ(run(prog, 'c', 0xfffffffe, 0x80000001, R), 1);
  EXPECT_EQ(run(prog, 'c', 0xfffffffe, 1, R), 0);
  expect_program_matches_model(rules);
}

TEST(DevicesBpf, UnconditionalRuleCutsTheChain) {
  // Everything before an allow-all is unreachable; the program stays valid (no dead code:
  // the kernel verifier rejects unreachable instructions) and small.
  std::vector<oci::DeviceCgroupRule> in;
  for (int i = 0; i < 50; ++i) in.push_back(rule(false, "c", i, i, "rwm"));
  in.push_back(rule(true, "a", {}, {}, "rwm"));
  auto rules = normalized(in);
  auto prog = build_device_program(rules);
  EXPECT_LT(prog.size(), 40u);
  EXPECT_EQ(run(prog, 'c', 3, 3, R | W | M), 1);
  expect_program_matches_model(rules);
}

TEST(DevicesBpf, NoUnreachableInstructions) {
  // Walk every path: each instruction must be reached by some jump or fall-through.
  for (const auto& in : std::vector<std::vector<oci::DeviceCgroupRule>>{
           {},
           {rule(true, "a", {}, {}, "rwm")},
           {rule(false, "a", {}, {}, "rwm")},
           {rule(true, "c", 1, 3, "r"), rule(true, "a", {}, {}, "rwm")},
           {rule(false, "a", {}, {}, "rwm"), rule(true, "c", 1, 3, "rwm")}}) {
    auto prog = build_device_program(normalized(in));
    std::vector<bool> seen(prog.size());
    std::vector<size_t> todo = {0};
    while (!todo.empty()) {
      size_t pc = todo.back();
      todo.pop_back();
      if (pc >= prog.size() || seen[pc]) continue;
      seen[pc] = true;
      const bpf_insn& i = prog[pc];
      if (i.code == (BPF_LD | BPF_DW | BPF_IMM)) {
        seen[pc + 1] = true;
        todo.push_back(pc + 2);
      } else if (i.code == (BPF_JMP | BPF_EXIT)) {
      } else if (i.code == (BPF_JMP | BPF_JA)) {
        todo.push_back(pc + 1 + static_cast<size_t>(i.off));
      } else if ((i.code & 0x07) == BPF_JMP) {
        todo.push_back(pc + 1);
        todo.push_back(pc + 1 + static_cast<size_t>(i.off));
      } else {
        todo.push_back(pc + 1);
      }
    }
    for (size_t pc = 0; pc < prog.size(); ++pc) EXPECT_TRUE(seen[pc]) << "instruction " << pc;
  }
}

TEST(DevicesBpf, RandomRuleListsMatchTheModel) {
  std::mt19937 rng(1234);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  const char* types[] = {"a", "b", "c", ""};
  const char* accesses[] = {"r", "w", "m", "rw", "rm", "wm", "rwm", ""};
  for (int round = 0; round < 60; ++round) {
    std::vector<oci::DeviceCgroupRule> in;
    int n = pick(8);
    for (int i = 0; i < n; ++i) {
      std::optional<int64_t> major, minor;
      if (pick(3)) major = pick(4);
      if (pick(3)) minor = pick(4);
      in.push_back(rule(pick(2), types[pick(4)], major, minor, accesses[pick(8)]));
    }
    expect_program_matches_model(normalized(in));
  }
}

TEST(DevicesBpf, BadRulesNameTheField) {
  auto e1 = normalize_device_rules({rule(true, "c", 1, 3, "rwm"), rule(true, "x", 1, 3, "r")});
  ASSERT_FALSE(e1);
  EXPECT_NE(e1.error().what().find("linux.resources.devices[1].type"), std::string::npos)
      << e1.error().what();
  auto e2 = normalize_device_rules({rule(true, "c", 1, 3, "rwx")});
  ASSERT_FALSE(e2);
  EXPECT_NE(e2.error().what().find("linux.resources.devices[0].access: \"rwx\""), std::string::npos)
      << e2.error().what();
  auto e3 = normalize_device_rules({rule(true, "c", int64_t(1) << 33, 3, "r")});
  ASSERT_FALSE(e3);
  EXPECT_NE(e3.error().what().find("linux.resources.devices[0].major"), std::string::npos);
}

TEST(DevicesBpf, EmptyAccessMeansAll) {
  auto rules = normalized({rule(true, "c", 1, 3, "")});
  ASSERT_EQ(rules.size(), 1u);
  EXPECT_EQ(rules[0].access, R | W | M);
}

}  // namespace
}  // namespace berth::runtime::cgroup
