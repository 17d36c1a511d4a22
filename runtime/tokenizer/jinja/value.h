// The values a chat template computes with: Python's (None, bool, int, float, str, list, dict) as
// Jinja shows them, plus undefined, namespaces and callables. Lists, dicts and namespaces are shared
// by reference, as in Python, so that `{% set ns.found = true %}` is seen through every name.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "runtime/tokenizer/jinja/marked_text.h"

namespace shardlm::jinja {

struct Value;
using List = std::vector<Value>;
// Insertion-ordered, as Python's dict; templates hold few keys, so lookups are linear.
using Dict = std::vector<std::pair<std::string, Value>>;
struct Macro;
// A built-in function or bound method: positional and keyword arguments.
using Args = std::vector<Value>;
using Kwargs = std::vector<std::pair<std::string, Value>>;
using Function = std::function<Value(const Args&, const Kwargs&)>;

struct Value {
  enum class Kind { undefined, none, boolean, integer, number, string, list, dict, name_space, function };
  Kind kind = Kind::undefined;
  bool boolean = false;
  int64_t integer = 0;
  double number = 0;
  MarkedText string;
  std::shared_ptr<List> list;
  std::shared_ptr<Dict> dict;  // dict and namespace
  std::shared_ptr<Function> function;
  std::string name;  // what an undefined value was called (for errors), or a function's name
  bool tuple = false;  // a list that Python would hold as a tuple: printed (a, b)

  static Value undefined(std::string what = "") {
    Value v;
    v.name = std::move(what);
    return v;
  }
  static Value none() { return with_kind(Kind::none); }
  static Value of(bool b) {
    Value v = with_kind(Kind::boolean);
    v.boolean = b;
    return v;
  }
  static Value of(int64_t i) {
    Value v = with_kind(Kind::integer);
    v.integer = i;
    return v;
  }
  static Value of(double d) {
    Value v = with_kind(Kind::number);
    v.number = d;
    return v;
  }
  static Value of(MarkedText s) {
    Value v = with_kind(Kind::string);
    v.string = std::move(s);
    return v;
  }
  static Value text(std::string s) { return of(MarkedText(std::move(s))); }
  static Value of(List l) {
    Value v = with_kind(Kind::list);
    v.list = std::make_shared<List>(std::move(l));
    return v;
  }
  static Value tuple_of(List l) {
    Value v = of(std::move(l));
    v.tuple = true;
    return v;
  }
  static Value of(Dict d) {
    Value v = with_kind(Kind::dict);
    v.dict = std::make_shared<Dict>(std::move(d));
    return v;
  }
  static Value name_space(Dict d) {
    Value v = of(std::move(d));
    v.kind = Kind::name_space;
    return v;
  }
  static Value callable(std::string name, Function f) {
    Value v = with_kind(Kind::function);
    v.name = std::move(name);
    v.function = std::make_shared<Function>(std::move(f));
    return v;
  }

  bool is_undefined() const { return kind == Kind::undefined; }
  bool is_none() const { return kind == Kind::none; }
  bool is_string() const { return kind == Kind::string; }
  bool is_list() const { return kind == Kind::list; }
  bool is_dict() const { return kind == Kind::dict; }
  bool is_number() const { return kind == Kind::integer || kind == Kind::number || kind == Kind::boolean; }
  const std::string& str() const { return string.text; }

  // A dict's or namespace's entry, or nullptr.
  const Value* find(const std::string& key) const;
  void set(const std::string& key, Value value);

 private:
  static Value with_kind(Kind k) {
    Value v;
    v.kind = k;
    return v;
  }
};

// Python's truth: empty strings, lists and dicts, 0, None and undefined are false.
bool truthy(const Value& v);
// Python's ==.
bool equal(const Value& a, const Value& b);
// The type's name as Python says it (errors).
std::string type_name(const Value& v);
// str(v) as Jinja prints it: None, True, 1.5, ['a', 1], {'k': 'v'}; undefined prints nothing.
MarkedText to_text(const Value& v);
// repr(v): strings quoted.
std::string repr(const Value& v);
// json.dumps(v, ensure_ascii=False, indent=indent, sort_keys=sort_keys), transformers' tojson.
std::string to_json(const Value& v, int indent = -1, bool sort_keys = false);
// Whether any string inside v is message content.
bool holds_content(const Value& v);
// Python's float repr (shortest round trip: 1.0, 0.1, 1e+16).
std::string float_repr(double d);

}  // namespace shardlm::jinja
