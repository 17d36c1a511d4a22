#include "runtime/tokenizer/chat_template.h"

#include "runtime/core/check.h"
#include "runtime/tokenizer/jinja/interpreter.h"
#include "runtime/tokenizer/jinja/lexer.h"
#include "runtime/tokenizer/jinja/parser.h"

namespace shardlm {
namespace {

// What the end-of-turn probe writes as the assistant's words.
constexpr const char* kProbe = "SHARDLMENDOFTURNPROBE";

std::string jinja_string_literal(const std::string& text) {
  std::string out = "'";
  for (const char c : text) {
    if (c == '\'' || c == '\\') out += '\\';
    if (c == '\n' || c == '\r') {  // escaped: the lexer would turn a raw \r into \n
      out += c == '\n' ? "\\n" : "\\r";
      continue;
    }
    out += c;
  }
  return out + "'";
}

}  // namespace

ChatTokens chat_tokens_of(const Tokenizer& tokenizer) {
  auto text_of = [&](int32_t id) {
    return id >= 0 && id < tokenizer.vocab_size() ? tokenizer.decode(-1, id) : std::string();
  };
  return {text_of(tokenizer.bos()), text_of(tokenizer.eos())};
}

ChatTemplate ChatTemplate::from_jinja(const std::string& source) {
  ChatTemplate t = from_jinja(source, {});
  t.tokens_given_ = false;
  return t;
}

ChatTemplate ChatTemplate::from_jinja(const std::string& source, ChatTokens tokens) {
  ChatTemplate t;
  t.source_ = source;
  t.tokens_ = std::move(tokens);
  t.tokens_given_ = true;
  t.program_ = std::make_shared<const jinja::Body>(jinja::parse_template(source));
  // The end of an assistant's turn; a template that needs a system turn first gets one.
  for (const bool with_system : {false, true}) {
    std::vector<ChatMessage> probe = {{"user", "a"}, {"assistant", kProbe}};
    if (with_system) probe.insert(probe.begin(), {"system", "s"});
    std::string text;
    try {
      text = t.render(probe, false);
    } catch (const Error&) {
      continue;
    }
    const size_t at = text.rfind(kProbe);
    if (at == std::string::npos) continue;
    std::string after = text.substr(at + std::string(kProbe).size());
    after = after.substr(0, after.find('\n'));
    after = after.substr(jinja::lstrip_begin(after));
    after.resize(jinja::rstrip_end(after));
    t.end_of_turn_ = after;
    break;
  }
  if (t.end_of_turn_.empty()) t.end_of_turn_ = t.tokens_.eos;
  return t;
}

ChatTemplate ChatTemplate::chatml(std::string default_system_prompt) {
  std::string source = "{% for message in messages %}";
  if (!default_system_prompt.empty())
    source += "{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\n' + " +
              jinja_string_literal(default_system_prompt) + " + '<|im_end|>\\n' }}{% endif %}";
  source +=
      "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}"
      "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
  return from_jinja(source);
}

RenderedChat ChatTemplate::render_marked(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const {
  return render_with(tokens_, messages, add_generation_prompt);
}

RenderedChat ChatTemplate::render_with(const ChatTokens& tokens, const std::vector<ChatMessage>& messages,
                                       bool add_generation_prompt) const {
  jinja::List list;
  for (const auto& m : messages) {
    SHARDLM_CHECK(m.role == "system" || m.role == "user" || m.role == "assistant",
                  "chat message role '{}' is not system, user or assistant", m.role);
    list.push_back(jinja::Value::of(jinja::Dict{{"role", jinja::Value::text(m.role)},
                                                {"content", jinja::Value::of(jinja::MarkedText::content(m.content))}}));
  }
  const jinja::Dict variables = {
      {"messages", jinja::Value::of(std::move(list))},
      {"add_generation_prompt", jinja::Value::of(add_generation_prompt)},
      {"bos_token", jinja::Value::text(tokens.bos)},
      {"eos_token", jinja::Value::text(tokens.eos)},
      {"tools", jinja::Value::none()},
      {"documents", jinja::Value::none()},
  };
  jinja::MarkedText text = jinja::render(*program_, variables);
  return {std::move(text.text), std::move(text.marks)};
}

std::vector<int32_t> ChatTemplate::encode(const Tokenizer& tokenizer, const std::vector<ChatMessage>& messages,
                                          bool add_generation_prompt) const {
  const ChatTokens tokens = tokens_given_ ? tokens_ : chat_tokens_of(tokenizer);
  const RenderedChat chat = render_with(tokens, messages, add_generation_prompt);
  const bool wrote_bos = !tokens.bos.empty() && chat.text.starts_with(tokens.bos);
  return tokenizer.encode_literal(chat.text, /*add_bos=*/!wrote_bos, chat.contents);
}

}  // namespace shardlm
