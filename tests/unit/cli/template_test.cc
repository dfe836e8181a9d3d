#include "cli/template.h"

#include <gtest/gtest.h>

namespace berth::cli {
namespace {

using Json = nlohmann::ordered_json;

std::string Render(std::string_view tmpl, const Json& dot, const MethodHook& hook = nullptr) {
  auto t = Template::parse(tmpl);
  if (!t) return "PARSE ERROR: " + t.error().what();
  auto s = t->execute(dot, hook);
  if (!s) return "EXEC ERROR: " + s.error().what();
  return *s;
}

const Json kContainer = Json::parse(R"({
  "Id": "abc123", "Name": "/web",
  "State": {"Running": true, "ExitCode": 0, "Pid": 42},
  "Config": {"Cmd": ["sh", "-c", "echo hi"], "Env": ["A=1", "B=2"], "Labels": {"z": "last", "a": "first"},
             "Entrypoint": null, "Tty": false},
  "Size": 1990000, "Ratio": 0.5, "Mounts": [], "Empty": ""
})");

TEST(Template, PrintfFlagsWidthAndPrecision) {
  // Go's fmt: %[flags][width][.precision]verb.
  EXPECT_EQ(Render(R"({{printf "%-10s|" .Name}})", kContainer), "/web      |");
  EXPECT_EQ(Render(R"({{printf "%5d|%05d|%-4d|%+d" 42 42 7 5}})", kContainer),
            "   42|00042|7   |+5");
  EXPECT_EQ(Render(R"({{printf "%x|%.2f|%5.1f|%.2s" 255 3.14159 3.14159 "abc"}})", kContainer),
            "ff|3.14|  3.1|ab");
  EXPECT_EQ(Render(R"({{printf "%s" .State.Pid}})", kContainer), "%!s(int=42)");
  EXPECT_EQ(Render(R"({{printf "%d%%"}})", kContainer), "%!d(MISSING)%");
}

TEST(Template, TitleStartsAWordAfterAnyNonLetter) {
  EXPECT_EQ(Render(R"({{title "foo-bar foo.bar don't a1b foo_bar x:y 1a"}})", kContainer),
            "Foo-Bar Foo.Bar Don'T A1b Foo_bar X:Y 1a");
}

TEST(Template, TableTitleOfALabelIsItsLastDottedPart) {
  auto text = render_rows(parse_format("table {{.Label \"com.x.y\"}}\t{{.Names}}"),
                          Json{{"Names", "NAMES"}}, {Json{{"Names", "bg"}}},
                          {[](std::string_view, const std::vector<Json>&) -> std::optional<Json> {
                            return Json("v");
                          }});
  ASSERT_TRUE(text);
  EXPECT_EQ(*text, "y         NAMES\nv         bg\n");
}

TEST(Template, MissingKeyIsAnErrorForInspect) {
  auto t = Template::parse("x {{.Config.NoSuch}}");
  ASSERT_TRUE(t);
  auto s = t->execute(kContainer, nullptr, {.missing_key_error = true});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().what(),
            "template: :1:11: executing \"\" at <.Config.NoSuch>: map has no entry for key "
            "\"NoSuch\"");
  // Keys of Go maps (labels) still print <no value>.
  auto l = Template::parse("{{.Config.Labels.nope}}");
  ASSERT_TRUE(l);
  EXPECT_EQ(*l->execute(kContainer, nullptr, {.missing_key_error = true}), "<no value>");
}

TEST(Template, FieldsAndNesting) {
  EXPECT_EQ(Render("{{.Id}}", kContainer), "abc123");
  EXPECT_EQ(Render("{{.State.Pid}} {{.State.Running}}", kContainer), "42 true");
  EXPECT_EQ(Render("id={{ .Id }}!", kContainer), "id=abc123!");
}

TEST(Template, ValuesPrintLikeGo) {
  EXPECT_EQ(Render("{{.Config.Cmd}}", kContainer), "[sh -c echo hi]");
  EXPECT_EQ(Render("{{.Config.Labels}}", kContainer), "map[a:first z:last]");  // sorted keys
  // A null prints as docker prints the Go field: nil slice [], nil map map[], nil pointer <nil>.
  EXPECT_EQ(Render("{{.Config.Entrypoint}}", kContainer), "[]");
  EXPECT_EQ(Render("{{.Config.Volumes}}|{{.HostConfig.Binds}}|{{.HostConfig.CapAdd}}|{{.Health}}",
                   Json::parse(R"({"Config": {"Volumes": null}, "HostConfig": {"Binds": null,
                   "CapAdd": null}, "Health": null})")),
            "map[]|[]|[]|<nil>");
  EXPECT_EQ(Render("{{json .Config.Entrypoint}}", kContainer), "null");
  EXPECT_EQ(Render("{{.NoSuchField}}", kContainer), "<no value>");
  EXPECT_EQ(Render("{{.Size}}", kContainer), "1990000");  // not 1.99e+06
  EXPECT_EQ(Render("{{.Ratio}}", kContainer), "0.5");
  EXPECT_EQ(Render("{{.Mounts}}", kContainer), "[]");
}

TEST(Template, JsonFunctionEscapesHtmlLikeGo) {
  EXPECT_EQ(Render("{{json .Config.Labels}}", kContainer), R"({"z":"last","a":"first"})");
  EXPECT_EQ(Render("{{json .}}", Json{{"D", "<none>&"}}), R"({"D":"\u003cnone\u003e\u0026"})");
  EXPECT_EQ(Render("{{json .Config.Cmd}}", kContainer), R"(["sh","-c","echo hi"])");
}

TEST(Template, Functions) {
  EXPECT_EQ(Render(R"({{join .Config.Env ","}})", kContainer), "A=1,B=2");
  EXPECT_EQ(Render(R"({{index .Config.Labels "a"}})", kContainer), "first");
  EXPECT_EQ(Render("{{index .Config.Cmd 2}}", kContainer), "echo hi");
  EXPECT_EQ(Render("{{len .Config.Env}}", kContainer), "2");
  EXPECT_EQ(Render("{{upper .Name}} {{lower \"ABC\"}} {{title \"hello world\"}}", kContainer),
            "/WEB abc Hello World");
  EXPECT_EQ(Render(R"({{split "a:b:c" ":"}})", kContainer), "[a b c]");
  EXPECT_EQ(Render("{{truncate .Id 3}}", kContainer), "abc");
  EXPECT_EQ(Render(R"({{printf "%s=%d %q" "n" 5 "x"}})", kContainer), "n=5 \"x\"");
  EXPECT_EQ(Render(R"({{println "a" 1}})", kContainer), "a 1\n");
  EXPECT_EQ(Render(R"({{pad "x" 1 2}}|)", kContainer), " x  |");
}

TEST(Template, PipelinesAndParentheses) {
  EXPECT_EQ(Render("{{.Name | upper}}", kContainer), "/WEB");
  // The piped value is the last argument, as in Go.
  EXPECT_EQ(Render(R"({{"x" | printf "%s-%s" "a"}})", kContainer), "a-x");
  EXPECT_EQ(Render("{{(index .Config.Cmd 0) | upper}}", kContainer), "SH");
  EXPECT_EQ(Render("{{(index . \"State\").Pid}}", kContainer), "42");
}

TEST(Template, IfElseRangeWith) {
  EXPECT_EQ(Render("{{if .State.Running}}up{{else}}down{{end}}", kContainer), "up");
  EXPECT_EQ(Render("{{if .Empty}}x{{else if .State.Pid}}pid{{else}}none{{end}}", kContainer),
            "pid");
  EXPECT_EQ(Render("{{if not .Config.Tty}}notty{{end}}", kContainer), "notty");
  EXPECT_EQ(Render("{{if eq .State.Pid 42}}yes{{end}}", kContainer), "yes");
  EXPECT_EQ(Render(R"({{if eq .Name "/a" "/web"}}one-of{{end}})", kContainer), "one-of");
  EXPECT_EQ(Render("{{if and .State.Running (gt .State.Pid 1)}}ok{{end}}", kContainer), "ok");
  EXPECT_EQ(Render("{{range .Config.Env}}[{{.}}]{{end}}", kContainer), "[A=1][B=2]");
  EXPECT_EQ(Render("{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}", kContainer),
            "a=first;z=last;");
  EXPECT_EQ(Render("{{range $i, $e := .Config.Cmd}}{{$i}}:{{$e}} {{end}}", kContainer),
            "0:sh 1:-c 2:echo hi ");
  EXPECT_EQ(Render("{{range .Mounts}}x{{else}}no mounts{{end}}", kContainer), "no mounts");
  EXPECT_EQ(Render("{{with .State}}{{.Pid}}{{end}}", kContainer), "42");
  EXPECT_EQ(Render("{{range .Config.Env}}{{$.Id}} {{end}}", kContainer), "abc123 abc123 ");
}

TEST(Template, TrimMarkersAndComments) {
  EXPECT_EQ(Render("a  {{- .Id -}}  b", kContainer), "aabc123b");
  EXPECT_EQ(Render("x{{/* a comment */}}y", kContainer), "xy");
}

TEST(Template, MethodHookForLabel) {
  MethodHook hook = [](std::string_view name,
                       const std::vector<Json>& args) -> std::optional<Json> {
    if (name == "Label" && args.size() == 1) return Json("v-" + args[0].get<std::string>());
    return std::nullopt;
  };
  EXPECT_EQ(Render(R"({{.Label "com.x"}})", Json::object(), hook), "v-com.x");
}

TEST(Template, ParseErrorsNameTheProblem) {
  EXPECT_NE(Render("{{.Id", kContainer).find("unclosed action"), std::string::npos);
  EXPECT_NE(Render("{{nosuchfunc .Id}}", kContainer).find("function \"nosuchfunc\" not defined"),
            std::string::npos);
  EXPECT_NE(Render("{{if .Id}}x", kContainer).find("unexpected EOF"), std::string::npos);
  EXPECT_NE(Render("{{end}}", kContainer).find("unexpected {{end}}"), std::string::npos);
  EXPECT_NE(Render("{{$nope}}", kContainer).find("undefined variable"), std::string::npos);
}

TEST(Tabwriter, AlignsColumnsLikeGo) {
  // minwidth 10, padding 3; the last cell is not padded.
  EXPECT_EQ(tabwrite("A\tB\tC\nlonger-cell-here\tx\ty\n"),
            "A                  B         C\n"
            "longer-cell-here   x         y\n");
  // Multi-byte characters count once (the ellipsis docker uses).
  EXPECT_EQ(tabwrite("a\xe2\x80\xa6\tb\nxx\tc\n"), "a\xe2\x80\xa6        b\nxx        c\n");
}

TEST(Format, TableDirectiveAndEscapes) {
  FormatSpec s = parse_format("table {{.ID}}\\t{{.Name}}");
  EXPECT_TRUE(s.table);
  EXPECT_EQ(s.body, "{{.ID}}\t{{.Name}}");
  FormatSpec p = parse_format("{{.ID}}");
  EXPECT_FALSE(p.table);
}

TEST(Format, RenderRowsWithHeader) {
  Json header = {{"ID", "CONTAINER ID"}, {"Name", "NAMES"}};
  std::vector<Json> rows = {Json{{"ID", "abc"}, {"Name", "web"}},
                            Json{{"ID", "def"}, {"Name", "db"}}};
  auto t = render_rows(parse_format("table {{.ID}}\t{{.Name}}"), header, rows);
  ASSERT_TRUE(t);
  EXPECT_EQ(*t, "CONTAINER ID   NAMES\nabc            web\ndef            db\n");
  auto plain = render_rows(parse_format("{{.Name}}"), header, rows);
  ASSERT_TRUE(plain);
  EXPECT_EQ(*plain, "web\ndb\n");
}

}  // namespace
}  // namespace berth::cli
