#include "image/image_store.h"

#include <dirent.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "util/fd.h"

namespace berth::image {
namespace {

using json = nlohmann::json;

int64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

json descriptor_json(const oci::image::Descriptor& d) {
  return json::parse(oci::image::serialize(d));
}

}  // namespace

std::string serialize_record(const ImageRecord& r) {
  json j = {{"name", r.name},
            {"target", descriptor_json(r.target)},
            {"manifest", descriptor_json(r.manifest)},
            {"config", r.config.str()},
            {"created", r.created_ns},
            {"updated", r.updated_ns},
            {"labels", r.labels}};
  return j.dump();
}

Result<ImageRecord> parse_record(std::string_view text) {
  // Records are written by berth itself; still parsed without trusting them.
  try {
    json j = json::parse(text);
    ImageRecord r;
    r.name = j.at("name").get<std::string>();
    r.target = BERTH_TRY_CTX(oci::image::parse_descriptor(j.at("target").dump()), "target");
    r.manifest = BERTH_TRY_CTX(oci::image::parse_descriptor(j.at("manifest").dump()), "manifest");
    r.config = BERTH_TRY_CTX(Digest::parse(j.at("config").get<std::string>()), "config");
    r.created_ns = j.value("created", int64_t{0});
    r.updated_ns = j.value("updated", int64_t{0});
    if (j.contains("labels")) r.labels = j.at("labels").get<std::map<std::string, std::string>>();
    return r;
  } catch (const json::exception& e) {
    return Error::invalid(std::string("image record: ") + e.what());
  }
}

Result<ImageStore> ImageStore::open(const std::string& root) {
  std::string dir = root + "/images";
  if (mkdir(root.c_str(), 0700) != 0 && errno != EEXIST)
    return Error::sys("create image root \"" + root + "\"");
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return Error::sys("create \"" + dir + "\"");
  return ImageStore(dir);
}

std::string ImageStore::path_for(const std::string& name) const {
  // Names contain '/' and ':'; the file is named by the name's hash, the name is inside.
  return dir_ + "/" + std::string(sha256_of(name).hex()) + ".json";
}

Result<void> ImageStore::put(ImageRecord record) {
  int64_t now = now_ns();
  auto old = get(record.name);
  record.created_ns = old ? old->created_ns : (record.created_ns ? record.created_ns : now);
  record.updated_ns = now;
  return write_file_atomic(path_for(record.name), serialize_record(record), 0600, true);
}

Result<ImageRecord> ImageStore::get(const std::string& name) const {
  auto text = read_file(path_for(name), 1 << 20);
  if (!text) {
    if (text.error().errno_value() == ENOENT) return Error::not_found("No such image: " + name);
    return std::move(text).error().wrap("read image record of " + name);
  }
  auto rec = parse_record(*text);
  if (!rec) return std::move(rec).error().wrap("image record of " + name);
  if (rec->name != name) return Error::internal("image record of " + name + " names " + rec->name);
  return rec;
}

Result<std::vector<ImageRecord>> ImageStore::list() const {
  std::vector<ImageRecord> out;
  DIR* d = opendir(dir_.c_str());
  if (!d) return Error::sys("list \"" + dir_ + "\"");
  while (dirent* e = readdir(d)) {
    std::string_view n = e->d_name;
    if (n.size() != 64 + 5 || !n.ends_with(".json")) continue;  // temp files of writers
    auto text = read_file(dir_ + "/" + std::string(n), 1 << 20);
    if (!text) continue;  // removed meanwhile
    auto rec = parse_record(*text);
    if (rec) out.push_back(std::move(*rec));
  }
  closedir(d);
  std::sort(out.begin(), out.end(),
            [](const ImageRecord& a, const ImageRecord& b) { return a.name < b.name; });
  return out;
}

Result<void> ImageStore::remove(const std::string& name) {
  if (unlink(path_for(name).c_str()) != 0) {
    if (errno == ENOENT) return Error::not_found("No such image: " + name);
    return Error::sys("remove image record of " + name);
  }
  return ok();
}

}  // namespace berth::image
