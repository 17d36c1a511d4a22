#include "runtime/tokenizer/jinja/builtins.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <cmath>
#include <ctime>

#include "runtime/core/check.h"
#include "runtime/tokenizer/jinja/lexer.h"

namespace shardlm::jinja {

void fail_at(const CallSite& site, const std::string& what) { SHARDLM_FAIL("chat template line {}: {}", site.line, what); }

size_t code_points(const std::string& s) {
  size_t n = 0;
  for (const char c : s) n += (static_cast<unsigned char>(c) & 0xc0) != 0x80;
  return n;
}

size_t byte_of(const std::string& s, size_t index) {
  size_t i = 0;
  while (i < s.size() && index > 0) {
    ++i;
    while (i < s.size() && (static_cast<unsigned char>(s[i]) & 0xc0) == 0x80) ++i;
    --index;
  }
  return i;
}

namespace {

const Value& arg(const Args& args, size_t i) {
  static const Value kUndefined;
  return i < args.size() ? args[i] : kUndefined;
}

const Value* kwarg(const Kwargs& kwargs, const char* name) {
  for (const auto& [k, v] : kwargs)
    if (k == name) return &v;
  return nullptr;
}

// Positional argument i, or the keyword `name`, or undefined.
Value param(const Args& args, const Kwargs& kwargs, size_t i, const char* name) {
  if (i < args.size()) return args[i];
  if (const Value* v = kwarg(kwargs, name)) return *v;
  return Value::undefined();
}

const std::string& need_string(const Value& v, const CallSite& site, const char* what) {
  if (!v.is_string()) fail_at(site, fmt::format("{} needs a string, got {}", what, type_name(v)));
  return v.str();
}

int64_t need_int(const Value& v, const CallSite& site, const char* what) {
  if (v.kind == Value::Kind::integer) return v.integer;
  if (v.kind == Value::Kind::boolean) return v.boolean;
  fail_at(site, fmt::format("{} needs an integer, got {}", what, type_name(v)));
}

void check_size(size_t bytes, const CallSite& site) {
  if (bytes > site.max_bytes) fail_at(site, fmt::format("a value grew past the limit of {} bytes", site.max_bytes));
}

// The items a for loop or filter walks: a list's elements, a dict's keys, a string's characters.
List iterate(const Value& v, const CallSite& site) {
  switch (v.kind) {
    case Value::Kind::undefined: return {};
    case Value::Kind::list: return *v.list;
    case Value::Kind::dict: {
      List keys;
      for (const auto& [k, _] : *v.dict) keys.push_back(Value::text(k));
      return keys;
    }
    case Value::Kind::string: {
      List chars;
      const std::string& s = v.str();
      for (size_t i = 0; i < s.size();) {
        const size_t next = i + byte_of(s.substr(i, 4), 1);
        chars.push_back(Value::of(v.string.slice(i, next)));
        i = next;
      }
      return chars;
    }
    default: fail_at(site, fmt::format("'{}' object is not iterable", type_name(v)));
  }
}

// str.strip/lstrip/rstrip with Python's whitespace, or with the characters of `chars`.
Value strip(const Value& v, const Value& chars, bool left, bool right, const CallSite& site) {
  const MarkedText text = to_text(v);
  const std::string& s = text.text;
  size_t begin = 0, end = s.size();
  if (chars.is_undefined() || chars.is_none()) {
    if (left) begin = lstrip_begin(s);
    if (right) end = std::max(begin, rstrip_end(s));
  } else {
    const std::string& set = need_string(chars, site, "strip");
    // Character by character (UTF-8 aware) against the set's characters.
    auto in_set = [&](size_t at, size_t len) {
      const std::string ch = s.substr(at, len);
      for (size_t i = 0; i < set.size();) {
        const size_t n = byte_of(set.substr(i, 4), 1);
        if (set.compare(i, n, ch) == 0) return true;
        i += n;
      }
      return false;
    };
    while (left && begin < end) {
      const size_t n = byte_of(s.substr(begin, 4), 1);
      if (!in_set(begin, n)) break;
      begin += n;
    }
    while (right && end > begin) {
      size_t start = end - 1;
      while (start > begin && (static_cast<unsigned char>(s[start]) & 0xc0) == 0x80) --start;
      if (!in_set(start, end - start)) break;
      end = start;
    }
  }
  return Value::of(text.slice(begin, end));
}

std::string ascii_map(const std::string& s, int (*f)(int)) {
  std::string out = s;
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x80) c = static_cast<char>(f(static_cast<unsigned char>(c)));
  return out;
}

std::string capitalize(const std::string& s) {
  std::string out = ascii_map(s, [](int c) { return std::tolower(c); });
  if (!out.empty() && static_cast<unsigned char>(out[0]) < 0x80) out[0] = static_cast<char>(std::toupper(out[0]));
  return out;
}

std::string title(const std::string& s) {
  std::string out = s;
  bool start = true;
  for (char& c : out) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x80 && std::isalpha(u)) {
      c = static_cast<char>(start ? std::toupper(u) : std::tolower(u));
      start = false;
    } else {
      start = u < 0x80;
    }
  }
  return out;
}

Value replace(const Value& v, const Value& old_v, const Value& new_v, const Value& count_v, const CallSite& site) {
  const MarkedText text = to_text(v);
  const std::string& from = need_string(old_v, site, "replace"), &to = to_text(new_v).text;
  int64_t count = count_v.is_undefined() || count_v.is_none() ? -1 : need_int(count_v, site, "replace's count");
  std::string out;
  const std::string& s = text.text;
  size_t at = 0;
  if (from.empty()) {  // Python inserts `to` between every character
    for (size_t i = 0; i <= s.size() && count != 0;) {
      out += to;
      --count;
      if (i == s.size()) {
        at = i;
        break;
      }
      const size_t n = byte_of(s.substr(i, 4), 1);
      out += s.substr(i, n);
      i += n;
      at = i;
    }
    out += s.substr(std::min(at, s.size()));
  } else {
    while (count != 0) {
      const size_t found = s.find(from, at);
      if (found == std::string::npos) break;
      out += s.substr(at, found - at) + to;
      at = found + from.size();
      --count;
      check_size(out.size(), site);
    }
    out += s.substr(at);
  }
  check_size(out.size(), site);
  const bool marked = text.marked() || new_v.string.marked();
  return Value::of(marked ? MarkedText::content(std::move(out)) : MarkedText(std::move(out)));
}

Value split(const Value& v, const Value& sep_v, const Value& max_v, const CallSite& site) {
  const MarkedText text = to_text(v);
  const std::string& s = text.text;
  int64_t max_split = max_v.is_undefined() || max_v.is_none() ? -1 : need_int(max_v, site, "split's maxsplit");
  List parts;
  if (sep_v.is_undefined() || sep_v.is_none()) {  // runs of whitespace, none at the ends
    size_t i = lstrip_begin(s);
    while (i < s.size()) {
      if (max_split == 0) {
        const std::string rest = s.substr(i);
        parts.push_back(Value::of(text.slice(i, i + rstrip_end(rest))));
        break;
      }
      size_t j = i;
      while (j < s.size() && space_at(s, j) == 0) ++j;
      parts.push_back(Value::of(text.slice(i, j)));
      --max_split;
      while (j < s.size()) {
        const size_t n = space_at(s, j);
        if (!n) break;
        j += n;
      }
      i = j;
    }
    return Value::of(std::move(parts));
  }
  const std::string& sep = need_string(sep_v, site, "split");
  if (sep.empty()) fail_at(site, "split: empty separator");
  size_t at = 0;
  while (max_split != 0) {
    const size_t found = s.find(sep, at);
    if (found == std::string::npos) break;
    parts.push_back(Value::of(text.slice(at, found)));
    at = found + sep.size();
    --max_split;
  }
  parts.push_back(Value::of(text.slice(at, s.size())));
  return Value::of(std::move(parts));
}

bool starts_or_ends(const Value& v, const Value& affix, bool start, const CallSite& site) {
  const std::string& s = need_string(v, site, start ? "startswith" : "endswith");
  auto one = [&](const Value& a) {
    const std::string& x = need_string(a, site, start ? "startswith" : "endswith");
    return x.size() <= s.size() && (start ? s.compare(0, x.size(), x) == 0 : s.compare(s.size() - x.size(), x.size(), x) == 0);
  };
  if (affix.is_list()) return std::any_of(affix.list->begin(), affix.list->end(), one);
  return one(affix);
}

Value join(const Value& v, const Value& sep, const Value& attribute, const CallSite& site) {
  MarkedText out;
  const MarkedText separator = sep.is_undefined() ? MarkedText() : to_text(sep);
  bool first = true;
  for (const Value& item : iterate(v, site)) {
    if (!first) out.append(separator);
    first = false;
    if (attribute.is_string()) {
      const Value* field = item.find(attribute.str());
      out.append(field ? to_text(*field) : MarkedText());
    } else {
      out.append(to_text(item));
    }
    check_size(out.text.size(), site);
  }
  return Value::of(std::move(out));
}

Value items(const Value& v, const CallSite& site) {
  if (v.is_undefined()) return Value::of(List{});
  if (v.kind != Value::Kind::dict) fail_at(site, fmt::format("items needs a dict, got {}", type_name(v)));
  List out;
  for (const auto& [k, val] : *v.dict) out.push_back(Value::tuple_of(List{Value::text(k), val}));
  return Value::of(std::move(out));
}

Value dict_get(const Value& v, const Args& args) {
  const Value& key = arg(args, 0);
  if (key.is_string())
    if (const Value* found = v.find(key.str())) return *found;
  return args.size() > 1 ? args[1] : Value::none();
}

Value tojson(const Value& v, const Args& args, const Kwargs& kwargs, const CallSite& site) {
  const Value indent_v = param(args, kwargs, 0, "indent");
  const int indent = indent_v.is_undefined() || indent_v.is_none() ? -1 : static_cast<int>(need_int(indent_v, site, "tojson's indent"));
  if (indent > 64) fail_at(site, "tojson's indent is over 64");
  const Value sort_v = param(args, kwargs, 3, "sort_keys");
  std::string json = to_json(v, indent, truthy(sort_v));
  check_size(json.size(), site);
  return Value::of(holds_content(v) ? MarkedText::content(std::move(json)) : MarkedText(std::move(json)));
}

// A string lower-cased (ASCII) for Jinja's case-insensitive comparisons; anything else as it is.
Value folded(const Value& v) {
  return v.is_string() ? Value::text(ascii_map(v.str(), [](int c) { return std::tolower(c); })) : v;
}

// str.format with plain replacement fields: {}, {0}, {name}, {{ and }}; no format specs.
Value format(const Value& fmt_v, const Args& args, const Kwargs& kwargs, const CallSite& site) {
  const std::string& f = fmt_v.str();
  MarkedText out;
  size_t next_auto = 0, literal = 0;
  for (size_t i = 0; i < f.size(); ++i) {
    if ((f[i] == '{' || f[i] == '}') && i + 1 < f.size() && f[i + 1] == f[i]) {
      out.append(fmt_v.string.slice(literal, i + 1));
      literal = ++i + 1;
      continue;
    }
    if (f[i] == '}') fail_at(site, "format: a single '}' in the format string");
    if (f[i] != '{') continue;
    const size_t close = f.find('}', i);
    if (close == std::string::npos) fail_at(site, "format: a '{' is never closed");
    out.append(fmt_v.string.slice(literal, i));
    const std::string field = f.substr(i + 1, close - i - 1);
    if (field.find_first_of(":!.[") != std::string::npos)
      fail_at(site, fmt::format("format: the field '{{{}}}' uses a conversion or format spec, which is not supported", field));
    const Value* value = nullptr;
    if (field.empty() || std::all_of(field.begin(), field.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
      const size_t index = field.empty() ? next_auto++ : static_cast<size_t>(std::stoul(field.substr(0, 9)));
      if (index >= args.size()) fail_at(site, fmt::format("format: no positional argument {}", index));
      value = &args[index];
    } else {
      for (const auto& [key, v] : kwargs)
        if (key == field) value = &v;
      if (!value) fail_at(site, fmt::format("format: no keyword argument '{}'", field));
    }
    out.append(to_text(*value));
    check_size(out.text.size(), site);
    literal = close + 1;
    i = close;
  }
  out.append(fmt_v.string.slice(literal, f.size()));
  return Value::of(std::move(out));
}

// Python's ordering of two numbers or two strings; anything else fails.
int order_of(const Value& a, const Value& b, const CallSite& site) {
  if (a.is_number() && b.is_number()) {
    const double x = a.kind == Value::Kind::number ? a.number : static_cast<double>(need_int(a, site, "a comparison"));
    const double y = b.kind == Value::Kind::number ? b.number : static_cast<double>(need_int(b, site, "a comparison"));
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a.is_string() && b.is_string()) {
    const int c = a.str().compare(b.str());
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
  fail_at(site, fmt::format("cannot order {} and {}", type_name(a), type_name(b)));
}

// A bound method: `obj.name(args)`.
Value bound_method(const std::string& name, Function f) { return Value::callable(name, std::move(f)); }

}  // namespace

Value apply_filter(const std::string& name, const Value& v, const Args& args, const Kwargs& kwargs, const CallSite& site) {
  if (name == "trim") return strip(v, param(args, kwargs, 0, "chars"), true, true, site);
  if (name == "length" || name == "count") {
    switch (v.kind) {
      case Value::Kind::string: return Value::of(static_cast<int64_t>(code_points(v.str())));
      case Value::Kind::list: return Value::of(static_cast<int64_t>(v.list->size()));
      case Value::Kind::dict: return Value::of(static_cast<int64_t>(v.dict->size()));
      case Value::Kind::undefined: return Value::of(int64_t{0});
      default: fail_at(site, fmt::format("object of type '{}' has no length", type_name(v)));
    }
  }
  if (name == "upper" || name == "lower" || name == "capitalize" || name == "title") {
    const MarkedText text = to_text(v);
    std::string out = name == "upper"        ? ascii_map(text.text, [](int c) { return std::toupper(c); })
                      : name == "lower"      ? ascii_map(text.text, [](int c) { return std::tolower(c); })
                      : name == "capitalize" ? capitalize(text.text)
                                             : title(text.text);
    return Value::of(text.derived(std::move(out)));
  }
  if (name == "tojson") return tojson(v, args, kwargs, site);
  if (name == "string") return Value::of(to_text(v));
  if (name == "safe") return v;
  if (name == "default" || name == "d") {
    const bool boolean = truthy(param(args, kwargs, 1, "boolean"));
    if (v.is_undefined() || (boolean && !truthy(v))) {
      const Value fallback = param(args, kwargs, 0, "default_value");
      return fallback.is_undefined() ? Value::text("") : fallback;
    }
    return v;
  }
  if (name == "first" || name == "last") {
    const List all = iterate(v, site);
    if (all.empty()) return Value::undefined("first/last of an empty sequence");
    return name == "first" ? all.front() : all.back();
  }
  if (name == "join") return join(v, param(args, kwargs, 0, "d"), param(args, kwargs, 1, "attribute"), site);
  if (name == "replace") return replace(v, arg(args, 0), arg(args, 1), param(args, kwargs, 2, "count"), site);
  if (name == "items") return items(v, site);
  if (name == "list") return Value::of(iterate(v, site));
  if (name == "int" || name == "float") {
    // Jinja's int() and float(): a whole string as a number (int takes "3.7" as 3), else the default.
    double d = 0;
    bool ok = false;
    if (v.kind == Value::Kind::number) {
      d = v.number;
      ok = true;
    } else if (v.is_number()) {
      const int64_t i = need_int(v, site, name.c_str());
      if (name == "int") return Value::of(i);
      return Value::of(static_cast<double>(i));
    } else if (v.is_string()) {
      const std::string& text = v.str();
      const size_t b = lstrip_begin(text), e = std::max(b, rstrip_end(text));
      const std::string trimmed = text.substr(b, e - b);
      int64_t i = 0;
      const auto [end, ec] = std::from_chars(trimmed.data(), trimmed.data() + trimmed.size(), i);
      if (!trimmed.empty() && ec == std::errc() && end == trimmed.data() + trimmed.size()) {
        if (name == "int") return Value::of(i);
        return Value::of(static_cast<double>(i));
      }
      char* parsed_end = nullptr;
      d = std::strtod(trimmed.c_str(), &parsed_end);
      ok = !trimmed.empty() && parsed_end == trimmed.c_str() + trimmed.size();
    }
    if (!ok) {
      if (!args.empty()) return args[0];
      return name == "int" ? Value::of(int64_t{0}) : Value::of(0.0);
    }
    if (name == "float") return Value::of(d);
    if (!(std::fabs(d) < 9.2e18)) fail_at(site, "int of a float out of range");
    return Value::of(static_cast<int64_t>(d));
  }
  if (name == "abs") {
    if (v.kind == Value::Kind::number) return Value::of(std::fabs(v.number));
    const int64_t i = need_int(v, site, "abs");
    if (i == INT64_MIN) fail_at(site, "abs overflows");
    return Value::of(i < 0 ? -i : i);
  }
  if (name == "round") {
    const double d = v.kind == Value::Kind::number ? v.number : static_cast<double>(need_int(v, site, "round"));
    const int64_t digits = args.empty() ? 0 : need_int(args[0], site, "round's precision");
    const double scale = std::pow(10.0, static_cast<double>(std::clamp<int64_t>(digits, -300, 300)));
    return Value::of(std::nearbyint(d * scale) / scale);  // Python's round(): halves to even
  }
  if (name == "unique") {  // case-insensitive unless case_sensitive=true, as Jinja
    const bool case_sensitive = truthy(param(args, kwargs, 0, "case_sensitive"));
    List out;
    for (const Value& item : iterate(v, site))
      if (std::none_of(out.begin(), out.end(), [&](const Value& o) {
            return equal(case_sensitive ? o : folded(o), case_sensitive ? item : folded(item));
          }))
        out.push_back(item);
    return Value::of(std::move(out));
  }
  if (name == "reverse") {
    if (v.is_string()) {
      List chars = iterate(v, site);
      MarkedText out;
      for (auto it = chars.rbegin(); it != chars.rend(); ++it) out.append(it->string);
      return Value::of(std::move(out));
    }
    List all = iterate(v, site);
    std::reverse(all.begin(), all.end());
    return Value::of(std::move(all));
  }
  if (name == "indent") {
    const Value width_v = param(args, kwargs, 0, "width");
    const int64_t width = width_v.is_undefined() ? 4 : need_int(width_v, site, "indent's width");
    if (width < 0 || width > 256) fail_at(site, "indent's width is outside 0..256");
    const bool first = truthy(param(args, kwargs, 1, "first")), blank = truthy(param(args, kwargs, 2, "blank"));
    const MarkedText text = to_text(v);
    const std::string pad(static_cast<size_t>(width), ' ');
    MarkedText out;
    size_t at = 0;
    bool first_line = true;
    while (at <= text.text.size()) {
      size_t nl = text.text.find('\n', at);
      const bool last = nl == std::string::npos;
      if (last) nl = text.text.size();
      const bool empty = nl == at;
      if ((first_line ? first : true) && (blank || !empty)) out.append(pad);
      out.append(text.slice(at, nl));
      if (last) break;
      out.append(text.slice(nl, nl + 1));
      at = nl + 1;
      first_line = false;
      check_size(out.text.size(), site);
    }
    return Value::of(std::move(out));
  }
  if (name == "map") {
    List out;
    const Value* attribute = kwarg(kwargs, "attribute");
    for (const Value& item : iterate(v, site)) {
      if (attribute) {
        const Value* field = attribute->is_string() ? item.find(attribute->str()) : nullptr;
        out.push_back(field ? *field : (kwarg(kwargs, "default") ? *kwarg(kwargs, "default") : Value::undefined()));
      } else {
        const std::string& filter = need_string(arg(args, 0), site, "map");
        out.push_back(site.filter(filter, item, Args(args.begin() + 1, args.end())));
      }
    }
    return Value::of(std::move(out));
  }
  if (name == "select" || name == "reject" || name == "selectattr" || name == "rejectattr") {
    const bool by_attr = name.ends_with("attr"), keep = name.starts_with("select");
    List out;
    const size_t test_at = by_attr ? 1 : 0;
    for (const Value& item : iterate(v, site)) {
      Value subject = item;
      if (by_attr) {
        const std::string& attribute = need_string(arg(args, 0), site, name.c_str());
        const Value* field = item.find(attribute);
        subject = field ? *field : Value::undefined(attribute);
      }
      bool passed;
      if (args.size() > test_at) {
        const std::string& test = need_string(args[test_at], site, name.c_str());
        passed = site.test(test, subject, Args(args.begin() + static_cast<std::ptrdiff_t>(test_at) + 1, args.end()));
      } else {
        passed = truthy(subject);
      }
      if (passed == keep) out.push_back(item);
    }
    return Value::of(std::move(out));
  }
  if (name == "sort" || name == "min" || name == "max") {
    // Strings compare case-insensitively unless case_sensitive=true, as Jinja.
    List all = iterate(v, site);
    const Value attribute = param(args, kwargs, name == "sort" ? 2 : 1, "attribute");
    const bool case_sensitive = truthy(param(args, kwargs, name == "sort" ? 1 : 0, "case_sensitive"));
    auto key = [&](const Value& item) {
      Value k = item;
      if (attribute.is_string()) {
        const Value* field = item.find(attribute.str());
        k = field ? *field : Value::undefined(attribute.str());
      }
      return case_sensitive ? k : folded(k);
    };
    std::stable_sort(all.begin(), all.end(), [&](const Value& a, const Value& b) { return order_of(key(a), key(b), site) < 0; });
    if (name == "min") return all.empty() ? Value::undefined("min of an empty sequence") : all.front();
    if (name == "max") {
      if (all.empty()) return Value::undefined("max of an empty sequence");
      // The first of the largest, as Python's max.
      size_t best = all.size() - 1;
      while (best > 0 && order_of(key(all[best - 1]), key(all[best]), site) == 0) --best;
      return all[best];
    }
    if (truthy(param(args, kwargs, 0, "reverse"))) {
      std::stable_sort(all.begin(), all.end(), [&](const Value& a, const Value& b) { return order_of(key(a), key(b), site) > 0; });
    }
    return Value::of(std::move(all));
  }
  if (name == "sum") {
    Value total = Value::of(int64_t{0});
    const Value attribute = param(args, kwargs, 0, "attribute");
    for (const Value& item : iterate(v, site)) {
      const Value* field = attribute.is_string() ? item.find(attribute.str()) : &item;
      if (!field || !field->is_number()) fail_at(site, "sum needs numbers");
      if (total.kind == Value::Kind::integer && field->kind != Value::Kind::number) {
        if (__builtin_add_overflow(total.integer, need_int(*field, site, "sum"), &total.integer)) fail_at(site, "sum overflows");
      } else {
        const double t = total.kind == Value::Kind::number ? total.number : static_cast<double>(total.integer);
        total = Value::of(t + (field->kind == Value::Kind::number ? field->number : static_cast<double>(need_int(*field, site, "sum"))));
      }
    }
    return total;
  }
  if (name == "dictsort") {  // by key, case-insensitively unless case_sensitive=true
    if (v.kind != Value::Kind::dict) fail_at(site, "dictsort needs a dict");
    const bool case_sensitive = truthy(param(args, kwargs, 0, "case_sensitive"));
    Dict sorted = *v.dict;
    auto fold = [&](const std::string& k) {
      return case_sensitive ? k : ascii_map(k, [](int c) { return std::tolower(c); });
    };
    std::stable_sort(sorted.begin(), sorted.end(), [&](const auto& a, const auto& b) { return fold(a.first) < fold(b.first); });
    List out;
    for (auto& [k, val] : sorted) out.push_back(Value::tuple_of(List{Value::text(k), val}));
    return Value::of(std::move(out));
  }
  fail_at(site, fmt::format("unknown filter '{}'", name));
}

bool apply_test(const std::string& name, const Value& v, const Args& args, const CallSite& site) {
  using K = Value::Kind;
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "string") return v.is_string();
  if (name == "number") return v.kind == K::integer || v.kind == K::number;
  if (name == "integer") return v.kind == K::integer;
  if (name == "float") return v.kind == K::number;
  if (name == "boolean") return v.kind == K::boolean;
  if (name == "true") return v.kind == K::boolean && v.boolean;
  if (name == "false") return v.kind == K::boolean && !v.boolean;
  if (name == "mapping") return v.kind == K::dict || v.kind == K::name_space;
  if (name == "iterable") return v.kind == K::list || v.kind == K::dict || v.kind == K::string || v.kind == K::undefined;
  if (name == "sequence") return v.kind == K::list || v.kind == K::dict || v.kind == K::string;
  if (name == "callable") return v.kind == K::function;
  if (name == "even" || name == "odd") {
    const int64_t i = need_int(v, site, name.c_str());
    return (i % 2 == 0) == (name == "even");
  }
  if (name == "divisibleby") {
    const int64_t d = need_int(arg(args, 0), site, "divisibleby");
    if (d == 0) fail_at(site, "divisibleby 0");
    return need_int(v, site, "divisibleby") % d == 0;
  }
  if (name == "equalto" || name == "eq" || name == "==") return equal(v, arg(args, 0));
  if (name == "ne" || name == "!=") return !equal(v, arg(args, 0));
  if (name == "sameas") return equal(v, arg(args, 0)) && v.kind == arg(args, 0).kind;
  if (name == "lower") return v.is_string() && ascii_map(v.str(), [](int c) { return std::tolower(c); }) == v.str();
  if (name == "upper") return v.is_string() && ascii_map(v.str(), [](int c) { return std::toupper(c); }) == v.str();
  if (name == "in") {
    const Value& container = arg(args, 0);
    if (container.is_string()) return v.is_string() && container.str().find(v.str()) != std::string::npos;
    if (container.is_dict()) return v.is_string() && container.find(v.str()) != nullptr;
    const List all = iterate(container, site);
    return std::any_of(all.begin(), all.end(), [&](const Value& x) { return equal(x, v); });
  }
  if (name == "lt" || name == "gt" || name == "le" || name == "ge" || name == "<" || name == ">" || name == "<=" || name == ">=") {
    const Value& other = arg(args, 0);
    int order;
    if (v.is_number() && other.is_number()) {
      const double a = v.kind == K::number ? v.number : static_cast<double>(need_int(v, site, "a comparison"));
      const double b = other.kind == K::number ? other.number : static_cast<double>(need_int(other, site, "a comparison"));
      order = a < b ? -1 : a > b ? 1 : 0;
    } else if (v.is_string() && other.is_string()) {
      order = v.str().compare(other.str());
      order = order < 0 ? -1 : order > 0 ? 1 : 0;
    } else {
      fail_at(site, fmt::format("'{}' not supported between {} and {}", name, type_name(v), type_name(other)));
    }
    if (name == "lt" || name == "<") return order < 0;
    if (name == "gt" || name == ">") return order > 0;
    if (name == "le" || name == "<=") return order <= 0;
    return order >= 0;
  }
  fail_at(site, fmt::format("unknown test '{}'", name));
}

Value method(const Value& obj, const std::string& name, const CallSite& site) {
  if (obj.is_string()) {
    if (name == "strip" || name == "lstrip" || name == "rstrip")
      return bound_method(name, [obj, name, site](const Args& a, const Kwargs&) {
        return strip(obj, arg(a, 0), name != "rstrip", name != "lstrip", site);
      });
    if (name == "startswith" || name == "endswith")
      return bound_method(name, [obj, name, site](const Args& a, const Kwargs&) {
        return Value::of(starts_or_ends(obj, arg(a, 0), name == "startswith", site));
      });
    if (name == "split")
      return bound_method(name, [obj, site](const Args& a, const Kwargs& k) {
        return split(obj, param(a, k, 0, "sep"), param(a, k, 1, "maxsplit"), site);
      });
    if (name == "upper" || name == "lower" || name == "title" || name == "capitalize")
      return bound_method(name, [obj, name, site](const Args&, const Kwargs&) { return apply_filter(name, obj, {}, {}, site); });
    if (name == "replace")
      return bound_method(name, [obj, site](const Args& a, const Kwargs&) { return replace(obj, arg(a, 0), arg(a, 1), arg(a, 2), site); });
    if (name == "find" || name == "count")
      return bound_method(name, [obj, name, site](const Args& a, const Kwargs&) {
        const std::string& needle = need_string(arg(a, 0), site, name.c_str());
        const std::string& s = obj.str();
        if (name == "find") {
          const size_t at = s.find(needle);
          return Value::of(at == std::string::npos ? int64_t{-1} : static_cast<int64_t>(code_points(s.substr(0, at))));
        }
        if (needle.empty()) return Value::of(static_cast<int64_t>(code_points(s) + 1));
        int64_t n = 0;
        for (size_t at = s.find(needle); at != std::string::npos; at = s.find(needle, at + needle.size())) ++n;
        return Value::of(n);
      });
    if (name == "join")
      return bound_method(name, [obj, site](const Args& a, const Kwargs&) { return join(arg(a, 0), obj, Value::undefined(), site); });
    if (name == "format")
      return bound_method(name, [obj, site](const Args& a, const Kwargs& k) { return format(obj, a, k, site); });
    if (name == "removeprefix" || name == "removesuffix")
      return bound_method(name, [obj, name, site](const Args& a, const Kwargs&) {
        const std::string& affix = need_string(arg(a, 0), site, name.c_str());
        if (!starts_or_ends(obj, arg(a, 0), name == "removeprefix", site)) return obj;
        return name == "removeprefix" ? Value::of(obj.string.slice(affix.size(), obj.str().size()))
                                      : Value::of(obj.string.slice(0, obj.str().size() - affix.size()));
      });
    if (name == "isspace" || name == "isdigit" || name == "isalpha" || name == "isalnum")
      return bound_method(name, [obj, name](const Args&, const Kwargs&) {
        const std::string& s = obj.str();
        if (s.empty()) return Value::of(false);
        if (name == "isspace") return Value::of(lstrip_begin(s) == s.size());
        int (*f)(int) = name == "isdigit" ? static_cast<int (*)(int)>(std::isdigit)
                        : name == "isalpha" ? static_cast<int (*)(int)>(std::isalpha)
                                            : static_cast<int (*)(int)>(std::isalnum);
        return Value::of(std::all_of(s.begin(), s.end(), [&](char c) { return static_cast<unsigned char>(c) < 0x80 && f(c); }));
      });
    return Value::undefined();
  }
  if (obj.is_dict()) {
    if (name == "items") return bound_method(name, [obj, site](const Args&, const Kwargs&) { return items(obj, site); });
    if (name == "keys" || name == "values")
      return bound_method(name, [obj, name](const Args&, const Kwargs&) {
        List out;
        for (const auto& [k, v] : *obj.dict) out.push_back(name == "keys" ? Value::text(k) : v);
        return Value::of(std::move(out));
      });
    if (name == "get") return bound_method(name, [obj](const Args& a, const Kwargs&) { return dict_get(obj, a); });
    return Value::undefined();
  }
  if (obj.is_list() && (name == "append" || name == "extend" || name == "pop" || name == "insert" || name == "remove"))
    fail_at(site, fmt::format("lists cannot be changed in a chat template (.{}); build a new one with +", name));
  return Value::undefined();
}

Value global_function(const std::string& name, const CallSite& site) {
  if (name == "raise_exception")
    return Value::callable(name, [site](const Args& a, const Kwargs&) -> Value {
      SHARDLM_FAIL("the chat template refuses this conversation (line {}): {}", site.line, to_text(arg(a, 0)).text);
    });
  if (name == "namespace" || name == "dict")
    return Value::callable(name, [name, site](const Args& a, const Kwargs& k) {
      Value out = name == "namespace" ? Value::name_space({}) : Value::of(Dict{});
      for (const Value& positional : a) {
        if (!positional.is_dict()) fail_at(site, fmt::format("{}() takes a dict or keyword arguments", name));
        for (const auto& [key, v] : *positional.dict) out.set(key, v);
      }
      for (const auto& [key, v] : k) out.set(key, v);
      return out;
    });
  if (name == "strftime_now")
    // transformers formats the current local time (datetime.now().strftime); so does this.
    return Value::callable(name, [site](const Args& a, const Kwargs&) {
      const std::string& format = need_string(arg(a, 0), site, "strftime_now");
      if (format.size() > 256) fail_at(site, "strftime_now's format is over 256 bytes");
      const std::time_t now = std::time(nullptr);
      std::tm local{};
      localtime_r(&now, &local);
      char buf[1024];
      const size_t n = std::strftime(buf, sizeof buf, format.c_str(), &local);
      return Value::text(std::string(buf, n));
    });
  if (name == "range")
    return Value::callable(name, [site](const Args& a, const Kwargs&) {
      int64_t start = 0, stop, step = 1;
      if (a.size() == 1) {
        stop = need_int(a[0], site, "range");
      } else if (a.size() == 2 || a.size() == 3) {
        start = need_int(a[0], site, "range");
        stop = need_int(a[1], site, "range");
        if (a.size() == 3) step = need_int(a[2], site, "range");
      } else {
        fail_at(site, "range takes 1 to 3 arguments");
      }
      if (step == 0) fail_at(site, "range's step is 0");
      List out;
      for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
        if (out.size() >= 1'000'000) fail_at(site, "range of more than 1000000 numbers");
        out.push_back(Value::of(i));
        if ((step > 0 && i > INT64_MAX - step) || (step < 0 && i < INT64_MIN - step)) break;
      }
      return Value::of(std::move(out));
    });
  return Value::undefined();
}

}  // namespace shardlm::jinja
