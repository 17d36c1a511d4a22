#include "runtime/tokenizer/jinja/value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "runtime/core/check.h"

namespace shardlm::jinja {

const Value* Value::find(const std::string& key) const {
  if (!dict) return nullptr;
  for (const auto& [k, v] : *dict)
    if (k == key) return &v;
  return nullptr;
}

void Value::set(const std::string& key, Value value) {
  for (auto& [k, v] : *dict)
    if (k == key) {
      v = std::move(value);
      return;
    }
  dict->emplace_back(key, std::move(value));
}

bool truthy(const Value& v) {
  switch (v.kind) {
    case Value::Kind::undefined:
    case Value::Kind::none: return false;
    case Value::Kind::boolean: return v.boolean;
    case Value::Kind::integer: return v.integer != 0;
    case Value::Kind::number: return v.number != 0;
    case Value::Kind::string: return !v.str().empty();
    case Value::Kind::list: return !v.list->empty();
    case Value::Kind::dict: return !v.dict->empty();
    default: return true;
  }
}

namespace {

double as_double(const Value& v) {
  return v.kind == Value::Kind::number ? v.number : static_cast<double>(v.kind == Value::Kind::boolean ? v.boolean : v.integer);
}

std::string quoted(const std::string& s) {
  const bool double_quotes = s.find('\'') != std::string::npos && s.find('"') == std::string::npos;
  const char q = double_quotes ? '"' : '\'';
  std::string out(1, q);
  for (const char c : s) {
    if (c == q || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(c));
      out += buf;
    } else {
      out += c;
    }
  }
  return out + q;
}

void json_string(const std::string& s, std::string& out) {
  out += '"';
  for (const char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned char>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

void json(const Value& v, int indent, bool sort_keys, int depth, std::string& out) {
  SHARDLM_CHECK(depth < 64, "chat template: tojson of a value nested more than 64 deep");
  std::string newline, closing;
  if (indent >= 0) {
    newline.assign(1, '\n').append(static_cast<size_t>(indent * (depth + 1)), ' ');
    closing.assign(1, '\n').append(static_cast<size_t>(indent * depth), ' ');
  }
  const char* comma = indent >= 0 ? "," : ", ";
  switch (v.kind) {
    case Value::Kind::undefined:
    case Value::Kind::none: out += "null"; return;
    case Value::Kind::boolean: out += v.boolean ? "true" : "false"; return;
    case Value::Kind::integer: out += std::to_string(v.integer); return;
    case Value::Kind::number:
      out += std::isnan(v.number) ? "NaN" : std::isinf(v.number) ? (v.number > 0 ? "Infinity" : "-Infinity") : float_repr(v.number);
      return;
    case Value::Kind::string: json_string(v.str(), out); return;
    case Value::Kind::list: {
      if (v.list->empty()) {
        out += "[]";
        return;
      }
      out += '[';
      for (size_t i = 0; i < v.list->size(); ++i) {
        out += i ? comma : "";
        out += newline;
        json((*v.list)[i], indent, sort_keys, depth + 1, out);
      }
      out += closing + "]";
      return;
    }
    case Value::Kind::dict:
    case Value::Kind::name_space: {
      if (v.dict->empty()) {
        out += "{}";
        return;
      }
      std::vector<const std::pair<std::string, Value>*> items;
      for (const auto& item : *v.dict) items.push_back(&item);
      if (sort_keys) std::stable_sort(items.begin(), items.end(), [](auto* a, auto* b) { return a->first < b->first; });
      out += '{';
      for (size_t i = 0; i < items.size(); ++i) {
        out += i ? comma : "";
        out += newline;
        json_string(items[i]->first, out);
        out += ": ";
        json(items[i]->second, indent, sort_keys, depth + 1, out);
      }
      out += closing + "}";
      return;
    }
    case Value::Kind::function: SHARDLM_FAIL("chat template: tojson cannot write the function {}", v.name);
  }
}

}  // namespace

bool equal(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.kind != Value::Kind::number && b.kind != Value::Kind::number)
      return (a.kind == Value::Kind::boolean ? a.boolean : a.integer) == (b.kind == Value::Kind::boolean ? b.boolean : b.integer);
    return as_double(a) == as_double(b);
  }
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case Value::Kind::undefined:
    case Value::Kind::none: return true;
    case Value::Kind::string: return a.str() == b.str();
    case Value::Kind::list:
      if (a.list->size() != b.list->size()) return false;
      for (size_t i = 0; i < a.list->size(); ++i)
        if (!equal((*a.list)[i], (*b.list)[i])) return false;
      return true;
    case Value::Kind::dict:
      if (a.dict->size() != b.dict->size()) return false;
      for (const auto& [k, v] : *a.dict) {
        const Value* other = b.find(k);
        if (!other || !equal(v, *other)) return false;
      }
      return true;
    default: return a.dict == b.dict && a.function == b.function;
  }
}

std::string type_name(const Value& v) {
  switch (v.kind) {
    case Value::Kind::undefined: return "undefined";
    case Value::Kind::none: return "NoneType";
    case Value::Kind::boolean: return "bool";
    case Value::Kind::integer: return "int";
    case Value::Kind::number: return "float";
    case Value::Kind::string: return "str";
    case Value::Kind::list: return "list";
    case Value::Kind::dict: return "dict";
    case Value::Kind::name_space: return "Namespace";
    case Value::Kind::function: return "function";
  }
  return "?";
}

std::string float_repr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  char buf[64];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  (void)ec;
  const std::string sci(buf, end);  // -d.ddde+XX
  const size_t e = sci.find('e');
  const int exponent = std::stoi(sci.substr(e + 1));
  const bool negative = sci[0] == '-';
  std::string digits;
  for (size_t i = negative ? 1 : 0; i < e; ++i)
    if (sci[i] != '.') digits += sci[i];
  std::string out = negative ? "-" : "";
  if (exponent < -4 || exponent >= 16) {
    out += digits.substr(0, 1);
    if (digits.size() > 1) out.append(1, '.').append(digits, 1);
    char exp[16];
    std::snprintf(exp, sizeof exp, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
    return out + exp;
  }
  if (exponent < 0) {
    out.append("0.").append(static_cast<size_t>(-exponent - 1), '0').append(digits);
    return out;
  }
  const size_t point = static_cast<size_t>(exponent) + 1;
  if (digits.size() <= point) {
    out.append(digits).append(point - digits.size(), '0').append(".0");
    return out;
  }
  return out + digits.substr(0, point) + "." + digits.substr(point);
}

std::string repr(const Value& v) {
  switch (v.kind) {
    case Value::Kind::string: return quoted(v.str());
    case Value::Kind::list: {
      std::string out = v.tuple ? "(" : "[";
      for (size_t i = 0; i < v.list->size(); ++i) out += (i ? ", " : "") + repr((*v.list)[i]);
      if (v.tuple && v.list->size() == 1) out += ",";
      return out + (v.tuple ? ")" : "]");
    }
    case Value::Kind::dict: {
      std::string out = "{";
      for (size_t i = 0; i < v.dict->size(); ++i)
        out += (i ? ", " : "") + quoted((*v.dict)[i].first) + ": " + repr((*v.dict)[i].second);
      return out + "}";
    }
    default: return to_text(v).text;
  }
}

MarkedText to_text(const Value& v) {
  switch (v.kind) {
    case Value::Kind::undefined: return MarkedText();
    case Value::Kind::none: return MarkedText("None");
    case Value::Kind::boolean: return MarkedText(v.boolean ? "True" : "False");
    case Value::Kind::integer: return MarkedText(std::to_string(v.integer));
    case Value::Kind::number: return MarkedText(float_repr(v.number));
    case Value::Kind::string: return v.string;
    case Value::Kind::name_space: return MarkedText("<Namespace>");
    case Value::Kind::function: return MarkedText("<function " + v.name + ">");
    default: {
      MarkedText out(repr(v));
      return holds_content(v) ? MarkedText::content(std::move(out.text)) : out;
    }
  }
}

std::string to_json(const Value& v, int indent, bool sort_keys) {
  std::string out;
  json(v, indent, sort_keys, 0, out);
  return out;
}

namespace {

// A namespace can hold itself; past 64 levels, say yes (the safe answer).
bool holds_content_within(const Value& v, int depth) {
  if (depth > 64) return true;
  switch (v.kind) {
    case Value::Kind::string: return v.string.marked();
    case Value::Kind::list:
      return std::any_of(v.list->begin(), v.list->end(), [&](const Value& e) { return holds_content_within(e, depth + 1); });
    case Value::Kind::dict:
    case Value::Kind::name_space:
      return std::any_of(v.dict->begin(), v.dict->end(),
                         [&](const auto& kv) { return holds_content_within(kv.second, depth + 1); });
    default: return false;
  }
}

}  // namespace

bool holds_content(const Value& v) { return holds_content_within(v, 0); }

}  // namespace shardlm::jinja
