// The io_uring socketmap loop (resolve/uring_server.h) on real loopback sockets, with a scripted
// handler in place of the resolver: order of replies around lookups, bad netstrings, limits,
// idle close, back-pressure, graceful and immediate stops.
#include "resolve/uring_server.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <mutex>
#include <random>
#include <thread>

#include "core/socketmap.h"

namespace mtasts::resolve {
namespace {

// Keys "now:X" are answered X at once; any other key waits in `pending` for the test to answer it.
class ScriptedHandler final : public SocketmapHandler {
 public:
  bool answer_now(std::string_view payload, std::string& reply) override {
    auto key = payload.substr(payload.find(' ') + 1);
    if (!key.starts_with("now:")) return false;
    reply.assign(key.substr(4));
    return true;
  }
  void lookup(std::string payload, std::function<void(std::optional<std::string>)> done) override {
    std::lock_guard lock(mu_);
    pending_.emplace_back(payload.substr(payload.find(' ') + 1), std::move(done));
    cv_.notify_all();
  }
  void accepted() override { ++accepted_n; }
  void rejected() override { ++rejected_n; }
  void idle_closed() override { ++idle_n; }
  void bad_netstring(std::string_view) override { ++bad_n; }

  // Waits for the lookup of `key` and answers it from another thread (as the engine does).
  void answer(const std::string& key, std::optional<std::string> reply) {
    std::function<void(std::optional<std::string>)> done;
    {
      std::unique_lock lock(mu_);
      ASSERT_TRUE(cv_.wait_for(lock, std::chrono::seconds(10), [&] {
        for (auto& [k, d] : pending_)
          if (k == key) return true;
        return false;
      })) << "no lookup of " << key;
      for (auto it = pending_.begin(); it != pending_.end(); ++it)
        if (it->first == key) {
          done = std::move(it->second);
          pending_.erase(it);
          break;
        }
    }
    std::thread([done = std::move(done), reply = std::move(reply)] { done(reply); }).join();
  }
  // Waits until the lookup of `key` has been started.
  bool started(const std::string& key) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] {
      for (auto& [k, d] : pending_)
        if (k == key) return true;
      return false;
    });
  }
  // Takes every pending lookup (to answer after the server is gone).
  std::deque<std::pair<std::string, std::function<void(std::optional<std::string>)>>> take_pending() {
    std::lock_guard lock(mu_);
    return std::move(pending_);
  }

  std::atomic<int> accepted_n{0}, rejected_n{0}, idle_n{0}, bad_n{0};

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<std::string, std::function<void(std::optional<std::string>)>>> pending_;
};

// A blocking client with a receive timeout, so that a broken server fails the test, not hangs it.
class Client {
 public:
  explicit Client(int fd) : fd_(fd) {
    timeval tv{10, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~Client() { ::close(fd_); }
  void send(std::string_view data) const {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      ASSERT_GT(n, 0) << std::strerror(errno);
      data.remove_prefix(static_cast<std::size_t>(n));
    }
  }
  void ask(std::string_view key) const { send(encode_netstring("map " + std::string(key))); }
  // The next reply; "<eof>" when the server closed, "<timeout>" after 10 s.
  std::string reply() {
    while (true) {
      auto r = parse_netstring(buf_, kMaxSocketmapReply);
      if (r.status == NetstringParse::Status::complete) {
        std::string payload(r.payload);
        buf_.erase(0, r.consumed);
        return payload;
      }
      if (r.status == NetstringParse::Status::error) return "<garbage>";
      char chunk[65536];
      ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n == 0 || (n < 0 && errno == ECONNRESET)) return "<eof>";
      if (n < 0) return "<timeout>";
      buf_.append(chunk, static_cast<std::size_t>(n));
    }
  }
  // True when nothing arrives within `ms` (used only where something arriving is the bug).
  bool quiet_for(int ms) const {
    timeval tv{0, ms * 1000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char c;
    ssize_t n = ::recv(fd_, &c, 1, MSG_PEEK);
    timeval back{10, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &back, sizeof back);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && buf_.empty();
  }
  int fd() const { return fd_; }

 private:
  int fd_;
  std::string buf_;
};

class UringServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    lfd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(lfd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ASSERT_EQ(::listen(lfd_, 512), 0);
    socklen_t len = sizeof a;
    ::getsockname(lfd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    options_.listeners = {{lfd_, true}};
    options_.threads = 2;
    options_.open = &open_;
  }
  void TearDown() override {
    server_.reset();
    ::close(lfd_);
  }
  void start() {
    std::string error;
    server_ = UringServer::start(options_, handler_, error);
    ASSERT_TRUE(server_) << error;
  }
  std::unique_ptr<Client> connect() const {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port_);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    return std::make_unique<Client>(fd);
  }

  int lfd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<std::int64_t> open_{0};
  UringOptions options_;
  ScriptedHandler handler_;
  std::unique_ptr<UringServer> server_;
};

TEST_F(UringServerTest, RepliesComeInRequestOrderAroundALookup) {
  start();
  auto c = connect();
  c->send(encode_netstring("map now:a") + encode_netstring("map later:b") + encode_netstring("map now:c"));
  EXPECT_EQ(c->reply(), "a");
  EXPECT_TRUE(c->quiet_for(100)) << "a reply overtook the lookup before it";
  handler_.answer("later:b", "b");
  EXPECT_EQ(c->reply(), "b");
  EXPECT_EQ(c->reply(), "c");
  c->ask("now:d");
  EXPECT_EQ(c->reply(), "d");
  EXPECT_EQ(handler_.accepted_n, 1);
}

TEST_F(UringServerTest, RequestsSplitAcrossReadsAreJoined) {
  start();
  auto c = connect();
  std::string req = encode_netstring("map now:split");
  c->send(req.substr(0, 3));
  EXPECT_TRUE(c->quiet_for(50));
  c->send(req.substr(3));
  EXPECT_EQ(c->reply(), "split");
}

TEST_F(UringServerTest, ABadNetstringClosesAfterTheRepliesBeforeIt) {
  start();
  auto c = connect();
  c->send(encode_netstring("map now:a") + "5000:xx");
  EXPECT_EQ(c->reply(), "a");
  EXPECT_EQ(c->reply(), "<eof>");
  EXPECT_EQ(handler_.bad_n, 1);
  auto d = connect();
  d->ask("now:still");
  EXPECT_EQ(d->reply(), "still");
}

TEST_F(UringServerTest, AFailedLookupClosesTheConnection) {
  start();
  auto c = connect();
  c->ask("gone");
  handler_.answer("gone", std::nullopt);
  EXPECT_EQ(c->reply(), "<eof>");
}

// The replies owed to the requests before a failed lookup still arrive when they are still being
// sent as the lookup fails (the client has not read them, and small socket buffers on both sides
// keep the server's send waiting); then the connection ends.
TEST_F(UringServerTest, AFailedLookupClosesAfterTheRepliesBeforeIt) {
  int small = 2048;  // accepted sockets inherit the listener's send buffer
  ASSERT_EQ(::setsockopt(lfd_, SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
  start();
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_EQ(::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port_);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  Client c(fd);
  constexpr int kReplies = 50;  // 50 KB of replies, 50 KB of requests: under the 64 KiB bounds
  const std::string big(1000, 'x');
  std::string wire;
  for (int i = 0; i < kReplies; ++i) wire += encode_netstring("map now:" + std::to_string(i) + big);
  wire += encode_netstring("map fail:last");
  c.send(wire);
  ASSERT_TRUE(handler_.started("fail:last"));
  handler_.answer("fail:last", std::nullopt);
  for (int i = 0; i < kReplies; ++i) {
    auto r = c.reply();
    if (r != std::to_string(i) + big) {
      ADD_FAILURE() << "reply " << i << ": " << r.substr(0, 20);
      break;
    }
  }
  EXPECT_EQ(c.reply(), "<eof>");
}

TEST_F(UringServerTest, ConnectionsBeyondTheLimitAreClosedAtOnce) {
  options_.max_connections = 2;
  start();
  auto a = connect();
  auto b = connect();
  a->ask("now:a");
  b->ask("now:b");
  EXPECT_EQ(a->reply(), "a");
  EXPECT_EQ(b->reply(), "b");
  auto c = connect();
  EXPECT_EQ(c->reply(), "<eof>");
  EXPECT_EQ(handler_.rejected_n, 1);
  EXPECT_EQ(open_.load(), 2);
  b.reset();  // a slot frees up once the server sees the close
  for (int i = 0; i < 1000 && open_.load() > 1; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  auto d = connect();
  d->ask("now:d");
  EXPECT_EQ(d->reply(), "d");
}

TEST_F(UringServerTest, IdleConnectionsAreClosedButNotOnesWaitingForALookup) {
  options_.idle_timeout = std::chrono::seconds(1);
  start();
  auto idle = connect();
  auto waiting = connect();
  waiting->ask("slow");
  EXPECT_EQ(idle->reply(), "<eof>");  // within a second or two
  EXPECT_EQ(handler_.idle_n, 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // longer than idle_timeout
  handler_.answer("slow", "late");
  EXPECT_EQ(waiting->reply(), "late");
}

TEST_F(UringServerTest, AClientThatNeverReadsIsThrottledAndServedWhenItReads) {
  start();
  auto c = connect();
  // 200,000 pipelined requests, sent by one thread while nobody reads; the server stops reading
  // when its replies pile up, so the sender blocks until the reader below starts.
  constexpr int kRequests = 200'000;
  std::string batch;
  for (int i = 0; i < 1000; ++i) batch += encode_netstring("map now:r");
  std::thread sender([&] {
    for (int i = 0; i < kRequests / 1000; ++i) c->send(batch);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  int got = 0;
  for (; got < kRequests; ++got) {
    auto r = c->reply();
    if (r != "r") {
      ADD_FAILURE() << "reply " << got << ": " << r;
      break;
    }
  }
  sender.join();
  EXPECT_EQ(got, kRequests);
}

TEST_F(UringServerTest, ManyConnectionsWithPipelines) {
  start();
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 300; ++i) clients.push_back(connect());
  for (std::size_t i = 0; i < clients.size(); ++i) {
    std::string reqs;
    for (int j = 0; j < 20; ++j) reqs += encode_netstring("map now:" + std::to_string(i) + "." + std::to_string(j));
    clients[i]->send(reqs);
  }
  for (std::size_t i = 0; i < clients.size(); ++i)
    for (int j = 0; j < 20; ++j) ASSERT_EQ(clients[i]->reply(), std::to_string(i) + "." + std::to_string(j));
  EXPECT_EQ(handler_.accepted_n, 300);
  EXPECT_EQ(open_.load(), 300);
}

TEST_F(UringServerTest, StopClosesIdleConnectionsAndAnswersTheOthersFirst) {
  start();
  auto idle = connect();
  auto busy = connect();
  idle->ask("now:x");
  EXPECT_EQ(idle->reply(), "x");
  busy->ask("pending");
  ASSERT_TRUE(handler_.started("pending"));
  server_->stop();
  EXPECT_EQ(idle->reply(), "<eof>");
  EXPECT_TRUE(busy->quiet_for(100));
  server_->stop_now();  // the lookup is never answered: stop_now ends the connection
  server_->join();
  EXPECT_EQ(busy->reply(), "<eof>");
  EXPECT_EQ(open_.load(), 0);
}

TEST_F(UringServerTest, StopWaitsForALookupThenCloses) {
  start();
  auto busy = connect();
  busy->ask("pending");
  ASSERT_TRUE(handler_.started("pending"));  // else the stop finds it idle and closes it
  std::thread stopper([&] {
    server_->stop();
    server_->join();  // returns once the connection is answered and closed
  });
  handler_.answer("pending", "done");
  EXPECT_EQ(busy->reply(), "done");
  EXPECT_EQ(busy->reply(), "<eof>");
  stopper.join();
  EXPECT_EQ(open_.load(), 0);
}

TEST_F(UringServerTest, StopNowAbandonsLookupsSafely) {
  start();
  auto c = connect();
  c->ask("forever");
  ASSERT_TRUE(handler_.started("forever"));
  server_->stop_now();
  server_->join();
  EXPECT_EQ(c->reply(), "<eof>");
  server_.reset();
  for (auto& [key, done] : handler_.take_pending()) done("too late");  // the ring is gone: ignored
}

// Many clients at once, each with its own mix: answers at once and lookups answered later from
// other threads (some failing), requests split at random points, garbage part-way, clients that
// hang up without reading. Every reply owed arrives in order, the connection ends where it must,
// and every connection is released (open returns to 0; ASan watches the memory).
TEST_F(UringServerTest, RandomizedClientsAreServedInOrderAndReleased) {
  start();
  std::atomic<bool> done{false};
  std::thread answerer([&] {  // answers "later:X" with X, and "fail:X" with nothing
    std::mt19937 rng(7);
    while (!done) {
      auto pending = handler_.take_pending();
      std::shuffle(pending.begin(), pending.end(), rng);
      for (auto& [key, reply] : pending) {
        if (key.starts_with("fail:")) reply(std::nullopt);
        else reply(key.substr(key.find(':') + 1));
      }
      std::this_thread::sleep_for(std::chrono::microseconds(rng() % 2000));
    }
  });
  constexpr int kClients = 60;
  std::atomic<int> failures{0};
  std::vector<std::thread> clients;
  for (int id = 0; id < kClients; ++id) {
    clients.emplace_back([&, id] {
      std::mt19937 rng(1000 + id);
      const int kind = id % 4;  // 0, 1: clean; 2: garbage part-way; 3: hangs up without reading
      const int n = 1 + static_cast<int>(rng() % 300);
      std::string wire;
      std::vector<std::string> expect;
      bool ends_early = false;
      for (int i = 0; i < n; ++i) {
        std::string v = std::to_string(id) + "-" + std::to_string(i);
        int pick = static_cast<int>(rng() % 10);
        if (kind == 2 && i == n / 2) {
          wire += "99999:garbage";
          ends_early = true;
          break;
        }
        if (pick == 0 && kind != 3 && rng() % 4 == 0) {  // a lookup that fails: the end
          wire += encode_netstring("map fail:" + v);
          ends_early = true;
          break;
        }
        wire += encode_netstring(std::string(pick < 6 ? "map now:" : "map later:") + v);
        expect.push_back(v);
      }
      int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(port_);
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ++failures;
        ::close(fd);
        return;
      }
      Client c(fd);
      std::thread sender([&] {  // in random pieces, so requests straddle reads
        std::size_t at = 0;
        std::mt19937 srng(2000 + id);
        while (at < wire.size()) {
          std::size_t len = std::min<std::size_t>(wire.size() - at, 1 + srng() % 64);
          ssize_t k = ::send(fd, wire.data() + at, len, MSG_NOSIGNAL);
          if (k <= 0) return;  // the server closed first (garbage, a failed lookup)
          at += static_cast<std::size_t>(k);
          if (srng() % 8 == 0) std::this_thread::sleep_for(std::chrono::microseconds(srng() % 500));
        }
      });
      if (kind == 3) {  // read a few, then hang up with requests and lookups in flight
        for (std::size_t i = 0; i < std::min<std::size_t>(3, expect.size()); ++i)
          if (c.reply() != expect[i]) ++failures;
        ::shutdown(fd, SHUT_RDWR);
        sender.join();
        return;
      }
      for (const auto& v : expect) {
        auto r = c.reply();
        if (r != v) {
          ++failures;
          ADD_FAILURE() << "client " << id << ": got " << r << ", want " << v;
          break;
        }
      }
      if (ends_early) {
        auto r = c.reply();
        if (r != "<eof>") {
          ++failures;
          ADD_FAILURE() << "client " << id << ": want the connection closed, got " << r;
        }
      }
      ::shutdown(fd, SHUT_RDWR);
      sender.join();
    });
  }
  for (auto& t : clients) t.join();
  for (int i = 0; i < 1000 && open_.load() > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(open_.load(), 0);
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(handler_.accepted_n, kClients);
  done = true;
  answerer.join();
  server_->stop();
  server_->join();
}

TEST_F(UringServerTest, UnixSocketListener) {
  auto path = std::filesystem::temp_directory_path() / ("mtasts-uring-" + std::to_string(::getpid()) + ".sock");
  std::filesystem::remove(path);
  int ufd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
  ASSERT_EQ(::bind(ufd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(ufd, 16), 0);
  options_.listeners.push_back({ufd, false});
  start();
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  Client c(fd);
  c.ask("now:unix");
  EXPECT_EQ(c.reply(), "unix");
  auto t = connect();
  t->ask("now:tcp");
  EXPECT_EQ(t->reply(), "tcp");
  server_.reset();
  ::close(ufd);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace mtasts::resolve
