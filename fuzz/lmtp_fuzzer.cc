// The LMTP session (reports/lmtp_session.h): bytes from whatever connects to `mtasts reports
// lmtp`, cut into chunks at the places the input's first byte picks. Every event is well formed,
// limits hold, and the session never loops without consuming.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "reports/lmtp_session.h"

using mtasts::reports::LmtpLimits;
using mtasts::reports::LmtpSession;

namespace {

// One reply or several in a row (after DATA, LMTP answers once per recipient, RFC 2033 §4.2):
// lines of three digits, then '-' when the reply goes on or ' ' on its last line.
bool is_reply(std::string_view text) {
  if (text.size() < 5 || !text.ends_with("\r\n")) return false;
  bool more = false;
  for (std::size_t at = 0; at < text.size();) {
    auto end = text.find("\r\n", at);
    if (end == std::string_view::npos) return false;
    auto line = text.substr(at, end - at);
    if (line.size() < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '9' ||
        line[2] < '0' || line[2] > '9' || line.find_first_of("\r\n") != std::string_view::npos)
      return false;
    if (line.size() > 3 && line[3] != ' ' && line[3] != '-') return false;
    more = line.size() > 3 && line[3] == '-';
    at = end + 2;
  }
  return !more;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t chunk = 1 + data[0] % 64;
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  LmtpLimits limits;
  limits.max_message = 4096;  // small, so the fuzzer reaches the limit
  limits.max_recipients = 3;
  LmtpSession s(limits, "mtasts.test");
  FUZZ_CHECK(is_reply(s.greeting()));
  bool closed = false;
  std::size_t events = 0;
  for (std::size_t at = 0; at < input.size() && !closed; at += chunk) {
    s.receive(input.substr(at, chunk));
    for (auto e = s.next(); e.kind != LmtpSession::Event::need_more; e = s.next()) {
      FUZZ_CHECK(++events <= input.size() + 1);  // each event consumes input (or closes)
      if (e.kind == LmtpSession::Event::reply) {
        FUZZ_CHECK(is_reply(e.text));
      } else if (e.kind == LmtpSession::Event::deliver) {
        FUZZ_CHECK(e.text.size() <= limits.max_message);
        FUZZ_CHECK(s.recipients() >= 1 && s.recipients() <= limits.max_recipients);
        mtasts::reports::IngestResult result;
        FUZZ_CHECK(is_reply(s.delivered(result)));
      } else {
        FUZZ_CHECK(e.kind == LmtpSession::Event::close);
        FUZZ_CHECK(e.text.empty() || is_reply(e.text));
        closed = true;
        break;
      }
    }
  }
  return 0;
}
