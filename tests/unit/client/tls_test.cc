// The client's TLS settings: docker's rules for flags, environment and default files, and the
// errors for files that cannot be used (no daemon; tests/integration/api/tls_test.sh does the
// handshakes for real).
#include "client/tls.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

namespace berth::client {
namespace {

class TlsSettingsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-tls-unit.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    for (const char* v : {"DOCKER_TLS_VERIFY", "DOCKER_TLS", "DOCKER_CERT_PATH", "DOCKER_CONFIG"})
      unsetenv(v);
    setenv("HOME", dir_.c_str(), 1);
  }
  void TearDown() override {
    for (const char* v : {"DOCKER_TLS_VERIFY", "DOCKER_TLS", "DOCKER_CERT_PATH", "DOCKER_CONFIG"})
      unsetenv(v);
    std::string cmd = "rm -rf '" + dir_ + "'";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }
  void touch(const std::string& path, const std::string& text = "x") {
    std::ofstream(path) << text;
  }
  std::string dir_;
};

TEST_F(TlsSettingsTest, OffUnlessAskedFor) {
  EXPECT_FALSE(resolve_tls({}));
  TlsFlags ca_only;
  ca_only.ca_file = "/x/ca.pem";  // as docker: --tlscacert alone does not turn TLS on
  EXPECT_FALSE(resolve_tls(ca_only));
}

TEST_F(TlsSettingsTest, TlsverifyAndItsEnvironment) {
  TlsFlags f;
  f.verify = true;
  auto s = resolve_tls(f);
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->verify);
  EXPECT_EQ(s->ca_file, dir_ + "/.docker/ca.pem");
  EXPECT_EQ(s->cert_file, "");  // the defaults do not exist: no client certificate
  EXPECT_EQ(s->key_file, "");

  setenv("DOCKER_TLS_VERIFY", "1", 1);
  s = resolve_tls({});
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->verify);
  // --tlsverify=false given: TLS still, without verification.
  f.verify = false;
  s = resolve_tls(f);
  ASSERT_TRUE(s);
  EXPECT_FALSE(s->verify);
}

TEST_F(TlsSettingsTest, TlsAloneDoesNotVerify) {
  TlsFlags f;
  f.tls = true;
  auto s = resolve_tls(f);
  ASSERT_TRUE(s);
  EXPECT_FALSE(s->verify);
  setenv("DOCKER_TLS", "1", 1);
  s = resolve_tls({});
  ASSERT_TRUE(s);
  EXPECT_FALSE(s->verify);
}

TEST_F(TlsSettingsTest, DefaultFilesFromCertPathThenConfigThenHome) {
  mkdir((dir_ + "/.docker").c_str(), 0700);
  touch(dir_ + "/.docker/cert.pem");
  touch(dir_ + "/.docker/key.pem");
  TlsFlags f;
  f.verify = true;
  EXPECT_EQ(resolve_tls(f)->cert_file, dir_ + "/.docker/cert.pem");
  EXPECT_EQ(resolve_tls(f)->key_file, dir_ + "/.docker/key.pem");

  setenv("DOCKER_CONFIG", (dir_ + "/config").c_str(), 1);
  EXPECT_EQ(tls_cert_dir(), dir_ + "/config");
  EXPECT_EQ(resolve_tls(f)->ca_file, dir_ + "/config/ca.pem");
  EXPECT_EQ(resolve_tls(f)->cert_file, "");

  setenv("DOCKER_CERT_PATH", (dir_ + "/certs").c_str(), 1);
  EXPECT_EQ(tls_cert_dir(), dir_ + "/certs");
  EXPECT_EQ(resolve_tls(f)->ca_file, dir_ + "/certs/ca.pem");

  // Files named on the command line are kept even when missing: loading them says so.
  f.cert_file = "/x/cert.pem";
  f.key_file = "/x/key.pem";
  f.ca_file = "/x/ca.pem";
  auto s = resolve_tls(f);
  EXPECT_EQ(s->ca_file, "/x/ca.pem");
  EXPECT_EQ(s->cert_file, "/x/cert.pem");
  EXPECT_EQ(s->key_file, "/x/key.pem");
}

TEST_F(TlsSettingsTest, UnusableFilesAreNamed) {
  TlsSettings s;
  s.ca_file = dir_ + "/none/ca.pem";
  auto r = TlsContext::load(s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().what(), "could not read CA certificate \"" + s.ca_file + "\": open " +
                                  s.ca_file + ": no such file or directory");

  s.ca_file = dir_ + "/junk.pem";
  touch(s.ca_file, "not a certificate\n");
  r = TlsContext::load(s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().what().rfind("could not load CA certificate \"" + s.ca_file + "\": ", 0), 0u)
      << r.error().what();

  s.verify = false;  // the CA is not read without verification
  s.cert_file = dir_ + "/cert.pem";
  r = TlsContext::load(s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().what().rfind("TLS certificate \"" + s.cert_file + "\" has no key", 0), 0u)
      << r.error().what();

  s.key_file = dir_ + "/none/key.pem";
  r = TlsContext::load(s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().what(), "could not read TLS certificate \"" + s.cert_file + "\": open " +
                                  s.cert_file + ": no such file or directory");

  touch(s.cert_file, "not a certificate\n");
  r = TlsContext::load(s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().what(), "could not read TLS key \"" + s.key_file + "\": open " + s.key_file +
                                  ": no such file or directory");

  s.key_file = dir_ + "/junk.pem";
  r = TlsContext::load(s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().what().rfind("could not load X509 key pair (cert \"" + s.cert_file +
                                       "\", key \"" + s.key_file + "\"): ",
                                   0),
            0u)
      << r.error().what();

  // No verification, no client certificate: nothing to read.
  EXPECT_TRUE(TlsContext::load(TlsSettings{.verify = false}));
}

}  // namespace
}  // namespace berth::client
