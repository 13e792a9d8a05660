#include "core/smtp_reply.h"

#include "core/domain.h"
#include "core/text.h"

namespace mtasts {

namespace {

// What a line that is not SMTP looked like: its first 40 bytes, control bytes escaped.
std::string quoted(std::string_view line) {
  return "\"" + terminal_safe(line.substr(0, 40)) + (line.size() > 40 ? "...\"" : "\"");
}

}  // namespace

SmtpReplyReader::Status SmtpReplyReader::add_line(std::string_view line) {
  auto fail = [&](std::string why) {
    error_ = std::move(why);
    return Status::error;
  };
  if (!error_.empty()) return Status::error;
  if (line.size() + 2 > kMaxSmtpLine) return fail("a reply line over 1000 bytes");
  // Reply-code = %x32-35 %x30-35 %x30-39 (RFC 5321 §4.2); the second digit is read loosely.
  if (line.size() < 3 || line[0] < '2' || line[0] > '5' || !is_digit(line[1]) || !is_digit(line[2]) ||
      (line.size() > 3 && line[3] != ' ' && line[3] != '-'))
    return fail("not an SMTP reply: " + quoted(line));
  int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
  if (reply_.code && code != reply_.code)
    return fail("inconsistent reply codes: " + std::to_string(reply_.code) + " then " + std::to_string(code));
  reply_.code = code;
  reply_.lines.emplace_back(line.size() > 4 ? line.substr(4) : std::string_view());
  if (line.size() == 3 || line[3] == ' ') return Status::done;
  if (reply_.lines.size() >= kMaxSmtpReplyLines) return fail("a reply of more than 100 lines");
  return Status::more;
}

std::vector<std::string> ehlo_keywords(const SmtpReply& reply) {
  std::vector<std::string> out;
  for (std::size_t i = 1; i < reply.lines.size(); ++i) {
    std::string_view l = reply.lines[i];
    out.push_back(ascii_lower(l.substr(0, l.find(' '))));
  }
  return out;
}

}  // namespace mtasts
