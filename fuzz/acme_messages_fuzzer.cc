// The ACME resources and problem documents a CA answers with (core/acme_messages.h): untrusted
// JSON from the network. Also the Retry-After header, which decides how long the client waits.
#include <cstdint>
#include <string>
#include <string_view>

#include "core/acme_messages.h"
#include "fuzz_check.h"

namespace acme = mtasts::acme;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto d = acme::parse_directory(text))
    FUZZ_CHECK(!d->new_nonce.empty() && !d->new_account.empty() && !d->new_order.empty());
  else
    FUZZ_CHECK(d.error().code == "acme-bad-response");
  for (int status : {0, 400, 503}) {
    auto p = acme::parse_problem(text, status);
    FUZZ_CHECK(!p.type.empty());
    auto e = acme::problem_error(p, "fuzz");
    FUZZ_CHECK(e.code.starts_with("acme-") && !e.message.empty());
    (void)acme::describe(p);
  }
  if (auto o = acme::parse_order(text)) FUZZ_CHECK(!o->status.empty() && !o->finalize.empty());
  if (auto a = acme::parse_authorization(text)) {
    FUZZ_CHECK(!a->status.empty());
    for (const auto& c : a->challenges) FUZZ_CHECK(!c.type.empty() && !c.url.empty());
  }
  if (auto c = acme::parse_challenge(text)) FUZZ_CHECK(!c->type.empty() && !c->url.empty());
  (void)acme::is_valid_token(text);
  // The wait is never negative nor overflows; the tries are bounded by the client's max_attempts
  // and deadline (net/acme_client.h), so "Retry-After: 0" cannot make it spin.
  constexpr std::int64_t now = 1'700'000'000;
  if (auto s = acme::parse_retry_after(text, now)) FUZZ_CHECK(*s >= 0);
  for (int retry : {1, 2, 30}) {
    auto ms = acme::retry_delay_ms(text, retry, 500, 60'000, now);
    FUZZ_CHECK(ms >= 0 && ms <= (std::int64_t{1} << 40) * 1000);
  }
  return 0;
}
