// SMTP listeners (RFC 5321) with STARTTLS (RFC 3207): a receiving MX as an MTA-STS sender sees it,
// and the ways one can go wrong. Every read and write has the listener's idle deadline; an idle
// client gets "421 ... timeout exceeded" like Postfix sends.
#include "deadline.hpp"
#include "listener.hpp"

#include <boost/asio/read_until.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <string>
#include <string_view>
#include <vector>

namespace mtasts::testd {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

// RFC 5321 §4.5.3.1.6: a text line is at most 1000 octets including CRLF. Command lines may be
// only 512 (§4.5.3.1.4), but real servers accept up to the text-line limit and so do we.
constexpr std::size_t kMaxLine = 1000;
constexpr std::size_t kMaxDiscard = 1 << 20;  // an over-long line longer than this ends the session
constexpr int kMaxErrors = 20;                // like Postfix's smtpd_hard_error_limit
constexpr auto kSmtpShutdownTimeout = 2s;

constexpr char kSmtpJunkBytes[] =
    "\x00\xff\xfe\x16\x03\x01\x02\x00\x01\x00\x01\xfc"
    "\x8b\x80garbage\x01\x02\x7f\x90\x91\r\n\xde\xad\xbe\xef\r\n";
constexpr std::string_view kSmtpJunk{kSmtpJunkBytes, sizeof kSmtpJunkBytes - 1};

enum class Outcome { closed, quit, starttls };
enum class ReadStatus { line, closed, timeout, too_long };

struct Session {
  const Listener& listener;
  std::string input;  // bytes read but not yet consumed (pipelined commands)
  int errors = 0;
};

bool offers_starttls(SmtpBehaviour b) {
  return b == SmtpBehaviour::starttls || b == SmtpBehaviour::tls10_only ||
         b == SmtpBehaviour::starttls_refused || b == SmtpBehaviour::starttls_lowercase;
}

template <class Stream>
asio::awaitable<bool> send(Stream& s, const Listener& l, std::string text) {
  auto r = co_await within(l.config.idle_timeout,
                           asio::async_write(s, asio::buffer(text), use_tuple));
  co_return r && !std::get<0>(*r);
}

// Reads one line into `line` without its CRLF (a bare LF is accepted too). An over-long line is
// read to its end and thrown away.
template <class Stream>
asio::awaitable<ReadStatus> read_line(Stream& s, Session& session, std::string& line) {
  const auto timeout = session.listener.config.idle_timeout;
  std::size_t discarded = 0;
  for (;;) {
    auto r = co_await within(
        timeout, asio::async_read_until(s, asio::dynamic_buffer(session.input, kMaxLine), '\n',
                                        use_tuple));
    if (!r) co_return ReadStatus::timeout;
    auto [ec, n] = *r;
    if (ec == asio::error::not_found) {  // kMaxLine bytes and no LF yet
      discarded += session.input.size();
      session.input.clear();
      if (discarded > kMaxDiscard) co_return ReadStatus::closed;
      continue;
    }
    if (ec) co_return ReadStatus::closed;
    if (discarded > 0) {
      session.input.erase(0, n);
      co_return ReadStatus::too_long;
    }
    line.assign(session.input, 0, n);
    session.input.erase(0, n);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    co_return ReadStatus::line;
  }
}

std::string ehlo_reply(const ListenerConfig& c, bool tls) {
  if (c.smtp == SmtpBehaviour::starttls_lowercase) {
    // RFC 5321 §2.4: keywords are case-insensitive; some servers send them in lower case.
    std::string out = "250-" + c.hostname + "\r\n250-pipelining\r\n";
    if (!tls) out += "250-starttls\r\n";
    return out + "250-size 10240000\r\n250 8bitmime\r\n";
  }
  std::vector<std::string> lines{c.hostname, "PIPELINING", "SIZE 10240000"};
  if (!tls && offers_starttls(c.smtp)) lines.push_back("STARTTLS");
  lines.push_back("ENHANCEDSTATUSCODES");
  lines.push_back("8BITMIME");
  std::string out;
  for (std::size_t i = 0; i < lines.size(); ++i)
    out += (i + 1 < lines.size() ? "250-" : "250 ") + lines[i] + "\r\n";
  return out;
}

// The reply to one command line, and what happens after it is sent.
std::string respond(Session& session, std::string_view line, bool tls, Outcome& next) {
  const ListenerConfig& c = session.listener.config;
  auto refuse = [&](std::string_view reply) {
    ++session.errors;
    return std::string(reply);
  };
  std::size_t space = line.find(' ');
  std::string verb(line.substr(0, space));
  std::transform(verb.begin(), verb.end(), verb.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::toupper(ch)); });
  std::string_view arg = space == std::string_view::npos ? "" : line.substr(space + 1);
  while (!arg.empty() && arg.front() == ' ') arg.remove_prefix(1);
  while (!arg.empty() && arg.back() == ' ') arg.remove_suffix(1);

  if (verb == "EHLO") {
    if (c.smtp == SmtpBehaviour::ehlo_rejected) return "502 Command not implemented\r\n";
    if (arg.empty()) return refuse("501 5.5.4 Syntax: EHLO hostname\r\n");
    return ehlo_reply(c, tls);
  }
  if (verb == "HELO") {
    if (arg.empty()) return refuse("501 5.5.4 Syntax: HELO hostname\r\n");
    return "250 " + c.hostname + "\r\n";
  }
  if (verb == "STARTTLS") {
    if (tls) return refuse("554 5.5.1 Error: TLS already active\r\n");
    if (!offers_starttls(c.smtp)) return refuse("502 5.5.1 Error: command not implemented\r\n");
    if (!arg.empty()) return refuse("501 5.5.4 Syntax: STARTTLS\r\n");
    if (c.smtp == SmtpBehaviour::starttls_refused) return "454 4.7.0 TLS not available\r\n";
    next = Outcome::starttls;
    return "220 2.0.0 Ready to start TLS\r\n";
  }
  if (verb == "RSET" || verb == "NOOP") return "250 2.0.0 Ok\r\n";
  if (verb == "QUIT") {
    next = Outcome::quit;
    return "221 2.0.0 Bye\r\n";
  }
  // Commands a real MX knows; this one never gets further than STARTTLS.
  for (std::string_view known :
       {"MAIL", "RCPT", "DATA", "BDAT", "VRFY", "EXPN", "HELP", "ETRN", "AUTH"})
    if (verb == known) return refuse("502 5.5.1 Error: command not implemented\r\n");
  return refuse("500 5.5.2 Error: command not recognized\r\n");
}

// Commands until QUIT, STARTTLS, the client leaves, or it idles or errs too long.
template <class Stream>
asio::awaitable<Outcome> dialogue(Stream& s, Session& session, bool tls) {
  const Listener& l = session.listener;
  const ListenerConfig& c = l.config;
  std::string line;
  for (;;) {
    ReadStatus status = co_await read_line(s, session, line);
    if (status == ReadStatus::closed) co_return Outcome::closed;
    if (status == ReadStatus::timeout) {
      co_await send(s, l, "421 4.4.2 " + c.hostname + " Error: timeout exceeded\r\n");
      co_return Outcome::closed;
    }
    Outcome next = Outcome::closed;
    std::string reply;
    if (status == ReadStatus::too_long) {
      ++session.errors;
      reply = "500 5.5.2 Error: line too long\r\n";
    } else {
      if (l.verbose) log(l, (tls ? "TLS C: " : "C: ") + line.substr(0, 80));
      reply = respond(session, line, tls, next);
    }
    if (session.errors >= kMaxErrors)
      reply += "421 4.7.0 " + c.hostname + " Error: too many errors\r\n";
    if (!co_await send(s, l, std::move(reply))) co_return Outcome::closed;
    if (next != Outcome::closed) co_return next;
    if (session.errors >= kMaxErrors) co_return Outcome::closed;
  }
}

// The behaviours that never get as far as a dialogue.
asio::awaitable<void> misbehave(tcp::socket& socket, const Listener& l) {
  const ListenerConfig& c = l.config;
  boost::system::error_code ec;
  if (c.smtp == SmtpBehaviour::silent) {
    asio::steady_timer timer(socket.get_executor(), c.idle_timeout);
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  } else if (c.smtp == SmtpBehaviour::garbage) {
    if (!co_await send(socket, l, std::string(kSmtpJunk))) co_return;
    std::array<char, 4096> sink;  // keep reading so the client sees the junk, not a reset
    for (;;) {
      auto r = co_await within(c.idle_timeout,
                               socket.async_read_some(asio::buffer(sink), use_tuple));
      if (!r || std::get<0>(*r)) break;
    }
  } else if (c.smtp == SmtpBehaviour::banner_421) {
    // RFC 5321 §3.1: a server that cannot serve now may greet with 421 and close.
    if (!co_await send(socket, l, "421 4.3.2 " + c.hostname +
                                      " Service not available, closing transmission channel\r\n"))
      co_return;
    socket.shutdown(tcp::socket::shutdown_send, ec);
  } else if (c.smtp == SmtpBehaviour::close_after_banner) {
    if (!co_await send(socket, l, "220 " + c.hostname + " ESMTP mtasts-testd\r\n")) co_return;
    socket.shutdown(tcp::socket::shutdown_send, ec);
  }
}

}  // namespace

asio::awaitable<void> serve_smtp(tcp::socket socket, std::shared_ptr<const Listener> listener) {
  const Listener& l = *listener;
  const ListenerConfig& c = l.config;
  switch (c.smtp) {
    case SmtpBehaviour::silent:
    case SmtpBehaviour::garbage:
    case SmtpBehaviour::close_after_banner:
    case SmtpBehaviour::banner_421:
      co_await misbehave(socket, l);
      co_return;
    default:
      break;
  }

  Session session{l};
  if (!co_await send(socket, l, "220 " + c.hostname + " ESMTP mtasts-testd\r\n")) co_return;
  if (co_await dialogue(socket, session, false) != Outcome::starttls) co_return;

  // RFC 3207 §4.2: after STARTTLS the client starts over. Anything it pipelined behind STARTTLS
  // arrived in clear text and is dropped, never read as if it came over TLS (CVE-2011-0411).
  session.input.clear();
  ssl::stream<tcp::socket&> tls(socket, *l.tls);
  auto handshake = co_await within(c.idle_timeout,
                                   tls.async_handshake(ssl::stream_base::server, use_tuple));
  if (!handshake || std::get<0>(*handshake)) {
    if (l.verbose)
      log(l, "TLS handshake failed: " +
                 (handshake ? std::get<0>(*handshake).message() : std::string("timeout")));
    co_return;
  }
  if (co_await dialogue(tls, session, true) == Outcome::quit)
    co_await within(kSmtpShutdownTimeout, tls.async_shutdown(use_tuple));
}

}  // namespace mtasts::testd
