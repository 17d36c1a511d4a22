// Chat templates: how a conversation becomes the text a chat model was trained on. Models ship them
// as Jinja source; ShardLM recognises the known families of templates in that source and renders
// them natively (no Jinja interpreter), failing clearly on a template it does not know.
#pragma once

#include <string>
#include <vector>

#include "runtime/tokenizer/tokenizer.h"

namespace shardlm {

struct ChatMessage {
  std::string role;  // "system", "user", "assistant"
  std::string content;
};

// A rendered conversation: its text, and where the messages' contents lie in it (the text that is
// the users', in which special-token text must stay text: Tokenizer::encode_literal).
struct RenderedChat {
  std::string text;
  std::vector<TextRange> contents;
};

class ChatTemplate {
 public:
  enum class Kind { chatml, llama2 };

  // Recognises ChatML (<|im_start|>role ... <|im_end|>, with the default system prompt the template
  // inserts when the conversation has none) and Llama-2's [INST] form.
  static ChatTemplate from_jinja(const std::string& source);
  static ChatTemplate chatml(std::string default_system_prompt);

  Kind kind() const { return kind_; }
  const std::string& default_system_prompt() const { return default_system_; }
  // The text of `messages`, ending with the assistant's turn opened when add_generation_prompt.
  RenderedChat render_marked(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const;
  std::string render(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const {
    return render_marked(messages, add_generation_prompt).text;
  }
  // The conversation's prompt tokens: special tokens from the template's own text only.
  std::vector<int32_t> encode(const Tokenizer& tokenizer, const std::vector<ChatMessage>& messages,
                              bool add_generation_prompt) const;
  // Text that ends an assistant turn (ChatML's <|im_end|>): generation stops at its token.
  std::string end_of_turn() const;

 private:
  Kind kind_ = Kind::chatml;
  std::string default_system_;
};

}  // namespace shardlm
