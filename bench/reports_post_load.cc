// bench/reports_post_load: the HTTPS client of bench/reports_https_bench. Generates N distinct
// reports (bench/report_gen.h), gzips them, opens C keep-alive TLS connections to a `mtasts
// serve` on loopback (certificate verified against the test CA, host name checked), and POSTs
// every report once as application/tlsrpt+gzip, spread over the connections, one request in
// flight per connection (as senders do).
//
//   reports_post_load --port P --ca-file F [--count N] [--clients C] [--path /tlsrpt]
//                     [--address 127.0.0.1] [--wait]
//
// With --wait it prints "ready" once generated and connected and starts on a line on stdin, so
// the caller can read the server's CPU time just before and after the load. Prints one JSON
// line: sent, statuses, seconds, reports/s, p50/p99 latency (ms), its own CPU seconds during the
// load, the first unexpected answer.
// Exit 0 when every answer was 201, 1 otherwise, 2 when it could not start.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "fmt/format.h"
#include "report_gen.h"
#include "reports/gzip.h"

using Clock = std::chrono::steady_clock;

namespace {

struct Options {
  int port = 0;
  std::string address = "127.0.0.1", ca_file, path = "/tlsrpt";
  std::size_t count = 100000, clients = 32;
  bool wait = false;
};

std::string openssl_error() {
  char buf[256];
  unsigned long e = ERR_get_error();
  if (!e) return "unknown TLS error";
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

// One keep-alive HTTPS connection with blocking I/O.
class Connection {
 public:
  Connection(SSL_CTX* ctx, const Options& o, std::string host) : ctx_(ctx), o_(o), host_(std::move(host)) {}
  ~Connection() { close(); }

  bool open(std::string& error) {
    close();
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<std::uint16_t>(o_.port));
    if (::inet_pton(AF_INET, o_.address.c_str(), &sa.sin_addr) != 1) {
      error = "--address: an IPv4 address";
      return false;
    }
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
      error = fmt::format("connect: {}", std::strerror(errno));
      return false;
    }
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    SSL_set_tlsext_host_name(ssl_, host_.c_str());
    SSL_set1_host(ssl_, host_.c_str());  // verify the certificate names this host
    if (SSL_connect(ssl_) != 1) {
      error = fmt::format("TLS handshake with {}: {}", host_, openssl_error());
      return false;
    }
    buf_.clear();
    return true;
  }

  // POSTs one body; the status (0 on a connection error) and the response body.
  int post(const std::string& body, std::string& answer) {
    std::string req = fmt::format(
        "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/tlsrpt+gzip\r\nContent-Length: {}\r\n\r\n",
        o_.path, host_, body.size());
    req += body;
    if (SSL_write(ssl_, req.data(), static_cast<int>(req.size())) != static_cast<int>(req.size())) return 0;
    std::size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos)
      if (!fill()) return 0;
    int status = 0;
    std::sscanf(buf_.c_str(), "HTTP/1.1 %d", &status);
    std::size_t length = 0;
    std::string head = buf_.substr(0, end);
    for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (auto p = head.find("\r\ncontent-length:"); p != std::string::npos)
      length = std::strtoul(head.c_str() + p + 17, nullptr, 10);
    while (buf_.size() < end + 4 + length)
      if (!fill()) return 0;
    answer = buf_.substr(end + 4, length);
    buf_.erase(0, end + 4 + length);
    if (head.find("\r\nconnection: close") != std::string::npos) close();
    return status;
  }

  bool is_open() const { return ssl_ != nullptr; }

  void close() {
    if (ssl_) SSL_free(ssl_);
    if (fd_ >= 0) ::close(fd_);
    ssl_ = nullptr;
    fd_ = -1;
  }

 private:
  bool fill() {
    char chunk[16384];
    int n = SSL_read(ssl_, chunk, sizeof chunk);
    if (n <= 0) return false;
    buf_.append(chunk, static_cast<std::size_t>(n));
    return true;
  }

  SSL_CTX* ctx_;
  const Options& o_;
  std::string host_, buf_;
  SSL* ssl_ = nullptr;
  int fd_ = -1;
};

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

double percentile(std::vector<double>& v, double q) {
  if (v.empty()) return 0;
  std::size_t i = std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(i), v.end());
  return v[i];
}

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\', out += c;
    else if (static_cast<unsigned char>(c) < 0x20) out += fmt::format("\\u{:04x}", c);
    else out += c;
  }
  return out + "\"";
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--port") o.port = std::atoi(next().c_str());
    else if (a == "--address") o.address = next();
    else if (a == "--ca-file") o.ca_file = next();
    else if (a == "--path") o.path = next();
    else if (a == "--count") o.count = std::stoul(next());
    else if (a == "--clients") o.clients = std::max<std::size_t>(1, std::stoul(next()));
    else if (a == "--wait") o.wait = true;
    else {
      std::fprintf(stderr, "usage: reports_post_load --port P --ca-file F [--count N] [--clients C] "
                           "[--path /tlsrpt] [--address 127.0.0.1] [--wait]\n");
      return 2;
    }
  }
  if (o.port <= 0 || o.ca_file.empty()) {
    std::fprintf(stderr, "reports_post_load: --port and --ca-file are required\n");
    return 2;
  }

  // Reports dated up to today (the server refuses reports from more than a day in the future).
  const std::int64_t today = std::time(nullptr) / 86400 * 86400 - 86400;
  auto t0 = Clock::now();
  std::vector<std::string> bodies(o.count);
  {
    // Two generator threads: serializing + gzipping 100,000 reports takes seconds.
    std::vector<std::thread> gen;
    const std::size_t n = 2;
    for (std::size_t t = 0; t < n; ++t)
      gen.emplace_back([&, t] {
        for (std::size_t k = t; k < o.count; k += n) {
          std::mt19937 rnd(static_cast<std::uint32_t>(8460 + k));
          bodies[k] = mtasts::reports::gzip(mtasts::serialize_report(mtasts::bench::make_report(k, rnd, today)));
        }
      });
    for (auto& g : gen) g.join();
  }
  std::size_t gz_bytes = 0;
  for (const auto& b : bodies) gz_bytes += b.size();
  const double gen_s = std::chrono::duration<double>(Clock::now() - t0).count();
  std::fprintf(stderr, "reports_post_load: generated %zu reports (%.0f bytes/report gzipped) in %.1f s\n",
               o.count, static_cast<double>(gz_bytes) / static_cast<double>(std::max<std::size_t>(1, o.count)), gen_s);

  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (SSL_CTX_load_verify_locations(ctx, o.ca_file.c_str(), nullptr) != 1) {
    std::fprintf(stderr, "reports_post_load: %s: %s\n", o.ca_file.c_str(), openssl_error().c_str());
    return 2;
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);

  // Client c talks to mta-sts.dNN.example (c modulo the 20 domains): the rua host of a domain.
  std::vector<std::unique_ptr<Connection>> conns;
  for (std::size_t c = 0; c < o.clients; ++c) {
    conns.push_back(std::make_unique<Connection>(ctx, o, "mta-sts." + mtasts::bench::generated_domain(c)));
    std::string error;
    if (!conns.back()->open(error)) {
      std::fprintf(stderr, "reports_post_load: %s\n", error.c_str());
      return 2;
    }
  }
  if (o.wait) {
    std::printf("ready\n");
    std::fflush(stdout);
    std::string line;
    std::getline(std::cin, line);
  }

  std::atomic<std::size_t> next{0};
  std::mutex mu;
  std::map<int, std::size_t> statuses;
  std::string first_unexpected;
  std::size_t reconnects = 0;
  std::vector<double> latencies;  // ms
  latencies.reserve(o.count);
  auto t1 = Clock::now();
  const double cpu1 = cpu_seconds();
  std::vector<std::thread> threads;
  for (std::size_t c = 0; c < o.clients; ++c)
    threads.emplace_back([&, c] {
      Connection& conn = *conns[c];
      std::map<int, std::size_t> mine;
      std::vector<double> lat;
      std::string answer, unexpected;
      std::size_t reopened = 0;
      for (std::size_t k; (k = next.fetch_add(1)) < o.count;) {
        std::string error;
        if (!conn.is_open()) {
          if (!conn.open(error)) {
            mine[0]++;
            if (unexpected.empty()) unexpected = error;
            continue;
          }
          ++reopened;
        }
        auto s = Clock::now();
        int status = conn.post(bodies[k], answer);
        lat.push_back(std::chrono::duration<double, std::milli>(Clock::now() - s).count());
        mine[status]++;
        if (status == 0) {
          conn.close();
          if (unexpected.empty()) unexpected = fmt::format("report {}: connection lost", k);
        } else if (status != 201 && unexpected.empty()) {
          unexpected = fmt::format("report {}: {} {}", k, status, answer);
        }
      }
      std::lock_guard lock(mu);
      for (auto [st, n] : mine) statuses[st] += n;
      latencies.insert(latencies.end(), lat.begin(), lat.end());
      if (first_unexpected.empty()) first_unexpected = unexpected;
      reconnects += reopened;
    });
  for (auto& t : threads) t.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - t1).count();
  const double client_cpu = cpu_seconds() - cpu1;

  std::string st;
  for (auto [s, n] : statuses) st += fmt::format("{}\"{}\":{}", st.empty() ? "" : ",", s, n);
  const std::size_t created = statuses.count(201) ? statuses[201] : 0;
  const double p50 = percentile(latencies, 0.50), p99 = percentile(latencies, 0.99);
  std::printf("%s\n", fmt::format("{{\"sent\":{},\"clients\":{},\"status\":{{{}}},\"seconds\":{:.3f},"
                                  "\"reports_per_second\":{:.1f},\"p50_ms\":{:.3f},\"p99_ms\":{:.3f},"
                                  "\"reconnects\":{},\"gzip_bytes\":{},\"generate_seconds\":{:.2f},\"client_cpu_seconds\":{:.2f},"
                                  "\"first_unexpected\":{}}}",
                                  o.count, o.clients, st, seconds, static_cast<double>(o.count) / seconds, p50,
                                  p99, reconnects, gz_bytes, gen_s, client_cpu, json_string(first_unexpected))
                          .c_str());
  SSL_CTX_free(ctx);
  return created == o.count ? 0 : 1;
}
