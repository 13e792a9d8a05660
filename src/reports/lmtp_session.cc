#include "reports/lmtp_session.h"

#include "core/domain.h"
#include "fmt/format.h"

namespace mtasts::reports {

namespace {

// A reply text must stay on one line and printable: error messages echo sender data.
std::string one_line(std::string_view s, std::size_t max = 400) {
  std::string out;
  for (char c : s.substr(0, max)) out += (c == '\r' || c == '\n' || static_cast<unsigned char>(c) < 0x20) ? ' ' : c;
  return out;
}

bool starts_with_ci(std::string_view line, std::string_view word) {
  return line.size() >= word.size() && ascii_lower(line.substr(0, word.size())) == word;
}

}  // namespace

std::string lmtp_reply(const IngestResult& r) {
  switch (r.outcome) {
    case Outcome::stored:
      return fmt::format("250 2.0.0 report {} from {} stored\r\n", one_line(r.report_id, 200),
                         one_line(r.organization, 100));
    case Outcome::duplicate:
      return fmt::format("250 2.0.0 report {} from {} was already stored\r\n",
                         one_line(r.report_id, 200), one_line(r.organization, 100));
    case Outcome::refused:
      return fmt::format("550 5.7.1 {}: {}\r\n", r.error.code, one_line(r.error.message));
    case Outcome::invalid:
      return fmt::format("554 5.6.0 {}: {}\r\n", r.error.code, one_line(r.error.message));
    case Outcome::failed:
      return fmt::format("451 4.3.0 {}: the report could not be stored, try again later\r\n",
                         r.error.code);
  }
  return "451 4.3.0 internal error\r\n";
}

LmtpSession::LmtpSession(LmtpLimits limits, std::string hostname)
    : limits_(limits), hostname_(std::move(hostname)) {}

std::string LmtpSession::greeting() const {
  return fmt::format("220 {} LMTP mtasts TLS-RPT receiver ready\r\n", hostname_);
}

void LmtpSession::receive(std::string_view bytes) {
  if (pos_ > 0 && pos_ == in_.size()) {
    in_.clear();
    pos_ = 0;
  } else if (pos_ > 65536) {
    in_.erase(0, pos_);
    pos_ = 0;
  }
  in_.append(bytes);
}

void LmtpSession::reset_transaction() {
  mail_ = false;
  rcpt_ = 0;
  message_.clear();
  message_.shrink_to_fit();
}

LmtpSession::Event LmtpSession::next() {
  while (state_ != State::closed) {
    std::size_t eol = in_.find("\r\n", pos_);
    std::size_t bare = in_.find('\n', pos_);
    // Bare LF ends a line too (lenient to clients; Postfix sends CRLF).
    std::size_t end = std::min(eol, bare);
    if (end == std::string::npos) {
      if (in_.size() - pos_ > limits_.max_line) {
        if (state_ == State::command) {
          state_ = State::closed;
          return {Event::close, "500 5.5.6 line too long\r\n"};
        }
        // A data line over the limit: keep the bytes (messages are MIME, lines are short; this
        // only happens with broken senders) but bound memory through max_message.
        end = in_.size();
        std::string_view chunk(in_.data() + pos_, end - pos_);
        if (state_ == State::data) {
          if (message_.size() + chunk.size() > limits_.max_message) state_ = State::data_too_large, message_.clear();
          else message_.append(chunk);
        }
        pos_ = end;
        continue;
      }
      return {Event::need_more, {}};
    }
    std::size_t next_pos = end + (end == eol ? 2 : 1);
    std::string_view line(in_.data() + pos_, end - pos_);
    pos_ = next_pos;
    if (state_ == State::command) {
      if (line.size() + 2 > limits_.max_line) return {Event::reply, "500 5.5.6 line too long\r\n"};
      Event e = command(line);
      if (e.kind != Event::need_more) return e;
      continue;
    }
    // DATA: "." alone ends the message; a leading "." is removed (RFC 5321 §4.5.2).
    if (line == ".") {
      if (state_ == State::data_too_large) {
        state_ = State::command;
        std::string replies;
        for (std::size_t i = 0; i < rcpt_; ++i)
          replies += fmt::format("552 5.3.4 message larger than {} bytes\r\n", limits_.max_message);
        reset_transaction();
        return {Event::reply, replies};
      }
      state_ = State::command;
      return {Event::deliver, std::move(message_)};
    }
    if (state_ == State::data_too_large) continue;
    if (!line.empty() && line.front() == '.') line.remove_prefix(1);
    if (message_.size() + line.size() + 2 > limits_.max_message) {
      state_ = State::data_too_large;
      message_.clear();
      message_.shrink_to_fit();
      continue;
    }
    message_.append(line);
    message_.append("\r\n");
  }
  return {Event::need_more, {}};
}

LmtpSession::Event LmtpSession::command(std::string_view line) {
  if (starts_with_ci(line, "lhlo")) {
    if (line.size() < 6 || line[4] != ' ') return {Event::reply, "501 5.5.4 LHLO needs a host name\r\n"};
    lhlo_ = true;
    reset_transaction();
    return {Event::reply, fmt::format("250-{}\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n"
                                      "250-SIZE {}\r\n250 8BITMIME\r\n",
                                      hostname_, limits_.max_message)};
  }
  if (starts_with_ci(line, "helo") || starts_with_ci(line, "ehlo"))
    return {Event::reply, "500 5.5.1 this is LMTP: say LHLO (RFC 2033)\r\n"};
  if (starts_with_ci(line, "mail from:")) {
    if (!lhlo_) return {Event::reply, "503 5.5.1 LHLO first\r\n"};
    if (mail_) return {Event::reply, "503 5.5.1 MAIL already given\r\n"};
    // SIZE=n (RFC 1870): refuse up front what we would refuse after DATA.
    std::string lower = ascii_lower(line);
    if (auto at = lower.find(" size="); at != std::string::npos) {
      std::size_t size = 0;
      for (std::size_t i = at + 6; i < lower.size() && lower[i] >= '0' && lower[i] <= '9'; ++i)
        size = size > (SIZE_MAX - 9) / 10 ? SIZE_MAX : size * 10 + static_cast<std::size_t>(lower[i] - '0');
      if (size > limits_.max_message)
        return {Event::reply, fmt::format("552 5.3.4 message larger than {} bytes\r\n", limits_.max_message)};
    }
    mail_ = true;
    return {Event::reply, "250 2.1.0 OK\r\n"};
  }
  if (starts_with_ci(line, "rcpt to:")) {
    if (!mail_) return {Event::reply, "503 5.5.1 MAIL first\r\n"};
    if (rcpt_ >= limits_.max_recipients) return {Event::reply, "452 4.5.3 too many recipients\r\n"};
    ++rcpt_;
    return {Event::reply, "250 2.1.5 OK\r\n"};
  }
  if (starts_with_ci(line, "data")) {
    if (line.size() != 4) return {Event::reply, "501 5.5.4 DATA takes no argument\r\n"};
    if (!mail_ || rcpt_ == 0) return {Event::reply, "503 5.5.1 RCPT first\r\n"};
    state_ = State::data;
    message_.clear();
    return {Event::reply, "354 2.0.0 send the report, end with <CRLF>.<CRLF>\r\n"};
  }
  if (starts_with_ci(line, "rset")) {
    reset_transaction();
    return {Event::reply, "250 2.0.0 OK\r\n"};
  }
  if (starts_with_ci(line, "noop")) return {Event::reply, "250 2.0.0 OK\r\n"};
  if (starts_with_ci(line, "vrfy")) return {Event::reply, "252 2.1.5 cannot verify, send it\r\n"};
  if (starts_with_ci(line, "quit")) {
    state_ = State::closed;
    return {Event::close, fmt::format("221 2.0.0 {} closing\r\n", hostname_)};
  }
  return {Event::reply, "500 5.5.2 unknown command\r\n"};
}

std::string LmtpSession::delivered(const IngestResult& result) {
  std::string line = lmtp_reply(result), out;
  for (std::size_t i = 0; i < rcpt_; ++i) out += line;
  reset_transaction();
  return out;
}

}  // namespace mtasts::reports
