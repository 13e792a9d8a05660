// A received report, whatever it is: a mail (GMime), gzip (capped), or JSON. Nothing crashes,
// nothing allocates past the caps, and a decoded report survives serialization.
#include <cstdint>
#include <string_view>

#include "fuzz_check.h"
#include "reports/decode.h"
#include "reports/gzip.h"
#include "reports/mail.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mtasts;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto d = reports::decode_report(in);
  if (d) {
    FUZZ_CHECK(reports::is_gzip(d->gzipped));
    auto json = reports::gunzip(d->gzipped, kMaxReportJsonSize);
    FUZZ_CHECK(json.ok());
    auto again = parse_report(*json);
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(again->report_id == d->report.report_id);
  } else {
    FUZZ_CHECK(!d.error().code.empty());
    FUZZ_CHECK(!d.error().message.empty());
  }
  // Each stage alone, too: the mail extractor on every input, gunzip with a small cap.
  auto m = reports::extract_mail_report(in);
  if (m) FUZZ_CHECK(!m->payload.empty() && m->payload.size() <= reports::kMaxMailSize);
  auto z = reports::gunzip(in, 1 << 16);
  if (z) FUZZ_CHECK(z->size() <= (1u << 16));
  return 0;
}
