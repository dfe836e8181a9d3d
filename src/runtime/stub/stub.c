/* berth's exec stub (CVE-2019-5736 defence).
 *
 * The runtime never execs the container's program while its own image is the host's
 * berth-runtime binary: a program replaced by "#!/proc/self/exe" would otherwise make the
 * kernel run the runtime binary inside the container, where a second process could reopen it
 * through /proc/<pid>/exe and overwrite it. Instead the runtime execs this stub from a sealed
 * memfd (so /proc/self/exe is that memfd, which cannot be written), and the stub execs the
 * real program.
 *
 * It also does a created container's wait for `start`, so that while the container sits in
 * the "created" state its init's image is this sealed memfd, never the runtime binary.
 *
 * argv: [ "berth-exec", <report fd>, <wait>, <path>, <argv0>, <argv1>, ... ]
 *   <wait> "-"      exec at once
 *          "a<fd>"  accept one connection on listening socket <fd> that sends a byte (the
 *                   `start` command); that connection becomes the report fd
 *          "r<fd>"  read one message from <fd> (the run command's Start) first
 * On failure it writes berth's sync header {type Error, errno} to the report fd and exits 127;
 * success closes the report fd (close-on-exec).
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
enum { NR_EXECVE = 59, NR_EXIT = 60, NR_WRITE = 1, NR_FCNTL = 72, NR_READ = 0, NR_CLOSE = 3,
       NR_ACCEPT = 43 };
#elif defined(__aarch64__)
static long sys3(long n, long a, long b, long c) {
  register long x8 __asm__("x8") = n;
  register long x0 __asm__("x0") = a;
  register long x1 __asm__("x1") = b;
  register long x2 __asm__("x2") = c;
  __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2) : "memory");
  return x0;
}
enum { NR_EXECVE = 221, NR_EXIT = 93, NR_WRITE = 64, NR_FCNTL = 25, NR_READ = 63, NR_CLOSE = 57,
       NR_ACCEPT = 202 };
#else
#error "exec stub: unsupported architecture"
#endif

__attribute__((noreturn)) static void die(int fd, long err) {
  int hdr[2] = {6 /* SyncType::Error */, (int)err};
  if (fd >= 0) sys3(NR_WRITE, fd, (long)hdr, sizeof hdr);
  for (;;) sys3(NR_EXIT, 127, 0, 0);
}

static int parse_fd(const char* p) {
  int fd = 0;
  for (; *p; p++) fd = fd * 10 + (*p - '0');
  return fd;
}

#define EINTR_ 4
#define ECONNABORTED_ 103
#define SOCK_CLOEXEC_ 02000000

__attribute__((noreturn, used)) void stub_main(long argc, char** argv, char** envp) {
  if (argc < 5) die(-1, 22);
  int fd = parse_fd(argv[1]);
  const char* wait = argv[2];
  char buf[64];
  if (wait[0] == 'a') {
    int listener = parse_fd(wait + 1);
    for (;;) {
      long c = sys3(NR_ACCEPT, listener, 0, 0);
      if (c == -EINTR_ || c == -ECONNABORTED_) continue;
      if (c < 0) die(fd, -c);
      /* close-on-exec, so a successful exec closes it and `start` reads EOF */
      sys3(NR_FCNTL, c, 2 /* F_SETFD */, 1 /* FD_CLOEXEC */);
      if (sys3(NR_READ, c, (long)buf, 1) == 1) {
        sys3(NR_CLOSE, listener, 0, 0);
        fd = (int)c;
        break;
      }
      sys3(NR_CLOSE, c, 0, 0);
    }
  } else if (wait[0] == 'r') {
    long n;
    do n = sys3(NR_READ, parse_fd(wait + 1), (long)buf, sizeof buf);
    while (n == -EINTR_);
    if (n < 8) for (;;) sys3(NR_EXIT, 1, 0, 0); /* the runtime went away: do not start */
  }
  sys3(NR_FCNTL, fd, 2 /* F_SETFD */, 1 /* FD_CLOEXEC */);
  long r = sys3(NR_EXECVE, (long)argv[3], (long)(argv + 4), (long)envp);
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
