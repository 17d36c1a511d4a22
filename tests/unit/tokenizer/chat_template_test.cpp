// ChatML rendering against the text SmolLM2's own Jinja template produces (written out by hand from
// the template in its GGUF metadata).
#include <gtest/gtest.h>

#include "runtime/core/check.h"
#include "runtime/tokenizer/chat_template.h"

namespace shardlm {
namespace {

const std::string kSmolLm2Template =
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\n"
    "You are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

TEST(ChatTemplate, SmolLm2InsertsItsDefaultSystemPrompt) {
  const ChatTemplate chat = ChatTemplate::from_jinja(kSmolLm2Template);
  EXPECT_EQ(chat.kind(), ChatTemplate::Kind::chatml);
  EXPECT_EQ(chat.render({{"user", "What is the capital of France?"}}, true),
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
            "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n");
}

TEST(ChatTemplate, AGivenSystemPromptReplacesTheDefault) {
  const ChatTemplate chat = ChatTemplate::from_jinja(kSmolLm2Template);
  EXPECT_EQ(chat.render({{"system", "Be brief."}, {"user", "Hi"}, {"assistant", "Hello!"}, {"user", "Bye"}}, true),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
            "Hello!<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n");
}

TEST(ChatTemplate, UnknownTemplatesAndRolesAreRejected) {
  EXPECT_THROW(ChatTemplate::from_jinja("{{ bos_token }}{% for m in messages %}### {{ m.content }}{% endfor %}"), Error);
  EXPECT_THROW(ChatTemplate::chatml("").render({{"wizard", "x"}}, true), Error);
}

}  // namespace
}  // namespace shardlm
