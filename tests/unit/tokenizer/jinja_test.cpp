// The Jinja interpreter piece by piece: whitespace rules, statements, expressions, filters, the
// marks that follow message content, and the errors and limits that stop a bad template.
#include <gtest/gtest.h>

#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "runtime/core/check.h"
#include "runtime/tokenizer/jinja/interpreter.h"
#include "runtime/tokenizer/jinja/parser.h"

namespace shardlm::jinja {
namespace {

MarkedText render_marked(const std::string& source, const Dict& variables = {}, const Limits& limits = {}) {
  return render(parse_template(source), variables, limits);
}

std::string run(const std::string& source, const Dict& variables = {}) { return render_marked(source, variables).text; }

// The error a template gives, or "" if it renders.
std::string error_of(const std::string& source, const Dict& variables = {}, const Limits& limits = {}) {
  try {
    render_marked(source, variables, limits);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

Value message(const std::string& role, const std::string& content) {
  return Value::of(Dict{{"role", Value::text(role)}, {"content", Value::of(MarkedText::content(content))}});
}

TEST(Jinja, TrimBlocksDropsTheNewlineAfterABlockTagOnly) {
  EXPECT_EQ(run("{% if true %}\nyes\n{% endif %}\nend"), "yes\nend");
  EXPECT_EQ(run("{{ 'a' }}\nb"), "a\nb") << "not after a print tag";
  EXPECT_EQ(run("{# note #}\nx"), "x") << "after a comment too";
}

TEST(Jinja, LstripBlocksDropsIndentBeforeABlockTagOnItsOwnLine) {
  EXPECT_EQ(run("a\n    {% if true %}\n    b\n    {% endif %}\nc"), "a\n    b\nc");
  EXPECT_EQ(run("a  {% if true %}b{% endif %}"), "a  b") << "text before the tag on its line stays";
  EXPECT_EQ(run("  {{ 'x' }}"), "  x") << "print tags keep their indent";
  EXPECT_EQ(run("  {%+ if true %}x{% endif %}"), "  x") << "{%+ keeps it";
}

TEST(Jinja, DashesStripWhitespaceOnTheirSide) {
  EXPECT_EQ(run("a  \n  {%- if true -%}  \n  b  {{- ' c ' -}}  \n d{%- endif %}"), "ab c d");
  EXPECT_EQ(run("x {#- comment -#} y"), "xy");
  EXPECT_EQ(run("line\n"), "line") << "one trailing newline is dropped";
  EXPECT_EQ(run("a\r\nb"), "a\nb");
}

TEST(Jinja, ForLoopsAndTheLoopVariable) {
  EXPECT_EQ(run("{% for x in ['a', 'b', 'c'] %}{{ loop.index }}{{ loop.index0 }}{{ x }}"
                "{% if loop.first %}F{% endif %}{% if loop.last %}L{% endif %}/{{ loop.length }} {% endfor %}"),
            "10aF/3 21b/3 32cL/3 ");
  EXPECT_EQ(run("{% for x in [] %}x{% else %}empty{% endfor %}"), "empty");
  EXPECT_EQ(run("{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }};{% endfor %}"), "a=1;b=2;");
  EXPECT_EQ(run("{% for x in [1, 2, 3, 4] if x is even %}{{ x }}{{ loop.length }}{% endfor %}"), "2242");
  EXPECT_EQ(run("{% for x in range(5) %}{% if x == 1 %}{% continue %}{% endif %}{% if x == 3 %}{% break %}{% endif %}"
                "{{ x }}{% endfor %}"),
            "02");
  EXPECT_EQ(run("{% set x = 1 %}{% for i in [1] %}{% set x = 2 %}{% endfor %}{{ x }}"), "1") << "sets stay in the loop";
}

TEST(Jinja, NamespacesCarryValuesOutOfLoops) {
  EXPECT_EQ(run("{% set ns = namespace(found=false, n=0) %}{% for m in [1, 2, 3] %}{% set ns.n = ns.n + m %}"
                "{% if m == 2 %}{% set ns.found = true %}{% endif %}{% endfor %}{{ ns.found }} {{ ns.n }}"),
            "True 6");
  EXPECT_NE(error_of("{% set x = 1 %}{% set x.y = 2 %}").find("not a namespace"), std::string::npos);
}

TEST(Jinja, Expressions) {
  EXPECT_EQ(run("{{ 1 + 2 * 3 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 10 }} {{ 1.5 + 1 }}"),
            "7 3 -4 2 3.5 1024 2.5");
  EXPECT_EQ(run("{{ 'a' ~ 1 ~ none ~ true }} {{ 'ab' + 'cd' }} {{ [1] + [2] }}"), "a1NoneTrue abcd [1, 2]");
  EXPECT_EQ(run("{{ 'b' in 'abc' }} {{ 2 not in [1, 2] }} {{ 'k' in {'k': 1} }}"), "True False True");
  EXPECT_EQ(run("{{ 'yes' if 1 < 2 else 'no' }}{{ 'x' if false }}"), "yes");
  EXPECT_EQ(run("{{ none or 'b' }} {{ 0 and 1 }} {{ not [] }}"), "b 0 True");
  EXPECT_EQ(run("{{ {'a': [1, 'two', none]} }} {{ \"it's\" }}"), "{'a': [1, 'two', None]} it's");
  EXPECT_EQ(run("{{ 'h\\u00e9\\n'|length }}"), "3") << "lengths count characters";
}

TEST(Jinja, AttributesSubscriptsAndSlices) {
  const Dict vars = {{"messages", Value::of(List{message("system", "S"), message("user", "U")})}};
  EXPECT_EQ(run("{{ messages[0].role }} {{ messages[1]['content'] }} {{ messages[-1].role }}", vars), "system U user");
  EXPECT_EQ(run("{% for m in messages[1:] %}{{ m.role }}{% endfor %}", vars), "user");
  EXPECT_EQ(run("{{ 'héllo'[1:3] }} {{ 'abcdef'[::2] }} {{ 'abc'[::-1] }} {{ [1, 2, 3][-2:] }}"), "él ace cba [2, 3]");
  EXPECT_EQ(run("{{ messages[5] is defined }} {{ messages[0].missing is defined }}", vars), "False False");
  EXPECT_NE(error_of("{{ messages[5].role }}", vars).find("'messages[5]' is undefined"), std::string::npos);
}

TEST(Jinja, FiltersTestsAndMethods) {
  EXPECT_EQ(run("{{ '  a b  '|trim }}|{{ ' x '.strip() }}|{{ 'xxaxx'.strip('x') }}|{{ ' a '.lstrip() }}|{{ ' a '.rstrip() }}|"),
            "a b|x|a|a | a|");
  EXPECT_EQ(run("{{ 'Ab'|upper }}{{ 'Ab'|lower }}{{ 'hello world'|capitalize }}{{ 'a b'.title() }}"), "ABabHello worldA B");
  EXPECT_EQ(run("{{ [1, 2]|length }}{{ [3, 4]|first }}{{ [3, 4]|last }}{{ ['a', 'b']|join('-') }}"), "234a-b");
  EXPECT_EQ(run("{{ 'a-b-c'.split('-') }} {{ ' a  b '.split() }} {{ 'a-b-c'.split('-', 1) }}"),
            "['a', 'b', 'c'] ['a', 'b'] ['a', 'b-c']");
  EXPECT_EQ(run("{{ 'abc'.startswith('ab') }}{{ 'abc'.endswith(('x', 'c')) }}{{ 'aXa'|replace('a', 'b') }}"), "TrueTruebXb");
  EXPECT_EQ(run("{{ x|default('d') }} {{ ''|default('e', true) }} {{ none|string }} {{ 3|string + '!' }}"), "d e None 3!");
  EXPECT_EQ(run("{{ {'b': 'é', 'a': [1, 2.5, true, none]}|tojson }}"), R"({"b": "é", "a": [1, 2.5, true, null]})");
  EXPECT_EQ(run("{{ {'a': 1}|tojson(indent=2) }}"), "{\n  \"a\": 1\n}");
  EXPECT_EQ(run("{{ {'k': 'v'}.get('k') }}{{ {'k': 'v'}.get('z', 'none') }}{% for k, v in {'a': 1}|items %}{{ k }}{{ v }}{% endfor %}"),
            "vnonea1");
  EXPECT_EQ(run("{{ [{'r': 'u'}, {'r': 'a'}, {'r': 'u'}]|selectattr('r', 'equalto', 'u')|list|length }}"
                "{{ ['x', 'code', 'y']|reject('equalto', 'code')|join(',') }}{{ [{'n': 1}, {'n': 2}]|map(attribute='n')|join }}"),
            "2x,y12");
  EXPECT_EQ(run("{{ x is none }}{{ none is none }}{{ 'a' is string }}{{ 1 is number }}{{ {} is mapping }}{{ 3 is odd }}"
                "{{ 4 is divisibleby 2 }}{{ x is not defined }}"),
            "FalseTrueTrueTrueTrueTrueTrueTrue");
}

TEST(Jinja, StrftimeNowFormatsTheCurrentTime) {
  // transformers formats datetime.now(); so does this (Llama 3.1's templates print "Today Date").
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  EXPECT_EQ(run("{{ strftime_now('%Y') }}"), std::to_string(local.tm_year + 1900));
}

TEST(Jinja, MacrosAndSetBlocks) {
  EXPECT_EQ(run("{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('A') }} {{ greet('B', '?') }}"
                " {{ greet(name='C') }}"),
            "Hi A! Hi B? Hi C!");
  EXPECT_EQ(run("{% set block %}a{{ 1 + 1 }}b{% endset %}[{{ block }}]"), "[a2b]");
  EXPECT_EQ(run("{% macro wrap() %}<{{ caller() }}>{% endmacro %}{% call wrap() %}inner{% endcall %}"), "<inner>");
}

TEST(Jinja, ContentMarksFollowMessageText) {
  const Dict vars = {{"messages", Value::of(List{message("user", "  <|im_end|> hi  ")})}};
  const MarkedText out = render_marked("[{{ messages[0].content | trim }}]{{ '<|im_end|>' }}", vars);
  EXPECT_EQ(out.text, "[<|im_end|> hi]<|im_end|>");
  ASSERT_EQ(out.marks.size(), 1u);
  EXPECT_EQ(out.marks[0].begin, 1u);
  EXPECT_EQ(out.marks[0].end, 14u) << "the trimmed content only, not the template's own marker";
  // Through concatenation, set, slicing and split.
  const MarkedText joined = render_marked(
      "{% set c = 'A:' + messages[0]['content'].strip() %}{{ c[2:] ~ '|' }}{{ messages[0].content.split()[1] }}", vars);
  EXPECT_EQ(joined.text, "<|im_end|> hi|hi");
  ASSERT_EQ(joined.marks.size(), 2u);
  EXPECT_EQ(joined.marks[0].end, 13u);
  EXPECT_EQ(joined.marks[1].begin, 14u);
  EXPECT_EQ(joined.marks[1].end, 16u);
  // Where a filter rebuilds the text, all of its result counts as content.
  const MarkedText upper = render_marked("x{{ messages[0].content|upper }}", vars);
  ASSERT_EQ(upper.marks.size(), 1u);
  EXPECT_EQ(upper.marks[0].begin, 1u);
  EXPECT_EQ(upper.marks[0].end, upper.text.size());
  EXPECT_TRUE(render_marked("{{ 'plain' ~ 1 }}", vars).marks.empty());
}

TEST(Jinja, SyntaxErrorsNameTheLineAndTheProblem) {
  auto parse_error = [](const std::string& source) {
    try {
      parse_template(source);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(parse_error("line one\n{% if x %}\nno end").find("the {% if %} opened on line 2 is never closed (expected {% endif %})"),
            std::string::npos)
      << parse_error("line one\n{% if x %}\nno end");
  EXPECT_NE(parse_error("a\nb\n{{ 1 + }}").find("line 3: expected a value, got '}}'"), std::string::npos)
      << parse_error("a\nb\n{{ 1 + }}");
  EXPECT_NE(parse_error("{% include 'x' %}").find("the tag {% include %} is not supported"), std::string::npos);
  EXPECT_NE(parse_error("{{ 'open").find("never closed"), std::string::npos);
  EXPECT_NE(parse_error("{# open").find("comment"), std::string::npos);
  EXPECT_NE(parse_error("{{ a $ b }}").find("unexpected character '$'"), std::string::npos);
  EXPECT_NE(parse_error("{{ " + std::string(500, '(') + "1" + std::string(500, ')') + " }}").find("nests more than"), std::string::npos);
}

TEST(Jinja, RuntimeErrorsAreClear) {
  EXPECT_NE(error_of("\n{{ 'a'|frobnicate }}").find("line 2: unknown filter 'frobnicate'"), std::string::npos);
  EXPECT_NE(error_of("{{ 1 is frob }}").find("unknown test 'frob'"), std::string::npos);
  EXPECT_NE(error_of("{{ raise_exception('Roles must alternate') }}").find("refuses this conversation (line 1): Roles must alternate"),
            std::string::npos);
  EXPECT_NE(error_of("{{ 'a' + 1 }}").find("unsupported operand types for +: 'str' and 'int'"), std::string::npos);
  EXPECT_NE(error_of("{{ x + 1 }}").find("'x' is undefined"), std::string::npos);
  EXPECT_NE(error_of("{{ 1 // 0 }}").find("division or modulo by zero"), std::string::npos);
  EXPECT_NE(error_of("{{ nope() }}").find("'nope' is undefined, so it cannot be called"), std::string::npos);
  EXPECT_NE(error_of("{% set l = [] %}{{ l.append(1) }}").find("cannot be changed"), std::string::npos);
}

TEST(Jinja, RunawayTemplatesStopWithAnError) {
  Limits small;
  small.max_steps = 100'000;
  small.max_output_bytes = 1 << 16;
  EXPECT_NE(error_of("{% for a in range(1000) %}{% for b in range(1000) %}{% endfor %}{% endfor %}", {}, small).find("steps"),
            std::string::npos);
  EXPECT_NE(error_of("{% for a in range(100000) %}xxxxxxxx{% endfor %}", {}, small).find("rendered text is over the limit"),
            std::string::npos);
  EXPECT_NE(error_of("{% set s = namespace(v='ab') %}{% for i in range(40) %}{% set s.v = s.v ~ s.v %}{% endfor %}", {}, small)
                .find("limit"),
            std::string::npos);
  EXPECT_NE(error_of("{{ 'x' * 100000000 }}", {}, small).find("limit"), std::string::npos);
  EXPECT_NE(error_of("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}").find("macro calls nest more than 64 deep"),
            std::string::npos);
  EXPECT_NE(error_of("{{ range(10000000) }}").find("range of more than"), std::string::npos);
}

// Corners of the language against jinja2 itself: snippets rendered by transformers' environment
// (tests/reference/make_chat_template_fixture.py), here byte for byte.
TEST(Jinja, SnippetsRenderAsJinja2Does) {
  const std::string path = std::string(SHARDLM_TEST_DATA) + "/../fixtures/chat_templates/chat_templates.json";
  std::ifstream in(path);
  ASSERT_TRUE(in) << path;
  const nlohmann::json snippets = nlohmann::json::parse(in)["snippets"];
  List messages;
  for (const auto& m : snippets["messages"]) messages.push_back(message(m["role"], m["content"]));
  const Dict vars = {{"messages", Value::of(std::move(messages))},
                     {"add_generation_prompt", Value::of(true)},
                     {"bos_token", Value::text(snippets["bos_token"])},
                     {"eos_token", Value::text(snippets["eos_token"])},
                     {"tools", Value::none()},
                     {"documents", Value::none()}};
  ASSERT_GT(snippets["cases"].size(), 30u);
  for (const auto& c : snippets["cases"]) {
    const std::string source = c["template"];
    SCOPED_TRACE(source);
    if (c.contains("expected")) {
      try {
        EXPECT_EQ(run(source, vars), c["expected"].get<std::string>());
      } catch (const Error& e) {
        ADD_FAILURE() << e.what();
      }
    } else {
      EXPECT_NE(error_of(source, vars), "") << "jinja2 refuses it: " << c["error"].get<std::string>();
    }
  }
}

}  // namespace
}  // namespace shardlm::jinja
