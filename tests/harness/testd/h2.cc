#include "h2.hpp"

#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace mtasts::testd {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using asio::redirect_error;
using asio::use_awaitable;

// RFC 9113 §3.4
constexpr std::string_view kClientPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

// RFC 9113 §6: frame types and flags.
enum : std::uint8_t {
  kData = 0x0,
  kHeaders = 0x1,
  kSettings = 0x4,
  kPing = 0x6,
  kGoaway = 0x7,
  kContinuation = 0x9,
};
constexpr std::uint8_t kFlagEndStream = 0x1;
constexpr std::uint8_t kFlagAck = 0x1;
constexpr std::uint8_t kFlagEndHeaders = 0x4;
constexpr std::uint32_t kFrameSizeError = 0x6;
constexpr std::size_t kMaxFrame = 16384;  // SETTINGS_MAX_FRAME_SIZE initial value (§6.5.2)

void append_frame(std::string& out, std::uint8_t type, std::uint8_t flags, std::uint32_t stream,
                  std::string_view payload) {
  const auto n = static_cast<std::uint32_t>(payload.size());
  const char header[9] = {
      static_cast<char>(n >> 16),           static_cast<char>(n >> 8),
      static_cast<char>(n),                 static_cast<char>(type),
      static_cast<char>(flags),             static_cast<char>((stream >> 24) & 0x7f),
      static_cast<char>(stream >> 16),      static_cast<char>(stream >> 8),
      static_cast<char>(stream),
  };
  out.append(header, sizeof header);
  out.append(payload);
}

// RFC 7541 §5.1: an integer with an N-bit prefix; `first` carries the pattern bits above it.
void hpack_int(std::string& out, std::uint8_t first, int prefix_bits, std::size_t value) {
  const std::size_t max = (std::size_t{1} << prefix_bits) - 1;
  if (value < max) {
    out.push_back(static_cast<char>(first | value));
    return;
  }
  out.push_back(static_cast<char>(first | max));
  value -= max;
  while (value >= 128) {
    out.push_back(static_cast<char>(0x80 | (value & 0x7f)));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

// RFC 7541 §6.2.2: literal header field without indexing, name from the static table, value as
// a plain (not Huffman-coded) string.
void hpack_literal(std::string& out, std::size_t static_name_index, std::string_view value) {
  hpack_int(out, 0x00, 4, static_name_index);
  hpack_int(out, 0x00, 7, value.size());
  out.append(value);
}

std::string response_frames(std::uint32_t stream, const ListenerConfig& c) {
  std::string block;
  block.push_back(static_cast<char>(0x88));  // indexed :status 200 (RFC 7541 Appendix A, 8)
  hpack_literal(block, 31, c.content_type);  // content-type
  hpack_literal(block, 28, std::to_string(c.body.size()));  // content-length
  hpack_literal(block, 54, "mtasts-testd");  // server
  std::string out;
  append_frame(out, kHeaders, kFlagEndHeaders | (c.body.empty() ? kFlagEndStream : 0), stream,
               block);
  std::string_view body = c.body;
  while (!body.empty()) {
    std::string_view part = body.substr(0, kMaxFrame);
    body.remove_prefix(part.size());
    append_frame(out, kData, body.empty() ? kFlagEndStream : 0, stream, part);
  }
  return out;
}

std::string goaway(std::uint32_t last_stream, std::uint32_t code) {
  std::string payload;
  for (std::uint32_t v : {last_stream & 0x7fffffffu, code})
    for (int shift = 24; shift >= 0; shift -= 8) payload.push_back(static_cast<char>(v >> shift));
  std::string out;
  append_frame(out, kGoaway, 0, 0, payload);
  return out;
}

}  // namespace

asio::awaitable<void> serve_h2(TlsStream& stream, const Listener& listener) {
  const ListenerConfig& c = listener.config;
  auto& tcp = beast::get_lowest_layer(stream);
  boost::system::error_code ec;

  std::array<char, kClientPreface.size()> preface{};
  tcp.expires_after(c.idle_timeout);
  co_await asio::async_read(stream, asio::buffer(preface), redirect_error(use_awaitable, ec));
  if (ec || std::string_view(preface.data(), preface.size()) != kClientPreface) co_return;

  std::string out;
  append_frame(out, kSettings, 0, 0, {});  // server preface: an empty SETTINGS frame (§3.4)
  std::uint32_t last_stream = 0;
  std::uint32_t pending_headers = 0;  // stream whose header block awaits CONTINUATION frames
  std::uint32_t close_code = 0;  // NO_ERROR
  std::array<unsigned char, 9> header{};
  std::string payload;
  for (;;) {
    if (!out.empty()) {
      tcp.expires_after(c.idle_timeout);
      co_await asio::async_write(stream, asio::buffer(out), redirect_error(use_awaitable, ec));
      if (ec) co_return;
      out.clear();
    }
    tcp.expires_after(c.idle_timeout);
    co_await asio::async_read(stream, asio::buffer(header), redirect_error(use_awaitable, ec));
    if (ec) co_return;
    const std::size_t length = (std::size_t{header[0]} << 16) | (header[1] << 8) | header[2];
    const std::uint8_t type = header[3];
    const std::uint8_t flags = header[4];
    const std::uint32_t id = ((std::uint32_t{header[5]} & 0x7f) << 24) | (header[6] << 16) |
                             (header[7] << 8) | header[8];
    if (length > kMaxFrame) {
      close_code = kFrameSizeError;
      break;
    }
    payload.resize(length);
    co_await asio::async_read(stream, asio::buffer(payload), redirect_error(use_awaitable, ec));
    if (ec) co_return;

    bool respond = false;
    if (type == kSettings && !(flags & kFlagAck)) {
      append_frame(out, kSettings, kFlagAck, 0, {});
    } else if (type == kPing && !(flags & kFlagAck)) {
      append_frame(out, kPing, kFlagAck, 0, payload);
    } else if (type == kHeaders && id != 0) {
      if (flags & kFlagEndHeaders)
        respond = true;
      else
        pending_headers = id;
    } else if (type == kContinuation && id == pending_headers && (flags & kFlagEndHeaders)) {
      respond = true;
      pending_headers = 0;
    } else if (type == kGoaway) {
      break;
    }
    if (respond && id > last_stream) {
      last_stream = id;
      out += response_frames(id, c);
      if (listener.verbose) log(listener, "h2 request on stream " + std::to_string(id));
    }
  }
  out += goaway(last_stream, close_code);
  tcp.expires_after(std::chrono::seconds(5));
  co_await asio::async_write(stream, asio::buffer(out), redirect_error(use_awaitable, ec));
  if (!ec) co_await stream.async_shutdown(redirect_error(use_awaitable, ec));
}

}  // namespace mtasts::testd
