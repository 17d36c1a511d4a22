// Chat templates: how a conversation becomes the text a chat model was trained on. Models ship them
// as Jinja source; ShardLM renders that source with its own interpreter of the Jinja subset chat
// templates use (runtime/tokenizer/jinja), under the settings transformers renders them with
// (trim_blocks, lstrip_blocks), and follows which bytes of the result are the messages' contents.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "runtime/tokenizer/tokenizer.h"

namespace shardlm {

namespace jinja {
struct Node;
}

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

// The special tokens a template may write: its bos_token and eos_token variables.
struct ChatTokens {
  std::string bos, eos;
};
// The text of the tokenizer's BOS and EOS tokens (empty where it has none).
ChatTokens chat_tokens_of(const Tokenizer& tokenizer);

class ChatTemplate {
 public:
  // Parses the template (a syntax error or an unsupported tag fails here, naming the line). Without
  // `tokens`, render() gives bos_token and eos_token as empty text and encode() takes them from the
  // tokenizer it is given.
  static ChatTemplate from_jinja(const std::string& source);
  static ChatTemplate from_jinja(const std::string& source, ChatTokens tokens);
  // Plain ChatML, with `default_system_prompt` as the system turn when a conversation has none
  // (none when empty).
  static ChatTemplate chatml(std::string default_system_prompt);

  const std::string& source() const { return source_; }
  // The text of `messages`, ending with the assistant's turn opened when add_generation_prompt.
  // A conversation the template refuses (raise_exception) fails with the template's message.
  RenderedChat render_marked(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const;
  std::string render(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const {
    return render_marked(messages, add_generation_prompt).text;
  }
  // The conversation's prompt tokens: special tokens from the template's own text only. BOS is added
  // unless the template wrote it itself.
  std::vector<int32_t> encode(const Tokenizer& tokenizer, const std::vector<ChatMessage>& messages,
                              bool add_generation_prompt) const;
  // Text that ends an assistant turn (ChatML's <|im_end|>, Llama 3's <|eot_id|>, Llama 2's </s>):
  // generation stops at its token. Found by rendering [user, assistant "<probe>"] without a
  // generation prompt: what the template writes right after the assistant's words, up to the next
  // newline, spaces trimmed; where that is nothing, the EOS token's text (when known).
  const std::string& end_of_turn() const { return end_of_turn_; }

 private:
  RenderedChat render_with(const ChatTokens& tokens, const std::vector<ChatMessage>& messages,
                           bool add_generation_prompt) const;

  std::string source_;
  ChatTokens tokens_;
  bool tokens_given_ = false;
  std::shared_ptr<const std::vector<std::unique_ptr<jinja::Node>>> program_;
  std::string end_of_turn_;
};

}  // namespace shardlm
