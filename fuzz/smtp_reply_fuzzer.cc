// SMTP replies from whatever answers on an MX's port 25 (core/smtp_reply.h), line by line as the
// check's probe reads them: a complete reply, an error, or a request for more, within limits.
#include <cstdint>
#include <string_view>

#include "core/smtp_reply.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  mtasts::SmtpReplyReader r;
  using Status = mtasts::SmtpReplyReader::Status;
  while (!rest.empty()) {
    auto end = rest.find("\r\n");
    std::string_view line = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 2);
    Status s = r.add_line(line);
    if (s == Status::more) {
      FUZZ_CHECK(r.reply().lines.size() < mtasts::kMaxSmtpReplyLines);
      continue;
    }
    if (s == Status::done) {
      const auto& reply = r.reply();
      FUZZ_CHECK(reply.code >= 200 && reply.code <= 599 && !reply.lines.empty());
      FUZZ_CHECK(reply.lines.size() <= mtasts::kMaxSmtpReplyLines);
      for (const auto& l : reply.lines) FUZZ_CHECK(l.size() + 6 <= mtasts::kMaxSmtpLine);
      auto keywords = mtasts::ehlo_keywords(reply);
      FUZZ_CHECK(keywords.size() + 1 == reply.lines.size());
      for (const auto& k : keywords) FUZZ_CHECK(k.find(' ') == std::string_view::npos);
    } else {
      FUZZ_CHECK(!r.error().empty() && r.error().size() < 200);
      FUZZ_CHECK(r.add_line("220 ok") == Status::error);
    }
    r.reset();
  }
  return 0;
}
