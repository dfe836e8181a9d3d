// The terminal side of attach, run and exec: raw mode for -t, window size (and SIGWINCH as
// resize), signals proxied to the container, and the copy loop between the local stdio and a
// hijacked connection (half-closing it when stdin ends).
#pragma once

#include <termios.h>

#include <functional>
#include <optional>
#include <vector>

#include "client/client.h"
#include "util/result.h"

namespace berth::cli {

// Puts a terminal in raw mode (docker's SetRawTerminal) until destroyed.
class RawTerminal {
 public:
  explicit RawTerminal(int fd);
  ~RawTerminal();
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;

 private:
  int fd_;
  std::optional<termios> saved_;
};

// Rows and columns of the terminal on fd, if it is one.
std::optional<std::pair<int, int>> terminal_size(int fd);

// Catches signals while alive and makes them readable from fd() (one byte each), so the copy
// loop can poll for them; the previous dispositions come back on destruction.
class SignalPipe {
 public:
  explicit SignalPipe(const std::vector<int>& signals);
  ~SignalPipe();
  SignalPipe(const SignalPipe&) = delete;
  SignalPipe& operator=(const SignalPipe&) = delete;
  int fd() const;
  // Signals received since the last call.
  std::vector<int> drain();

 private:
  std::vector<int> signals_;
};

// The signals docker's CLI proxies to a non-tty container (all catchable ones but SIGCHLD,
// SIGPIPE, SIGURG, SIGWINCH).
std::vector<int> proxied_signals();

struct PumpOptions {
  bool tty = false;            // raw output, no stdcopy framing
  bool forward_stdin = false;  // copy our stdin to the connection, half-close at its end
  bool stdin_once_close = true;
  SignalPipe* signals = nullptr;              // polled when set
  std::function<void(int signal)> on_signal;  // SIGWINCH included when caught
  // Set when the user typed the detach keys (ctrl-p ctrl-q) on a tty: the container goes on.
  bool* detached = nullptr;
};

// Copies until the container's output ends. stdout/stderr are written as they arrive.
Result<void> pump(client::Hijacked& h, const PumpOptions& o);

}  // namespace berth::cli
