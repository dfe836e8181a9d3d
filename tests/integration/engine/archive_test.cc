// docker cp (engine/archive.cc) on a real container root: a path never leads above the root,
// and what is read is what was looked at.
#include "engine/archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "engine_fixture.h"

namespace berth::test {
namespace {

std::vector<std::string> tar_names(const std::string& data) {
  std::vector<std::string> out;
  struct archive* a = archive_read_new();
  archive_read_support_format_tar(a);
  if (archive_read_open_memory(a, data.data(), data.size()) == ARCHIVE_OK) {
    archive_entry* e = nullptr;
    while (archive_read_next_header(a, &e) == ARCHIVE_OK)
      out.emplace_back(archive_entry_pathname(e));
  }
  archive_read_free(a);
  return out;
}

class CpTest : public EngineTest {
 protected:
  std::string rootfs(const std::string& id) const {
    return config_.data_root + "/containers/" + id + "/bundle/rootfs";
  }
  // The entry names of GET /containers/{id}/archive?path=<path>.
  std::vector<std::string> get(const std::string& id, const std::string& path) {
    std::string data;
    auto r = engine::tar_from_root(rootfs(id), path, [&](std::string_view d) {
      data.append(d);
      return true;
    });
    EXPECT_TRUE(r) << path << ": " << r.error().what();
    return tar_names(data);
  }
};

TEST_F(CpTest, DotDotStaysAtTheRoot) {
  // The bundle (config.json, rootfs/) is the root's parent on the host: "/.." must not reach it.
  std::string id = create({{"Cmd", {"true"}}});
  ASSERT_FALSE(id.empty());
  auto root = get(id, "/");
  ASSERT_FALSE(root.empty());
  EXPECT_EQ(root.front(), "rootfs/");
  for (const char* path : {"/..", "/etc/../..", "../..", "/../", "/bin/../../.."}) {
    auto names = get(id, path);
    EXPECT_EQ(names, root) << path;
    for (const auto& n : names) {
      EXPECT_FALSE(n.ends_with("config.json")) << path << " gave " << n;
      EXPECT_FALSE(n.starts_with("../")) << path << " gave " << n;
    }
  }
  EXPECT_EQ(get(id, "/../etc/passwd"), std::vector<std::string>{"passwd"});
  EXPECT_EQ(get(id, "/etc/../../etc/group"), std::vector<std::string>{"group"});

  // HEAD: the same path is the root, named "/" as docker names it.
  for (const char* path : {"/..", "/etc/../..", "/etc/../../"}) {
    auto st = engine::stat_in_root(rootfs(id), path, id);
    ASSERT_TRUE(st) << path << ": " << st.error().what();
    EXPECT_EQ(st->name, "/") << path;
    EXPECT_NE(st->mode & (1u << 31), 0u) << path;  // a directory
  }
  auto passwd = engine::stat_in_root(rootfs(id), "/../../etc/passwd", id);
  ASSERT_TRUE(passwd);
  EXPECT_EQ(passwd->name, "passwd");
  // The client's own path in the not-found message, as docker's.
  auto missing = engine::stat_in_root(rootfs(id), "/../nope", id);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().what(), "Could not find the file /../nope in container " + id);

  // PUT: extraction at "/.." lands in the root, not next to it.
  std::string tar_path = root_ + "/in.tar";
  ASSERT_EQ(std::system(("mkdir -p " + root_ + "/src && echo in > " + root_ +
                         "/src/put-file && tar -C " + root_ + "/src -cf " + tar_path + " put-file")
                            .c_str()),
            0);
  UniqueFd in(::open(tar_path.c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(in);
  auto put = engine::untar_into_root(rootfs(id), "/etc/../..", id, [&](char* buf, size_t len) {
    ssize_t n = ::read(in.get(), buf, len);
    return n < 0 ? Result<size_t>(Error::sys("read")) : Result<size_t>(static_cast<size_t>(n));
  });
  ASSERT_TRUE(put) << put.error().what();
  EXPECT_EQ(access((rootfs(id) + "/put-file").c_str(), F_OK), 0);
  EXPECT_NE(access((rootfs(id) + "/../put-file").c_str(), F_OK), 0);
}

TEST_F(CpTest, AFileSwappedForAFifoIsNotOpened) {
  // A process in the container renames FIFOs over the files berthd is archiving. berthd must
  // read the file it stat'ed (or skip it), never open the FIFO by name: with no writer, that open
  // blocks for ever.
  std::string id = create({{"Cmd", {"true"}}});
  ASSERT_FALSE(id.empty());
  const std::string dir = rootfs(id) + "/race";
  ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
  // Two files, each swapped by its own thread, over and over, for a FIFO (always a hard link
  // of one FIFO, so that a reader stuck on it can be let go) and back to a file.
  constexpr int kFiles = 2;
  auto name = [&](int i, const char* suffix) { return dir + "/f" + std::to_string(i) + suffix; };
  for (int i = 0; i < kFiles; i++) {
    ASSERT_TRUE(write_file_atomic(name(i, ""), "data\n"));
    ASSERT_EQ(mkfifo(name(i, ".fifo").c_str(), 0644), 0);
  }
  std::atomic<bool> done{false};
  auto swap = [&](int i) {
    const std::string f = name(i, ""), fifo = name(i, ".fifo"), link = name(i, ".link"),
                      file = name(i, ".file");
    for (unsigned n = 0; !done; n++) {
      if (n % 2 == 0) {
        if (::link(fifo.c_str(), link.c_str()) == 0) (void)rename(link.c_str(), f.c_str());
      } else if (int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                 fd >= 0) {
        (void)!::write(fd, "data\n", 5);
        ::close(fd);
        (void)rename(file.c_str(), f.c_str());
      }
    }
  };
  std::vector<std::thread> swappers;
  for (int i = 0; i < kFiles; i++) swappers.emplace_back(swap, i);
  auto archiving = std::async(std::launch::async, [&] {
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    int rounds = 0;
    while (std::chrono::steady_clock::now() < until) {
      auto r = engine::tar_from_root(rootfs(id), "/race", [](std::string_view) { return true; });
      // An entry may vanish or change under the walk; only a hang is the bug.
      if (r) rounds++;
    }
    return rounds;
  });
  bool hung = archiving.wait_for(std::chrono::seconds(20)) != std::future_status::ready;
  done = true;
  for (auto& t : swappers) t.join();
  // A reader stuck on a FIFO is let go by a writer that comes and goes.
  while (archiving.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready) {
    for (int i = 0; i < kFiles; i++) {
      int fd = ::open(name(i, ".fifo").c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
      if (fd >= 0) ::close(fd);
    }
  }
  EXPECT_FALSE(hung) << "tar_from_root blocked opening a FIFO swapped in for a file";
  EXPECT_GT(archiving.get(), 0);
}

}  // namespace
}  // namespace berth::test
