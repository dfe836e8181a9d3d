// A cBPF interpreter for seccomp programs, for unit tests: what the kernel would return for
// one syscall, with no kernel involved.
#pragma once

#include <gtest/gtest.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <vector>

namespace berth::test::bpf {

struct Call {
  uint32_t arch = AUDIT_ARCH_X86_64;
  uint32_t nr = 0;
  std::array<uint64_t, 6> args = {};
};

// Returns the program's SECCOMP_RET_* value; fails the test (and returns ~0) on anything a
// seccomp program may not do.
inline uint32_t run(const std::vector<sock_filter>& prog, const Call& call) {
  struct seccomp_data data = {};
  data.nr = static_cast<int>(call.nr);
  data.arch = call.arch;
  for (int i = 0; i < 6; ++i) data.args[i] = call.args[i];
  uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = {};
  for (size_t pc = 0; pc < prog.size(); ++pc) {
    const sock_filter& in = prog[pc];
    auto jump = [&](bool cond) { pc += cond ? in.jt : in.jf; };
    switch (in.code) {
      case BPF_LD | BPF_W | BPF_ABS:
        if (in.k % 4 != 0 || in.k + 4 > sizeof data) {
          ADD_FAILURE() << "bad load offset " << in.k << " at " << pc;
          return ~0u;
        }
        memcpy(&a, reinterpret_cast<const char*>(&data) + in.k, 4);
        break;
      case BPF_LD | BPF_MEM: a = mem[in.k % BPF_MEMWORDS]; break;
      case BPF_LDX | BPF_MEM: x = mem[in.k % BPF_MEMWORDS]; break;
      case BPF_ST: mem[in.k % BPF_MEMWORDS] = a; break;
      case BPF_STX: mem[in.k % BPF_MEMWORDS] = x; break;
      case BPF_MISC | BPF_TAX: x = a; break;
      case BPF_MISC | BPF_TXA: a = x; break;
      case BPF_ALU | BPF_AND | BPF_K: a &= in.k; break;
      case BPF_JMP | BPF_JA: pc += in.k; break;
      case BPF_JMP | BPF_JEQ | BPF_K: jump(a == in.k); break;
      case BPF_JMP | BPF_JGT | BPF_K: jump(a > in.k); break;
      case BPF_JMP | BPF_JGE | BPF_K: jump(a >= in.k); break;
      case BPF_JMP | BPF_JSET | BPF_K: jump((a & in.k) != 0); break;
      case BPF_RET | BPF_K: return in.k;
      case BPF_RET | BPF_A: return a;
      default: ADD_FAILURE() << "unexpected BPF opcode " << in.code << " at " << pc; return ~0u;
    }
  }
  ADD_FAILURE() << "the program ran off its end";
  return ~0u;
}

constexpr uint32_t kAllow = SECCOMP_RET_ALLOW;
constexpr uint32_t errno_ret(uint32_t e) { return SECCOMP_RET_ERRNO | e; }
constexpr uint32_t kX32 = 0x40000000;

}  // namespace berth::test::bpf
