// The LMTP protocol (RFC 2033) as a state machine without I/O: bytes in, replies and complete
// messages out. The server (lmtp_server.cc) moves bytes; this decides what they mean.
//
//   LmtpSession s(limits, "mtasts.example");
//   send(s.greeting());
//   s.receive(bytes);
//   for (auto e = s.next(); e.kind != Event::need_more; e = s.next())
//     reply / deliver (then send(s.delivered(result))) / close
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "reports/ingest.h"

namespace mtasts::reports {

struct LmtpLimits {
  std::size_t max_message = 16 * 1024 * 1024;  // DATA bytes after dot-unstuffing (SIZE)
  std::size_t max_line = 1000;                  // a command or data line, CRLF included (RFC 5321 §4.5.3.1)
  std::size_t max_recipients = 100;
};

class LmtpSession {
 public:
  struct Event {
    enum Kind { need_more, reply, deliver, close } kind = need_more;
    std::string text;  // reply/close: the reply lines (CRLF-terminated); deliver: the message
  };

  LmtpSession(LmtpLimits limits, std::string hostname);

  std::string greeting() const;
  void receive(std::string_view bytes);
  Event next();
  // After a `deliver` event: the reply for each accepted recipient (RFC 2033 §4.2), and the
  // session is ready for the next transaction.
  std::string delivered(const IngestResult& result);

  std::size_t recipients() const { return rcpt_; }

 private:
  enum class State { command, data, data_too_large, closed };
  Event command(std::string_view line);
  void reset_transaction();

  LmtpLimits limits_;
  std::string hostname_;
  std::string in_;  // received, not yet consumed
  std::size_t pos_ = 0;
  State state_ = State::command;
  bool lhlo_ = false, mail_ = false;
  std::size_t rcpt_ = 0;
  std::string message_;
};

// The LMTP reply line for one recipient of a delivered report: 250 stored or duplicate (the
// sender must not retry), 550 refused, 554 invalid, 451 when the store failed (retry later).
std::string lmtp_reply(const IngestResult& r);

}  // namespace mtasts::reports
