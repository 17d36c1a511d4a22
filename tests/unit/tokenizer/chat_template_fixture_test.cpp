// Real models' chat templates rendered by ShardLM against transformers' own rendering of the same
// conversations (tests/fixtures/chat_templates, made by tests/reference/make_chat_template_fixture.py),
// byte for byte; a conversation transformers refuses must be refused here too.
#include <gtest/gtest.h>

#include <cctype>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runtime/core/check.h"
#include "runtime/tokenizer/chat_template.h"

namespace shardlm {
namespace {

const std::string kFixture = std::string(SHARDLM_TEST_DATA) + "/../fixtures/chat_templates/chat_templates.json";

nlohmann::json read_fixture() {
  std::ifstream in(kFixture);
  if (!in) throw std::runtime_error("cannot open " + kFixture);
  return nlohmann::json::parse(in);
}

std::vector<ChatMessage> messages_of(const nlohmann::json& c) {
  std::vector<ChatMessage> messages;
  for (const auto& m : c["messages"]) messages.push_back({m["role"].get<std::string>(), m["content"].get<std::string>()});
  return messages;
}

class ChatTemplateFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(ChatTemplateFixture, RendersAsTransformers) {
  const nlohmann::json fixture = read_fixture();
  const nlohmann::json* found = nullptr;
  for (const auto& t : fixture["templates"])
    if (t["name"] == GetParam()) found = &t;
  ASSERT_NE(found, nullptr) << GetParam() << " is not in " << kFixture;
  const nlohmann::json& t = *found;
  const ChatTemplate chat = ChatTemplate::from_jinja(t["template"].get<std::string>(),
                                                     {t["bos_token"].get<std::string>(), t["eos_token"].get<std::string>()});
  int refused = 0;
  for (const auto& c : t["cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const std::vector<ChatMessage> messages = messages_of(c);
    const bool prompt = c["add_generation_prompt"].get<bool>();
    if (c.contains("expected")) {
      EXPECT_EQ(chat.render(messages, prompt), c["expected"].get<std::string>());
      continue;
    }
    ++refused;
    const std::string error = c["error"].get<std::string>();
    try {
      chat.render(messages, prompt);
      ADD_FAILURE() << "rendered a conversation transformers refuses (" << error << ")";
    } catch (const Error& e) {
      // The template's own message, where it raised one, reaches the error.
      const std::string prefix = "TemplateError: ";
      if (error.starts_with(prefix)) {
        EXPECT_NE(std::string(e.what()).find(error.substr(prefix.size())), std::string::npos) << e.what();
      }
    }
  }
  RecordProperty("refused_cases", refused);
}

INSTANTIATE_TEST_SUITE_P(RealTemplates, ChatTemplateFixture,
                         ::testing::Values("SmolLM2-135M-Instruct", "Llama-2-7b-chat-hf", "Meta-Llama-3-8B-Instruct",
                                           "Llama-3.1-8B-Instruct", "Mistral-7B-Instruct-v0.1",
                                           "Mistral-7B-Instruct-v0.2", "Mistral-v3", "Qwen2-7B-Instruct",
                                           "Qwen2.5-7B-Instruct", "falcon-11B", "gemma-2-2b-it", "Phi-3.5-mini-instruct",
                                           "SmolLM3-3B", "DeepSeek-R1-Distill-Qwen-32B", "Qwen3-0.6B"),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& ch : name)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return name;
                         });

// Whatever a real template does to the contents (strip, trim, concatenation, set), the marked bytes
// are message text, and every special-token spelling a user typed is inside a mark.
TEST(ChatTemplateFixtureMarks, MarkedBytesAreTheMessagesWords) {
  const nlohmann::json fixture = read_fixture();
  for (const auto& t : fixture["templates"]) {
    SCOPED_TRACE(t["name"].get<std::string>());
    const ChatTemplate chat = ChatTemplate::from_jinja(t["template"].get<std::string>(),
                                                       {t["bos_token"].get<std::string>(), t["eos_token"].get<std::string>()});
    for (const auto& c : t["cases"]) {
      if (!c.contains("expected")) continue;
      SCOPED_TRACE(c["name"].get<std::string>());
      const std::vector<ChatMessage> messages = messages_of(c);
      const RenderedChat rendered = chat.render_marked(messages, c["add_generation_prompt"].get<bool>());
      size_t outside_begin = 0;
      std::string outside;  // the template's own text
      for (const TextRange& r : rendered.contents) {
        ASSERT_LE(r.end, rendered.text.size());
        const std::string marked = rendered.text.substr(r.begin, r.end - r.begin);
        bool found = false;
        for (const ChatMessage& m : messages) found = found || m.content.find(marked) != std::string::npos;
        EXPECT_TRUE(found) << "marked text '" << marked << "' is no message's";
        outside += rendered.text.substr(outside_begin, r.begin - outside_begin) + "\x01";
        outside_begin = r.end;
      }
      outside += rendered.text.substr(outside_begin);
      if (c["name"] == "special_token_text") {
        for (const char* typed : {"obey", "<<SYS>> <|eot_id|>"})
          EXPECT_EQ(outside.find(typed), std::string::npos) << typed << " outside the marks: " << outside;
      }
    }
  }
}

// The end of an assistant's turn, as each template writes it.
TEST(ChatTemplateFixtureEndOfTurn, FollowsTheAssistantsWords) {
  const nlohmann::json fixture = read_fixture();
  const std::map<std::string, std::string> expected = {
      {"SmolLM2-135M-Instruct", "<|im_end|>"},  {"Llama-2-7b-chat-hf", "</s>"},
      {"Meta-Llama-3-8B-Instruct", "<|eot_id|>"}, {"Llama-3.1-8B-Instruct", "<|eot_id|>"},
      {"Mistral-7B-Instruct-v0.1", "</s>"},     {"Mistral-7B-Instruct-v0.2", "</s>"},
      {"Mistral-v3", "</s>"},                   {"Qwen2-7B-Instruct", "<|im_end|>"},
      {"Qwen2.5-7B-Instruct", "<|im_end|>"},    {"falcon-11B", "<|endoftext|>"},
      {"gemma-2-2b-it", "<end_of_turn>"},       {"Phi-3.5-mini-instruct", "<|end|>"},
      {"SmolLM3-3B", "<|im_end|>"},             {"DeepSeek-R1-Distill-Qwen-32B", "<\uff5cend\u2581of\u2581sentence\uff5c>"},
      {"Qwen3-0.6B", "<|im_end|>"},
  };
  for (const auto& t : fixture["templates"]) {
    const ChatTemplate chat = ChatTemplate::from_jinja(t["template"].get<std::string>(),
                                                       {t["bos_token"].get<std::string>(), t["eos_token"].get<std::string>()});
    EXPECT_EQ(chat.end_of_turn(), expected.at(t["name"].get<std::string>())) << t["name"];
  }
}

}  // namespace
}  // namespace shardlm
