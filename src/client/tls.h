// TLS to a tcp:// daemon, configured as docker's CLI configures it:
//
//   --tlsverify, or $DOCKER_TLS_VERIFY set: TLS, the daemon's certificate checked against the
//       CA (--tlscacert) and the host name or IP address of -H. `--tlsverify=false` given on
//       the command line still turns TLS on, without the check.
//   --tls, or $DOCKER_TLS set: TLS without checking the daemon's certificate.
//   --tlscacert, --tlscert, --tlskey default to ca.pem, cert.pem and key.pem in
//       $DOCKER_CERT_PATH, else $DOCKER_CONFIG, else ~/.docker. A default client certificate or
//       key that does not exist is left out; one named on the command line must exist.
//
// Errors name the file and the problem ("could not read CA certificate "/x/ca.pem": open
// /x/ca.pem: no such file or directory") and, for a failed handshake, which side refused what.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "client/transport.h"
#include "util/fd.h"
#include "util/result.h"

namespace berth::client {

// What the command line said (empty strings and nullopt: not given).
struct TlsFlags {
  bool tls = false;
  std::optional<bool> verify;  // --tlsverify[=true|false]
  std::string ca_file, cert_file, key_file;
};

// The settings docker's rules give, files resolved.
struct TlsSettings {
  bool verify = true;
  std::string ca_file;    // used when verify
  std::string cert_file;  // "" with key_file "": no client certificate
  std::string key_file;
};

// Where the default ca.pem, cert.pem and key.pem are: $DOCKER_CERT_PATH, else $DOCKER_CONFIG,
// else ~/.docker.
std::string tls_cert_dir();

// nullopt when TLS is off. Reads $DOCKER_TLS_VERIFY, $DOCKER_TLS, $DOCKER_CERT_PATH,
// $DOCKER_CONFIG and $HOME; looks for the default certificate and key files.
std::optional<TlsSettings> resolve_tls(const TlsFlags& flags);

// A client context with the CA and the client certificate loaded, shared by the connections
// to one daemon.
class TlsContext {
 public:
  static Result<std::shared_ptr<TlsContext>> load(const TlsSettings& settings);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // Runs the handshake on a connected TCP socket. `host` (a name or an IP address) is what
  // the daemon's certificate must be valid for; `url` names the daemon in errors.
  Result<std::unique_ptr<Transport>> handshake(UniqueFd fd, const std::string& host,
                                               const std::string& url);

 private:
  struct Impl;
  explicit TlsContext(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::client
