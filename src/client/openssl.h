// OpenSSL for the CLI's TLS, loaded with dlopen("libssl.so.3") the first time a tcp:// daemon
// is reached with TLS. Linking libssl and libcrypto would cost every berth command over 1 ms at
// start (their relocations and initialisers: more than `berth --version` costs in all), for a
// feature most invocations never use. Only client/tls.cc uses this; it calls OpenSSL through
// the table below, never directly (berth is not linked with OpenSSL, so a direct call does not
// link), and OpenSSL's function-like macros are spelled out as the calls they stand for.
#pragma once

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "util/result.h"

namespace berth::client::ossl {

// Every OpenSSL function berth's client calls.
#define BERTH_OPENSSL_FUNCTIONS(X)      \
  X(TLS_client_method)                  \
  X(SSL_CTX_new)                        \
  X(SSL_CTX_free)                       \
  X(SSL_CTX_ctrl)                       \
  X(SSL_CTX_set_options)                \
  X(SSL_CTX_set_default_passwd_cb)      \
  X(SSL_CTX_set_verify)                 \
  X(SSL_CTX_load_verify_locations)      \
  X(SSL_CTX_use_certificate_chain_file) \
  X(SSL_CTX_use_PrivateKey_file)        \
  X(SSL_CTX_check_private_key)          \
  X(SSL_new)                            \
  X(SSL_free)                           \
  X(SSL_set_fd)                         \
  X(SSL_ctrl)                           \
  X(SSL_set1_host)                      \
  X(SSL_get0_param)                     \
  X(SSL_connect)                        \
  X(SSL_read)                           \
  X(SSL_write)                          \
  X(SSL_shutdown)                       \
  X(SSL_get_shutdown)                   \
  X(SSL_pending)                        \
  X(SSL_get_error)                      \
  X(SSL_get_verify_result)              \
  X(SSL_set_ex_data)                    \
  X(SSL_get_ex_data)                    \
  X(SSL_get_ex_data_X509_STORE_CTX_idx) \
  X(X509_STORE_CTX_get_ex_data)         \
  X(X509_STORE_CTX_get_current_cert)    \
  X(X509_STORE_CTX_get_error_depth)     \
  X(X509_VERIFY_PARAM_set1_ip_asc)      \
  X(X509_verify_cert_error_string)      \
  X(X509_get_ext_d2i)                   \
  X(GENERAL_NAMES_free)                 \
  X(OPENSSL_sk_num)                     \
  X(OPENSSL_sk_value)                   \
  X(ASN1_STRING_get0_data)              \
  X(ASN1_STRING_length)                 \
  X(ERR_get_error)                      \
  X(ERR_reason_error_string)            \
  X(ERR_error_string_n)                 \
  X(ERR_clear_error)

struct Api {
#define BERTH_OPENSSL_MEMBER(name) decltype(&::name) name = nullptr;
  BERTH_OPENSSL_FUNCTIONS(BERTH_OPENSSL_MEMBER)
#undef BERTH_OPENSSL_MEMBER
};

// The table, loaded on the first call ("TLS needs OpenSSL 3 (libssl.so.3): ..." when it is not
// installed).
Result<const Api*> load();
// The table after a load() that succeeded.
const Api& api();

}  // namespace berth::client::ossl
