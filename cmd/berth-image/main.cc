// berth-image: the image side of berth from the command line, what `ctr images` is to
// containerd — pull, push, list, tag, remove, save/load, gc, and turning an image into an OCI
// bundle (or running it with berth-runtime). berthd serves the same operations over the
// Docker API; this tool drives the library directly, for tests, benchmarks and debugging.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>

#include "image/archive.h"
#include "image/images.h"
#include "oci/spec.h"
#include "util/log.h"

using namespace berth;
using namespace berth::image;

namespace {

struct Cli {
  std::string root = "/var/lib/berth";
  bool debug = false;
  // registry
  std::vector<std::string> insecure;
  std::string user;  // "name:password"
  std::string platform;
  bool quiet = false;
  int parallel = 0;
  // archives
  std::string file, format = "docker";
  // bundle / run
  std::string key, workdir, usr, entrypoint, hostname, runtime = "berth-runtime";
  std::vector<std::string> env;
  bool tty = false, rm = false, entrypoint_set = false;
  std::vector<std::string> args;
};

int fail(const Error& e) {
  std::cerr << "berth-image: " << e.what() << "\n";
  return 1;
}

RegistryOptions registry_options(const Cli& c) {
  RegistryOptions o;
  o.insecure = c.insecure;
  if (!c.user.empty()) {
    size_t colon = c.user.find(':');
    o.credentials = Credentials{c.user.substr(0, colon),
                                colon == std::string::npos ? "" : c.user.substr(colon + 1), ""};
  }
  return o;
}

// docker pull's output: one line per layer state change; byte counts only on a terminal.
ProgressFn printer(bool quiet) {
  if (quiet) return {};
  bool tty = isatty(STDOUT_FILENO);
  return [tty](const Progress& p) {
    if (p.status == "Downloading" && !tty) return;
    if (p.id.empty()) {
      std::cout << p.status << "\n";
    } else if (p.total && tty) {
      std::cout << p.id << ": " << p.status << " " << p.current / 1024 << "kB/" << p.total / 1024
                << "kB\r" << std::flush;
      return;
    } else {
      std::cout << p.id << ": " << p.status << "\n";
    }
    std::cout.flush();
  };
}

std::string human_size(uint64_t b) {
  char buf[32];
  if (b >= 1000'000'000)
    snprintf(buf, sizeof buf, "%.3gGB", b / 1e9);
  else if (b >= 1000'000)
    snprintf(buf, sizeof buf, "%.3gMB", b / 1e6);
  else if (b >= 1000)
    snprintf(buf, sizeof buf, "%.3gkB", b / 1e3);
  else
    snprintf(buf, sizeof buf, "%lluB", static_cast<unsigned long long>(b));
  return buf;
}

std::string familiar_repo(const std::string& name, std::string* tag) {
  if (is_dangling_name(name)) {  // an untagged image kept by its digest
    *tag = "<none>";
    return "<none>";
  }
  auto ref = parse_reference(name);
  if (!ref) return name;
  *tag = ref->tag.empty() ? "<none>" : ref->tag;
  std::string f = ref->familiar();
  size_t at = f.find_last_of(':');
  if (!ref->tag.empty() && at != std::string::npos) f = f.substr(0, at);
  return f;
}

int cmd_images(ImageService& svc, const Cli& c) {
  auto list = svc.list();
  if (!list) return fail(list.error());
  if (!c.quiet) printf("%-40s %-12s %-14s %s\n", "REPOSITORY", "TAG", "IMAGE ID", "SIZE");
  for (const auto& img : *list) {
    std::string id(img.record.config.hex().substr(0, 12));
    if (c.quiet) {
      printf("%s\n", id.c_str());
      continue;
    }
    uint64_t size = 0;
    for (const auto& l : img.manifest.layers) size += static_cast<uint64_t>(l.size);
    std::string tag;
    std::string repo = familiar_repo(img.record.name, &tag);
    printf("%-40s %-12s %-14s %s\n", repo.c_str(), tag.c_str(), id.c_str(),
           human_size(size).c_str());
  }
  return 0;
}

int cmd_inspect(ImageService& svc, const Cli& c) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& name : c.args) {
    auto img = svc.resolve(name);
    if (!img) return fail(img.error());
    nlohmann::json j;
    j["Id"] = img->record.config.str();
    j["RepoTags"] = {img->record.name};
    j["RepoDigests"] = {img->record.name.substr(0, img->record.name.find_last_of(':')) + "@" +
                        img->record.target.digest.str()};
    j["Manifest"] = img->record.manifest.digest.str();
    j["Config"] = nlohmann::json::parse(img->config.raw, nullptr, false);
    j["ChainIDs"] = nlohmann::json::array();
    for (const auto& ch : img->chain_ids) j["ChainIDs"].push_back(ch.str());
    out.push_back(j);
  }
  std::cout << out.dump(4) << "\n";
  return 0;
}

BundleOptions bundle_options(const Cli& c) {
  BundleOptions o;
  if (c.entrypoint_set)
    o.entrypoint =
        c.entrypoint.empty() ? std::vector<std::string>{} : std::vector<std::string>{c.entrypoint};
  if (c.args.size() > 1) o.cmd = std::vector<std::string>(c.args.begin() + 1, c.args.end());
  o.env = c.env;
  if (!c.usr.empty()) o.user = c.usr;
  if (!c.workdir.empty()) o.working_dir = c.workdir;
  o.hostname = c.hostname;
  o.tty = c.tty;
  return o;
}

std::string random_id() {
  std::random_device rd;
  char buf[17];
  snprintf(buf, sizeof buf, "%08x%08x", rd(), rd());
  return buf;
}

int cmd_run(ImageService& svc, const Cli& c) {
  auto img = svc.resolve(c.args[0]);
  if (!img && img.error().kind() == ErrorKind::NotFound) {
    std::cerr << "Unable to find image '" << c.args[0] << "' locally\n";
    PullOptions po;
    po.registry = registry_options(c);
    po.progress = printer(false);
    img = svc.pull(c.args[0], po);
  }
  if (!img) return fail(img.error());
  std::string id = random_id();
  std::string bundle = svc.root() + "/bundles/" + id;
  mkdir((svc.root() + "/bundles").c_str(), 0700);
  auto spec = svc.create_bundle(*img, id, bundle, bundle_options(c));
  if (!spec) return fail(spec.error());
  pid_t pid = fork();
  if (pid == 0) {
    std::string state_root = svc.root() + "/runtime";
    execlp(c.runtime.c_str(), c.runtime.c_str(), "--root", state_root.c_str(), "run", "--bundle",
           bundle.c_str(), id.c_str(), nullptr);
    perror(c.runtime.c_str());
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  auto removed = svc.remove_bundle(id, bundle);
  if (!removed) std::cerr << "berth-image: " << removed.error().what() << "\n";
  return exit_code_of(status);
}

}  // namespace

int main(int argc, char** argv) {
  Cli c;
  CLI::App app{"berth-image: pull, push, store and unpack container images", "berth-image"};
  app.require_subcommand(1);
  app.add_option("--root", c.root, "Image store root")->capture_default_str();
  app.add_flag("--debug", c.debug, "Debug logging");
  app.set_version_flag("-v,--version", "berth-image version " BERTH_VERSION);
  auto registry_flags = [&](CLI::App* s) {
    s->add_option("--insecure-registry", c.insecure, "Registry host:port allowed over plain HTTP");
    s->add_option("--creds", c.user, "Registry credentials, NAME:PASSWORD (as podman's --creds)");
  };

  auto* pull = app.add_subcommand("pull", "Pull an image from a registry");
  registry_flags(pull);
  pull->add_option("--platform", c.platform, "os/arch[/variant] to select from an index");
  pull->add_option("--parallel", c.parallel, "Layers fetched and unpacked at once (0: auto)");
  pull->add_flag("-q,--quiet", c.quiet, "Print only the image name");
  pull->add_option("image", c.args, "Image reference")->required()->expected(1);

  auto* push = app.add_subcommand("push", "Push an image to a registry");
  registry_flags(push);
  push->add_option("image", c.args, "Local image [and target reference]")
      ->required()
      ->expected(1, 2);

  auto* images = app.add_subcommand("images", "List images")->alias("ls");
  images->add_flag("-q,--quiet", c.quiet, "Only IDs");

  auto* tag = app.add_subcommand("tag", "Give an image another name");
  tag->add_option("names", c.args, "SOURCE TARGET")->required()->expected(2);
  auto* rmi = app.add_subcommand("rmi", "Remove image names, then unreferenced content");
  rmi->add_option("names", c.args, "Images")->required()->expected(1, -1);
  auto* inspect = app.add_subcommand("inspect", "Show an image as JSON");
  inspect->add_option("names", c.args, "Images")->required()->expected(1, -1);
  auto* gc = app.add_subcommand("gc", "Remove blobs and snapshots no image uses");
  auto* df = app.add_subcommand("df", "Disk usage of the store");

  auto* save = app.add_subcommand("save", "Write images to a tar archive (docker save format)");
  save->add_option("-o,--output", c.file, "Archive file (default: stdout)");
  save->add_option("--format", c.format, "docker | oci")->check(CLI::IsMember({"docker", "oci"}));
  save->add_option("names", c.args, "Images")->required()->expected(1, -1);
  auto* load = app.add_subcommand("load", "Load images from a tar archive (docker save, OCI)");
  load->add_option("-i,--input", c.file, "Archive file (default: stdin)");
  load->add_flag("-q,--quiet", c.quiet, "Suppress output");

  auto bundle_flags = [&](CLI::App* s) {
    s->add_option("-e,--env", c.env, "Environment variable K=V");
    s->add_option("-u,--user", c.usr, "User (name|uid[:group|gid])");
    s->add_option("-w,--workdir", c.workdir, "Working directory");
    s->add_option("--entrypoint", c.entrypoint, "Replace the image's entrypoint")
        ->each([&](const std::string&) { c.entrypoint_set = true; });
    s->add_option("--hostname", c.hostname, "Container host name");
    s->add_flag("-t,--tty", c.tty, "Allocate a terminal");
    s->positionals_at_end();
  };
  auto* bundle = app.add_subcommand("bundle", "Make an OCI runtime bundle from an image");
  bundle_flags(bundle);
  bundle->add_option("--key", c.key, "Snapshot key (default: the bundle directory's name)");
  bundle->add_option("args", c.args, "IMAGE DIR [COMMAND [ARG...]]")->required()->expected(2, -1);
  auto* unbundle = app.add_subcommand("unbundle", "Unmount and remove a bundle made by `bundle`");
  unbundle->add_option("--key", c.key, "Snapshot key (default: the bundle directory's name)");
  unbundle->add_option("dir", c.args, "Bundle directory")->required()->expected(1);
  auto* run = app.add_subcommand("run", "Run a command in a new container from an image");
  bundle_flags(run);
  registry_flags(run);
  run->add_option("--runtime", c.runtime, "OCI runtime binary")->capture_default_str();
  run->add_option("args", c.args, "IMAGE [COMMAND [ARG...]]")->required()->expected(1, -1);

  CLI11_PARSE(app, argc, argv);
  log::set_program("berth-image");
  log::configure("", log::Format::Text, c.debug ? log::Level::Debug : log::Level::Warn);

  auto svc_r = ImageService::open(c.root);
  if (!svc_r) return fail(svc_r.error());
  ImageService& svc = **svc_r;

  if (pull->parsed()) {
    PullOptions po;
    po.registry = registry_options(c);
    po.progress = printer(c.quiet);
    po.max_parallel = c.parallel;
    if (!c.platform.empty()) {
      auto p = oci::image::parse_platform(c.platform);
      if (!p) return fail(p.error());
      po.platform = *p;
    }
    auto img = svc.pull(c.args[0], po);
    if (!img) return fail(img.error());
    std::cout << img->record.name << "\n";
    return 0;
  }
  if (push->parsed()) {
    auto r = svc.push(c.args[0], c.args.size() > 1 ? c.args[1] : "", registry_options(c),
                      printer(false));
    return r ? 0 : fail(r.error());
  }
  if (images->parsed()) return cmd_images(svc, c);
  if (tag->parsed()) {
    auto r = svc.tag(c.args[0], c.args[1]);
    return r ? 0 : fail(r.error());
  }
  if (rmi->parsed()) {
    for (const auto& n : c.args) {
      auto r = svc.untag(n);
      if (!r) return fail(r.error());
      std::cout << "Untagged: " << n << "\n";
    }
    auto g = svc.gc();
    if (!g) return fail(g.error());
    for (const auto& b : g->removed_blobs) std::cout << "Deleted: " << b.str() << "\n";
    return 0;
  }
  if (inspect->parsed()) return cmd_inspect(svc, c);
  if (gc->parsed()) {
    auto g = svc.gc();
    if (!g) return fail(g.error());
    std::cout << "Removed " << g->removed_blobs.size() << " blobs and "
              << g->removed_snapshots.size() << " snapshots, reclaimed "
              << human_size(g->reclaimed_bytes) << "\n";
    return 0;
  }
  if (df->parsed()) {
    auto u = svc.usage();
    if (!u) return fail(u.error());
    printf("%-10s %8s %10s\n", "TYPE", "COUNT", "SIZE");
    printf("%-10s %8zu %10s\n", "Images", u->images, "-");
    printf("%-10s %8zu %10s\n", "Blobs", u->blobs, human_size(u->content_bytes).c_str());
    printf("%-10s %8zu %10s\n", "Snapshots", u->snapshots, human_size(u->snapshot_bytes).c_str());
    return 0;
  }
  if (save->parsed()) {
    UniqueFd out(c.file.empty()
                     ? dup(STDOUT_FILENO)
                     : open(c.file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!out) return fail(Error::sys("open \"" + c.file + "\""));
    if (c.file.empty() && isatty(STDOUT_FILENO))
      return fail(
          Error::invalid("cowardly refusing to save to a terminal. Use the -o flag or redirect"));
    auto r = save_archive(svc, c.args, out.get(),
                          c.format == "oci" ? ArchiveFormat::Oci : ArchiveFormat::Docker);
    if (!r && !c.file.empty()) unlink(c.file.c_str());
    return r ? 0 : fail(r.error());
  }
  if (load->parsed()) {
    UniqueFd in(c.file.empty() ? dup(STDIN_FILENO) : open(c.file.c_str(), O_RDONLY | O_CLOEXEC));
    if (!in) return fail(Error::sys("open \"" + c.file + "\""));
    auto r = load_archive(svc, in.get(), printer(c.quiet));
    return r ? 0 : fail(r.error());
  }
  if (bundle->parsed() || unbundle->parsed()) {
    std::string dir = bundle->parsed() ? c.args[1] : c.args[0];
    std::string key = c.key;
    if (key.empty()) key = dir.substr(dir.find_last_of('/') + 1);
    if (unbundle->parsed()) {
      auto r = svc.remove_bundle(key, dir);
      return r ? 0 : fail(r.error());
    }
    auto img = svc.resolve(c.args[0]);
    if (!img) return fail(img.error());
    Cli shifted = c;
    shifted.args.erase(shifted.args.begin() + 1);  // drop DIR: args = IMAGE [CMD...]
    auto spec = svc.create_bundle(*img, key, dir, bundle_options(shifted));
    return spec ? 0 : fail(spec.error());
  }
  if (run->parsed()) return cmd_run(svc, c);
  return 0;
}
