// berth::Result<T> — the error convention of every layer (ARCHITECTURE.md "Conventions").
//
// Member names follow std::expected so Result can become an alias once we move to C++23.
// An Error carries an errno (0 when none), a kind, and a message that gathers context as it
// travels up: each level prepends "what I was doing: ", and the errno text comes last, so the
// top prints one line that reads like runc's:  create "web": mount "/data" on "/srv": no such
// file or directory
#pragma once

#include <cerrno>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace berth {

enum class ErrorKind {
  Unknown,
  NotFound,
  Conflict,  // already exists, wrong state
  InvalidArgument,
  PermissionDenied,
  Unsupported,
  Io,
  Timeout,
  Internal,
};

const char* error_kind_name(ErrorKind kind);

class Error {
 public:
  Error(ErrorKind kind, int errnum, std::string message)
      : kind_(kind), errno_(errnum), message_(std::move(message)) {}

  // Named constructors. The ones taking an errno derive the kind from it.
  static Error from_errno(int errnum, std::string message);
  static Error sys(std::string message) { return from_errno(errno, std::move(message)); }
  static Error not_found(std::string m) { return {ErrorKind::NotFound, 0, std::move(m)}; }
  static Error conflict(std::string m) { return {ErrorKind::Conflict, 0, std::move(m)}; }
  static Error invalid(std::string m) { return {ErrorKind::InvalidArgument, 0, std::move(m)}; }
  static Error unsupported(std::string m) { return {ErrorKind::Unsupported, 0, std::move(m)}; }
  static Error internal(std::string m) { return {ErrorKind::Internal, 0, std::move(m)}; }

  ErrorKind kind() const { return kind_; }
  int errno_value() const { return errno_; }
  // The message without the errno text.
  const std::string& message() const { return message_; }
  // The full line: message, then ": <errno text>" when there is an errno.
  std::string what() const;

  // Prepends "context: " to the message. Returns *this so `return std::move(e).wrap(...)` works.
  Error& wrap(std::string_view context) &;
  Error&& wrap(std::string_view context) &&;

 private:
  ErrorKind kind_;
  int errno_;
  std::string message_;
};

// Lower-case errno text as Go and runc print it ("no such file or directory").
std::string errno_text(int errnum);

template <class E>
class Unexpected {
 public:
  explicit Unexpected(E e) : error_(std::move(e)) {}
  E& error() & { return error_; }
  E&& error() && { return std::move(error_); }

 private:
  E error_;
};

template <class T>
class [[nodiscard]] Result {
 public:
  using value_type = T;
  Result(T v) : v_(std::in_place_index<0>, std::move(v)) {}  // NOLINT: implicit by design
  Result(Unexpected<Error> e) : v_(std::in_place_index<1>, std::move(e).error()) {}  // NOLINT
  Result(Error e) : v_(std::in_place_index<1>, std::move(e)) {}                      // NOLINT

  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  Error& error() & { return std::get<1>(v_); }
  const Error& error() const& { return std::get<1>(v_); }
  Error&& error() && { return std::get<1>(std::move(v_)); }
  template <class U>
  T value_or(U&& other) const& {
    return has_value() ? value() : static_cast<T>(std::forward<U>(other));
  }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  using value_type = void;
  Result() = default;
  Result(Unexpected<Error> e) : err_(std::move(e).error()), ok_(false) {}  // NOLINT
  Result(Error e) : err_(std::move(e)), ok_(false) {}                      // NOLINT

  bool has_value() const { return ok_; }
  explicit operator bool() const { return ok_; }
  void value() const {}
  Error& error() & { return err_; }
  const Error& error() const& { return err_; }
  Error&& error() && { return std::move(err_); }

 private:
  Error err_{ErrorKind::Unknown, 0, {}};
  bool ok_ = true;
};

inline Result<void> ok() { return {}; }

}  // namespace berth

// Evaluates a Result; on error returns it from the enclosing function, else yields the value.
#define BERTH_TRY(expr)                                                        \
  ({                                                                           \
    auto&& berth_try_r_ = (expr);                                              \
    if (!berth_try_r_) return ::berth::Error(std::move(berth_try_r_).error()); \
    std::move(berth_try_r_).value();                                           \
  })

// As BERTH_TRY, prepending "ctx: " to the error on the way up.
#define BERTH_TRY_CTX(expr, ctx)                                                         \
  ({                                                                                     \
    auto&& berth_try_r_ = (expr);                                                        \
    if (!berth_try_r_) return ::berth::Error(std::move(berth_try_r_).error().wrap(ctx)); \
    std::move(berth_try_r_).value();                                                     \
  })
