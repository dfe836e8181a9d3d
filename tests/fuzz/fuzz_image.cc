// libFuzzer target for image formats and names (src/oci/image*.cc, src/image/reference.cc):
// every input goes to parse_manifest, parse_index, parse_image_config, parse_descriptor,
// sniff_document_kind, document_kind, layer_type, parse_reference, parse_platform and
// Digest::parse. Besides the sanitizers it checks:
//   - whatever a document parser accepts, serialize writes out as text the same parser
//     accepts, and serialising that again gives the same bytes (a fixed point);
//   - an index entry's own platform always selects an entry (select_platform never fails for a
//     platform the index lists);
//   - a parsed reference's str() and familiar() parse back to the same reference; a parsed
//     platform's string parses back to the same platform; a parsed digest is its input;
//   - error messages are non-empty, one line, without control bytes, and bounded.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "image/reference.h"
#include "oci/image.h"

namespace {

namespace img = berth::oci::image;

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "fuzz_image: %s\n%s\n", what, detail.c_str());
  std::abort();
}

void check_error(const berth::Error& e) {
  const std::string& m = e.message();
  if (m.empty()) fail("error without a message", "");
  if (m.size() > 2048) fail("error message too long", m.substr(0, 2048));
  for (char c : m)
    if (static_cast<unsigned char>(c) < 0x20) fail("control byte in an error message", m);
}

// parse -> serialize -> parse -> serialize must be a fixed point.
template <class T, class Parse>
void round_trip(const char* what, const berth::Result<T>& first, Parse parse, size_t limit) {
  if (!first) {
    check_error(first.error());
    return;
  }
  std::string out = img::serialize(*first);
  if (out.size() > limit) return;  // canonical form can outgrow a body at the limit
  berth::Result<T> again = parse(out);
  if (!again) fail(what, "serialised output does not parse: " + again.error().what() + "\n" + out);
  std::string out2 = img::serialize(*again);
  if (out2 != out) fail(what, "serialize is not a fixed point:\n" + out + "\n---\n" + out2);
}

void check_manifest(std::string_view text) {
  berth::Result<img::Manifest> m = img::parse_manifest(text);
  round_trip("manifest", m, img::parse_manifest, img::kMaxManifestBytes);
  if (!m) return;
  for (const img::Descriptor& layer : m->layers) {
    berth::Result<img::LayerType> t = img::layer_type(layer.media_type);
    if (!t) check_error(t.error());
  }
}

void check_index(std::string_view text) {
  berth::Result<img::Index> idx = img::parse_index(text);
  round_trip("index", idx, img::parse_index, img::kMaxManifestBytes);
  if (!idx) return;
  berth::Result<img::Descriptor> host = img::select_platform(*idx, img::host_platform());
  if (!host) check_error(host.error());
  size_t checked = 0;
  for (const img::Descriptor& d : idx->manifests) {
    if (!d.platform || ++checked > 8) continue;
    berth::Result<img::Descriptor> own = img::select_platform(*idx, *d.platform);
    if (!own)
      fail("an index entry's own platform selects nothing",
           img::platform_string(*d.platform) + ": " + own.error().what());
  }
}

void check_config(std::string_view text) {
  berth::Result<img::ImageConfig> c = img::parse_image_config(text);
  round_trip("config", c, img::parse_image_config, img::kMaxConfigBytes);
  if (!c) return;
  if (c->raw != text) fail("config raw differs from the input", "");
  std::vector<berth::Digest> chain = img::chain_ids(c->diff_ids);
  if (chain.size() != c->diff_ids.size()) fail("chain_ids size differs", "");
}

void check_descriptor(std::string_view text) {
  berth::Result<img::Descriptor> d = img::parse_descriptor(text);
  round_trip("descriptor", d, img::parse_descriptor, img::kMaxManifestBytes);
}

void check_names(std::string_view text) {
  if (text.size() > 4096) return;  // names are short; the JSON parsers cover long inputs
  (void)img::document_kind(text);
  berth::Result<img::LayerType> t = img::layer_type(text);
  if (!t) check_error(t.error());

  for (bool add_tag : {true, false}) {
    berth::Result<berth::image::Reference> r = berth::image::parse_reference(text, add_tag);
    if (!r) {
      check_error(r.error());
      continue;
    }
    std::string full = r->str();
    berth::Result<berth::image::Reference> again = berth::image::parse_reference(full, add_tag);
    if (!again) fail("reference str() does not parse", full + ": " + again.error().what());
    if (again->str() != full) fail("reference str() is not a fixed point", full);
    berth::Result<berth::image::Reference> fam =
        berth::image::parse_reference(r->familiar(), add_tag);
    if (!fam) fail("reference familiar() does not parse", r->familiar());
    if (fam->str() != full) fail("familiar() names another image", full + " vs " + fam->str());
    (void)r->registry_host();
    (void)r->object();
  }
  (void)berth::image::looks_like_id(text);

  berth::Result<img::Platform> p = img::parse_platform(text);
  if (p) {
    std::string s = img::platform_string(*p);
    berth::Result<img::Platform> again = img::parse_platform(s);
    if (!again || img::platform_string(*again) != s) fail("platform string does not round-trip", s);
    if (!img::platform_matches(*p, *p)) fail("a platform does not match itself", s);
  } else {
    check_error(p.error());
  }

  berth::Result<berth::Digest> d = berth::Digest::parse(text);
  if (d && d->str() != text) fail("digest differs from its input", d->str());
  if (!d) check_error(d.error());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)img::sniff_document_kind("", text);
  check_manifest(text);
  check_index(text);
  check_config(text);
  check_descriptor(text);
  check_names(text);
  return 0;
}
