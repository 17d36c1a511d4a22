// Renders a parsed template: statements run against a stack of scopes (a for loop's or a macro's
// body gets its own, as in Jinja), with limits that turn a runaway template into a clear error
// rather than a hang or a crash.
#pragma once

#include <string>

#include "runtime/tokenizer/jinja/ast.h"
#include "runtime/tokenizer/jinja/marked_text.h"
#include "runtime/tokenizer/jinja/value.h"

namespace shardlm::jinja {

struct Limits {
  size_t max_output_bytes = 16u << 20;   // the rendered text, and any one string built on the way
  int64_t max_steps = 5'000'000;         // statements and expressions evaluated
  int max_call_depth = 64;               // nested macro calls
  size_t max_bytes_built = size_t{1} << 30;  // all the strings computed on the way, copies included
  size_t max_list_items = 1'000'000;      // any one list built
};

// The text of `body` given the template's variables (messages, add_generation_prompt, ...).
MarkedText render(const Body& body, const Dict& variables, const Limits& limits = {});

}  // namespace shardlm::jinja
