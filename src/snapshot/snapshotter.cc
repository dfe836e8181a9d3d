#include "snapshot/snapshotter.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_set>

#include "sys/remove.h"
#include "util/digest.h"
#include "util/strings.h"

namespace berth::snapshot {
namespace {

using json = nlohmann::json;

std::string snapshots_dir(const std::string& root) { return root + "/snapshots"; }

// Holds the snapshotter's flock for the duration of one operation.
class StoreLock {
 public:
  static Result<StoreLock> take(const std::string& root, bool exclusive) {
    std::string path = snapshots_dir(root) + "/lock";
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd) return Error::sys("open " + path);
    int r;
    do {
      r = ::flock(fd.get(), exclusive ? LOCK_EX : LOCK_SH);
    } while (r < 0 && errno == EINTR);
    if (r < 0) return Error::sys("lock " + path);
    return StoreLock(std::move(fd));
  }

 private:
  explicit StoreLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

int64_t now_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

std::string key_link_name(const std::string& key) { return std::string(sha256_of(key).hex()); }

Result<Kind> kind_from_name(std::string_view s) {
  if (s == "committed") return Kind::Committed;
  if (s == "active") return Kind::Active;
  if (s == "view") return Kind::View;
  return Error::invalid("unknown snapshot kind " + berth::quoted(s));
}

std::string info_to_json(const Info& i) {
  json j = {{"key", i.key},
            {"kind", kind_name(i.kind)},
            {"parent", i.parent},
            {"created", i.created_ns},
            {"labels", i.labels}};
  return j.dump() + "\n";
}

Result<Info> info_from_json(const std::string& id, const std::string& text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return Error::invalid("snapshot " + id + ": bad info.json");
  Info i;
  i.id = id;
  try {
    i.key = j.at("key").get<std::string>();
    i.kind = BERTH_TRY(kind_from_name(j.at("kind").get<std::string>()));
    i.parent = j.value("parent", "");
    i.created_ns = j.value("created", int64_t{0});
    if (j.contains("labels")) i.labels = j.at("labels").get<std::map<std::string, std::string>>();
  } catch (const json::exception& e) {
    return Error::invalid("snapshot " + id + ": bad info.json: " + e.what());
  }
  return i;
}

// Sums the disk usage of a tree (blocks, hardlinked inodes once) and counts its inodes.
void du_at(int dfd, Usage& u, std::unordered_set<uint64_t>& seen, int depth) {
  if (depth > 4096) return;
  int dup = ::openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dup < 0) return;
  DIR* dp = ::fdopendir(dup);
  if (!dp) {
    ::close(dup);
    return;
  }
  while (struct dirent* de = ::readdir(dp)) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    struct stat st;
    if (::fstatat(dup, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) continue;
    if (st.st_nlink > 1 && !S_ISDIR(st.st_mode) && !seen.insert(st.st_ino).second) continue;
    u.inodes++;
    u.bytes += static_cast<uint64_t>(st.st_blocks) * 512;
    if (S_ISDIR(st.st_mode)) {
      int sub = ::openat(dup, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub >= 0) {
        du_at(sub, u, seen, depth + 1);
        ::close(sub);
      }
    }
  }
  ::closedir(dp);
}

}  // namespace

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::Committed: return "committed";
    case Kind::Active: return "active";
    case Kind::View: return "view";
  }
  return "unknown";
}

// ---- internal helpers (members so they reach root_)
// ----------------------------------------------

namespace {

struct Store {
  const std::string& root;
  std::string dir() const { return snapshots_dir(root); }
  std::string id_dir(const std::string& id) const { return dir() + "/" + id; }
  std::string link_path(const std::string& key) const {
    return dir() + "/keys/" + key_link_name(key);
  }

  Result<Info> read_info(const std::string& id) const {
    auto text = read_file(id_dir(id) + "/info.json", 1 << 20);
    if (!text) return std::move(text).error();
    return info_from_json(id, *text);
  }

  // The snapshot of `key`, or NotFound. The key link must point to a finished snapshot whose
  // info.json names this key (a link left by an interrupted commit or prepare does not count).
  Result<Info> lookup(const std::string& key) const {
    char buf[256];
    std::string link = link_path(key);
    ssize_t n = ::readlink(link.c_str(), buf, sizeof buf - 1);
    if (n < 0) {
      if (errno == ENOENT)
        return Error::not_found("snapshot " + berth::quoted(key) + ": not found");
      return Error::sys("snapshot " + berth::quoted(key) + ": read key link");
    }
    std::string id(buf, static_cast<size_t>(n));
    auto info = read_info(id);
    if (!info || info->key != key)
      return Error::not_found("snapshot " + berth::quoted(key) + ": not found");
    return info;
  }

  Result<std::vector<Info>> all() const {
    std::vector<Info> out;
    DIR* dp = ::opendir(dir().c_str());
    if (!dp) return Error::sys("list snapshots: open " + dir());
    std::vector<std::string> ids;
    while (struct dirent* de = ::readdir(dp)) {
      std::string_view n = de->d_name;
      if (n.empty() || n.find_first_not_of("0123456789") != std::string_view::npos) continue;
      ids.emplace_back(n);
    }
    ::closedir(dp);
    for (const std::string& id : ids) {
      auto info = read_info(id);
      if (!info) continue;  // unfinished
      auto via_key = lookup(info->key);
      if (!via_key || via_key->id != id) continue;  // leftover of an interrupted operation
      out.push_back(std::move(*info));
    }
    return out;
  }

  Result<std::string> next_id() const {
    DIR* dp = ::opendir(dir().c_str());
    if (!dp) return Error::sys("open " + dir());
    uint64_t max = 0;
    while (struct dirent* de = ::readdir(dp)) {
      std::string_view n = de->d_name;
      if (n.empty() || n.size() > 18 || n.find_first_not_of("0123456789") != std::string_view::npos)
        continue;
      max = std::max<uint64_t>(max, std::stoull(std::string(n)));
    }
    ::closedir(dp);
    return std::to_string(max + 1);
  }

  // Points `key` at `id`: a symlink made under a temporary name, then renamed over.
  Result<void> link_key(const std::string& key, const std::string& id) const {
    std::string link = link_path(key);
    std::string tmp = link + ".tmp";
    ::unlink(tmp.c_str());
    if (::symlink(id.c_str(), tmp.c_str()) < 0) return Error::sys("link key " + berth::quoted(key));
    if (::rename(tmp.c_str(), link.c_str()) < 0) {
      ::unlink(tmp.c_str());
      return Error::sys("link key " + berth::quoted(key));
    }
    return ok();
  }

  Result<void> write_info(const Info& i) const {
    return write_file_atomic(id_dir(i.id) + "/info.json", info_to_json(i), 0600, true);
  }

  // The fs dirs of `key`'s ancestry, nearest first.
  Result<std::vector<std::string>> lower_dirs(const std::string& parent) const {
    std::vector<std::string> out;
    std::string k = parent;
    while (!k.empty()) {
      if (out.size() > 1000) return Error::invalid("snapshot chain too deep (a parent loop?)");
      Info p = BERTH_TRY_CTX(lookup(k), "parent");
      out.push_back(id_dir(p.id) + "/fs");
      k = p.parent;
    }
    return out;
  }

  Result<std::vector<Mount>> mounts_of(const Info& i) const {
    std::string fs = id_dir(i.id) + "/fs";
    if (i.kind == Kind::Active) {
      if (i.parent.empty()) return std::vector<Mount>{{"bind", fs, {"rbind", "rw"}}};
      auto lowers = BERTH_TRY(lower_dirs(i.parent));
      return std::vector<Mount>{{"overlay",
                                 "overlay",
                                 {"workdir=" + id_dir(i.id) + "/work", "upperdir=" + fs,
                                  "lowerdir=" + join_lowers(lowers)}}};
    }
    // A view (or a committed snapshot asked for): read-only, its own content included.
    std::vector<std::string> lowers;
    if (i.kind == Kind::Committed) lowers.push_back(fs);
    auto more = BERTH_TRY(lower_dirs(i.parent));
    lowers.insert(lowers.end(), more.begin(), more.end());
    if (lowers.empty()) return std::vector<Mount>{{"bind", fs, {"rbind", "ro"}}};
    if (lowers.size() == 1) return std::vector<Mount>{{"bind", lowers[0], {"rbind", "ro"}}};
    return std::vector<Mount>{{"overlay", "overlay", {"ro", "lowerdir=" + join_lowers(lowers)}}};
  }

  static std::string join_lowers(const std::vector<std::string>& v) {
    std::string s;
    for (const std::string& d : v) {
      if (!s.empty()) s += ':';
      s += d;
    }
    return s;
  }

  Result<std::vector<Mount>> create(const std::string& key, const std::string& parent, Kind kind,
                                    const std::map<std::string, std::string>& labels) const {
    std::string what =
        std::string(kind == Kind::View ? "view" : "prepare") + " snapshot " + berth::quoted(key);
    if (key.empty()) return Error::invalid(what + ": empty key");
    if (lookup(key)) return Error::conflict(what + ": already exists");
    if (!parent.empty()) {
      auto p = lookup(parent);
      if (!p) return Error::not_found(what + ": parent " + berth::quoted(parent) + " not found");
      if (p->kind != Kind::Committed)
        return Error::invalid(what + ": parent " + berth::quoted(parent) + " is not committed");
    }
    Info i;
    i.key = key;
    i.id = BERTH_TRY_CTX(next_id(), what);
    i.parent = parent;
    i.kind = kind;
    i.created_ns = now_ns();
    i.labels = labels;
    std::string d = id_dir(i.id);
    if (::mkdir(d.c_str(), 0700) < 0) return Error::sys(what + ": mkdir " + d);
    // Until info.json exists the dir is unfinished: a crash leaves it for clean_unfinished().
    auto fail = [&](Error e) {
      (void)sys::remove_tree_at(AT_FDCWD, d.c_str());
      return std::move(e).wrap(what);
    };
    if (::mkdir((d + "/fs").c_str(), 0755) < 0) return fail(Error::sys("mkdir fs"));
    if (kind == Kind::Active && ::mkdir((d + "/work").c_str(), 0700) < 0)
      return fail(Error::sys("mkdir work"));
    if (auto r = link_key(key, i.id); !r) return fail(std::move(r).error());
    if (auto r = write_info(i); !r) return fail(std::move(r).error());
    auto m = mounts_of(i);
    if (!m) return std::move(m).error().wrap(what);
    return m;
  }
};

}  // namespace

// ---- Snapshotter ------------------------------------------------------------------------------

Result<Snapshotter> Snapshotter::open(const std::string& root) {
  std::string d = snapshots_dir(root);
  for (const std::string& p : {root, d, d + "/keys"})
    if (::mkdir(p.c_str(), 0700) < 0 && errno != EEXIST)
      return Error::sys("open snapshotter: mkdir " + p);
  return Snapshotter(root);
}

Result<std::vector<Mount>> Snapshotter::prepare(const std::string& key, const std::string& parent,
                                                const std::map<std::string, std::string>& labels) {
  auto lock = BERTH_TRY(StoreLock::take(root_, true));
  return Store{root_}.create(key, parent, Kind::Active, labels);
}

Result<std::vector<Mount>> Snapshotter::view(const std::string& key, const std::string& parent) {
  auto lock = BERTH_TRY(StoreLock::take(root_, true));
  return Store{root_}.create(key, parent, Kind::View, {});
}

Result<std::vector<Mount>> Snapshotter::mounts(const std::string& key) const {
  auto lock = BERTH_TRY(StoreLock::take(root_, false));
  Store s{root_};
  Info i = BERTH_TRY(s.lookup(key));
  return BERTH_TRY_CTX(s.mounts_of(i), "mounts of snapshot " + berth::quoted(key));
}

Result<void> Snapshotter::commit(const std::string& name, const std::string& key,
                                 const std::optional<std::string>& parent) {
  std::string what = "commit snapshot " + berth::quoted(key) + " as " + berth::quoted(name);
  auto lock = BERTH_TRY(StoreLock::take(root_, true));
  Store s{root_};
  Info i = BERTH_TRY_CTX(s.lookup(key), what);
  if (i.kind != Kind::Active) return Error::invalid(what + ": not an active snapshot");
  if (name.empty()) return Error::invalid(what + ": empty name");
  if (s.lookup(name)) return Error::conflict(what + ": " + berth::quoted(name) + " already exists");
  if (parent && !parent->empty()) {
    Info p = BERTH_TRY_CTX(s.lookup(*parent), what + ": parent");
    if (p.kind != Kind::Committed)
      return Error::invalid(what + ": parent " + berth::quoted(*parent) + " is not committed");
  }
  if (parent) i.parent = *parent;
  // Order for crash safety: the new key link first (dangling until info.json says so), then
  // info.json (the commit point), then the old link goes.
  BERTH_TRY_CTX(s.link_key(name, i.id), what);
  i.key = name;
  i.kind = Kind::Committed;
  BERTH_TRY_CTX(s.write_info(i), what);
  ::unlink(s.link_path(key).c_str());
  (void)sys::remove_tree_at(AT_FDCWD, (s.id_dir(i.id) + "/work").c_str());
  return ok();
}

Result<void> Snapshotter::remove(const std::string& key) {
  std::string what = "remove snapshot " + berth::quoted(key);
  auto lock = BERTH_TRY(StoreLock::take(root_, true));
  Store s{root_};
  Info i = BERTH_TRY_CTX(s.lookup(key), what);
  auto all = BERTH_TRY_CTX(s.all(), what);
  for (const Info& o : all)
    if (o.parent == key)
      return Error::conflict(what + ": it is the parent of " + berth::quoted(o.key));
  // info.json first: from then on the dir is unfinished, and a crash is cleaned up later.
  std::string d = s.id_dir(i.id);
  if (::unlink((d + "/info.json").c_str()) < 0) return Error::sys(what + ": remove info.json");
  ::unlink(s.link_path(key).c_str());
  BERTH_TRY_CTX(sys::remove_tree_at(AT_FDCWD, d.c_str()), what);
  return ok();
}

Result<Info> Snapshotter::stat(const std::string& key) const {
  auto lock = BERTH_TRY(StoreLock::take(root_, false));
  return Store{root_}.lookup(key);
}

Result<std::vector<Info>> Snapshotter::list() const {
  auto lock = BERTH_TRY(StoreLock::take(root_, false));
  return Store{root_}.all();
}

bool Snapshotter::exists(const std::string& key) const {
  auto lock = StoreLock::take(root_, false);
  return lock && Store{root_}.lookup(key).has_value();
}

Result<Usage> Snapshotter::usage(const std::string& key) const {
  Info i;
  {
    auto lock = BERTH_TRY(StoreLock::take(root_, false));
    i = BERTH_TRY(Store{root_}.lookup(key));
  }
  std::string fs = Store{root_}.id_dir(i.id) + "/fs";
  UniqueFd fd(::open(fs.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return Error::sys("usage of snapshot " + berth::quoted(key) + ": open " + fs);
  Usage u;
  std::unordered_set<uint64_t> seen;
  du_at(fd.get(), u, seen, 0);
  return u;
}

Result<UniqueFd> Snapshotter::open_upper(const std::string& key) const {
  auto lock = BERTH_TRY(StoreLock::take(root_, false));
  Store s{root_};
  Info i = BERTH_TRY(s.lookup(key));
  if (i.kind != Kind::Active)
    return Error::invalid("snapshot " + berth::quoted(key) + ": not an active snapshot");
  std::string fs = s.id_dir(i.id) + "/fs";
  UniqueFd fd(::open(fs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return Error::sys("open " + fs);
  return fd;
}

std::string Snapshotter::upper_path(const std::string& key) const {
  auto lock = StoreLock::take(root_, false);
  auto i = Store{root_}.lookup(key);
  if (!i) return {};
  return Store{root_}.id_dir(i->id) + "/fs";
}

Result<void> Snapshotter::clean_unfinished() {
  auto lock = BERTH_TRY(StoreLock::take(root_, true));
  Store s{root_};
  std::string d = s.dir();
  // Snapshot dirs: unfinished (no info.json) or not what their key points at.
  std::set<std::string> live;
  DIR* dp = ::opendir(d.c_str());
  if (!dp) return Error::sys("clean snapshots: open " + d);
  std::vector<std::string> ids;
  while (struct dirent* de = ::readdir(dp)) {
    std::string_view n = de->d_name;
    if (!n.empty() && n.find_first_not_of("0123456789") == std::string_view::npos)
      ids.emplace_back(n);
  }
  ::closedir(dp);
  for (const std::string& id : ids) {
    auto info = s.read_info(id);
    if (info) {
      auto via = s.lookup(info->key);
      if (via && via->id == id) {
        live.insert(id);
        continue;
      }
    }
    BERTH_TRY_CTX(sys::remove_tree_at(AT_FDCWD, s.id_dir(id).c_str()), "clean snapshots");
  }
  // Key links to nothing live, and temporary links.
  std::string kd = d + "/keys";
  dp = ::opendir(kd.c_str());
  if (!dp) return Error::sys("clean snapshots: open " + kd);
  std::vector<std::string> stale;
  while (struct dirent* de = ::readdir(dp)) {
    if (de->d_name[0] == '.') continue;
    char buf[256];
    ssize_t n = ::readlinkat(::dirfd(dp), de->d_name, buf, sizeof buf - 1);
    std::string target = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
    bool tmp = std::string_view(de->d_name).ends_with(".tmp");
    if (tmp || !live.count(target)) {
      stale.emplace_back(de->d_name);
      continue;
    }
    // Live target, but does its info.json name this link's key?
    auto info = s.read_info(target);
    if (!info || key_link_name(info->key) != de->d_name) stale.emplace_back(de->d_name);
  }
  ::closedir(dp);
  for (const std::string& n : stale) ::unlink((kd + "/" + n).c_str());
  return ok();
}

}  // namespace berth::snapshot
