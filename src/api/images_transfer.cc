// Moving images in and out: pull (POST /images/create), push, load, save (get). Progress goes
// out as docker's JSON message stream; the response starts with the first message, so an error
// before it (unknown image, bad reference) still gets its own status code.
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "api/images_internal.h"
#include "api/json_util.h"
#include "image/archive.h"
#include "image/reference.h"
#include "image/registry.h"
#include "util/json_escape.h"
#include "util/strings.h"

namespace berth::api {

using nlohmann::json;

namespace images_impl {

namespace {

std::string str_field(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

Result<image::RegistryOptions> registry_options(const ImageRoutes& d, const Request& req) {
  image::RegistryOptions o;
  o.insecure = d.insecure_registries;
  o.docker_config = "/nonexistent/berthd-reads-no-docker-config.json";
  std::string header = req.header("x-registry-auth");
  if (header.empty()) return o;
  auto text = berth::base64_decode(header);
  if (!text) return Error::invalid("invalid X-Registry-Auth header: not base64");
  json j = json::parse(*text, nullptr, false);
  if (!j.is_object()) return Error::invalid("invalid X-Registry-Auth header: not a JSON object");
  image::Credentials c{str_field(j, "username"), str_field(j, "password"),
                       str_field(j, "identitytoken")};
  if (std::string auth = str_field(j, "auth"); !auth.empty() && c.username.empty()) {
    if (auto up = berth::base64_decode(auth); up && up->find(':') != std::string::npos) {
      c.username = up->substr(0, up->find(':'));
      c.password = up->substr(up->find(':') + 1);
    }
  }
  if (!c.empty()) o.credentials = c;
  return o;
}

}  // namespace images_impl

using namespace images_impl;

namespace {

// docker's JSON message stream, started by the first message.
class JsonStream {
 public:
  explicit JsonStream(Exchange& ex) : ex_(ex) {}
  bool send(const json& j) {
    if (!w_) w_ = &ex_.stream("application/json");
    return w_->write(j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n");
  }
  // Layer progress, at most every 100 ms per layer while bytes move.
  void progress(const image::Progress& p) {
    if (p.total > 0 && p.current > 0 && p.current < p.total) {
      int64_t now = now_unix_ns();
      int64_t& last = last_[p.id];
      if (now - last < 100'000'000) return;
      last = now;
    }
    auto [id, status] = split_header(p);
    send(progress_message(id, status, p.current, p.total));
  }
  void fail(const Error& e) {
    if (w_)
      send(error_message(e.what()));
    else
      ex_.error(e);
  }
  bool started() const { return w_ != nullptr; }

 private:
  // "latest: Pulling from library/busybox" is {"id":"latest","status":"Pulling from ..."}.
  static std::pair<std::string, std::string> split_header(const image::Progress& p) {
    if (p.id.empty())
      if (size_t at = p.status.find(": Pulling from "); at != std::string::npos)
        return {p.status.substr(0, at), p.status.substr(at + 2)};
    return {p.id, p.status};
  }
  Exchange& ex_;
  StreamWriter* w_ = nullptr;
  std::map<std::string, int64_t> last_;
};

// ---- POST /images/create -------------------------------------------------------------------

Result<oci::image::Platform> parse_platform(const std::string& s) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); i++)
    if (i == s.size() || s[i] == '/') {
      parts.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  if (parts.size() < 2 || parts.size() > 3 || parts[0].empty() || parts[1].empty())
    return Error::invalid("\"" + s +
                          "\": unknown operating system or architecture: invalid argument");
  oci::image::Platform p;
  p.os = parts[0];
  p.architecture = parts[1];
  if (parts.size() == 3) p.variant = parts[2];
  return p;
}

// The references a pull asks for: one, or every tag of the repository (GET
// /v2/<repo>/tags/list) when neither fromImage nor tag names a tag or digest, as dockerd does
// for `docker pull -a` (docker's CLI adds ":latest" itself otherwise).
Result<std::vector<std::string>> pull_references(const Request& req,
                                                 const image::RegistryOptions& reg) {
  std::string from = req.q("fromImage").value_or(""), tag = req.q("tag").value_or("");
  if (from.empty()) return Error::invalid("fromImage or fromSrc is required");
  image::Reference ref = BERTH_TRY(image::parse_reference(from, false));
  if (!tag.empty()) {
    if (tag.starts_with("sha256:")) {
      ref.digest = BERTH_TRY(Digest::parse(tag));
      ref.tag.clear();
    } else {
      ref.tag = tag;
    }
  }
  if (!ref.tag.empty() || ref.digest) return std::vector<std::string>{ref.str()};
  auto client = BERTH_TRY(image::RegistryClient::create(ref.domain, reg));
  std::vector<std::string> tags = BERTH_TRY(client->list_tags(ref.path));
  if (tags.empty()) return Error::not_found("no tags found for " + ref.name());
  std::vector<std::string> out;
  for (const auto& t : tags) {
    ref.tag = t;
    out.push_back(ref.str());
  }
  return out;
}

void pull_image(Exchange& ex, const ImageRoutes& d) {
  const Request& req = ex.request();
  if (req.q("fromSrc"))
    return ex.error(501, "berth does not implement POST /images/create?fromSrc (import) yet");
  image::PullOptions opts;
  if (auto p = req.q("platform"); p && !p->empty()) {
    auto plat = parse_platform(*p);
    if (!plat) return ex.error(400, plat.error().what());
    opts.platform = *plat;
  }
  auto reg = registry_options(d, req);
  if (!reg) return ex.error(reg.error());
  opts.registry = *reg;
  auto refs = pull_references(req, *reg);
  if (!refs) {
    Error e = refs.error();
    return ex.error(e.kind() == ErrorKind::InvalidArgument ? 400 : error_status(e), e.what());
  }
  JsonStream out(ex);
  opts.progress = [&](const image::Progress& p) { out.progress(p); };
  for (const auto& ref : *refs) {
    auto img = d.images->pull(ref, opts);
    if (!img) return out.fail(img.error());
    std::string fam = familiar(ref);
    publish(d, "pull", fam, {{"name", fam}});
  }
  if (!out.started() && refs->size() == 1)
    out.send({{"status", "Status: Downloaded newer image for " + familiar(refs->front())}});
}

// ---- POST /images/{name}/push --------------------------------------------------------------

void push_image(Exchange& ex, const ImageRoutes& d) {
  const Request& req = ex.request();
  const std::string name = req.params.at("name"), tag = req.q("tag").value_or("");
  auto repo = image::parse_reference(name, false);
  if (!repo) return ex.error(400, repo.error().what());
  std::vector<std::string> targets;  // stored names to push
  if (!tag.empty()) {
    image::Reference r = *repo;
    r.tag = tag;
    targets.push_back(r.str());
  } else if (!repo->tag.empty() || repo->digest) {
    targets.push_back(repo->str());
  } else {  // every tag of the repository (docker push --all-tags)
    auto recs = d.images->names().list();
    if (!recs) return ex.error(recs.error());
    for (const auto& rec : *recs) {
      auto r = image::parse_reference(rec.name, false);
      if (r && r->name() == repo->name() && !r->tag.empty()) targets.push_back(rec.name);
    }
  }
  std::vector<image::Image> images;
  for (const auto& t : targets) {
    auto img = d.images->names().get(t);
    if (!img) break;
    auto resolved = d.images->resolve(t);
    if (resolved) images.push_back(std::move(*resolved));
  }
  if (targets.empty() || images.size() != targets.size())
    return ex.error(404, "An image does not exist locally with the tag: " + familiar(repo->str()));
  auto reg = registry_options(d, req);
  if (!reg) return ex.error(reg.error());
  JsonStream out(ex);
  for (size_t i = 0; i < targets.size(); i++) {
    auto r =
        d.images->push(targets[i], "", *reg, [&](const image::Progress& p) { out.progress(p); });
    if (!r) return out.fail(r.error());
    auto ref = image::parse_reference(targets[i], false);
    std::string t = ref && !ref->tag.empty() ? ref->tag : "";
    out.send({{"progressDetail", json::object()},
              {"aux",
               {{"Tag", t},
                {"Digest", images[i].record.manifest.digest.str()},
                {"Size", images[i].record.manifest.size}}}});
    std::string fam = familiar(targets[i]);
    publish(d, "push", fam, {{"name", fam}});
  }
}

// ---- POST /images/load ---------------------------------------------------------------------

// Messages produced on a worker thread, written by the connection's thread.
class MessageQueue {
 public:
  void push(json j) {
    std::lock_guard lock(mu_);
    q_.push_back(std::move(j));
    cv_.notify_all();
  }
  void finish() {
    std::lock_guard lock(mu_);
    done_ = true;
    cv_.notify_all();
  }
  // Moves queued messages to `out`; waits up to timeout_ms for one. False once finished and empty.
  bool drain(JsonStream& out, int timeout_ms) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return !q_.empty() || done_; });
    std::deque<json> batch;
    batch.swap(q_);
    bool more = !done_;
    lock.unlock();
    for (auto& j : batch) out.send(j);
    return more || !batch.empty();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<json> q_;
  bool done_ = false;
};

void block_sigpipe() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

void load_images(Exchange& ex, const ImageRoutes& d) {
  bool quiet = ex.request().q_bool("quiet");
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    return ex.error(Error::sys("socketpair"));
  UniqueFd feed(sv[0]), source(sv[1]);
  MessageQueue queue;
  Result<image::LoadResult> result = Error::internal("load did not run");
  std::thread worker([&] {
    block_sigpipe();
    result = image::load_archive(*d.images, source.get(), [&](const image::Progress& p) {
      if (p.id.empty() && p.status.starts_with("Loaded image"))
        queue.push({{"stream", p.status + "\n"}});
      else if (!quiet && !p.id.empty())
        queue.push(progress_message(p.id, p.status, p.current, p.total));
    });
    source.reset();  // the feeder's next send fails: the archive is done (or broken)
    queue.finish();
  });
  JsonStream out(ex);
  char buf[65536];
  bool body_ok = true;
  for (;;) {
    auto n = ex.read_body(buf, sizeof buf);
    if (!n) {
      body_ok = false;
      break;
    }
    if (*n == 0) break;
    if (send(feed.get(), buf, *n, MSG_NOSIGNAL) != static_cast<ssize_t>(*n)) break;
    queue.drain(out, 0);
  }
  feed.reset();
  while (queue.drain(out, 200)) {
  }
  worker.join();
  if (!result) {
    if (!body_ok) return;  // the client went away mid-body
    return out.fail(result.error());
  }
  for (const auto& name : result->names) {
    auto img = d.images->resolve(name);
    publish(d, "load", img ? image_id(*img) : name, {{"name", familiar(name)}});
  }
  if (!out.started())
    out.send({{"stream", "Loaded images: " + std::to_string(result->ids.size()) + "\n"}});
}

// ---- GET /images/get, /images/{name}/get ---------------------------------------------------

void save_images(Exchange& ex, const ImageRoutes& d, std::vector<std::string> names) {
  if (names.empty()) return ex.error(400, "no images to save: give names=...");
  for (const auto& n : names)
    if (auto img = d.images->resolve(n); !img) return ex.error(img.error());
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    return ex.error(Error::sys("socketpair"));
  UniqueFd sink(sv[0]), tar(sv[1]);
  Result<void> result;
  std::thread worker([&] {
    block_sigpipe();
    result = image::save_archive(*d.images, names, tar.get());
    tar.reset();
  });
  StreamWriter& w = ex.stream("application/x-tar");
  char buf[65536];
  bool client_ok = true;
  for (;;) {
    ssize_t n = recv(sink.get(), buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (!w.write(std::string_view(buf, n))) {
      client_ok = false;
      break;
    }
  }
  sink.reset();  // a writer still going gets EPIPE
  worker.join();
  // A failed save must not look like a complete tar: the connection is cut instead of ended.
  if (!result || !client_ok) shutdown(w.fd(), SHUT_RDWR);
}

}  // namespace

namespace images_impl {

void add_transfer_routes(Router& r, std::shared_ptr<const ImageRoutes> d) {
  r.add("POST", "/images/create", [d](Exchange& ex) { pull_image(ex, *d); });
  r.add(
      "POST", "/images/load", [d](Exchange& ex) { load_images(ex, *d); }, true);
  r.add("GET", "/images/get", [d](Exchange& ex) {
    std::vector<std::string> names;
    auto [lo, hi] = ex.request().query.equal_range("names");
    for (auto it = lo; it != hi; ++it) names.push_back(it->second);
    save_images(ex, *d, std::move(names));
  });
  r.add("GET", "/images/{name*}/get",
        [d](Exchange& ex) { save_images(ex, *d, {ex.request().params.at("name")}); });
  r.add("POST", "/images/{name*}/push", [d](Exchange& ex) { push_image(ex, *d); });
}

}  // namespace images_impl

}  // namespace berth::api
