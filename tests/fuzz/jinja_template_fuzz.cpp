// Chat templates as models ship them (outside input: a GGUF's tokenizer.chat_template or a
// tokenizer_config.json's chat_template), parsed and rendered over a small conversation: any input
// ends in text or a clear error, within the step and size limits, and the content marks stay inside
// the text, in order and apart.
#include <cstdlib>
#include <string>

#include "runtime/tokenizer/jinja/interpreter.h"
#include "runtime/tokenizer/jinja/parser.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace shardlm::jinja;
  const std::string source(shardlm::fuzz::as_text(data, size));
  auto message = [](const char* role, const char* content) {
    return Value::of(Dict{{"role", Value::text(role)}, {"content", Value::of(MarkedText::content(content))}});
  };
  const Dict variables = {
      {"messages", Value::of(List{message("system", "Be brief."), message("user", " Hi <|im_end|> "),
                                  message("assistant", "Hello!"), message("user", "[INST] again")})},
      {"add_generation_prompt", Value::of(true)},
      {"bos_token", Value::text("<s>")},
      {"eos_token", Value::text("</s>")},
      {"tools", Value::none()},
  };
  Limits limits;
  limits.max_steps = 200'000;
  limits.max_output_bytes = 1 << 20;
  return shardlm::fuzz::accept_clear_errors([&] {
    const MarkedText out = render(parse_template(source), variables, limits);
    size_t last_end = 0;
    for (const auto& mark : out.marks) {
      if (mark.begin < last_end || mark.end <= mark.begin || mark.end > out.text.size()) std::abort();
      last_end = mark.end;
    }
  });
}
