#include "net/smtp_probe.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <algorithm>

#include "core/domain.h"
#include "core/smtp_reply.h"
#include "fmt/format.h"
#include "net/connect.h"
#include "net/wait_group.h"

namespace asio = boost::asio;
namespace beast = boost::beast;

namespace mtasts::net {

std::string_view to_string(SmtpProbe::Outcome outcome) {
  using O = SmtpProbe::Outcome;
  switch (outcome) {
    case O::tls_ok: return "tls-ok";
    case O::no_address: return "no-address";
    case O::dns_error: return "dns-error";
    case O::connect_failed: return "connect-failed";
    case O::timeout: return "timeout";
    case O::protocol_error: return "protocol-error";
    case O::no_starttls: return "no-starttls";
    case O::starttls_refused: return "starttls-refused";
    case O::tls_failed: return "tls-failed";
  }
  return "protocol-error";
}

namespace {

using Clock = std::chrono::steady_clock;
struct Reply : SmtpReply {
  boost::system::error_code ec;
  std::string error;
};

// Reads one (possibly multi-line) SMTP reply; core/smtp_reply.h judges the lines.
template <typename Stream>
awaitable<Reply> read_reply(Stream& stream, std::string& buffer) {
  Reply r;
  SmtpReplyReader reader;
  for (;;) {
    auto [ec, len] = co_await asio::async_read_until(
        stream, asio::dynamic_buffer(buffer, kMaxSmtpLine), "\r\n", asio::as_tuple(asio::use_awaitable));
    if (ec) {
      r.ec = ec;
      r.error = ec == asio::error::not_found ? "a reply line over 1000 bytes" : ec.message();
      co_return r;
    }
    auto status = reader.add_line(std::string_view(buffer).substr(0, len - 2));
    buffer.erase(0, len);
    if (status == SmtpReplyReader::Status::more) continue;
    static_cast<SmtpReply&>(r) = reader.reply();
    if (status == SmtpReplyReader::Status::error) r.error = reader.error();
    co_return r;
  }
}

template <typename Stream>
awaitable<boost::system::error_code> send(Stream& stream, std::string command) {
  command += "\r\n";
  auto [ec, n] = co_await asio::async_write(stream, asio::buffer(command),
                                            asio::as_tuple(asio::use_awaitable));
  (void)n;
  co_return ec;
}

bool is_timeout(const boost::system::error_code& ec) { return ec == beast::error::timeout; }

// One session up to the end of the TLS handshake. Returns the TLS stream when it got there.
awaitable<std::unique_ptr<beast::ssl_stream<beast::tcp_stream>>> session(
    const ProbeOptions& options, asio::ssl::context& ctx, const std::string& host,
    const ConnectTarget& target, SmtpProbe::Address& out, Clock::time_point deadline,
    VerifyRecorder& recorder) {
  using O = SmtpProbe::Outcome;
  auto ex = co_await asio::this_coro::executor;
  beast::tcp_stream tcp(ex);
  auto remaining = [&] {
    return std::max(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()),
                    std::chrono::milliseconds(1));
  };
  std::vector<ConnectTarget> one;
  one.push_back(target);
  ConnectResult c = co_await connect_any(tcp, one, remaining());
  out.address = target.address;
  if (c.status != ConnectStatus::ok) {
    out.detail = c.detail;
    out.outcome = c.status == ConnectStatus::timeout ? O::timeout : O::connect_failed;
    out.no_route = c.error == asio::error::network_unreachable ||
                   c.error == asio::error::address_family_not_supported ||
                   c.error == boost::system::errc::address_not_available;
    co_return nullptr;
  }
  out.connected = true;
  tcp.expires_at(deadline);
  std::string buffer;
  auto fail = [&](const Reply& r, std::string_view step) {
    out.outcome = is_timeout(r.ec) ? O::timeout : O::protocol_error;
    out.detail = fmt::format("{}: {}", step, is_timeout(r.ec) ? "no answer in time" : r.error);
  };
  Reply banner = co_await read_reply(tcp, buffer);
  if (!banner.error.empty()) {
    fail(banner, "banner");
    co_return nullptr;
  }
  out.banner = banner.lines.empty() ? "" : banner.lines.front();
  if (banner.code != 220) {
    out.outcome = O::protocol_error;
    out.detail = fmt::format("the server greets with {} {}", banner.code, out.banner);
    co_return nullptr;
  }
  if (auto ec = co_await send(tcp, "EHLO " + options.ehlo_name)) {
    out.outcome = is_timeout(ec) ? O::timeout : O::protocol_error;
    out.detail = "EHLO: " + ec.message();
    co_return nullptr;
  }
  Reply ehlo = co_await read_reply(tcp, buffer);
  if (ehlo.error.empty() && ehlo.code >= 500 && ehlo.code < 600) {
    // RFC 5321 §3.2: a server without ESMTP rejects EHLO and senders fall back to HELO, which
    // has no extensions: such a server cannot offer STARTTLS, mail to it goes in clear text.
    out.outcome = O::no_starttls;
    out.detail = fmt::format("EHLO answered {}: the server does not speak ESMTP, so it cannot "
                             "offer STARTTLS",
                             ehlo.code);
    co_await send(tcp, "QUIT");
    co_return nullptr;
  }
  if (!ehlo.error.empty() || ehlo.code != 250) {
    if (ehlo.error.empty()) ehlo.error = fmt::format("EHLO answered {}", ehlo.code);
    fail(ehlo, "EHLO");
    co_return nullptr;
  }
  out.extensions = ehlo_keywords(ehlo);
  bool starttls = std::find(out.extensions.begin(), out.extensions.end(), "starttls") != out.extensions.end();
  if (!starttls) {
    out.outcome = O::no_starttls;
    out.detail = "STARTTLS is not in the EHLO answer";
    co_await send(tcp, "QUIT");
    co_return nullptr;
  }
  if (auto ec = co_await send(tcp, "STARTTLS")) {
    out.outcome = is_timeout(ec) ? O::timeout : O::protocol_error;
    out.detail = "STARTTLS: " + ec.message();
    co_return nullptr;
  }
  Reply go = co_await read_reply(tcp, buffer);
  if (!go.error.empty()) {
    fail(go, "STARTTLS");
    co_return nullptr;
  }
  if (go.code != 220) {
    out.outcome = O::starttls_refused;
    out.detail = fmt::format("STARTTLS answered {} {}", go.code,
                             go.lines.empty() ? "" : go.lines.front());
    co_return nullptr;
  }
  // Bytes after the 220 would be read as if they came over TLS (STARTTLS injection): refuse.
  if (!buffer.empty()) {
    out.outcome = O::protocol_error;
    out.detail = "the server sent data after \"220\" to STARTTLS, before TLS started";
    co_return nullptr;
  }
  auto tls = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(std::move(tcp), ctx);
  prepare_client(tls->native_handle(), host);
  tls->set_verify_callback(std::ref(recorder));
  beast::get_lowest_layer(*tls).expires_at(deadline);
  auto [hec] = co_await tls->async_handshake(asio::ssl::stream_base::client,
                                             asio::as_tuple(asio::use_awaitable));
  if (hec) {
    out.outcome = is_timeout(hec) ? O::timeout : O::tls_failed;
    out.detail = "TLS handshake: " + hec.message();
    co_return nullptr;
  }
  co_return tls;
}

// One address: a session, and when the handshake fails one more with the legacy context to
// tell "TLS < 1.2 only" from other failures.
awaitable<SmtpProbe::Address> probe_address(const ProbeOptions& options, const std::string& host,
                                            const ConnectTarget& target, Clock::time_point deadline) {
  SmtpProbe::Address out;
  VerifyRecorder recorder;
  auto tls = co_await session(options, *options.tls, host, target, out, deadline, recorder);
  if (!tls) {
    if (out.outcome == SmtpProbe::Outcome::tls_failed && options.legacy_tls &&
        Clock::now() < deadline) {
      SmtpProbe::Address again = out;
      VerifyRecorder r2;
      if (auto legacy = co_await session(options, *options.legacy_tls, host, target, again,
                                         deadline, r2)) {
        out.tls_legacy_only = true;
        out.tls.version = SSL_get_version(legacy->native_handle());
        out.detail = fmt::format("{} only speaks {}; TLS 1.2 or later is needed", host,
                                 out.tls.version);
        beast::get_lowest_layer(*legacy).expires_after(std::chrono::milliseconds(200));
        co_await send(*legacy, "QUIT");
      }
    }
    co_return out;
  }
  out.outcome = SmtpProbe::Outcome::tls_ok;
  out.tls = judge(tls->native_handle(), host, recorder);
  // Leave politely: QUIT over TLS; whatever the server does next costs at most a moment.
  beast::get_lowest_layer(*tls).expires_after(std::chrono::milliseconds(500));
  co_await send(*tls, "QUIT");
  co_return out;
}

}  // namespace

void SmtpProbe::take_primary(const Address& a) {
  outcome = a.outcome;
  address = a.address;
  banner = a.banner;
  extensions = a.extensions;
  detail = a.detail;
  tls_legacy_only = a.tls_legacy_only;
  tls = a.tls;
}

awaitable<SmtpProbe> probe_smtp(Resolver& resolver, const ProbeOptions& options, std::string host) {
  using O = SmtpProbe::Outcome;
  SmtpProbe out;
  out.host = std::move(host);
  const auto deadline = Clock::now() + options.timeout;
  ResolvedHost r = co_await resolve_host(resolver, options.connect_to, out.host, options.port);
  out.cname_chain = r.cname_chain;
  if (r.status != ConnectStatus::ok) {
    out.outcome = r.status == ConnectStatus::no_address ? O::no_address : O::dns_error;
    out.detail = r.detail;
    co_return out;
  }
  std::vector<std::string> listed;
  for (const auto& t : r.targets) listed.push_back(t.address);
  std::vector<std::size_t> picked = pick_addresses(listed, std::max<std::size_t>(1, options.max_addresses));
  for (std::size_t i = 0; i < listed.size(); ++i)
    if (std::find(picked.begin(), picked.end(), i) == picked.end()) out.skipped.push_back(listed[i]);
  out.addresses.resize(picked.size());
  std::vector<std::function<awaitable<void>()>> tasks;
  for (std::size_t k = 0; k < picked.size(); ++k)
    tasks.push_back([&, k, target = r.targets[picked[k]]]() -> awaitable<void> {
      out.addresses[k] = co_await probe_address(options, out.host, target, deadline);
    });
  co_await run_all(std::move(tasks));
  const SmtpProbe::Address* primary = out.addresses.empty() ? nullptr : &out.addresses.front();
  for (const auto& a : out.addresses)
    if (a.connected) {
      primary = &a;
      break;
    }
  if (primary) out.take_primary(*primary);
  else out.detail = out.host + ": no address to connect to";
  co_return out;
}

}  // namespace mtasts::net
