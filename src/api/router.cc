// Route matching: method + path pattern with {name} (one segment) and {name*} (one or more
// segments, for image names such as "localhost:5000/ns/app:1") captures.
#include "api/http.h"
#include "api/http_internal.h"
#include "util/strings.h"

namespace berth::api {

namespace {

std::vector<std::string> path_segments(std::string_view path) {
  std::vector<std::string> out;
  for (auto s : split(path, '/', true)) out.emplace_back(s);
  return out;
}

bool is_capture(const std::string& seg) {
  return seg.size() > 2 && seg.front() == '{' && seg.back() == '}';
}

// Matches pattern segments [pi..] against path segments [si..], recording captures.
bool match_from(const std::vector<std::string>& pat, size_t pi,
                const std::vector<std::string>& path, size_t si,
                std::map<std::string, std::string>& params) {
  if (pi == pat.size()) return si == path.size();
  const std::string& p = pat[pi];
  if (!is_capture(p)) {
    return si < path.size() && path[si] == p && match_from(pat, pi + 1, path, si + 1, params);
  }
  std::string name = p.substr(1, p.size() - 2);
  if (!name.ends_with('*')) {
    if (si >= path.size()) return false;
    params[name] = percent_decode(path[si], false);
    return match_from(pat, pi + 1, path, si + 1, params);
  }
  name.pop_back();
  // Greedy from the longest capture: "/images/a/json/json" names the image "a/json".
  size_t rest = pat.size() - pi - 1;
  for (size_t end = path.size() - std::min(rest, path.size()); end > si; end--) {
    std::string joined;
    for (size_t i = si; i < end; i++) joined += (i > si ? "/" : "") + path[i];
    if (match_from(pat, pi + 1, path, end, params)) {
      params[name] = percent_decode(joined, false);
      return true;
    }
  }
  return false;
}

}  // namespace

void Router::add(std::string method, std::string pattern, Handler handler, bool stream_body) {
  routes_.push_back(
      Route{std::move(method), path_segments(pattern), std::move(handler), stream_body});
}

const Handler* Router::match(Request& req, bool* path_known, bool* stream_body) const {
  if (path_known) *path_known = false;
  std::vector<std::string> segs = path_segments(req.path);
  // HEAD is answered by a GET route when there is no HEAD route (the server drops the body),
  // as Go's mux does.
  for (int pass = 0; pass < 2; pass++) {
    const std::string want = pass == 0 ? req.method : "GET";
    if (pass == 1 && req.method != "HEAD") break;
    for (const Route& r : routes_) {
      std::map<std::string, std::string> params;
      if (!match_from(r.segments, 0, segs, 0, params)) continue;
      if (r.method != want) {
        if (path_known) *path_known = true;
        continue;
      }
      req.params = std::move(params);
      if (stream_body) *stream_body = r.stream_body;
      return &r.handler;
    }
  }
  return nullptr;
}

}  // namespace berth::api
