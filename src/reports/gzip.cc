#include "reports/gzip.h"

#include <zlib.h>

#include "fmt/format.h"

namespace mtasts::reports {

namespace {

Error gzip_error(std::string code, std::string message) {
  return Error{std::move(code), 0, 0, std::move(message), {}};
}

// zlib's avail_in/avail_out are 32-bit: feed at most this much at a time.
constexpr std::size_t kChunk = 1u << 30;

}  // namespace

bool is_gzip(std::string_view data) {
  return data.size() >= 2 && static_cast<unsigned char>(data[0]) == 0x1f &&
         static_cast<unsigned char>(data[1]) == 0x8b;
}

Result<std::string> gunzip(std::string_view data, std::size_t max_output) {
  if (!is_gzip(data))
    return gzip_error("gzip-invalid", "not gzip data (no 1f 8b magic at the start)");
  z_stream z{};
  // 16 + MAX_WBITS: gzip wrapper only (no raw deflate, no zlib header).
  if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) return gzip_error("gzip-invalid", "zlib init failed");
  struct Guard {
    z_stream* z;
    ~Guard() { inflateEnd(z); }
  } guard{&z};

  std::string out;
  // Reports compress about 10:1; grow from there, never past the cap (+1 to detect overflow).
  out.resize(std::min(max_output + 1, std::max<std::size_t>(4096, data.size() * 8)));
  std::size_t produced = 0;
  std::size_t consumed = 0;
  while (true) {
    if (produced == out.size()) {
      if (out.size() > max_output)
        return gzip_error("gzip-too-large",
                          fmt::format("decompresses to more than {} bytes from {} compressed "
                                      "bytes (a gzip bomb, or a report far over the limit)",
                                      max_output, data.size()));
      out.resize(std::min(max_output + 1, out.size() * 2));
    }
    std::size_t in_now = std::min(kChunk, data.size() - consumed);
    std::size_t out_now = std::min(kChunk, out.size() - produced);
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data() + consumed));
    z.avail_in = static_cast<uInt>(in_now);
    z.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    z.avail_out = static_cast<uInt>(out_now);
    int rc = inflate(&z, Z_NO_FLUSH);
    consumed += in_now - z.avail_in;
    produced += out_now - z.avail_out;
    if (produced > max_output)
      return gzip_error("gzip-too-large",
                        fmt::format("decompresses to more than {} bytes from {} compressed bytes "
                                    "(a gzip bomb, or a report far over the limit)",
                                    max_output, data.size()));
    if (rc == Z_STREAM_END) {
      if (consumed == data.size()) break;
      // Another member follows (gzip allows concatenation); anything else is garbage.
      if (!is_gzip(data.substr(consumed)))
        return gzip_error("gzip-invalid",
                          fmt::format("{} bytes of trailing data after the gzip stream",
                                      data.size() - consumed));
      inflateReset(&z);
      continue;
    }
    if (rc == Z_BUF_ERROR && consumed == data.size() && z.avail_out != 0)
      return gzip_error("gzip-invalid", "truncated gzip data (the stream ends early)");
    if (rc != Z_OK && rc != Z_BUF_ERROR)
      return gzip_error("gzip-invalid", fmt::format("corrupt gzip data after {} bytes: {}", consumed,
                                                    z.msg ? z.msg : "inflate failed"));
  }
  out.resize(produced);
  return out;
}

std::string gzip(std::string_view data) {
  z_stream z{};
  deflateInit2(&z, 1, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out;
  out.resize(deflateBound(&z, static_cast<uLong>(data.size())) + 32);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(out.size() - z.avail_out);
  deflateEnd(&z);
  return out;
}

}  // namespace mtasts::reports
