#include "runtime/plan/workload.h"

#include "runtime/core/check.h"

namespace shardlm::plan {

void validate(const Workload& w) {
  SHARDLM_CHECK(w.context >= 0, "--context must be positive, got {}", w.context);
  SHARDLM_CHECK(w.concurrency >= 1, "--concurrency must be at least 1, got {}", w.concurrency);
  SHARDLM_CHECK(w.prompt_tokens >= 1, "--prompt-tokens must be at least 1, got {}", w.prompt_tokens);
  SHARDLM_CHECK(w.output_tokens >= 1, "--output-tokens must be at least 1, got {}", w.output_tokens);
  SHARDLM_CHECK(w.max_step_tokens >= 0, "--max-step-tokens must be 0 or more, got {}", w.max_step_tokens);
  SHARDLM_CHECK(w.block_size >= 1, "KV block size must be positive, got {}", w.block_size);
  SHARDLM_CHECK(w.threads >= 0, "--threads must be positive, got {}", w.threads);
  SHARDLM_CHECK(!w.kv_cache_bytes || *w.kv_cache_bytes > 0, "--kv-cache-memory must be positive");
}

}  // namespace shardlm::plan
