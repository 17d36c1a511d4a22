// Jinja source -> tokens, with the whitespace rules transformers renders chat templates under:
// `{%-` / `-%}` (and `{{-`, `-}}`, `{#-`, `-#}`) strip the whitespace beside a tag, trim_blocks drops
// the newline after a block or comment tag, lstrip_blocks drops the spaces and tabs before one on its
// own line (`{%+` keeps them). Newlines are normalised to \n and one trailing newline is dropped, as
// Jinja's default keep_trailing_newline=False does.
#pragma once

#include <string>
#include <vector>

namespace shardlm::jinja {

struct Token {
  enum class Kind {
    text,           // template text outside tags
    print_begin,    // {{
    print_end,      // }}
    block_begin,    // {%
    block_end,      // %}
    name,
    string,         // value unescaped
    integer,
    number,
    op,             // operator or punctuation
    end,
  };
  Kind kind;
  std::string value;
  int line = 1;
};

struct LexOptions {
  bool trim_blocks = true;
  bool lstrip_blocks = true;
};

std::vector<Token> tokenize(const std::string& source, const LexOptions& options = {});

// Python's str.isspace() for the character at s[i] (UTF-8): its byte length, or 0 if not a space.
size_t space_at(const std::string& s, size_t i);
// The start of the whitespace that ends s, and the end of the whitespace that begins it (str.strip).
size_t rstrip_end(const std::string& s);
size_t lstrip_begin(const std::string& s);

}  // namespace shardlm::jinja
