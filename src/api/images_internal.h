// Shared by the image endpoint files.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "api/images.h"
#include "image/images.h"

namespace berth::api::images_impl {

// An image ID and every name record that points at it.
struct ImageGroup {
  image::Image image;                       // one of its records (for manifest and config)
  std::vector<image::ImageRecord> records;  // all, dangling ones included
  std::vector<std::string> repo_tags;       // "busybox:latest"
  std::vector<std::string> repo_digests;    // "busybox@sha256:..."
  int64_t last_tag_ns = 0;
};

// Every image, grouped by ID, in the order of their first name.
Result<std::vector<ImageGroup>> list_groups(image::ImageService& svc);
// The group of one image (resolved by name or ID).
Result<ImageGroup> group_of(image::ImageService& svc, const image::Image& img);

std::string image_id(const image::Image& img);  // "sha256:<hex>"
std::string short_id(const std::string& id);    // 12 hex
int64_t created_ns(const image::Image& img);
uint64_t image_size(const image::Image& img);
// The familiar form of a stored name ("busybox:latest"); "" for dangling names.
std::string familiar(const std::string& stored_name);

void publish(const ImageRoutes& d, const std::string& action, const std::string& id,
             std::map<std::string, std::string> attrs = {});

// Registry options for a request: X-Registry-Auth credentials, the daemon's insecure
// registries, never root's own ~/.docker/config.json.
Result<image::RegistryOptions> registry_options(const ImageRoutes& d, const Request& req);

// /images/create (pull), /images/{name}/push, /images/load, /images/get, /images/{name}/get.
void add_transfer_routes(Router& r, std::shared_ptr<const ImageRoutes> d);

}  // namespace berth::api::images_impl
