// Tokens -> the statement tree of a template. Errors name the source line and what was expected.
#pragma once

#include <string>

#include "runtime/tokenizer/jinja/ast.h"

namespace shardlm::jinja {

Body parse_template(const std::string& source);

}  // namespace shardlm::jinja
