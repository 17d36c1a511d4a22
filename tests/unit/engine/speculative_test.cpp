// Speculative decoding keeps exactly plain greedy decoding's output, with prompt-lookup drafts and
// with draft models that are right (the target itself), sometimes wrong (the target with layers cut,
// a bf16 copy) or mostly wrong (another model with a vocabulary of the same size).
#include <gtest/gtest.h>

#include "runtime/core/check.h"
#include "runtime/engine/draft_model.h"
#include "runtime/engine/generator.h"
#include "runtime/engine/speculative.h"
#include "runtime/model/model_loader.h"

namespace shardlm {
namespace {

TEST(PromptLookup, DraftsWhatFollowedTheLastNgram) {
  const std::vector<int32_t> context = {5, 6, 7, 8, 9, 1, 6, 7};
  EXPECT_EQ(prompt_lookup_draft(context, 2), (std::vector<int32_t>{8, 9}));   // "6 7" was followed by 8 9
  EXPECT_EQ(prompt_lookup_draft(context, 10), (std::vector<int32_t>{8, 9, 1, 6, 7}));
  const std::vector<int32_t> nothing = {1, 2, 3};
  EXPECT_TRUE(prompt_lookup_draft(nothing, 4).empty());
}

TEST(Speculative, GreedyOutputIsPlainGreedyOutput) {
  for (const std::string& model_path : {std::string(SHARDLM_TEST_DATA) + "/stories260K/stories260K.bin",
                                       std::string(SHARDLM_TEST_DATA) + "/../fixtures/llama"}) {
    LoadedModel model = load_model(model_path, std::nullopt);
    const auto tokenizer = load_tokenizer(model_path, "", model.spec);
    ThreadPool pool(2);
    Decoder decoder(model.spec, model.weights, pool);
    const std::string story = "Lily and Tom went to the park. Lily and Tom went to the park. Lily and Tom";
    for (const std::string& text : {story, std::string("Once upon a time"), story + " went to the"}) {
      const auto prompt = tokenizer->encode(text, true);
      Sampler greedy({0.0f, 0, 1.0f, 0});
      std::vector<int32_t> plain, fast;
      generate(decoder, prompt, 40, greedy, [&](int32_t t) {
        plain.push_back(t);
        return true;
      });
      for (int64_t k : {1, 3, 8}) {
        fast.clear();
        const auto stats = generate_greedy_speculative(decoder, prompt, 40, k, [&](int32_t t) {
          fast.push_back(t);
          return true;
        });
        EXPECT_EQ(fast, plain) << model_path << " k " << k << ": " << text;
        EXPECT_EQ(stats.generated, static_cast<int64_t>(plain.size()));
      }
    }
  }
}

TEST(Speculative, RepetitiveTextAcceptsDrafts) {
  const std::string path = std::string(SHARDLM_TEST_DATA) + "/stories260K/stories260K.bin";
  LoadedModel model = load_model(path, std::nullopt);
  const auto tokenizer = load_tokenizer(path, "", model.spec);
  ThreadPool pool(1);
  Decoder decoder(model.spec, model.weights, pool);
  // Greedy decoding of this tiny model soon repeats itself, which is what prompt lookup feeds on.
  const auto stats = generate_greedy_speculative(decoder, tokenizer->encode("Once upon a time", true), 200, 4,
                                                 [](int32_t) { return true; });
  EXPECT_GT(stats.accepted, 0);
  EXPECT_LT(stats.passes, stats.generated);
}

std::vector<int32_t> plain_greedy(Decoder& decoder, const std::vector<int32_t>& prompt, int64_t max_new_tokens) {
  std::vector<int32_t> tokens;
  Sampler greedy({0.0f, 0, 1.0f, 0});
  generate(decoder, prompt, max_new_tokens, greedy, [&](int32_t t) {
    tokens.push_back(t);
    return true;
  });
  return tokens;
}

// The first `layers` layers of a model: same vocabulary and embeddings, different predictions.
LoadedModel truncated(LoadedModel model, int64_t layers) {
  model.spec.layers = layers;
  model.weights.layers.resize(layers);
  return model;
}

TEST(Speculative, DraftModelGreedyOutputIsPlainGreedyOutput) {
  const std::string path = std::string(SHARDLM_TEST_DATA) + "/stories260K/stories260K.bin";
  LoadedModel target_model = load_model(path, std::nullopt);
  const auto tokenizer = load_tokenizer(path, "", target_model.spec);
  ThreadPool pool(2);
  Decoder target(target_model.spec, target_model.weights, pool);
  LoadedModel same = load_model(path, std::nullopt), cut = truncated(load_model(path, std::nullopt), 2),
              bf16 = load_model(path, DType::bf16),
              other = load_model(std::string(SHARDLM_TEST_DATA) + "/../fixtures/llama", std::nullopt);
  enum class Drafts { all_kept, some_rejected, either };
  struct Case {
    const char* name;
    LoadedModel* draft;
    Drafts expect;
  };
  // bf16 rounding rarely changes this model's argmax: its drafts may all be kept or not.
  for (const Case& c : {Case{"itself", &same, Drafts::all_kept}, Case{"2 of 5 layers", &cut, Drafts::some_rejected},
                        Case{"bf16", &bf16, Drafts::either}, Case{"llama fixture", &other, Drafts::some_rejected}}) {
    Decoder draft_decoder(c.draft->spec, c.draft->weights, pool);
    int64_t drafted = 0, accepted = 0;
    for (const char* text : {"Once upon a time", "Lily and Tom went to the park."}) {
      const auto prompt = tokenizer->encode(text, true);
      const std::vector<int32_t> plain = plain_greedy(target, prompt, 60);
      for (int64_t k : {1, 4, 7}) {
        DraftModelDrafter drafter(draft_decoder, target.spec(), 200, SamplingParams{0.0f, 0, 1.0f, 0});
        std::vector<int32_t> fast;
        const auto stats = generate_speculative(target, drafter, prompt, 60, k, SamplingParams{0.0f, 0, 1.0f, 0},
                                                [&](int32_t t) {
                                                  fast.push_back(t);
                                                  return true;
                                                });
        EXPECT_EQ(fast, plain) << c.name << " k " << k << ": " << text;
        drafted += stats.drafted;
        accepted += stats.accepted;
        if (c.expect == Drafts::all_kept) {
          EXPECT_EQ(stats.accepted, stats.drafted) << "k " << k;
        }
      }
    }
    SCOPED_TRACE(c.name);
    EXPECT_GT(drafted, 0);
    if (c.expect == Drafts::some_rejected) {
      EXPECT_LT(accepted, drafted);  // rejections happened and were rolled back
    }
  }
}

TEST(Speculative, DraftModelWithAnotherVocabularyIsRefused) {
  const std::string path = std::string(SHARDLM_TEST_DATA) + "/stories260K/stories260K.bin";
  LoadedModel target_model = load_model(path, std::nullopt);
  ThreadPool pool(1);
  ModelSpec larger = target_model.spec;
  larger.vocab_size += 1;
  Decoder draft(target_model.spec, target_model.weights, pool);
  EXPECT_THROW(DraftModelDrafter drafter(draft, larger, 100, SamplingParams{0.0f, 0, 1.0f, 0}), Error);
}

// The adaptive prompt-lookup drafter: full length at first, one more than were kept after a
// rejection, doubling while whole drafts are kept; a one-token match drafts at most two.
TEST(PromptLookup, DrafterAdaptsItsLength) {
  PromptLookupDrafter drafter;
  Draft draft;
  std::vector<int32_t> context = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 1, 2, 3};
  drafter.draft(context, 8, draft);
  EXPECT_EQ(draft.tokens, (std::vector<int32_t>{4, 5, 6, 7, 8, 9, 10, 11}));
  context.insert(context.end(), {4, 5, 99});  // two kept, then the target's own token
  drafter.draft(context, 8, draft);           // "5 99" and "99" never occurred: nothing to draft
  EXPECT_TRUE(draft.tokens.empty());
  context.insert(context.end(), {1, 2, 3});  // (no draft: the target added 1, then 2, 3 in later passes)
  drafter.draft(context, 8, draft);
  EXPECT_EQ(draft.tokens.size(), 3u);  // limit 3 = two kept + 1, still in force
  context.insert(context.end(), {4, 5, 99, 1});
  drafter.draft(context, 8, draft);
  EXPECT_EQ(draft.tokens, (std::vector<int32_t>{2, 3, 4, 5, 99, 1}));  // all 3 kept: the limit doubles to 6
  const std::vector<int32_t> single = {7, 1, 2, 7};
  PromptLookupDrafter fresh;
  fresh.draft(single, 8, draft);
  EXPECT_EQ(draft.tokens, (std::vector<int32_t>{1, 2}));  // only "7" matched
}

}  // namespace
}  // namespace shardlm
