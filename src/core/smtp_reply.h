// SMTP replies as a client reads them (RFC 5321 §4.2), without I/O: the probe of `mtasts check`
// hands each line over as it arrives and learns when the reply is complete or not SMTP at all.
//
//   SmtpReplyReader r;
//   while (r.add_line(next_line_without_crlf()) == SmtpReplyReader::Status::more) {}
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace mtasts {

inline constexpr std::size_t kMaxSmtpLine = 1000;      // octets with CRLF, RFC 5321 §4.5.3.1.5
inline constexpr std::size_t kMaxSmtpReplyLines = 100;  // ours: a reply longer is not a server

struct SmtpReply {
  int code = 0;                    // 200..599
  std::vector<std::string> lines;  // the text after "NNN-" / "NNN " (or "" after a bare "NNN")
};

class SmtpReplyReader {
 public:
  enum class Status { more, done, error };
  // One line without its CRLF. After done or error, the reader must be reset() before reuse.
  Status add_line(std::string_view line);
  void reset() { *this = SmtpReplyReader(); }

  const SmtpReply& reply() const { return reply_; }
  const std::string& error() const { return error_; }  // what was wrong, quoting the line

 private:
  SmtpReply reply_;
  std::string error_;
};

// The EHLO keywords (lower case) of a 250 reply: the first word of each line after the greeting
// line (RFC 5321 §4.1.1.1).
std::vector<std::string> ehlo_keywords(const SmtpReply& reply);

}  // namespace mtasts
