#include "runtime/tokenizer/chat_template.h"

#include "runtime/core/check.h"

namespace shardlm {
namespace {

// The literal text a template inserts as the system turn when the conversation has none, e.g.
// "{{ '<|im_start|>system\nYou are ...<|im_end|>\n' }}": what sits between the system header and
// the end marker inside a quoted literal.
std::string default_system_of_chatml(const std::string& source) {
  const std::string header = "<|im_start|>system\n", end = "<|im_end|>";
  const size_t at = source.find(header);
  if (at == std::string::npos) return "";
  const size_t start = at + header.size(), stop = source.find(end, start);
  if (stop == std::string::npos) return "";
  const std::string text = source.substr(start, stop - start);
  // A placeholder such as "' + message['content'] + '" means no fixed default.
  return text.find('\'') == std::string::npos && text.find("{{") == std::string::npos ? text : "";
}

}  // namespace

ChatTemplate ChatTemplate::chatml(std::string default_system_prompt) {
  ChatTemplate t;
  t.kind_ = Kind::chatml;
  t.default_system_ = std::move(default_system_prompt);
  return t;
}

ChatTemplate ChatTemplate::from_jinja(const std::string& source) {
  if (source.find("<|im_start|>") != std::string::npos) return chatml(default_system_of_chatml(source));
  if (source.find("[INST]") != std::string::npos) {
    ChatTemplate t;
    t.kind_ = Kind::llama2;
    return t;
  }
  SHARDLM_FAIL("this model's chat template is not one ShardLM knows (ChatML, Llama-2 [INST]); it begins: {}",
               source.substr(0, 80));
}

RenderedChat ChatTemplate::render_marked(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const {
  for (const auto& m : messages)
    SHARDLM_CHECK(m.role == "system" || m.role == "user" || m.role == "assistant",
                  "chat message role '{}' is not system, user or assistant", m.role);
  RenderedChat out;
  std::string& text = out.text;
  auto content = [&](const std::string& words) {  // the caller's words, marked as such
    out.contents.push_back({text.size(), text.size() + words.size()});
    text += words;
  };
  if (kind_ == Kind::chatml) {
    if (!default_system_.empty() && (messages.empty() || messages.front().role != "system"))
      text += "<|im_start|>system\n" + default_system_ + "<|im_end|>\n";
    for (const auto& m : messages) {
      text += "<|im_start|>" + m.role + "\n";
      content(m.content);
      text += "<|im_end|>\n";
    }
    if (add_generation_prompt) text += "<|im_start|>assistant\n";
    return out;
  }
  // Llama-2: <s>[INST] <<SYS>>\nsystem\n<</SYS>>\n\nuser [/INST] assistant </s><s>[INST] ...; the
  // tokenizer adds the first <s> as BOS, so the text starts at [INST].
  const bool has_system = !messages.empty() && messages.front().role == "system";
  const size_t first = has_system ? 1 : 0;
  for (size_t i = first; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    if (m.role == "user") {
      text += (i == first ? "" : "<s>") + std::string("[INST] ");
      if (i == first && has_system) {
        text += "<<SYS>>\n";
        content(messages.front().content);
        text += "\n<</SYS>>\n\n";
      }
      content(m.content);
      text += " [/INST]";
    } else {
      text += " ";
      content(m.content);
      text += " </s>";
    }
  }
  return out;
}

std::vector<int32_t> ChatTemplate::encode(const Tokenizer& tokenizer, const std::vector<ChatMessage>& messages,
                                          bool add_generation_prompt) const {
  const RenderedChat chat = render_marked(messages, add_generation_prompt);
  return tokenizer.encode_literal(chat.text, /*add_bos=*/true, chat.contents);
}

std::string ChatTemplate::end_of_turn() const { return kind_ == Kind::chatml ? "<|im_end|>" : "</s>"; }

}  // namespace shardlm
