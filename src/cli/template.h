// The subset of Go's text/template that docker's --format flags use, evaluated over JSON.
//
//   {{.Field.Sub}} {{.}} {{json .Config}} {{.Label "k"}} {{join .Args " "}} {{index .M "k"}}
//   {{if .X}}..{{else if .Y}}..{{else}}..{{end}} {{range .List}}{{.}}{{end}} {{with .X}}..{{end}}
//   {{range $i, $e := .L}} {{$e}} {{$}}  pipelines ({{.Name | upper}}), parentheses, "strings",
//   `raw strings`, numbers, true/false, {{- trim markers -}}
// Functions: json, join, split, lower, upper, title, truncate, pad, index, len, print, printf
// (Go's %[flags][width][.prec]verb for s d v q x X o b f e g t %%), println, eq, ne, lt, le, gt,
// ge, and, or, not.
//
// Values print as Go prints an interface{} decoded from JSON: strings bare, numbers as
// numbers, [a b] for arrays, map[k:v] for objects, <nil> for null, and <no value> for a
// missing key. `table` formats (docker's "table {{.ID}}\t{{.Names}}") are handled by
// TableFormat.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace berth::cli {

// A method called on the dot value with arguments, e.g. {{.Label "com.example"}} on ps rows.
// Returns nullopt when the name is not a method.
using MethodHook = std::function<std::optional<nlohmann::ordered_json>(
    std::string_view name, const std::vector<nlohmann::ordered_json>& args)>;

struct Node;

struct TemplateExecOptions {
  // A field missing from an object that stands for a Go struct is an error, as with docker's
  // inspect (`map has no entry for key "X"`); keys of Go maps (Labels, ...) still print
  // <no value>.
  bool missing_key_error = false;
};

class Template {
 public:
  // Errors read like Go's: "template: :1: unexpected \"}\" in operand".
  static Result<Template> parse(std::string_view text);
  using ExecOptions = TemplateExecOptions;
  Result<std::string> execute(const nlohmann::ordered_json& dot, const MethodHook& hook = nullptr,
                              const ExecOptions& opts = ExecOptions()) const;

 private:
  std::shared_ptr<const Node> root_;
  std::string text_;
};

// JSON as Go's encoding/json writes it: compact, with <, > and & escaped.
std::string go_json(const nlohmann::ordered_json& v);
// Go's %v of a JSON value.
std::string go_format_value(const nlohmann::ordered_json& v);

// Go's text/tabwriter with docker's settings (minwidth 10 for tables' columns, tabwidth 1,
// padding 3, padchar ' '): aligns tab-terminated cells into columns.
std::string tabwrite(std::string_view text, size_t minwidth = 10, size_t padding = 3);

// A --format value as docker's formatter takes it: "table" prefix detected and removed,
// surrounding spaces trimmed, the two-character escapes \t and \n turned into tab and newline.
struct FormatSpec {
  bool table = false;
  std::string body;  // the template text (may be empty: "table" alone)
};
FormatSpec parse_format(std::string_view format);

// Renders rows with a format: for a table, a header line (the template executed on
// `header`, which maps field names to column titles) then the rows, through tabwrite();
// otherwise each row's output followed by a newline.
Result<std::string> render_rows(const FormatSpec& spec, const nlohmann::ordered_json& header,
                                const std::vector<nlohmann::ordered_json>& rows,
                                const std::vector<MethodHook>& hooks = {});

}  // namespace berth::cli
