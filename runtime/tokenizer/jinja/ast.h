// The parsed template: expressions and statements, each with the source line it began on (errors).
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "runtime/tokenizer/jinja/value.h"

namespace shardlm::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  enum class Kind {
    literal,   // value
    name,      // name
    list,      // args: items (a tuple when negated: `(a, b)`)
    dict,      // args: key, value, key, value, ...
    attr,      // args[0].name
    item,      // args[0][args[1]]
    slice,     // args[0][args[1]:args[2]:args[3]]; a missing bound is a null pointer
    call,      // args[0](args[1..], kwargs)
    filter,    // args[0] | name(args[1..], kwargs)
    test,      // args[0] is [not] name(args[1..]); negated
    unary,     // name ("-", "+", "not") args[0]
    binary,    // args[0] name args[1]: arithmetic, ~
    compare,   // args[0] op args[1] op args[2] ...: the operators (==, <, in, not in, ...) are kwargs' names
    logical,   // name ("and", "or")
    ternary,   // args[0] if args[1] else args[2] (args[2] may be null)
  };
  Kind kind;
  int line = 0;
  Value value;
  std::string name;
  bool negated = false;
  std::vector<ExprPtr> args;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
};

struct Node;
using NodePtr = std::unique_ptr<Node>;
using Body = std::vector<NodePtr>;

struct Node {
  enum class Kind {
    text,        // text
    print,       // {{ expr }}
    if_,         // branches (condition, body); else_body
    for_,        // for targets in expr [if condition]: body [else else_body]
    set,         // set targets = expr, or set target.attr = expr (attr non-empty), or set target %}body{% endset
    macro,       // macro name(params with defaults): body
    call_block,  // call name(args): body passed as caller()
    break_,
    continue_,
    body_only,   // {% generation %}...{% endgeneration %}: just the body
  };
  Kind kind;
  int line = 0;
  std::string text;
  ExprPtr expr;
  ExprPtr condition;
  std::vector<std::string> targets;
  std::string attr;
  std::vector<std::pair<ExprPtr, Body>> branches;
  Body body, else_body;
  std::vector<std::pair<std::string, ExprPtr>> params;  // macro parameters and defaults (null: none)
};

}  // namespace shardlm::jinja
