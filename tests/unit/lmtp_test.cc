// LMTP (RFC 2033): the session state machine alone, then the real server on loopback and on a
// Unix socket storing into a real SQLite store; and the HTTPS POST handler (RFC 8460 §5.4).
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include <filesystem>
#include <thread>

#include "reports/gzip.h"
#include "reports/http_post.h"
#include "reports/lmtp_server.h"
#include "reports/lmtp_session.h"

namespace asio = boost::asio;

namespace mtasts::reports {
namespace {

std::string lmtp_report_json(std::string id, std::string domain = "example.com") {
  return R"({"organization-name":"Org","date-range":{"start-datetime":"2026-11-20T00:00:00Z","end-datetime":"2026-11-20T23:59:59Z"},"contact-info":"c@org.example","report-id":")" +
         id + R"(","policies":[{"policy":{"policy-type":"sts","policy-domain":")" + domain +
         R"("},"summary":{"total-successful-session-count":5,"total-failure-session-count":0}}]})";
}

std::string report_mail(std::string id, std::string domain = "example.com") {
  return "From: r@org.example\r\nTLS-Report-Domain: " + domain +
         "\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=tlsrpt; boundary=b\r\n\r\n"
         "--b\r\nContent-Type: text/plain\r\n\r\n.a line starting with a dot\r\n--b\r\n"
         "Content-Type: application/tlsrpt+json\r\n\r\n" + lmtp_report_json(id, domain) + "\r\n--b--\r\n";
}

// Dot-stuffing as a client does it (RFC 5321 §4.5.2).
std::string stuffed(const std::string& m) {
  std::string out;
  std::size_t start = 0;
  while (start < m.size()) {
    std::size_t end = m.find("\r\n", start);
    std::string line = m.substr(start, end - start);
    if (!line.empty() && line[0] == '.') out += '.';
    out += line + "\r\n";
    start = end == std::string::npos ? m.size() : end + 2;
  }
  return out;
}

// Runs every event the session has; delivers with `result`.
std::string drive(LmtpSession& s, std::string_view in, const IngestResult& result, std::string* delivered = nullptr) {
  s.receive(in);
  std::string out;
  for (auto e = s.next(); e.kind != LmtpSession::Event::need_more; e = s.next()) {
    if (e.kind == LmtpSession::Event::deliver) {
      if (delivered) *delivered = e.text;
      out += s.delivered(result);
    } else {
      out += e.text;
    }
    if (e.kind == LmtpSession::Event::close) break;
  }
  return out;
}

TEST(LmtpSession, PipelinedTransactionWithTwoRecipients) {
  LmtpSession s({}, "test.example");
  EXPECT_EQ(s.greeting().substr(0, 4), "220 ");
  IngestResult ok;
  ok.outcome = Outcome::stored;
  ok.report_id = "r1";
  ok.organization = "Org";
  std::string message;
  std::string out = drive(s, "LHLO postfix.example\r\nMAIL FROM:<a@b> SIZE=500\r\nRCPT TO:<tlsrpt@example.com>\r\n"
                             "RCPT TO:<other@example.com>\r\nDATA\r\n" + stuffed(report_mail("r1")) + ".\r\nQUIT\r\n",
                          ok, &message);
  EXPECT_NE(out.find("250-PIPELINING"), std::string::npos) << out;
  EXPECT_NE(out.find("250 8BITMIME"), std::string::npos);
  EXPECT_NE(out.find("354 "), std::string::npos);
  // RFC 2033 §4.2: one reply per recipient after the final dot.
  auto first = out.find("250 2.0.0 report r1 from Org stored\r\n");
  ASSERT_NE(first, std::string::npos) << out;
  EXPECT_NE(out.find("250 2.0.0 report r1 from Org stored\r\n", first + 1), std::string::npos) << out;
  EXPECT_NE(out.find("221 "), std::string::npos);
  EXPECT_EQ(message, report_mail("r1")) << "dot-unstuffed, CRLF kept";
}

TEST(LmtpSession, OrderAndErrors) {
  LmtpSession s({}, "h");
  IngestResult none;
  EXPECT_EQ(drive(s, "MAIL FROM:<a@b>\r\n", none).substr(0, 3), "503");
  EXPECT_EQ(drive(s, "EHLO x\r\n", none).substr(0, 3), "500");
  EXPECT_EQ(drive(s, "LHLO\r\n", none).substr(0, 3), "501");
  drive(s, "LHLO x\r\n", none);
  EXPECT_EQ(drive(s, "DATA\r\n", none).substr(0, 3), "503");
  EXPECT_EQ(drive(s, "RCPT TO:<x@y>\r\n", none).substr(0, 3), "503");
  EXPECT_EQ(drive(s, "MAIL FROM:<a@b> SIZE=99999999999\r\n", none).substr(0, 3), "552");
  EXPECT_EQ(drive(s, "FOO\r\n", none).substr(0, 3), "500");
  EXPECT_EQ(drive(s, "NOOP\r\nRSET\r\n", none), "250 2.0.0 OK\r\n250 2.0.0 OK\r\n");
  EXPECT_EQ(drive(s, std::string(2000, 'x'), none), "500 5.5.6 line too long\r\n");
}

TEST(LmtpSession, RefusedInvalidFailedAndTooLarge) {
  IngestResult refused, invalid, failed;
  refused.outcome = Outcome::refused;
  refused.error = {"domain-not-registered", 0, 0, "the report is for x.example\r\nInjected: yes", {}};
  invalid.outcome = Outcome::invalid;
  invalid.error = {"gzip-invalid", 0, 0, "corrupt", {}};
  failed.outcome = Outcome::failed;
  failed.error = {"store-error", 0, 0, "disk full", {}};
  EXPECT_EQ(lmtp_reply(refused).substr(0, 10), "550 5.7.1 ");
  EXPECT_EQ(lmtp_reply(refused).find("\r\nInjected"), std::string::npos) << "one line, always";
  EXPECT_EQ(lmtp_reply(invalid).substr(0, 10), "554 5.6.0 ");
  EXPECT_EQ(lmtp_reply(failed).substr(0, 10), "451 4.3.0 ");

  LmtpLimits small;
  small.max_message = 1000;
  LmtpSession s(small, "h");
  std::string out = drive(s, "LHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n" +
                                 std::string(50, 'y') + "\r\n" + std::string(20, 'z') + "\r\n",
                          failed);
  for (int i = 0; i < 30; ++i) out += drive(s, std::string(80, 'a') + "\r\n", failed);
  out += drive(s, ".\r\nNOOP\r\n", failed);
  EXPECT_NE(out.find("552 5.3.4 message larger than 1000 bytes\r\n250 2.0.0 OK"), std::string::npos) << out;
}

class LmtpServerTest : public testing::Test {
 protected:
  void SetUp() override {
    base_ = std::filesystem::temp_directory_path() /
            ("mtasts-lmtp-test-" + std::to_string(getpid()) + "-" +
             testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(base_);
    std::filesystem::create_directories(base_);
    auto s = store::open_report_store((base_ / "r.db").string());
    ASSERT_TRUE(s) << s.error().message;
    store_ = std::move(s).value();
    ingester_ = std::make_unique<Ingester>(*store_, [](const std::string& d) -> Result<bool> {
      return d == "example.com";
    });
  }
  void TearDown() override {
    ingester_.reset();
    store_.reset();
    std::filesystem::remove_all(base_);
  }
  std::unique_ptr<LmtpServer> start(asio::io_context& io, const std::string& listen) {
    LmtpOptions o;
    o.listen = listen;
    o.timeout = std::chrono::milliseconds(20000);
    auto s = LmtpServer::start(io, o, [this](const std::string& m) {
      return ingester_->ingest(m, InputKind::mail, "lmtp", 1795305600);
    });
    EXPECT_TRUE(s) << s.error().message;
    return s ? std::move(s).value() : nullptr;
  }
  // A blocking client conversation: send everything, read until the server closes.
  template <typename Socket>
  static std::string converse(Socket& sock, const std::string& commands) {
    asio::streambuf greeting;
    asio::read_until(sock, greeting, "\r\n");
    asio::write(sock, asio::buffer(commands));
    std::string all(asio::buffers_begin(greeting.data()), asio::buffers_end(greeting.data()));
    boost::system::error_code ec;
    char buf[4096];
    for (std::size_t n; (n = sock.read_some(asio::buffer(buf), ec)) > 0 || !ec;) all.append(buf, n);
    return all;
  }

  std::filesystem::path base_;
  std::unique_ptr<store::ReportStore> store_;
  std::unique_ptr<Ingester> ingester_;
};

TEST_F(LmtpServerTest, TcpStoresThenAnswers) {
  asio::io_context io;
  auto server = start(io, "127.0.0.1:0");
  ASSERT_TRUE(server);
  std::string addr = server->address();
  std::thread t([&] { io.run(); });
  asio::io_context client;
  asio::ip::tcp::socket sock(client);
  sock.connect({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(std::stoi(addr.substr(addr.rfind(':') + 1)))});
  std::string out = converse(sock,
      "LHLO mx\r\nMAIL FROM:<>\r\nRCPT TO:<tlsrpt@example.com>\r\nDATA\r\n" + stuffed(report_mail("tcp-1")) +
      ".\r\nMAIL FROM:<>\r\nRCPT TO:<tlsrpt@example.com>\r\nDATA\r\n" + stuffed(report_mail("tcp-1")) +
      ".\r\nMAIL FROM:<>\r\nRCPT TO:<tlsrpt@example.com>\r\nDATA\r\n" + stuffed(report_mail("tcp-2", "other.example")) +
      ".\r\nMAIL FROM:<>\r\nRCPT TO:<tlsrpt@example.com>\r\nDATA\r\nSubject: no report\r\n\r\nhello\r\n.\r\nQUIT\r\n");
  server->stop();
  io.stop();
  t.join();
  EXPECT_NE(out.find("250 2.0.0 report tcp-1 from Org stored"), std::string::npos) << out;
  EXPECT_NE(out.find("250 2.0.0 report tcp-1 from Org was already stored"), std::string::npos) << out;
  EXPECT_NE(out.find("550 5.7.1 domain-not-registered"), std::string::npos) << out;
  EXPECT_NE(out.find("554 5.6.0 mime-no-report"), std::string::npos) << out;
  EXPECT_NE(out.find("221 "), std::string::npos) << out;
  EXPECT_EQ(*store_->count(), 1u);
}

TEST_F(LmtpServerTest, UnixSocket) {
  asio::io_context io;
  std::string path = (base_ / "lmtp.sock").string();
  auto server = start(io, "unix:" + path);
  ASSERT_TRUE(server);
  EXPECT_EQ(server->address(), "unix:" + path);
  std::thread t([&] { io.run(); });
  asio::io_context client;
  asio::local::stream_protocol::socket sock(client);
  sock.connect(asio::local::stream_protocol::endpoint(path));
  std::string out = converse(sock, "LHLO mx\r\nMAIL FROM:<>\r\nRCPT TO:<a@example.com>\r\nDATA\r\n" +
                                       stuffed(report_mail("unix-1")) + ".\r\nQUIT\r\n");
  server->stop();
  io.stop();
  t.join();
  EXPECT_NE(out.find("250 2.0.0 report unix-1 from Org stored"), std::string::npos) << out;
  EXPECT_EQ(*store_->count(), 1u);
}

TEST_F(LmtpServerTest, ListenErrors) {
  asio::io_context io;
  LmtpOptions o;
  o.listen = "not-an-ip:25";
  auto s = LmtpServer::start(io, o, [](const std::string&) { return IngestResult{}; });
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, "listen-failed");
  o.listen = "unix:/nonexistent/dir/sock";
  EXPECT_FALSE(LmtpServer::start(io, o, [](const std::string&) { return IngestResult{}; }));
}

TEST_F(LmtpServerTest, HttpPost) {
  auto z = gzip(lmtp_report_json("post-1"));
  auto stored = handle_report_post("application/tlsrpt+gzip", z, *ingester_, 1795305600);
  EXPECT_EQ(stored.status, 201) << stored.message;
  EXPECT_EQ(handle_report_post("Application/TLSRPT+gzip; charset=binary", z, *ingester_, 1795305600).status, 200);
  EXPECT_EQ(handle_report_post("application/tlsrpt+json", lmtp_report_json("post-2"), *ingester_, 1795305600).status, 201);
  EXPECT_EQ(handle_report_post("application/json", lmtp_report_json("post-3"), *ingester_, 1795305600).status, 415);
  EXPECT_EQ(handle_report_post("application/tlsrpt+json", lmtp_report_json("post-4", "other.example"), *ingester_, 1795305600).status, 403);
  EXPECT_EQ(handle_report_post("application/tlsrpt+gzip", "not gzip", *ingester_, 1795305600).status, 400);
  EXPECT_EQ(handle_report_post("application/tlsrpt+gzip", gzip(std::string(40 << 20, ' ')), *ingester_, 1795305600).status, 413);
  EXPECT_EQ(*store_->count(), 2u);
}

}  // namespace
}  // namespace mtasts::reports
