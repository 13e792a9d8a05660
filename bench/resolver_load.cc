// Socketmap load client for bench/resolver_bench: one blocking connection per thread, as
// Postfix's smtp processes do, each sending "NAME DOMAIN" netstrings and waiting for the reply.
//
//   resolver_load HOST PORT DOMAINS_FILE --connections N (--seconds S | --once) [--map NAME]
//
// --seconds: each thread queries domains round-robin from its own offset until S seconds pass.
// --once: the domains are shared out and each is asked exactly once (a cold fetch).
// Prints one JSON line: queries, seconds, qps, p50_us, p99_us, and the answers by status.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

int connect_to(const char* host, int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, host, &a.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

// One request, one reply; the reply's first word ("OK", "NOTFOUND", "TEMP"...), or "" on error.
std::string ask(int fd, const std::string& request, std::string& buf) {
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) return "";
  while (true) {
    auto colon = buf.find(':');
    if (colon != std::string::npos) {
      std::size_t n = std::strtoul(buf.c_str(), nullptr, 10);
      if (buf.size() >= colon + 1 + n + 1) {
        std::string payload = buf.substr(colon + 1, n);
        buf.erase(0, colon + 2 + n);
        return payload.substr(0, payload.find(' '));
      }
    }
    char chunk[4096];
    ssize_t r = ::recv(fd, chunk, sizeof chunk, 0);
    if (r <= 0) return "";
    buf.append(chunk, static_cast<std::size_t>(r));
  }
}

struct Stats {
  std::vector<std::uint32_t> latencies_us;
  std::uint64_t ok = 0, notfound = 0, other = 0, errors = 0;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: resolver_load HOST PORT DOMAINS_FILE --connections N (--seconds S | --once) [--map NAME]\n");
    return 2;
  }
  const char* host = argv[1];
  int port = std::atoi(argv[2]);
  std::vector<std::string> domains;
  {
    std::ifstream in(argv[3]);
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) domains.push_back(line);
  }
  int connections = 64;
  double seconds = 10;
  bool once = false;
  std::string map = "postfix";
  for (int i = 4; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--connections" && i + 1 < argc) connections = std::atoi(argv[++i]);
    else if (a == "--seconds" && i + 1 < argc) seconds = std::atof(argv[++i]);
    else if (a == "--once") once = true;
    else if (a == "--map" && i + 1 < argc) map = argv[++i];
    else {
      std::fprintf(stderr, "resolver_load: unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  if (domains.empty() || connections < 1) {
    std::fprintf(stderr, "resolver_load: no domains\n");
    return 2;
  }
  std::vector<std::string> requests;
  for (const auto& d : domains) {
    std::string p = map + " " + d;
    requests.push_back(std::to_string(p.size()) + ":" + p + ",");
  }
  std::vector<Stats> stats(static_cast<std::size_t>(connections));
  std::atomic<std::size_t> next{0};
  std::atomic<bool> go{false};
  const auto start_at = Clock::now();
  auto deadline = start_at + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  std::vector<std::thread> threads;
  for (int t = 0; t < connections; ++t) {
    threads.emplace_back([&, t] {
      Stats& s = stats[static_cast<std::size_t>(t)];
      int fd = connect_to(host, port);
      std::string buf;
      std::size_t i = static_cast<std::size_t>(t) * 7919 % requests.size();
      while (!go) std::this_thread::yield();
      while (true) {
        const std::string* req;
        if (once) {
          std::size_t k = next++;
          if (k >= requests.size()) break;
          req = &requests[k];
        } else {
          if (Clock::now() >= deadline) break;
          req = &requests[i];
          i = (i + 1) % requests.size();
        }
        if (fd < 0) {
          fd = connect_to(host, port);
          if (fd < 0) {
            ++s.errors;
            continue;
          }
        }
        auto t0 = Clock::now();
        std::string status = ask(fd, *req, buf);
        auto us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count();
        if (status.empty()) {
          ++s.errors;
          ::close(fd);
          fd = -1;
          buf.clear();
          continue;
        }
        s.latencies_us.push_back(static_cast<std::uint32_t>(us));
        (status == "OK" ? s.ok : status == "NOTFOUND" ? s.notfound : s.other)++;
      }
      if (fd >= 0) ::close(fd);
    });
  }
  const auto t_start = Clock::now();
  go = true;
  for (auto& th : threads) th.join();
  double elapsed = std::chrono::duration<double>(Clock::now() - t_start).count();
  Stats all;
  for (auto& s : stats) {
    all.latencies_us.insert(all.latencies_us.end(), s.latencies_us.begin(), s.latencies_us.end());
    all.ok += s.ok;
    all.notfound += s.notfound;
    all.other += s.other;
    all.errors += s.errors;
  }
  std::sort(all.latencies_us.begin(), all.latencies_us.end());
  auto pct = [&](double p) -> std::uint32_t {
    if (all.latencies_us.empty()) return 0;
    return all.latencies_us[std::min(all.latencies_us.size() - 1,
                                     static_cast<std::size_t>(p * static_cast<double>(all.latencies_us.size())))];
  };
  std::printf("{\"queries\":%zu,\"seconds\":%.3f,\"qps\":%.1f,\"p50_us\":%u,\"p99_us\":%u,"
              "\"ok\":%llu,\"notfound\":%llu,\"other\":%llu,\"errors\":%llu}\n",
              all.latencies_us.size(), elapsed, static_cast<double>(all.latencies_us.size()) / elapsed,
              pct(0.50), pct(0.99), static_cast<unsigned long long>(all.ok),
              static_cast<unsigned long long>(all.notfound), static_cast<unsigned long long>(all.other),
              static_cast<unsigned long long>(all.errors));
  return 0;
}
