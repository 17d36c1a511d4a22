#include "runtime/tokenizer/jinja/parser.h"

#include <charconv>
#include <cstdlib>
#include <initializer_list>

#include "runtime/core/check.h"
#include "runtime/tokenizer/jinja/lexer.h"

namespace shardlm::jinja {
namespace {

// Nesting beyond this is refused, so that a hostile template cannot exhaust the stack.
constexpr int kMaxDepth = 200;

std::string describe(const Token& t) {
  switch (t.kind) {
    case Token::Kind::text: return "template text";
    case Token::Kind::print_begin: return "'{{'";
    case Token::Kind::print_end: return "'}}'";
    case Token::Kind::block_begin: return "'{%'";
    case Token::Kind::block_end: return "'%}'";
    case Token::Kind::string: return "a string";
    case Token::Kind::integer:
    case Token::Kind::number: return "the number " + t.value;
    case Token::Kind::end: return "the end of the template";
    default: return "'" + t.value + "'";
  }
}

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  Body parse() {
    std::string stop;
    return parse_body({}, stop);
  }

 private:
  const Token& peek(size_t ahead = 0) const { return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)]; }
  const Token& next() {
    const Token& t = tokens_[pos_];
    if (pos_ + 1 < tokens_.size()) ++pos_;
    return t;
  }
  bool at_op(const char* op, size_t ahead = 0) const { return peek(ahead).kind == Token::Kind::op && peek(ahead).value == op; }
  bool at_name(const char* name, size_t ahead = 0) const {
    return peek(ahead).kind == Token::Kind::name && peek(ahead).value == name;
  }
  bool skip_op(const char* op) {
    if (!at_op(op)) return false;
    next();
    return true;
  }
  bool skip_name(const char* name) {
    if (!at_name(name)) return false;
    next();
    return true;
  }
  [[noreturn]] void fail(const std::string& what) const { SHARDLM_FAIL("chat template line {}: {}", peek().line, what); }
  void expect_op(const char* op) {
    if (!skip_op(op)) fail(fmt::format("expected '{}', got {}", op, describe(peek())));
  }
  std::string expect_name(const char* what) {
    if (peek().kind != Token::Kind::name) fail(fmt::format("expected {}, got {}", what, describe(peek())));
    return next().value;
  }
  void expect_block_end(const std::string& tag) {
    if (peek().kind != Token::Kind::block_end)
      fail(fmt::format("expected '%}}' to end the {} tag, got {}", tag, describe(peek())));
    next();
  }
  struct DepthGuard {
    explicit DepthGuard(Parser& p) : parser(p) {
      if (++parser.depth_ > kMaxDepth) parser.fail(fmt::format("the template nests more than {} deep", kMaxDepth));
    }
    ~DepthGuard() { --parser.depth_; }
    Parser& parser;
  };

  // Nodes until a block tag named in `ends` (its name left in `stop`, the tag's name consumed); the
  // last of `ends` closes the `opener` tag begun on line `opened`.
  Body parse_body(std::initializer_list<const char*> ends, std::string& stop, const std::string& opener = "",
                  int opened = 0) {
    DepthGuard guard(*this);
    Body body;
    while (true) {
      const Token& t = peek();
      if (t.kind == Token::Kind::end) {
        if (ends.size() == 0) return body;
        fail(fmt::format("the {{% {} %}} opened on line {} is never closed (expected {{% {} %}})", opener, opened,
                         *(ends.end() - 1)));
      }
      if (t.kind == Token::Kind::text) {
        auto node = make(Node::Kind::text);
        node->text = next().value;
        body.push_back(std::move(node));
      } else if (t.kind == Token::Kind::print_begin) {
        next();
        auto node = make(Node::Kind::print);
        node->expr = parse_expr();
        if (peek().kind != Token::Kind::print_end) fail(fmt::format("expected '}}}}', got {}", describe(peek())));
        next();
        body.push_back(std::move(node));
      } else if (t.kind == Token::Kind::block_begin) {
        next();
        const std::string name = expect_name("a tag name after '{%'");
        for (const char* end : ends)
          if (name == end) {
            stop = name;
            return body;
          }
        body.push_back(parse_statement(name));
      } else {
        fail("unexpected " + describe(t));
      }
    }
  }

  NodePtr make(Node::Kind kind) const {
    auto node = std::make_unique<Node>();
    node->kind = kind;
    node->line = peek().line;
    return node;
  }

  NodePtr parse_statement(const std::string& name) {
    std::string stop;
    if (name == "if") {
      auto node = make(Node::Kind::if_);
      ExprPtr condition = parse_expr();
      expect_block_end("if");
      while (true) {
        Body body = parse_body({"elif", "else", "endif"}, stop, name, node->line);
        node->branches.emplace_back(std::move(condition), std::move(body));
        if (stop == "elif") {
          condition = parse_expr();
          expect_block_end("elif");
        } else {
          break;
        }
      }
      if (stop == "else") {
        expect_block_end("else");
        node->else_body = parse_body({"endif"}, stop, name, node->line);
      }
      expect_block_end("endif");
      return node;
    }
    if (name == "for") {
      auto node = make(Node::Kind::for_);
      do node->targets.push_back(expect_name("a loop variable")); while (skip_op(","));
      if (!skip_name("in")) fail(fmt::format("expected 'in' in the for tag, got {}", describe(peek())));
      node->expr = parse_expr(/*allow_ternary=*/false);
      if (skip_name("if")) node->condition = parse_expr(false);
      if (at_name("recursive")) fail("recursive for loops are not supported");
      expect_block_end("for");
      node->body = parse_body({"else", "endfor"}, stop, name, node->line);
      if (stop == "else") {
        expect_block_end("else");
        node->else_body = parse_body({"endfor"}, stop, name, node->line);
      }
      expect_block_end("endfor");
      return node;
    }
    if (name == "set") {
      auto node = make(Node::Kind::set);
      do node->targets.push_back(expect_name("a variable to set")); while (skip_op(","));
      if (node->targets.size() == 1 && skip_op(".")) node->attr = expect_name("an attribute to set");
      if (skip_op("=")) {
        node->expr = parse_expr();
        if (at_op(",")) {  // set a, b = x, y
          auto list = std::make_unique<Expr>();
          list->kind = Expr::Kind::list;
          list->line = node->line;
          list->args.push_back(std::move(node->expr));
          while (skip_op(",")) list->args.push_back(parse_expr());
          node->expr = std::move(list);
        }
        expect_block_end("set");
        return node;
      }
      if (!node->attr.empty() || node->targets.size() != 1) fail("a set block assigns one plain variable");
      expect_block_end("set");
      node->body = parse_body({"endset"}, stop, name, node->line);
      expect_block_end("endset");
      return node;
    }
    if (name == "macro") {
      auto node = make(Node::Kind::macro);
      node->text = expect_name("a macro name");
      expect_op("(");
      while (!skip_op(")")) {
        std::string param = expect_name("a macro parameter");
        ExprPtr fallback;
        if (skip_op("=")) fallback = parse_expr();
        node->params.emplace_back(std::move(param), std::move(fallback));
        if (!at_op(")")) expect_op(",");
      }
      expect_block_end("macro");
      node->body = parse_body({"endmacro"}, stop, name, node->line);
      if (peek().kind == Token::Kind::name) next();  // {% endmacro name %}
      expect_block_end("endmacro");
      return node;
    }
    if (name == "call") {
      auto node = make(Node::Kind::call_block);
      node->expr = parse_expr();
      if (node->expr->kind != Expr::Kind::call) fail("a call block needs a macro call: {% call name(...) %}");
      expect_block_end("call");
      node->body = parse_body({"endcall"}, stop, name, node->line);
      expect_block_end("endcall");
      return node;
    }
    if (name == "break" || name == "continue") {
      auto node = make(name == "break" ? Node::Kind::break_ : Node::Kind::continue_);
      expect_block_end(name);
      return node;
    }
    if (name == "generation") {
      auto node = make(Node::Kind::body_only);
      expect_block_end(name);
      node->body = parse_body({"endgeneration"}, stop, name, node->line);
      expect_block_end("endgeneration");
      return node;
    }
    fail(fmt::format("the tag {{% {} %}} is not supported in chat templates", name));
  }

  ExprPtr make_expr(Expr::Kind kind, int line) const {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->line = line;
    return e;
  }

  ExprPtr parse_expr(bool allow_ternary = true) {
    DepthGuard guard(*this);
    ExprPtr e = parse_or();
    while (allow_ternary && at_name("if")) {
      const int line = next().line;
      auto t = make_expr(Expr::Kind::ternary, line);
      ExprPtr condition = parse_or();
      ExprPtr otherwise = skip_name("else") ? parse_expr() : nullptr;
      t->args.push_back(std::move(e));
      t->args.push_back(std::move(condition));
      t->args.push_back(std::move(otherwise));
      e = std::move(t);
    }
    return e;
  }

  ExprPtr binary(Expr::Kind kind, std::string op, ExprPtr a, ExprPtr b, int line) const {
    auto e = make_expr(kind, line);
    e->name = std::move(op);
    e->args.push_back(std::move(a));
    e->args.push_back(std::move(b));
    return e;
  }

  ExprPtr parse_or() {
    ExprPtr e = parse_and();
    while (at_name("or")) {
      const int line = next().line;
      e = binary(Expr::Kind::logical, "or", std::move(e), parse_and(), line);
    }
    return e;
  }
  ExprPtr parse_and() {
    ExprPtr e = parse_not();
    while (at_name("and")) {
      const int line = next().line;
      e = binary(Expr::Kind::logical, "and", std::move(e), parse_not(), line);
    }
    return e;
  }
  ExprPtr parse_not() {
    if (at_name("not")) {
      DepthGuard guard(*this);
      const int line = next().line;
      auto e = make_expr(Expr::Kind::unary, line);
      e->name = "not";
      e->args.push_back(parse_not());
      return e;
    }
    return parse_compare();
  }
  // a < b <= c is a < b and b <= c, as in Python: a chain holds its operands and operators.
  ExprPtr parse_compare() {
    ExprPtr first = parse_math1();
    ExprPtr chain;
    while (true) {
      const int line = peek().line;
      std::string op;
      if (at_op("==") || at_op("!=") || at_op("<") || at_op(">") || at_op("<=") || at_op(">=")) op = next().value;
      else if (skip_name("in")) op = "in";
      else if (at_name("not") && at_name("in", 1)) {
        next();
        next();
        op = "not in";
      } else {
        return chain ? std::move(chain) : std::move(first);
      }
      if (!chain) {
        chain = make_expr(Expr::Kind::compare, line);
        chain->args.push_back(std::move(first));
      }
      chain->kwargs.emplace_back(op, nullptr);
      chain->args.push_back(parse_math1());
    }
  }
  ExprPtr parse_math1() {
    ExprPtr e = parse_concat();
    while (at_op("+") || at_op("-")) {
      const Token& t = next();
      e = binary(Expr::Kind::binary, t.value, std::move(e), parse_concat(), t.line);
    }
    return e;
  }
  ExprPtr parse_concat() {
    ExprPtr e = parse_math2();
    while (at_op("~")) {
      const int line = next().line;
      e = binary(Expr::Kind::binary, "~", std::move(e), parse_math2(), line);
    }
    return e;
  }
  ExprPtr parse_math2() {
    ExprPtr e = parse_pow();
    while (at_op("*") || at_op("/") || at_op("//") || at_op("%")) {
      const Token& t = next();
      e = binary(Expr::Kind::binary, t.value, std::move(e), parse_pow(), t.line);
    }
    return e;
  }
  ExprPtr parse_pow() {
    ExprPtr e = parse_unary();
    while (at_op("**")) {
      const int line = next().line;
      e = binary(Expr::Kind::binary, "**", std::move(e), parse_unary(), line);
    }
    return e;
  }
  ExprPtr parse_unary(bool with_filter = true) {
    DepthGuard guard(*this);
    ExprPtr e;
    if (at_op("-") || at_op("+")) {
      const Token& t = next();
      e = make_expr(Expr::Kind::unary, t.line);
      e->name = t.value;
      e->args.push_back(parse_unary(false));
    } else {
      e = parse_postfix(parse_primary());
    }
    return with_filter ? parse_filters(std::move(e)) : std::move(e);
  }

  ExprPtr parse_primary() {
    const Token& t = peek();
    const int line = t.line;
    switch (t.kind) {
      case Token::Kind::name: {
        next();
        auto e = make_expr(Expr::Kind::literal, line);
        if (t.value == "true" || t.value == "True") e->value = Value::of(true);
        else if (t.value == "false" || t.value == "False") e->value = Value::of(false);
        else if (t.value == "none" || t.value == "None") e->value = Value::none();
        else {
          e->kind = Expr::Kind::name;
          e->name = t.value;
        }
        return e;
      }
      case Token::Kind::string: {
        std::string s;
        while (peek().kind == Token::Kind::string) s += next().value;  // adjacent literals join
        auto e = make_expr(Expr::Kind::literal, line);
        e->value = Value::text(std::move(s));
        return e;
      }
      case Token::Kind::integer: {
        auto e = make_expr(Expr::Kind::literal, line);
        e->value = Value::of(integer(next()));
        return e;
      }
      case Token::Kind::number: {
        auto e = make_expr(Expr::Kind::literal, line);
        e->value = Value::of(std::strtod(next().value.c_str(), nullptr));  // out of range: inf, as Python
        return e;
      }
      case Token::Kind::op: {
        if (skip_op("(")) {
          if (skip_op(")")) {  // ()
            auto empty = make_expr(Expr::Kind::list, line);
            empty->negated = true;
            return empty;
          }
          ExprPtr e = parse_expr();
          if (at_op(",")) {  // a tuple
            auto list = make_expr(Expr::Kind::list, line);
            list->negated = true;
            list->args.push_back(std::move(e));
            while (skip_op(",") && !at_op(")")) list->args.push_back(parse_expr());
            e = std::move(list);
          }
          expect_op(")");
          return e;
        }
        if (skip_op("[")) {
          auto e = make_expr(Expr::Kind::list, line);
          while (!skip_op("]")) {
            e->args.push_back(parse_expr());
            if (!at_op("]")) expect_op(",");
          }
          return e;
        }
        if (skip_op("{")) {
          auto e = make_expr(Expr::Kind::dict, line);
          while (!skip_op("}")) {
            e->args.push_back(parse_expr());
            expect_op(":");
            e->args.push_back(parse_expr());
            if (!at_op("}")) expect_op(",");
          }
          return e;
        }
        break;
      }
      default: break;
    }
    fail("expected a value, got " + describe(t));
  }

  int64_t integer(const Token& t) const {
    int64_t value = 0;
    const auto [end, ec] = std::from_chars(t.value.data(), t.value.data() + t.value.size(), value);
    if (ec != std::errc() || end != t.value.data() + t.value.size()) fail("the integer " + t.value + " is too large");
    return value;
  }

  void parse_call_args(Expr& call) {
    while (!skip_op(")")) {
      if (peek().kind == Token::Kind::name && at_op("=", 1)) {
        std::string key = next().value;
        next();
        call.kwargs.emplace_back(std::move(key), parse_expr());
      } else {
        if (!call.kwargs.empty()) fail("a positional argument after a keyword argument");
        call.args.push_back(parse_expr());
      }
      if (!at_op(")")) expect_op(",");
    }
  }

  ExprPtr parse_postfix(ExprPtr e) {
    while (true) {
      const int line = peek().line;
      if (skip_op(".")) {
        auto a = make_expr(Expr::Kind::attr, line);
        if (peek().kind == Token::Kind::integer) {  // x.0 is x[0]
          a->kind = Expr::Kind::item;
          a->args.push_back(std::move(e));
          auto index = make_expr(Expr::Kind::literal, line);
          index->value = Value::of(integer(next()));
          a->args.push_back(std::move(index));
        } else {
          a->name = expect_name("an attribute name after '.'");
          a->args.push_back(std::move(e));
        }
        e = std::move(a);
      } else if (skip_op("[")) {
        ExprPtr first = at_op(":") ? nullptr : parse_expr();
        if (skip_op(":")) {
          auto s = make_expr(Expr::Kind::slice, line);
          s->args.push_back(std::move(e));
          s->args.push_back(std::move(first));
          s->args.push_back(at_op("]") || at_op(":") ? nullptr : parse_expr());
          s->args.push_back(skip_op(":") && !at_op("]") ? parse_expr() : nullptr);
          e = std::move(s);
        } else {
          auto i = make_expr(Expr::Kind::item, line);
          i->args.push_back(std::move(e));
          i->args.push_back(std::move(first));
          e = std::move(i);
        }
        expect_op("]");
      } else if (skip_op("(")) {
        auto c = make_expr(Expr::Kind::call, line);
        c->args.push_back(std::move(e));
        parse_call_args(*c);
        e = std::move(c);
      } else {
        return e;
      }
    }
  }

  ExprPtr parse_filters(ExprPtr e) {
    while (true) {
      const int line = peek().line;
      if (skip_op("|")) {
        auto f = make_expr(Expr::Kind::filter, line);
        f->name = expect_name("a filter name after '|'");
        f->args.push_back(std::move(e));
        if (skip_op("(")) parse_call_args(*f);
        e = std::move(f);
      } else if (skip_name("is")) {
        auto t = make_expr(Expr::Kind::test, line);
        t->negated = skip_name("not");
        t->name = expect_name("a test name after 'is'");
        t->args.push_back(std::move(e));
        if (skip_op("(")) {
          parse_call_args(*t);
        } else if (peek().kind == Token::Kind::string || peek().kind == Token::Kind::integer ||
                   peek().kind == Token::Kind::number || at_name("true") || at_name("false") || at_name("none") ||
                   at_name("True") || at_name("False") || at_name("None")) {
          t->args.push_back(parse_postfix(parse_primary()));  // `is equalto 'user'`, `is sameas false`
        }
        e = std::move(t);
      } else if (skip_op("(")) {
        auto c = make_expr(Expr::Kind::call, line);
        c->args.push_back(std::move(e));
        parse_call_args(*c);
        e = std::move(c);
      } else {
        return e;
      }
    }
  }

  std::vector<Token> tokens_;
  size_t pos_ = 0;
  int depth_ = 0;
};

}  // namespace

Body parse_template(const std::string& source) { return Parser(tokenize(source)).parse(); }

}  // namespace shardlm::jinja
