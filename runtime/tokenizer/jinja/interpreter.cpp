#include "runtime/tokenizer/jinja/interpreter.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <unordered_map>

#include "runtime/core/check.h"
#include "runtime/tokenizer/jinja/builtins.h"

namespace shardlm::jinja {
namespace {

enum class Flow { normal, break_loop, continue_loop };

class Interpreter {
 public:
  Interpreter(const Dict& variables, const Limits& limits) : limits_(limits) {
    scopes_.emplace_back();
    for (const auto& [k, v] : variables) scopes_.back()[k] = v;
  }

  MarkedText run(const Body& body) {
    MarkedText out;
    if (exec(body, out) != Flow::normal) fail(0, "{% break %} or {% continue %} outside a loop");
    return out;
  }

 private:
  [[noreturn]] void fail(int line, const std::string& what) const { SHARDLM_FAIL("chat template line {}: {}", line, what); }

  void step(int line) {
    if (++steps_ > limits_.max_steps)
      fail(line, fmt::format("the template ran more than {} steps (a runaway loop?)", limits_.max_steps));
  }

  CallSite site(int line) {
    CallSite s;
    s.line = line;
    s.max_bytes = limits_.max_output_bytes;
    s.filter = [this, line](const std::string& f, const Value& v, const Args& a) { return apply_filter(f, v, a, {}, site(line)); };
    s.test = [this, line](const std::string& t, const Value& v, const Args& a) { return apply_test(t, v, a, site(line)); };
    return s;
  }

  void emit(MarkedText& out, const MarkedText& text, int line) const {
    out.append(text);
    if (out.text.size() > limits_.max_output_bytes)
      fail(line, fmt::format("the rendered text is over the limit of {} bytes", limits_.max_output_bytes));
  }

  Value lookup(const std::string& name, int line) {
    for (auto scope = scopes_.rbegin(); scope != scopes_.rend(); ++scope)
      if (auto found = scope->find(name); found != scope->end()) return found->second;
    Value global = global_function(name, site(line));
    return global.is_undefined() ? Value::undefined(name) : global;
  }

  Flow exec(const Body& body, MarkedText& out) {
    for (const NodePtr& node : body) {
      const Flow flow = exec(*node, out);
      if (flow != Flow::normal) return flow;
    }
    return Flow::normal;
  }

  struct Scope {
    explicit Scope(Interpreter& i) : in(i) { in.scopes_.emplace_back(); }
    ~Scope() { in.scopes_.pop_back(); }
    Interpreter& in;
  };

  Flow exec(const Node& node, MarkedText& out) {
    step(node.line);
    switch (node.kind) {
      case Node::Kind::text: emit(out, MarkedText(node.text), node.line); return Flow::normal;
      case Node::Kind::print: emit(out, to_text(eval(*node.expr)), node.line); return Flow::normal;
      case Node::Kind::if_:
        for (const auto& [condition, body] : node.branches)
          if (truthy(eval(*condition))) return exec(body, out);
        return exec(node.else_body, out);
      case Node::Kind::for_: return exec_for(node, out);
      case Node::Kind::set: {
        Value value;
        if (node.expr) {
          value = eval(*node.expr);
        } else {
          MarkedText text;
          Scope scope(*this);
          if (exec(node.body, text) != Flow::normal) fail(node.line, "{% break %} inside a set block");
          value = Value::of(std::move(text));
        }
        if (!node.attr.empty()) {
          Value target = lookup(node.targets[0], node.line);
          if (target.kind != Value::Kind::name_space)
            fail(node.line, fmt::format("cannot set '{}.{}': '{}' is not a namespace()", node.targets[0], node.attr, node.targets[0]));
          target.set(node.attr, std::move(value));
        } else {
          assign(node.targets, value, node.line);
        }
        return Flow::normal;
      }
      case Node::Kind::macro: {
        scopes_.back()[node.text] = make_macro(node);
        return Flow::normal;
      }
      case Node::Kind::call_block: {
        const Node* block = &node;
        Value caller = Value::callable("caller", [this, block](const Args&, const Kwargs&) {
          MarkedText text;
          Scope scope(*this);
          exec(block->body, text);
          return Value::of(std::move(text));
        });
        Scope scope(*this);
        scopes_.back()["caller"] = caller;
        emit(out, to_text(eval(*node.expr)), node.line);
        return Flow::normal;
      }
      case Node::Kind::break_: return Flow::break_loop;
      case Node::Kind::continue_: return Flow::continue_loop;
      case Node::Kind::body_only: return exec(node.body, out);
    }
    return Flow::normal;
  }

  void assign(const std::vector<std::string>& targets, const Value& value, int line) {
    if (targets.size() == 1) {
      scopes_.back()[targets[0]] = value;
      return;
    }
    if (!value.is_list() || value.list->size() != targets.size())
      fail(line, fmt::format("cannot unpack {} into {} names", type_name(value), targets.size()));
    for (size_t i = 0; i < targets.size(); ++i) scopes_.back()[targets[i]] = (*value.list)[i];
  }

  List iterate(const Value& v, int line) {
    switch (v.kind) {
      case Value::Kind::undefined: return {};
      case Value::Kind::list: return *v.list;
      case Value::Kind::dict:
      case Value::Kind::string: return *apply_filter("list", v, {}, {}, site(line)).list;
      default: fail(line, fmt::format("cannot loop over a value of type {}", type_name(v)));
    }
  }

  Flow exec_for(const Node& node, MarkedText& out) {
    List all = iterate(eval(*node.expr), node.line);
    if (node.condition) {  // `for x in xs if cond`: filtered before the loop, so loop.length counts what is kept
      List kept;
      for (const Value& item : all) {
        Scope scope(*this);
        assign(node.targets, item, node.line);
        if (truthy(eval(*node.condition))) kept.push_back(item);
      }
      all = std::move(kept);
    }
    if (all.empty()) {
      Scope scope(*this);
      return exec(node.else_body, out);
    }
    const auto n = static_cast<int64_t>(all.size());
    for (int64_t i = 0; i < n; ++i) {
      step(node.line);
      Scope scope(*this);
      Value loop = Value::of(Dict{});
      loop.set("index", Value::of(i + 1));
      loop.set("index0", Value::of(i));
      loop.set("revindex", Value::of(n - i));
      loop.set("revindex0", Value::of(n - i - 1));
      loop.set("first", Value::of(i == 0));
      loop.set("last", Value::of(i == n - 1));
      loop.set("length", Value::of(n));
      loop.set("depth", Value::of(int64_t{1}));
      loop.set("depth0", Value::of(int64_t{0}));
      loop.set("previtem", i > 0 ? all[static_cast<size_t>(i - 1)] : Value::undefined("loop.previtem"));
      loop.set("nextitem", i + 1 < n ? all[static_cast<size_t>(i + 1)] : Value::undefined("loop.nextitem"));
      loop.set("cycle", Value::callable("loop.cycle", [i, line = node.line, this](const Args& a, const Kwargs&) {
        if (a.empty()) fail(line, "loop.cycle() needs at least one value");
        return a[static_cast<size_t>(i) % a.size()];
      }));
      scopes_.back()["loop"] = loop;
      assign(node.targets, all[static_cast<size_t>(i)], node.line);
      const Flow flow = exec(node.body, out);
      if (flow == Flow::break_loop) break;
    }
    return Flow::normal;
  }

  Value make_macro(const Node& node) {
    const Node* macro = &node;
    return Value::callable(node.text, [this, macro](const Args& args, const Kwargs& kwargs) {
      if (++call_depth_ > limits_.max_call_depth)
        fail(macro->line, fmt::format("macro calls nest more than {} deep", limits_.max_call_depth));
      if (args.size() > macro->params.size())
        fail(macro->line, fmt::format("macro '{}' takes {} arguments, got {}", macro->text, macro->params.size(), args.size()));
      MarkedText text;
      {
        Scope scope(*this);
        for (size_t i = 0; i < macro->params.size(); ++i) {
          const auto& [param, fallback] = macro->params[i];
          Value value = i < args.size() ? args[i] : fallback ? eval(*fallback) : Value::undefined(param);
          for (const auto& [k, v] : kwargs)
            if (k == param) value = v;
          scopes_.back()[param] = std::move(value);
        }
        exec(macro->body, text);
      }
      --call_depth_;
      return Value::of(std::move(text));
    });
  }

  // --- expressions ---

  [[noreturn]] void undefined_error(const Value& v, int line) const {
    fail(line, v.name.empty() ? std::string("a value is undefined") : fmt::format("'{}' is undefined", v.name));
  }

  // Every string an expression yields is counted: copies cost time too, and a template that copies
  // megabytes in a loop must stop rather than run for hours.
  Value eval(const Expr& e) {
    Value v = eval_uncounted(e);
    if (v.is_string()) {
      bytes_built_ += v.str().size();
      if (bytes_built_ > limits_.max_bytes_built)
        fail(e.line, fmt::format("the template built more than {} bytes of strings", limits_.max_bytes_built));
    }
    return v;
  }

  Value eval_uncounted(const Expr& e) {
    step(e.line);
    switch (e.kind) {
      case Expr::Kind::literal: return e.value;
      case Expr::Kind::name: return lookup(e.name, e.line);
      case Expr::Kind::list: {
        List items;
        for (const ExprPtr& item : e.args) items.push_back(eval(*item));
        return e.negated ? Value::tuple_of(std::move(items)) : Value::of(std::move(items));
      }
      case Expr::Kind::dict: {
        Value d = Value::of(Dict{});
        for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
          const Value key = eval(*e.args[i]);
          d.set(key.is_string() ? key.str() : to_text(key).text, eval(*e.args[i + 1]));
        }
        return d;
      }
      case Expr::Kind::attr: return attribute(eval(*e.args[0]), e.name, e.line, describe(*e.args[0]));
      case Expr::Kind::item: return item(eval(*e.args[0]), eval(*e.args[1]), e.line, describe(*e.args[0]));
      case Expr::Kind::slice: return slice(e);
      case Expr::Kind::call: return call(e);
      case Expr::Kind::filter: {
        Value v = eval(*e.args[0]);
        Args args;
        for (size_t i = 1; i < e.args.size(); ++i) args.push_back(eval(*e.args[i]));
        Kwargs kwargs;
        for (const auto& [k, x] : e.kwargs) kwargs.emplace_back(k, eval(*x));
        if (v.is_undefined() && (e.name == "tojson" || e.name == "upper" || e.name == "lower"))
          undefined_error(v, e.line);
        return apply_filter(e.name, v, args, kwargs, site(e.line));
      }
      case Expr::Kind::test: {
        const Value v = eval(*e.args[0]);
        Args args;
        for (size_t i = 1; i < e.args.size(); ++i) args.push_back(eval(*e.args[i]));
        return Value::of(apply_test(e.name, v, args, site(e.line)) != e.negated);
      }
      case Expr::Kind::unary: {
        const Value v = eval(*e.args[0]);
        if (e.name == "not") return Value::of(!truthy(v));
        if (v.kind == Value::Kind::number) return Value::of(e.name == "-" ? -v.number : v.number);
        if (v.kind == Value::Kind::integer || v.kind == Value::Kind::boolean) {
          const int64_t i = v.kind == Value::Kind::integer ? v.integer : v.boolean;
          if (e.name == "-" && i == INT64_MIN) fail(e.line, "integer overflow");
          return Value::of(e.name == "-" ? -i : i);
        }
        if (v.is_undefined()) undefined_error(v, e.line);
        fail(e.line, fmt::format("bad operand type for unary {}: '{}'", e.name, type_name(v)));
      }
      case Expr::Kind::logical: {
        Value a = eval(*e.args[0]);
        if (e.name == "and") return truthy(a) ? eval(*e.args[1]) : a;
        return truthy(a) ? a : eval(*e.args[1]);
      }
      case Expr::Kind::ternary:
        if (truthy(eval(*e.args[1]))) return eval(*e.args[0]);
        return e.args[2] ? eval(*e.args[2]) : Value::undefined("the else of a conditional expression");
      case Expr::Kind::binary: return binary(e.name, eval(*e.args[0]), eval(*e.args[1]), e.line);
      case Expr::Kind::compare: {
        Value left = eval(*e.args[0]);
        for (size_t i = 0; i < e.kwargs.size(); ++i) {
          Value right = eval(*e.args[i + 1]);
          if (!truthy(binary(e.kwargs[i].first, left, right, e.line))) return Value::of(false);
          left = std::move(right);
        }
        return Value::of(true);
      }
    }
    fail(e.line, "unknown expression");
  }

  // What an expression was called, for errors about undefined values: messages[0].role.
  static std::string describe(const Expr& e) {
    switch (e.kind) {
      case Expr::Kind::name: return e.name;
      case Expr::Kind::attr: return describe(*e.args[0]) + "." + e.name;
      case Expr::Kind::item: {
        const Expr& key = *e.args[1];
        if (key.kind == Expr::Kind::literal) return describe(*e.args[0]) + "[" + repr(key.value) + "]";
        return describe(*e.args[0]) + "[...]";
      }
      case Expr::Kind::call: return describe(*e.args[0]) + "()";
      default: return "a value";
    }
  }

  Value attribute(const Value& obj, const std::string& name, int line, const std::string& what) {
    if (obj.is_undefined()) undefined_error(obj, line);
    if (obj.kind == Value::Kind::dict || obj.kind == Value::Kind::name_space) {
      if (const Value* found = obj.find(name)) return *found;
    }
    Value m = method(obj, name, site(line));
    if (!m.is_undefined()) return m;
    return Value::undefined(what + "." + name);
  }

  Value item(const Value& obj, const Value& key, int line, const std::string& what) {
    if (obj.is_undefined()) undefined_error(obj, line);
    const std::string name = what + "[" + repr(key) + "]";
    if ((obj.is_list() || obj.is_string()) && (key.kind == Value::Kind::integer || key.kind == Value::Kind::boolean)) {
      const int64_t size = obj.is_list() ? static_cast<int64_t>(obj.list->size()) : static_cast<int64_t>(code_points(obj.str()));
      int64_t i = key.kind == Value::Kind::integer ? key.integer : key.boolean;
      if (i < 0) i += size;
      if (i < 0 || i >= size) return Value::undefined(name);
      if (obj.is_list()) return (*obj.list)[static_cast<size_t>(i)];
      const std::string& s = obj.str();
      return Value::of(obj.string.slice(byte_of(s, static_cast<size_t>(i)), byte_of(s, static_cast<size_t>(i) + 1)));
    }
    if ((obj.kind == Value::Kind::dict || obj.kind == Value::Kind::name_space) && key.is_string()) {
      if (const Value* found = obj.find(key.str())) return *found;
      Value m = method(obj, key.str(), site(line));
      return m.is_undefined() ? Value::undefined(name) : m;
    }
    if (key.is_string()) {
      Value m = method(obj, key.str(), site(line));
      if (!m.is_undefined()) return m;
    }
    return Value::undefined(name);
  }

  Value slice(const Expr& e) {
    const Value obj = eval(*e.args[0]);
    if (obj.is_undefined()) undefined_error(obj, e.line);
    if (!obj.is_list() && !obj.is_string()) fail(e.line, fmt::format("cannot slice a value of type {}", type_name(obj)));
    auto bound = [&](const ExprPtr& x) -> std::optional<int64_t> {
      if (!x) return std::nullopt;
      const Value v = eval(*x);
      if (v.is_none()) return std::nullopt;
      if (v.kind != Value::Kind::integer) fail(e.line, fmt::format("slice indices must be integers, got {}", type_name(v)));
      return v.integer;
    };
    const std::optional<int64_t> start_v = bound(e.args[1]), stop_v = bound(e.args[2]), step_v = bound(e.args[3]);
    const int64_t step = step_v.value_or(1);
    if (step == 0) fail(e.line, "slice step cannot be zero");
    const int64_t size = obj.is_list() ? static_cast<int64_t>(obj.list->size()) : static_cast<int64_t>(code_points(obj.str()));
    // Python's slice.indices.
    auto clamp = [&](std::optional<int64_t> v, int64_t fallback) {
      if (!v) return fallback;
      int64_t x = *v;
      if (x < 0) x += size;
      if (step > 0) return std::clamp<int64_t>(x, 0, size);
      return std::clamp<int64_t>(x, -1, size - 1);
    };
    const int64_t start = clamp(start_v, step > 0 ? 0 : size - 1), stop = clamp(stop_v, step > 0 ? size : -1);
    std::vector<int64_t> picked;
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) picked.push_back(i);
    if (obj.is_list()) {
      List out;
      for (const int64_t i : picked) out.push_back((*obj.list)[static_cast<size_t>(i)]);
      return Value::of(std::move(out));
    }
    const std::string& s = obj.str();
    if (step == 1) return Value::of(obj.string.slice(byte_of(s, static_cast<size_t>(start)), byte_of(s, static_cast<size_t>(std::max(start, stop)))));
    MarkedText out;
    for (const int64_t i : picked)
      out.append(obj.string.slice(byte_of(s, static_cast<size_t>(i)), byte_of(s, static_cast<size_t>(i) + 1)));
    return Value::of(std::move(out));
  }

  Value call(const Expr& e) {
    const Value f = eval(*e.args[0]);
    if (f.kind != Value::Kind::function) {
      if (f.is_undefined()) fail(e.line, fmt::format("'{}' is undefined, so it cannot be called", describe(*e.args[0])));
      fail(e.line, fmt::format("'{}' is a {}, not a function", describe(*e.args[0]), type_name(f)));
    }
    Args args;
    for (size_t i = 1; i < e.args.size(); ++i) args.push_back(eval(*e.args[i]));
    Kwargs kwargs;
    for (const auto& [k, x] : e.kwargs) kwargs.emplace_back(k, eval(*x));
    return (*f.function)(args, kwargs);
  }

  // --- operators ---

  static bool integral(const Value& v) { return v.kind == Value::Kind::integer || v.kind == Value::Kind::boolean; }
  static int64_t as_int(const Value& v) { return v.kind == Value::Kind::integer ? v.integer : v.boolean; }
  static double as_double(const Value& v) { return v.kind == Value::Kind::number ? v.number : static_cast<double>(as_int(v)); }

  Value binary(const std::string& op, const Value& a, const Value& b, int line) {
    if (op == "==") return Value::of(equal(a, b));
    if (op == "!=") return Value::of(!equal(a, b));
    if (op == "~") {
      MarkedText out = to_text(a);
      out.append(to_text(b));
      if (out.text.size() > limits_.max_output_bytes) fail(line, "a string grew past the output limit");
      return Value::of(std::move(out));
    }
    if (op == "in" || op == "not in") {
      if (b.is_none()) fail(line, "argument of type 'NoneType' is not iterable");
      if (b.is_string() && !a.is_string())
        fail(line, fmt::format("'in <string>' requires a string on the left, not {}", type_name(a)));
      return Value::of(apply_test("in", a, {b}, site(line)) == (op == "in"));
    }
    if (a.is_undefined()) undefined_error(a, line);
    if (b.is_undefined()) undefined_error(b, line);
    if (op == "<" || op == ">" || op == "<=" || op == ">=") return Value::of(apply_test(op, a, {b}, site(line)));
    if (op == "+") {
      if (a.is_string() && b.is_string()) {
        MarkedText out = a.string;
        out.append(b.string);
        if (out.text.size() > limits_.max_output_bytes) fail(line, "a string grew past the output limit");
        return Value::of(std::move(out));
      }
      if (a.is_list() && b.is_list()) {
        if (a.list->size() + b.list->size() > limits_.max_list_items)
          fail(line, fmt::format("a list grew past {} items", limits_.max_list_items));
        List out = *a.list;
        out.insert(out.end(), b.list->begin(), b.list->end());
        return Value::of(std::move(out));
      }
    }
    if (op == "*" && ((a.is_string() || a.is_list()) && integral(b))) return repeat(a, as_int(b), line);
    if (op == "*" && ((b.is_string() || b.is_list()) && integral(a))) return repeat(b, as_int(a), line);
    if (!a.is_number() || !b.is_number())
      fail(line, fmt::format("unsupported operand types for {}: '{}' and '{}'", op, type_name(a), type_name(b)));
    if (integral(a) && integral(b) && op != "/") {
      const int64_t x = as_int(a), y = as_int(b);
      int64_t r = 0;
      bool overflow = false;
      if (op == "+") overflow = __builtin_add_overflow(x, y, &r);
      else if (op == "-") overflow = __builtin_sub_overflow(x, y, &r);
      else if (op == "*") overflow = __builtin_mul_overflow(x, y, &r);
      else if (op == "//" || op == "%") {
        if (y == 0) fail(line, "integer division or modulo by zero");
        if (x == INT64_MIN && y == -1) overflow = true;
        else {
          int64_t q = x / y, m = x % y;
          if (m != 0 && ((m < 0) != (y < 0))) {
            --q;
            m += y;
          }
          r = op == "//" ? q : m;
        }
      } else if (op == "**") {
        if (y < 0) return Value::of(std::pow(static_cast<double>(x), static_cast<double>(y)));
        r = 1;
        for (int64_t i = 0; i < y && !overflow; ++i) overflow = __builtin_mul_overflow(r, x, &r);
      }
      if (overflow) fail(line, fmt::format("integer overflow in {}", op));
      return Value::of(r);
    }
    const double x = as_double(a), y = as_double(b);
    if (op == "+") return Value::of(x + y);
    if (op == "-") return Value::of(x - y);
    if (op == "*") return Value::of(x * y);
    if (op == "**") return Value::of(std::pow(x, y));
    if (y == 0) fail(line, "division by zero");
    if (op == "/") return Value::of(x / y);
    if (op == "//") return Value::of(std::floor(x / y));
    if (op == "%") {
      const double m = std::fmod(x, y);
      return Value::of(m != 0 && ((m < 0) != (y < 0)) ? m + y : m);
    }
    fail(line, "unknown operator " + op);
  }

  Value repeat(const Value& v, int64_t times, int line) {
    const size_t unit = v.is_string() ? v.str().size() : v.list->size();
    if (times <= 0 || unit == 0) return v.is_string() ? Value::text("") : Value::of(List{});
    const size_t limit = v.is_string() ? limits_.max_output_bytes : limits_.max_list_items;
    if (static_cast<uint64_t>(times) > limit / unit) fail(line, "a repeated value grew past the size limit");
    if (v.is_string()) {
      MarkedText out;
      for (int64_t i = 0; i < times; ++i) out.append(v.string);
      return Value::of(std::move(out));
    }
    List out;
    for (int64_t i = 0; i < times; ++i) out.insert(out.end(), v.list->begin(), v.list->end());
    return Value::of(std::move(out));
  }

  Limits limits_;
  std::vector<std::unordered_map<std::string, Value>> scopes_;
  int64_t steps_ = 0;
  size_t bytes_built_ = 0;
  int call_depth_ = 0;
};

}  // namespace

MarkedText render(const Body& body, const Dict& variables, const Limits& limits) {
  return Interpreter(variables, limits).run(body);
}

}  // namespace shardlm::jinja
