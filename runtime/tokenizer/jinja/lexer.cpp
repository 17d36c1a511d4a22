#include "runtime/tokenizer/jinja/lexer.h"

#include <cstring>

#include "runtime/core/check.h"

namespace shardlm::jinja {

size_t space_at(const std::string& s, size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c == ' ' || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f)) return 1;
  if (c < 0x80) return 0;
  // The non-ASCII characters Python counts as whitespace.
  auto cp_at = [&](size_t& len) -> uint32_t {
    if ((c & 0xe0) == 0xc0 && i + 1 < s.size()) {
      len = 2;
      return ((c & 0x1fu) << 6) | (static_cast<unsigned char>(s[i + 1]) & 0x3fu);
    }
    if ((c & 0xf0) == 0xe0 && i + 2 < s.size()) {
      len = 3;
      return ((c & 0x0fu) << 12) | ((static_cast<unsigned char>(s[i + 1]) & 0x3fu) << 6) |
             (static_cast<unsigned char>(s[i + 2]) & 0x3fu);
    }
    len = 0;
    return 0;
  };
  size_t len = 0;
  const uint32_t cp = cp_at(len);
  const bool space = cp == 0x85 || cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 ||
                     cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000;
  return space ? len : 0;
}

size_t lstrip_begin(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const size_t n = space_at(s, i);
    if (n == 0) break;
    i += n;
  }
  return i;
}

size_t rstrip_end(const std::string& s) {
  // Walk forward (UTF-8 cannot be read backwards safely here), remembering where the last run began.
  size_t i = 0, run = 0;
  bool in_run = false;
  while (i < s.size()) {
    const size_t n = space_at(s, i);
    if (n) {
      if (!in_run) run = i;
      in_run = true;
      i += n;
    } else {
      in_run = false;
      ++i;
    }
  }
  return in_run ? run : s.size();
}

namespace {

class Lexer {
 public:
  Lexer(const std::string& source, const LexOptions& options) : options_(options) {
    // Newlines normalised, one trailing newline dropped.
    src_.reserve(source.size());
    for (size_t i = 0; i < source.size(); ++i) {
      if (source[i] == '\r') {
        src_ += '\n';
        if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
      } else {
        src_ += source[i];
      }
    }
    if (!src_.empty() && src_.back() == '\n') src_.pop_back();
  }

  std::vector<Token> run() {
    while (pos_ < src_.size()) {
      const size_t start = pos_;
      size_t tag = find_tag(pos_);
      std::string text = src_.substr(start, tag - start);
      if (tag == src_.size()) {
        emit_text(std::move(text), start);
        break;
      }
      const char kind = src_[tag + 1];  // '{', '%' or '#'
      const char sign = tag + 2 < src_.size() ? src_[tag + 2] : 0;
      if (sign == '-') {
        text.resize(rstrip_end(text));
      } else if (sign != '+' && options_.lstrip_blocks && kind != '{') {
        const size_t line_start = text.rfind('\n');
        const size_t from = line_start == std::string::npos ? 0 : line_start + 1;
        const bool at_line_start = line_start != std::string::npos || start == 0 || src_[start - 1] == '\n';
        if (at_line_start && from < text.size() && lstrip_begin(text.substr(from)) == text.size() - from) text.resize(from);
      }
      emit_text(std::move(text), start);
      line_ = line_at(tag);
      pos_ = tag + 2 + (sign == '-' || sign == '+' ? 1 : 0);
      if (kind == '#') {
        skip_comment();
      } else {
        out_.push_back({kind == '{' ? Token::Kind::print_begin : Token::Kind::block_begin, "", line_});
        lex_expression(kind == '{');
      }
    }
    out_.push_back({Token::Kind::end, "", line_at(src_.size())});
    return std::move(out_);
  }

 private:
  size_t find_tag(size_t from) const {
    for (size_t i = from; i + 1 < src_.size(); ++i)
      if (src_[i] == '{' && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#')) return i;
    return src_.size();
  }

  int line_at(size_t at) {
    for (; counted_ < at && counted_ < src_.size(); ++counted_)
      if (src_[counted_] == '\n') ++counted_line_;
    return counted_line_;
  }

  void emit_text(std::string text, size_t at) {
    if (!text.empty()) out_.push_back({Token::Kind::text, std::move(text), line_at(at)});
  }

  // After a closing tag: `-` strips the whitespace that follows; trim_blocks drops one newline.
  void after_close(bool strip, bool block) {
    if (strip) {
      while (pos_ < src_.size()) {
        const size_t n = space_at(src_, pos_);
        if (!n) break;
        pos_ += n;
      }
    } else if (block && options_.trim_blocks && pos_ < src_.size() && src_[pos_] == '\n') {
      ++pos_;
    }
  }

  void skip_comment() {
    const size_t close = src_.find("#}", pos_);
    SHARDLM_CHECK(close != std::string::npos, "chat template line {}: a comment {{# is never closed by #}}", line_);
    const char sign = close > pos_ ? src_[close - 1] : 0;  // -#} strips, +#} keeps the newline
    pos_ = close + 2;
    after_close(sign == '-', sign != '+');
  }

  [[noreturn]] void fail(const std::string& what) { SHARDLM_FAIL("chat template line {}: {}", line_at(pos_), what); }

  void lex_expression(bool print) {
    int depth = 0;  // open brackets: a `}}` inside a dict literal does not end the tag
    const char* close = print ? "}}" : "%}";
    while (true) {
      while (pos_ < src_.size() && std::strchr(" \t\n\r", src_[pos_])) ++pos_;
      if (pos_ >= src_.size()) fail(std::string("a tag is never closed by ") + close);
      const int line = line_at(pos_);
      const char c = src_[pos_];
      const bool strip = c == '-' || c == '+';
      const size_t at = strip ? pos_ + 1 : pos_;
      if (depth == 0 && src_.compare(at, 2, close) == 0 && (c != '+' || !print)) {
        pos_ = at + 2;
        out_.push_back({print ? Token::Kind::print_end : Token::Kind::block_end, "", line});
        after_close(c == '-', !print && c != '+');
        return;
      }
      if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
        const size_t begin = pos_;
        while (pos_ < src_.size() && (std::isalnum(static_cast<unsigned char>(src_[pos_])) || src_[pos_] == '_')) ++pos_;
        out_.push_back({Token::Kind::name, src_.substr(begin, pos_ - begin), line});
      } else if (std::isdigit(static_cast<unsigned char>(c))) {
        lex_number(line);
      } else if (c == '\'' || c == '"') {
        lex_string(line);
      } else {
        static const char* const kTwo[] = {"//", "**", "==", "!=", "<=", ">="};
        std::string op(1, c);
        for (const char* two : kTwo)
          if (src_.compare(pos_, 2, two) == 0) op = two;
        if (op.size() == 1 && !std::strchr("+-*/%~<>()[]{}.,:|=!", c))
          fail(std::string("unexpected character '") + c + "' in a tag");
        if (op == "(" || op == "[" || op == "{") ++depth;
        if ((op == ")" || op == "]" || op == "}") && depth > 0) --depth;
        pos_ += op.size();
        out_.push_back({Token::Kind::op, op, line});
      }
    }
  }

  void lex_number(int line) {
    const size_t begin = pos_;
    bool is_float = false;
    while (pos_ < src_.size() && (std::isdigit(static_cast<unsigned char>(src_[pos_])) || src_[pos_] == '_')) ++pos_;
    if (pos_ + 1 < src_.size() && src_[pos_] == '.' && std::isdigit(static_cast<unsigned char>(src_[pos_ + 1]))) {
      is_float = true;
      ++pos_;
      while (pos_ < src_.size() && std::isdigit(static_cast<unsigned char>(src_[pos_]))) ++pos_;
    }
    if (pos_ < src_.size() && (src_[pos_] == 'e' || src_[pos_] == 'E')) {
      size_t p = pos_ + 1;
      if (p < src_.size() && (src_[p] == '+' || src_[p] == '-')) ++p;
      if (p < src_.size() && std::isdigit(static_cast<unsigned char>(src_[p]))) {
        is_float = true;
        pos_ = p;
        while (pos_ < src_.size() && std::isdigit(static_cast<unsigned char>(src_[pos_]))) ++pos_;
      }
    }
    std::string digits;
    for (size_t i = begin; i < pos_; ++i)
      if (src_[i] != '_') digits += src_[i];
    out_.push_back({is_float ? Token::Kind::number : Token::Kind::integer, digits, line});
  }

  static void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xc0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xe0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
      out += static_cast<char>(0xf0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    }
  }

  // Python's escapes, as Jinja reads string literals.
  void lex_string(int line) {
    const char quote = src_[pos_++];
    std::string value;
    while (true) {
      if (pos_ >= src_.size()) fail("a string literal is never closed");
      const char c = src_[pos_++];
      if (c == quote) break;
      if (c != '\\') {
        value += c;
        continue;
      }
      if (pos_ >= src_.size()) fail("a string literal is never closed");
      const char e = src_[pos_++];
      auto hex = [&](int digits) {
        if (pos_ + static_cast<size_t>(digits) > src_.size()) fail("a truncated \\x/\\u escape in a string literal");
        uint32_t cp = 0;
        for (int i = 0; i < digits; ++i) {
          const char h = src_[pos_++];
          if (!std::isxdigit(static_cast<unsigned char>(h))) fail("a bad \\x/\\u escape in a string literal");
          cp = cp * 16 + static_cast<uint32_t>(std::isdigit(static_cast<unsigned char>(h)) ? h - '0' : (std::tolower(h) - 'a' + 10));
        }
        if (cp > 0x10ffff) fail("a \\U escape beyond Unicode in a string literal");
        append_utf8(value, cp);
      };
      switch (e) {
        case 'n': value += '\n'; break;
        case 't': value += '\t'; break;
        case 'r': value += '\r'; break;
        case 'b': value += '\b'; break;
        case 'f': value += '\f'; break;
        case 'v': value += '\v'; break;
        case 'a': value += '\a'; break;
        case '0': value += '\0'; break;
        case '\\': value += '\\'; break;
        case '\'': value += '\''; break;
        case '"': value += '"'; break;
        case '\n': break;
        case 'x': hex(2); break;
        case 'u': hex(4); break;
        case 'U': hex(8); break;
        default:
          value += '\\';
          value += e;
      }
    }
    out_.push_back({Token::Kind::string, std::move(value), line});
  }

  std::string src_;
  LexOptions options_;
  size_t pos_ = 0;
  int line_ = 1;
  size_t counted_ = 0;
  int counted_line_ = 1;
  std::vector<Token> out_;
};

}  // namespace

std::vector<Token> tokenize(const std::string& source, const LexOptions& options) { return Lexer(source, options).run(); }

}  // namespace shardlm::jinja
