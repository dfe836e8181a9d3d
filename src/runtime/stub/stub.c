/* berth's exec stub (CVE-2019-5736 defence).
 *
 * The runtime never execs the container's program while its own image is the host's
 * berth-runtime binary: a program replaced by "#!/proc/self/exe" would otherwise make the
 * kernel run the runtime binary inside the container, where a second process could reopen it
 * through /proc/<pid>/exe and overwrite it. Instead the runtime execs this stub from a sealed
 * memfd (so /proc/self/exe is that memfd, which cannot be written), and the stub execs the
 * real program.
 *
 * argv: [ "berth-exec", <report fd>, <path>, <argv0>, <argv1>, ... ]
 * On failure it writes berth's sync header {type Error, errno} to the report fd and exits 127.
 * No libc: raw syscalls, x86_64 and aarch64.
 */
#define SYS_EXECVE_X86 59
#define SYS_EXIT_X86 60
#define SYS_WRITE_X86 1
#define SYS_FCNTL_X86 72

#if defined(__x86_64__)
static long sys3(long n, long a, long b, long c) {
  long r;
  __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
  return r;
}
enum { NR_EXECVE = 59, NR_EXIT = 60, NR_WRITE = 1, NR_FCNTL = 72 };
#elif defined(__aarch64__)
static long sys3(long n, long a, long b, long c) {
  register long x8 __asm__("x8") = n;
  register long x0 __asm__("x0") = a;
  register long x1 __asm__("x1") = b;
  register long x2 __asm__("x2") = c;
  __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2) : "memory");
  return x0;
}
enum { NR_EXECVE = 221, NR_EXIT = 93, NR_WRITE = 64, NR_FCNTL = 25 };
#else
#error "exec stub: unsupported architecture"
#endif

__attribute__((noreturn)) static void die(int fd, long err) {
  int hdr[2] = {6 /* SyncType::Error */, (int)err};
  if (fd >= 0) sys3(NR_WRITE, fd, (long)hdr, sizeof hdr);
  for (;;) sys3(NR_EXIT, 127, 0, 0);
}

__attribute__((noreturn, used)) void stub_main(long argc, char** argv, char** envp) {
  if (argc < 4) die(-1, 22);
  int fd = 0;
  for (const char* p = argv[1]; *p; p++) fd = fd * 10 + (*p - '0');
  sys3(NR_FCNTL, fd, 2 /* F_SETFD */, 1 /* FD_CLOEXEC */);
  long r = sys3(NR_EXECVE, (long)argv[2], (long)(argv + 3), (long)envp);
  die(fd, -r);
}

#if defined(__x86_64__)
__asm__(".globl _start\n_start:\n"
        "  mov (%rsp), %rdi\n"
        "  lea 8(%rsp), %rsi\n"
        "  lea 16(%rsp,%rdi,8), %rdx\n"
        "  and $-16, %rsp\n"
        "  call stub_main\n"
        "  hlt\n");
#else
__asm__(".globl _start\n_start:\n"
        "  ldr x0, [sp]\n"
        "  add x1, sp, #8\n"
        "  add x2, x1, x0, lsl #3\n"
        "  add x2, x2, #8\n"
        "  bl stub_main\n");
#endif
