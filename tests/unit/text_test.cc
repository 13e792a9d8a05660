#include "core/text.h"

#include <gtest/gtest.h>

namespace mtasts {
namespace {

TEST(Utf8, ValidInputs) {
  EXPECT_EQ(find_invalid_utf8("plain"), std::string_view::npos);
  EXPECT_EQ(find_invalid_utf8("b\xc3\xbc" "cher \xe2\x82\xac \xf0\x9f\x98\x80"), std::string_view::npos);
}

TEST(Utf8, InvalidInputs) {
  EXPECT_EQ(find_invalid_utf8("a\xff"), 1u);
  EXPECT_EQ(find_invalid_utf8("\xc0\xaf"), 0u);          // overlong
  EXPECT_EQ(find_invalid_utf8("\xe0\x80\xaf"), 0u);      // overlong
  EXPECT_EQ(find_invalid_utf8("\xed\xa0\x80"), 0u);      // surrogate
  EXPECT_EQ(find_invalid_utf8("\xf4\x90\x80\x80"), 0u);  // above U+10FFFF
  EXPECT_EQ(find_invalid_utf8("ab\xe2\x82"), 2u);        // truncated
}

TEST(ExtName, Grammar) {
  EXPECT_TRUE(is_ext_name("mx"));
  EXPECT_TRUE(is_ext_name("max_age"));
  EXPECT_TRUE(is_ext_name("a.b-c_d"));
  EXPECT_TRUE(is_ext_name(std::string(32, 'a')));
  EXPECT_FALSE(is_ext_name(std::string(33, 'a')));
  EXPECT_FALSE(is_ext_name("_x"));
  EXPECT_FALSE(is_ext_name(""));
  EXPECT_FALSE(is_ext_name("a b"));
}

TEST(EditDistance, Capped) {
  EXPECT_EQ(edit_distance("nmx", "mx", 2), 1u);
  EXPECT_EQ(edit_distance("maxage", "max_age", 2), 1u);
  EXPECT_EQ(edit_distance("version", "version", 2), 0u);
  EXPECT_EQ(edit_distance("abcdefgh", "mx", 2), 3u);
}

}  // namespace
}  // namespace mtasts

namespace mtasts {

TEST(TerminalSafe, EscapesWhatATerminalWouldObey) {
  EXPECT_EQ(terminal_safe("mx1.example.com ESMTP\tready"), "mx1.example.com ESMTP\tready");
  EXPECT_EQ(terminal_safe("b\xc3\xbc" "cher \xe2\x9c\x93"), "b\xc3\xbc" "cher \xe2\x9c\x93");  // UTF-8 stays
  EXPECT_EQ(terminal_safe("v=STSv1\x1b[31m; id=1\r\n"), "v=STSv1\\x1b[31m; id=1\\x0d\\x0a");
  EXPECT_EQ(terminal_safe("a\x7f" "b"), "a\\x7fb");
  EXPECT_EQ(terminal_safe("\xc2\x9b" "2J"), "\\xc2\\x9b2J");  // C1 CSI as UTF-8
  EXPECT_EQ(terminal_safe("\xc2\xa0"), "\xc2\xa0");           // U+00A0 is text
  EXPECT_EQ(terminal_safe("ok\xff\x9b" "2J"), "ok\\xff\\x9b2J");  // not UTF-8
  EXPECT_EQ(terminal_safe(std::string("a\0b", 3)), "a\\x00b");
}

}  // namespace mtasts
