// linux.namespaces, uts names, sysctls, user-namespace mappings, time offsets, joining by path.
#include <gmock/gmock.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

namespace berth::it {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

class NamespacesTest : public RuntimeTest {};

std::string HostNs(const std::string& type) {
  char buf[128] = {};
  ssize_t n = readlink(("/proc/self/ns/" + type).c_str(), buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, n) : "";
}

std::map<std::string, std::string> ParseNsLines(const std::string& out) {
  // "pid=pid:[4026532]" lines.
  std::map<std::string, std::string> m;
  for (auto& l : SplitLines(out)) {
    auto eq = l.find('=');
    if (eq != std::string::npos) m[l.substr(0, eq)] = l.substr(eq + 1);
  }
  return m;
}

const char* kPrintNs =
    "for n in pid net ipc uts mnt user cgroup; do echo $n=$(readlink /proc/self/ns/$n); done";

TEST_F(NamespacesTest, ConfiguredNamespacesAreNewOthersAreShared) {
  ExecResult r = RunSh(kPrintNs);
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  auto ns = ParseNsLines(r.out);
  for (auto t : {"pid", "net", "ipc", "uts", "mnt"}) {
    EXPECT_FALSE(ns[t].empty()) << t;
    EXPECT_NE(ns[t], HostNs(t)) << t << " namespace should be new";
  }
  for (auto t : {"user", "cgroup"})
    EXPECT_EQ(ns[t], HostNs(t)) << t << " namespace should be the host's";
}

TEST_F(NamespacesTest, HostnameIsSetInTheNewUtsNamespace) {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  ExecResult r = RunSh("hostname; cat /proc/sys/kernel/hostname",
                       [](json& c) { c["hostname"] = "berth-test-host"; });
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(r.out, "berth-test-host\nberth-test-host\n");
  char after[256] = {};
  gethostname(after, sizeof after - 1);
  EXPECT_STREQ(host, after) << "the host's hostname must not change";
}

TEST_F(NamespacesTest, DomainnameIsSetInTheNewUtsNamespace) {
  SKIP_ON_RUNC("runc 1.1 ignores the domainname field (supported from runc 1.2)");
  ExecResult r =
      RunSh("cat /proc/sys/kernel/domainname", [](json& c) { c["domainname"] = "example.org"; });
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(r.out, "example.org\n");
}

TEST_F(NamespacesTest, HostnameWithoutUtsNamespaceFails) {
  std::string id = NewId();
  json c = Config(id, {"true"});
  c["hostname"] = "nope";
  auto& ns = c["linux"]["namespaces"];
  for (size_t i = 0; i < ns.size(); ++i)
    if (ns[i]["type"] == "uts") ns.erase(i);
  ExecResult r = Create(id, c);
  EXPECT_NE(r.exit_code, 0) << Describe(r);
  // runc: "unable to set hostname without a private UTS namespace"
  EXPECT_THAT(r.err, HasSubstr("UTS namespace")) << Describe(r);
  ExpectNoTrace(id);
}

TEST_F(NamespacesTest, NewNetworkNamespaceHasOnlyLoopbackAndItIsUp) {
  // /sys/class/net too: sysfs shows the network namespace of whoever mounted it, and the
  // init joins the namespace the runtime made on its side only just before that mount.
  ExecResult r = RunSh(
      "tail -n +3 /proc/net/dev | cut -d: -f1; cat /sys/class/net/lo/flags; ls /sys/class/net");
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  auto lines = SplitLines(r.out);
  ASSERT_EQ(lines.size(), 3u) << r.out;
  EXPECT_EQ(Trim(lines[0]), "lo");
  // IFF_UP|IFF_LOOPBACK|IFF_RUNNING: the runtime brings lo up, as runc does.
  EXPECT_EQ(lines[1], "0x9");
  EXPECT_EQ(Trim(lines[2]), "lo");
}

TEST_F(NamespacesTest, WithoutNetworkNamespaceHostInterfacesAreVisible) {
  std::set<std::string> host_ifs;
  auto dev = SplitLines(ReadFileOr("/proc/net/dev"));
  for (size_t i = 2; i < dev.size(); ++i) host_ifs.insert(Trim(dev[i].substr(0, dev[i].find(':'))));
  ExecResult r = RunSh("tail -n +3 /proc/net/dev | cut -d: -f1", [](json& c) {
    auto& ns = c["linux"]["namespaces"];
    for (size_t i = 0; i < ns.size(); ++i)
      if (ns[i]["type"] == "network") ns.erase(i);
  });
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  std::set<std::string> seen;
  for (auto& l : SplitLines(r.out)) seen.insert(Trim(l));
  EXPECT_EQ(seen, host_ifs);
}

TEST_F(NamespacesTest, SysctlsAreWrittenInTheContainersNamespaces) {
  std::string host_fwd = ReadFileOr("/proc/sys/net/ipv4/ip_forward");
  std::string host_shmmax = ReadFileOr("/proc/sys/kernel/shmmax");
  // The opposite of the host's value, so reading it back proves the container's own namespace.
  std::string fwd = Trim(host_fwd) == "1" ? "0" : "1";
  ExecResult r = RunSh(
      "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax "
      "/proc/sys/net/ipv4/ping_group_range",
      [&](json& c) {
        c["linux"]["sysctl"] = {{"net.ipv4.ip_forward", fwd},
                                {"kernel.shmmax", "123456789"},
                                {"net.ipv4.ping_group_range", "0 2147483647"}};
      });
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  auto lines = SplitLines(r.out);
  ASSERT_EQ(lines.size(), 3u) << r.out;
  EXPECT_EQ(lines[0], fwd);
  EXPECT_EQ(lines[1], "123456789");
  EXPECT_EQ(SplitWs(lines[2]), (std::vector<std::string>{"0", "2147483647"}));
  EXPECT_EQ(ReadFileOr("/proc/sys/net/ipv4/ip_forward"), host_fwd) << "host sysctl changed";
  EXPECT_EQ(ReadFileOr("/proc/sys/kernel/shmmax"), host_shmmax) << "host sysctl changed";
}

TEST_F(NamespacesTest, UserNamespaceMapsContainerRootToTheConfiguredHostIds) {
  // A private rootfs owned by the mapped ids (the shared one is owned by host root).
  std::string rootfs = tmp_ + "/userns-rootfs";
  BuildRootfs(rootfs);
  ChownTree(rootfs, 100000, 100000);
  std::string id = NewId();
  json c = Config(
      id, {"sh", "-c",
           "cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g; stat -c '%u %g' /bin/busybox; "
           "touch /tmp/made-inside; stat -c '%u %g' /tmp/made-inside"});
  c["root"]["path"] = rootfs;
  c["linux"]["namespaces"].push_back({{"type", "user"}});
  c["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}};
  c["linux"]["gidMappings"] = {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}};
  ExecResult r = RunContainer(id, c);
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  auto lines = SplitLines(r.out);
  ASSERT_EQ(lines.size(), 6u) << r.out;
  EXPECT_EQ(SplitWs(lines[0]), (std::vector<std::string>{"0", "100000", "65536"}));
  EXPECT_EQ(SplitWs(lines[1]), (std::vector<std::string>{"0", "100000", "65536"}));
  EXPECT_EQ(lines[2], "0");
  EXPECT_EQ(lines[3], "0");
  EXPECT_EQ(lines[4], "0 0") << "files owned by host 100000 are root's inside";
  EXPECT_EQ(lines[5], "0 0");
  struct stat st;
  ASSERT_EQ(stat((rootfs + "/tmp/made-inside").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 100000u) << "container root writes as host uid 100000";
  EXPECT_EQ(st.st_gid, 100000u);
}

TEST_F(NamespacesTest, UserNamespaceProcessIsUnprivilegedOnTheHost) {
  std::string rootfs = tmp_ + "/userns-rootfs";
  BuildRootfs(rootfs);
  ChownTree(rootfs, 100000, 100000);
  std::string id = NewId();
  json c = Config(id, {"sleep", "30"});
  c["root"]["path"] = rootfs;
  c["linux"]["namespaces"].push_back({{"type", "user"}});
  c["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}};
  c["linux"]["gidMappings"] = {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}};
  ExecResult cr = Create(id, c);
  ASSERT_EQ(cr.exit_code, 0) << Describe(cr);
  json st = State(id);
  ASSERT_TRUE(st.is_object());
  pid_t pid = st["pid"].get<pid_t>();
  auto status = ParseStatus(ReadFileOr("/proc/" + std::to_string(pid) + "/status"));
  EXPECT_EQ(SplitWs(status["Uid"])[0], "100000");
  EXPECT_EQ(SplitWs(status["Gid"])[0], "100000");
  char buf[128] = {};
  ASSERT_GT(readlink(("/proc/" + std::to_string(pid) + "/ns/user").c_str(), buf, sizeof buf - 1),
            0);
  EXPECT_NE(std::string(buf), HostNs("user"));
}

TEST_F(NamespacesTest, TimeNamespaceOffsets) {
  SKIP_ON_RUNC("runc 1.1 does not support the time namespace (runc 1.2 does)");
  double host_uptime = std::stod(ReadFileOr("/proc/uptime", "0"));
  ExecResult r = RunSh("cat /proc/self/timens_offsets; cut -d' ' -f1 /proc/uptime", [](json& c) {
    c["linux"]["namespaces"].push_back({{"type", "time"}});
    c["linux"]["timeOffsets"] = {{"monotonic", {{"secs", 1000}, {"nanosecs", 0}}},
                                 {"boottime", {{"secs", 86400}, {"nanosecs", 500}}}};
  });
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  auto lines = SplitLines(r.out);
  ASSERT_EQ(lines.size(), 3u) << r.out;
  std::map<std::string, std::vector<std::string>> offs;
  for (int i = 0; i < 2; ++i) {
    auto f = SplitWs(lines[i]);
    ASSERT_EQ(f.size(), 3u) << lines[i];
    offs[f[0]] = {f[1], f[2]};
  }
  EXPECT_EQ(offs["monotonic"], (std::vector<std::string>{"1000", "0"}));
  EXPECT_EQ(offs["boottime"], (std::vector<std::string>{"86400", "500"}));
  // /proc/uptime is in centiseconds and was once seen a fraction of a second below the host's
  // earlier reading plus the offset on a loaded machine: allow one second, which still tells an
  // applied offset (about +86400 s) from none.
  double uptime = std::stod(lines[2]);
  EXPECT_GE(uptime, host_uptime + 86400 - 1);
  EXPECT_LT(uptime, host_uptime + 86400 + 60);
}

TEST_F(NamespacesTest, JoinsNamespacesByPath) {
  std::string a = NewId();
  json ca = Config(a, {"sleep", "30"});
  ca["hostname"] = "alpha";
  CreateAndStart(a, ca);
  json sa = State(a);
  ASSERT_TRUE(sa.is_object());
  std::string apid = std::to_string(sa["pid"].get<int>());

  std::string b = NewId();
  json cb = Config(b, {"sh", "-c", std::string("hostname; ") + kPrintNs});
  cb.erase("hostname");
  for (auto& ns : cb["linux"]["namespaces"]) {
    std::string t = ns["type"];
    if (t == "uts") ns["path"] = "/proc/" + apid + "/ns/uts";
    if (t == "network") ns["path"] = "/proc/" + apid + "/ns/net";
    if (t == "ipc") ns["path"] = "/proc/" + apid + "/ns/ipc";
  }
  ExecResult r = RunContainer(b, cb);
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  auto lines = SplitLines(r.out);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines[0], "alpha");
  auto ns = ParseNsLines(r.out);
  auto a_ns = [&](const std::string& t) {
    char buf[128] = {};
    ssize_t n = readlink(("/proc/" + apid + "/ns/" + t).c_str(), buf, sizeof buf - 1);
    return n > 0 ? std::string(buf, n) : std::string("?");
  };
  EXPECT_EQ(ns["uts"], a_ns("uts"));
  EXPECT_EQ(ns["net"], a_ns("net"));
  EXPECT_EQ(ns["ipc"], a_ns("ipc"));
  EXPECT_NE(ns["pid"], a_ns("pid")) << "pid namespace was not joined, it must be new";
  EXPECT_NE(ns["mnt"], a_ns("mnt"));
}

TEST_F(NamespacesTest, JoiningANonexistentNamespacePathFails) {
  std::string id = NewId();
  json c = Config(id, {"true"});
  for (auto& ns : c["linux"]["namespaces"])
    if (ns["type"] == "network") ns["path"] = "/proc/999999999/ns/net";
  ExecResult r = Create(id, c);
  EXPECT_NE(r.exit_code, 0) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr("/proc/999999999/ns/net"));
  ExpectNoTrace(id);
}

}  // namespace
}  // namespace berth::it
