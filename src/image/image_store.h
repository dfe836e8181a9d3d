// Image names: which manifest (or index) a name such as "docker.io/library/busybox:latest"
// points at. One small JSON file per name under <root>/images/, written atomically, so a
// crash never leaves a half-written record and names never contend on one lock.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "oci/image.h"
#include "util/result.h"

namespace berth::image {

struct ImageRecord {
  std::string name;                 // normalised reference: "docker.io/library/busybox:latest"
  oci::image::Descriptor target;    // manifest or index, as pulled/loaded
  oci::image::Descriptor manifest;  // the platform manifest chosen from target (== target
                                    // when target is a manifest)
  Digest config;                    // image ID (docker: the config digest)
  int64_t created_ns = 0;           // when the name was first set
  int64_t updated_ns = 0;
  std::map<std::string, std::string> labels;
};

class ImageStore {
 public:
  static Result<ImageStore> open(const std::string& root);  // creates <root>/images
  Result<void> put(ImageRecord record);                     // keeps created_ns of an existing name
  Result<ImageRecord> get(const std::string& name) const;   // NotFound: "No such image: <name>"
  Result<std::vector<ImageRecord>> list() const;            // sorted by name
  Result<void> remove(const std::string& name);

 private:
  explicit ImageStore(std::string dir) : dir_(std::move(dir)) {}
  std::string path_for(const std::string& name) const;
  std::string dir_;
};

std::string serialize_record(const ImageRecord& r);
Result<ImageRecord> parse_record(std::string_view json);

}  // namespace berth::image
