// Jinja's filters and tests, Python's string and dict methods, and the globals transformers gives
// chat templates (raise_exception, namespace, strftime_now, range, dict).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "runtime/tokenizer/jinja/value.h"

namespace shardlm::jinja {

// Where a built-in is called from, for errors and for limits on what it builds.
struct CallSite {
  int line = 0;
  size_t max_bytes = 16u << 20;
  // Runs another filter or test by name (map, select, selectattr).
  std::function<Value(const std::string& filter, const Value& v, const Args& args)> filter;
  std::function<bool(const std::string& test, const Value& v, const Args& args)> test;
};

[[noreturn]] void fail_at(const CallSite& site, const std::string& what);

Value apply_filter(const std::string& name, const Value& v, const Args& args, const Kwargs& kwargs, const CallSite& site);
bool apply_test(const std::string& name, const Value& v, const Args& args, const CallSite& site);
// obj.name for a string, dict or list method; an undefined value when there is none.
Value method(const Value& obj, const std::string& name, const CallSite& site);
// A global function (raise_exception, namespace, strftime_now, range, dict), or undefined.
Value global_function(const std::string& name, const CallSite& site);

// Python's len() of a string: code points.
size_t code_points(const std::string& s);
// Byte offset of code point `index` (clamped to the end).
size_t byte_of(const std::string& s, size_t index);

}  // namespace shardlm::jinja
