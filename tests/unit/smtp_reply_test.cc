// SMTP replies as the check's MX probe reads them (core/smtp_reply.h).
#include <gtest/gtest.h>

#include <string>

#include "core/smtp_reply.h"

namespace mtasts {
namespace {

using ReplyStatus = SmtpReplyReader::Status;

TEST(SmtpReply, ReadsOneLineAndMultiLineReplies) {
  SmtpReplyReader r;
  EXPECT_EQ(r.add_line("220 mx1.example.com ESMTP ready"), ReplyStatus::done);
  EXPECT_EQ(r.reply().code, 220);
  EXPECT_EQ(r.reply().lines, (std::vector<std::string>{"mx1.example.com ESMTP ready"}));
  r.reset();
  EXPECT_EQ(r.add_line("250-mx1.example.com"), ReplyStatus::more);
  EXPECT_EQ(r.add_line("250-PIPELINING"), ReplyStatus::more);
  EXPECT_EQ(r.add_line("250-SIZE 10240000"), ReplyStatus::more);
  EXPECT_EQ(r.add_line("250-starttls"), ReplyStatus::more);
  EXPECT_EQ(r.add_line("250 8BITMIME"), ReplyStatus::done);
  EXPECT_EQ(r.reply().code, 250);
  EXPECT_EQ(ehlo_keywords(r.reply()), (std::vector<std::string>{"pipelining", "size", "starttls", "8bitmime"}));
  r.reset();
  EXPECT_EQ(r.add_line("250"), ReplyStatus::done);  // a bare code ends the reply too
  EXPECT_EQ(r.reply().lines, (std::vector<std::string>{""}));
  EXPECT_TRUE(ehlo_keywords(r.reply()).empty());
}

TEST(SmtpReply, RefusesWhatIsNotSmtp) {
  for (std::string_view line : {"", "22", "HTTP/1.1 400 Bad Request", "SSH-2.0-OpenSSH_9.2", "220x",
                                "000 zero", "199 too low", "600 too high", "2a0 letters"}) {
    SmtpReplyReader r;
    EXPECT_EQ(r.add_line(line), ReplyStatus::error) << line;
    EXPECT_TRUE(r.error().starts_with("not an SMTP reply: \"")) << r.error();
  }
  SmtpReplyReader r;
  EXPECT_EQ(r.add_line(std::string("\x16\x03\x01\x02\x00", 5)), ReplyStatus::error);  // a TLS record
  EXPECT_EQ(r.error(), "not an SMTP reply: \"\\x16\\x03\\x01\\x02\\x00\"");
  EXPECT_EQ(r.add_line("220 ok"), ReplyStatus::error);  // stays failed until reset
}

TEST(SmtpReply, HoldsItsLimits) {
  SmtpReplyReader r;
  EXPECT_EQ(r.add_line("250-a"), ReplyStatus::more);
  EXPECT_EQ(r.add_line("251 b"), ReplyStatus::error);
  EXPECT_EQ(r.error(), "inconsistent reply codes: 250 then 251");
  r.reset();
  EXPECT_EQ(r.add_line("220 " + std::string(994, 'x')), ReplyStatus::done);  // 998 + CRLF: the maximum
  r.reset();
  EXPECT_EQ(r.add_line("220 " + std::string(995, 'x')), ReplyStatus::error);
  EXPECT_EQ(r.error(), "a reply line over 1000 bytes");
  r.reset();
  for (std::size_t i = 1; i < kMaxSmtpReplyLines; ++i) ASSERT_EQ(r.add_line("250-x"), ReplyStatus::more);
  EXPECT_EQ(r.add_line("250 last"), ReplyStatus::done);  // 100 lines
  r.reset();
  ReplyStatus s = ReplyStatus::more;
  for (std::size_t i = 0; i < kMaxSmtpReplyLines && s == ReplyStatus::more; ++i) s = r.add_line("250-x");
  EXPECT_EQ(s, ReplyStatus::error);
  EXPECT_EQ(r.error(), "a reply of more than 100 lines");
}

}  // namespace
}  // namespace mtasts
