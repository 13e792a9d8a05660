#include "resolve/uring_server.h"

#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <future>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>

#include "core/socketmap.h"

namespace mtasts::resolve {

namespace {
// Named, so that a unity build's other files in this anonymous namespace keep their own Server,
// Conn and the like.
namespace uring_impl {

using SteadyClock = std::chrono::steady_clock;

// user_data: a Conn pointer (16-aligned by new) or a listener index shifted by 3, with the
// request kind in the low 3 bits.
enum Kind : std::uint64_t { kAccept = 1, kRecv = 2, kSend = 3, kWake = 4, kTick = 5, kCancel = 6 };
constexpr std::uint64_t kKindMask = 7;

// Received data lands in buffers the ring hands out (a provided-buffer ring), so one multishot
// recv request per connection serves every request it sends, and an idle connection holds no
// buffer. Each is copied out and given back at once.
constexpr unsigned kBuffers = 1024;  // a power of two
constexpr std::size_t kBufferSize = 2048;
constexpr int kBufferGroup = 0;
// Requests read ahead of a lookup in progress, or replies waiting for a send in progress, at
// most; beyond it the connection is not read until they are gone (back-pressure on a client
// that pipelines without reading).
constexpr std::size_t kMaxBuffered = 64 * 1024;
constexpr unsigned kRingEntries = 4096;
constexpr unsigned kCqEntries = 16384;

// Replies of lookups, posted from other threads to a ring, which an eventfd wakes.
struct Mailbox {
  std::mutex mu;
  std::vector<std::pair<std::uint64_t, std::optional<std::string>>> replies;
  bool closed = false;
  int efd = -1;

  ~Mailbox() {
    if (efd >= 0) ::close(efd);
  }
  void post(std::uint64_t conn, std::optional<std::string> reply) {
    bool wake;
    {
      std::lock_guard lock(mu);
      if (closed) return;
      wake = replies.empty();
      replies.emplace_back(conn, std::move(reply));
    }
    if (wake) poke();
  }
  void poke() const {
    std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(efd, &one, sizeof one);
  }
};

struct Conn {
  std::uint64_t id = 0;
  int fd = -1;
  std::string in;    // received, not yet parsed
  std::string out;   // replies not yet handed to the kernel
  std::string wire;  // the replies a send request is writing
  std::size_t wire_sent = 0;
  SteadyClock::time_point last{}, send_since{};
  int inflight = 0;  // recv and send requests in the kernel
  bool recv_armed = false;       // a multishot recv is in the kernel
  bool recv_cancelling = false;  // ... and asked to stop (back-pressure)
  bool sending = false, waiting = false, closing = false, close_after_send = false;
};

std::uint64_t tag(const void* p, Kind k) { return reinterpret_cast<std::uint64_t>(p) | k; }

class Ring {
 public:
  Ring(const UringOptions& options, SocketmapHandler& handler, unsigned setup_flags, std::atomic<int>& stop)
      : options_(options), handler_(handler), flags_(setup_flags), stop_(stop),
        mailbox_(std::make_shared<Mailbox>()), accepting_(options.listeners.size(), false) {}
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  ~Ring() {
    if (buffer_ring_) ::munmap(buffer_ring_, kBuffers * sizeof(io_uring_buf));
  }

  // In the ring's own thread (a single-issuer ring belongs to the thread that made it).
  int init() {
    mailbox_->efd = ::eventfd(0, EFD_CLOEXEC);
    if (mailbox_->efd < 0) return -errno;
    io_uring_params p{};
    p.flags = flags_ | IORING_SETUP_CQSIZE;
    p.cq_entries = kCqEntries;
    if (int rc = io_uring_queue_init_params(kRingEntries, &ring_, &p); rc != 0) return rc;
    void* mem = ::mmap(nullptr, kBuffers * sizeof(io_uring_buf), PROT_READ | PROT_WRITE,
                       MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (mem == MAP_FAILED) {
      io_uring_queue_exit(&ring_);
      return -errno;
    }
    buffer_ring_ = static_cast<io_uring_buf_ring*>(mem);
    buffers_ = std::make_unique_for_overwrite<char[]>(kBuffers * kBufferSize);
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<std::uint64_t>(buffer_ring_);
    reg.ring_entries = kBuffers;
    reg.bgid = kBufferGroup;
    if (int rc = io_uring_register_buf_ring(&ring_, &reg, 0); rc != 0) {
      io_uring_queue_exit(&ring_);
      return rc;
    }
    io_uring_buf_ring_init(buffer_ring_);
    for (unsigned i = 0; i < kBuffers; ++i) give_back(i);
    io_uring_buf_ring_advance(buffer_ring_, static_cast<int>(given_back_));
    given_back_ = 0;
    return 0;
  }

  void wake() const { mailbox_->poke(); }

  void run() {
    now_ = SteadyClock::now();
    for (std::size_t i = 0; i < options_.listeners.size(); ++i) arm_accept(i);
    arm_wake();
    arm_tick();
    while (true) {
      int rc = io_uring_submit_and_wait(&ring_, 1);
      if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY && rc != -ETIME) {
        spdlog::error("socketmap ring: io_uring_enter: {}; its connections are closed", std::strerror(-rc));
        break;
      }
      now_ = SteadyClock::now();
      unsigned head, seen = 0;
      io_uring_cqe* cqe;
      io_uring_for_each_cqe(&ring_, head, cqe) {
        ++seen;
        complete(cqe->user_data, cqe->res, cqe->flags);
      }
      io_uring_cq_advance(&ring_, seen);
      if (given_back_) {
        io_uring_buf_ring_advance(buffer_ring_, static_cast<int>(given_back_));
        given_back_ = 0;
      }
      if (check_stop()) break;
    }
    {
      std::lock_guard lock(mailbox_->mu);
      mailbox_->closed = true;
    }
    for (auto& [id, c] : conns_) {
      ::close(c->fd);
      if (options_.open) --*options_.open;
      delete c;
    }
    conns_.clear();
    io_uring_queue_exit(&ring_);
  }

 private:
  io_uring_sqe* sqe() {
    io_uring_sqe* s = io_uring_get_sqe(&ring_);
    while (!s) {  // the submission queue is full: hand it to the kernel and take a fresh slot
      io_uring_submit(&ring_);
      s = io_uring_get_sqe(&ring_);
    }
    return s;
  }

  void arm_accept(std::size_t listener) {
    auto* s = sqe();
    int fd = options_.listeners[listener].fd;
    io_uring_prep_multishot_accept(s, fd, nullptr, nullptr, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(s, (static_cast<std::uint64_t>(listener) << 3) | kAccept);
    accepting_[listener] = true;
  }

  void arm_wake() {
    auto* s = sqe();
    io_uring_prep_read(s, mailbox_->efd, &wake_value_, sizeof wake_value_, 0);
    io_uring_sqe_set_data64(s, kWake);
  }

  void arm_tick() {
    auto* s = sqe();
    io_uring_prep_timeout(s, &tick_, 0, 0);
    io_uring_sqe_set_data64(s, kTick);
  }

  void arm_recv(Conn* c) {
    auto* s = sqe();
    io_uring_prep_recv_multishot(s, c->fd, nullptr, 0, 0);
    s->flags |= IOSQE_BUFFER_SELECT;
    s->buf_group = kBufferGroup;
    io_uring_sqe_set_data64(s, tag(c, kRecv));
    c->recv_armed = true;
    ++c->inflight;
  }

  void cancel_recv(Conn* c) {
    auto* s = sqe();
    io_uring_prep_cancel64(s, tag(c, kRecv), 0);
    io_uring_sqe_set_data64(s, kCancel);
    c->recv_cancelling = true;
  }

  // Hands buffer `id` back to the kernel (made visible by the advance after the batch).
  void give_back(unsigned id) {
    io_uring_buf_ring_add(buffer_ring_, buffers_.get() + id * kBufferSize, kBufferSize, static_cast<unsigned short>(id),
                          io_uring_buf_ring_mask(kBuffers), static_cast<int>(given_back_++));
  }

  void send_wire(Conn* c) {
    auto* s = sqe();
    io_uring_prep_send(s, c->fd, c->wire.data() + c->wire_sent, c->wire.size() - c->wire_sent, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(s, tag(c, kSend));
    c->sending = true;
    ++c->inflight;
  }

  void complete(std::uint64_t data, int res, unsigned flags) {
    const auto kind = static_cast<Kind>(data & kKindMask);
    switch (kind) {
      case kAccept: return accepted(static_cast<std::size_t>(data >> 3), res, flags);
      case kRecv: return received(reinterpret_cast<Conn*>(data & ~kKindMask), res, flags);
      case kSend: return sent(reinterpret_cast<Conn*>(data & ~kKindMask), res);
      case kWake:
        if (!exiting_) arm_wake();
        return deliver();
      case kTick:
        if (!exiting_) arm_tick();
        return sweep();
      case kCancel: return;
    }
  }

  void accepted(std::size_t listener, int res, unsigned flags) {
    const bool more = flags & IORING_CQE_F_MORE;
    if (!more) accepting_[listener] = false;
    if (res < 0) {
      if (res != -ECANCELED) {
        spdlog::warn("socketmap accept: {}", std::strerror(-res));
        if (res == -EMFILE || res == -ENFILE || res == -ENOMEM) {
          retry_accept_ = true;  // at the next tick, not in a busy loop
          return;
        }
      }
      if (!more && !stopping_ && res != -ECANCELED) arm_accept(listener);
      return;
    }
    if (!more && !stopping_) arm_accept(listener);
    const int fd = res;
    if (stopping_ || (options_.open && static_cast<std::size_t>(options_.open->load()) >= options_.max_connections)) {
      if (!stopping_) handler_.rejected();
      ::close(fd);
      return;
    }
    const bool tcp = options_.listeners[listener].tcp;
    if (tcp) {
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    auto* c = new Conn;
    c->id = next_id_++;
    c->fd = fd;
    c->last = now_;
    conns_.emplace(c->id, c);
    if (options_.open) ++*options_.open;
    handler_.accepted();
    arm_recv(c);
  }

  void received(Conn* c, int res, unsigned flags) {
    if (!(flags & IORING_CQE_F_MORE)) {  // the multishot recv has ended
      --c->inflight;
      c->recv_armed = c->recv_cancelling = false;
    }
    if (flags & IORING_CQE_F_BUFFER) {
      const unsigned id = flags >> IORING_CQE_BUFFER_SHIFT;
      if (res > 0 && !c->closing) c->in.append(buffers_.get() + id * kBufferSize, static_cast<std::size_t>(res));
      give_back(id);
    }
    if (c->closing) return release(c);
    if (res == -ENOBUFS || res == -ECANCELED) return next(c);  // re-armed there if still wanted
    if (res <= 0) return close(c);  // end of stream or an error
    c->last = now_;
    process(c);
  }

  void sent(Conn* c, int res) {
    --c->inflight;
    c->sending = false;
    if (c->closing) return release(c);
    if (res < 0) return close(c);
    c->wire_sent += static_cast<std::size_t>(res);
    if (c->wire_sent < c->wire.size()) return send_wire(c);  // the rest
    c->wire.clear();
    c->wire_sent = 0;
    c->last = now_;
    next(c);
  }

  // Answers the complete requests received, in order, until one needs a lookup.
  void process(Conn* c) {
    std::size_t used = 0;
    while (!c->waiting && !c->close_after_send) {
      auto r = parse_netstring(std::string_view(c->in).substr(used), kMaxSocketmapRequest);
      if (r.status == NetstringParse::Status::incomplete) break;
      if (r.status == NetstringParse::Status::error) {
        handler_.bad_netstring(r.error.message);
        c->close_after_send = true;  // the replies before it are still sent
        break;
      }
      used += r.consumed;
      if (handler_.answer_now(r.payload, reply_)) {
        append_netstring(c->out, reply_);
        continue;
      }
      c->waiting = true;
      handler_.lookup(std::string(r.payload), [mailbox = mailbox_, id = c->id](std::optional<std::string> reply) {
        mailbox->post(id, std::move(reply));
      });
    }
    c->in.erase(0, used);
    next(c);
  }

  // What a connection does next: send what is ready, close when done, or read more.
  void next(Conn* c) {
    if (!c->sending && !c->out.empty()) {
      std::swap(c->wire, c->out);
      c->out.clear();
      c->wire_sent = 0;
      c->send_since = now_;
      send_wire(c);
    }
    if (!c->sending && !c->waiting && c->out.empty() && (c->close_after_send || stopping_)) return close(c);
    const bool read = !c->close_after_send && c->in.size() < kMaxBuffered && c->out.size() < kMaxBuffered;
    if (read && !c->recv_armed) arm_recv(c);
    else if (!read && c->recv_armed && !c->recv_cancelling) cancel_recv(c);
  }

  // Lookup replies from the mailbox.
  void deliver() {
    {
      std::lock_guard lock(mailbox_->mu);
      std::swap(delivered_, mailbox_->replies);
    }
    for (auto& [id, reply] : delivered_) {
      auto it = conns_.find(id);
      if (it == conns_.end()) continue;
      Conn* c = it->second;
      c->waiting = false;
      if (c->closing) {
        release(c);
      } else if (!reply) {
        // The lookup failed: the connection ends, but the replies owed to the requests before
        // it (queued, or in a send in flight) still go out first.
        c->close_after_send = true;
        next(c);
      } else {
        append_netstring(c->out, *reply);
        process(c);
      }
    }
    delivered_.clear();
  }

  // Once a second: idle connections and sends the client does not take are closed; accepts
  // that failed for want of descriptors are tried again.
  void sweep() {
    if (retry_accept_ && !stopping_) {
      retry_accept_ = false;
      for (std::size_t i = 0; i < accepting_.size(); ++i)
        if (!accepting_[i]) arm_accept(i);
    }
    const auto limit = options_.idle_timeout;
    std::vector<Conn*> idle, stuck;
    for (auto& [id, c] : conns_) {
      if (c->closing) continue;
      if (c->sending && now_ - c->send_since >= limit) stuck.push_back(c);
      else if (!c->sending && !c->waiting && c->out.empty() && now_ - c->last >= limit) idle.push_back(c);
    }
    for (Conn* c : idle) {
      handler_.idle_closed();
      close(c);
    }
    for (Conn* c : stuck) close(c);
  }

  // Shuts the socket down: the requests in the kernel end, then release() frees it.
  void close(Conn* c) {
    if (c->closing) return;
    c->closing = true;
    ::shutdown(c->fd, SHUT_RDWR);
    if (c->recv_armed && !c->recv_cancelling) cancel_recv(c);  // shutdown ends it too; be sure
    release(c);
  }

  void release(Conn* c) {
    if (!c->closing || c->inflight > 0 || c->waiting) return;
    ::close(c->fd);
    conns_.erase(c->id);
    if (options_.open) --*options_.open;
    delete c;
  }

  // True when the loop should end.
  bool check_stop() {
    const int level = stop_.load(std::memory_order_acquire);
    if (level >= 1 && !stopping_) {
      stopping_ = true;
      for (std::size_t i = 0; i < accepting_.size(); ++i) {
        auto* s = sqe();
        io_uring_prep_cancel64(s, (static_cast<std::uint64_t>(i) << 3) | kAccept, 0);
        io_uring_sqe_set_data64(s, kCancel);
      }
      std::vector<Conn*> idle;
      for (auto& [id, c] : conns_)
        if (!c->sending && !c->waiting && c->out.empty()) idle.push_back(c);
      for (Conn* c : idle) close(c);
    }
    if (level >= 2 && !exiting_) {
      exiting_ = true;
      {
        std::lock_guard lock(mailbox_->mu);
        mailbox_->closed = true;  // lookups still running are abandoned
      }
      std::vector<Conn*> all;
      for (auto& [id, c] : conns_) all.push_back(c);
      for (Conn* c : all) {
        c->waiting = false;
        close(c);
      }
    }
    return stopping_ && conns_.empty();
  }

  const UringOptions& options_;
  SocketmapHandler& handler_;
  const unsigned flags_;
  std::atomic<int>& stop_;  // 0 running, 1 stop, 2 stop now
  io_uring ring_{};
  std::shared_ptr<Mailbox> mailbox_;
  std::vector<std::pair<std::uint64_t, std::optional<std::string>>> delivered_;
  std::uint64_t wake_value_ = 0;
  __kernel_timespec tick_{1, 0};
  std::unordered_map<std::uint64_t, Conn*> conns_;
  std::uint64_t next_id_ = 1;
  std::vector<bool> accepting_;
  std::string reply_;
  SteadyClock::time_point now_{};
  bool retry_accept_ = false;
  io_uring_buf_ring* buffer_ring_ = nullptr;
  std::unique_ptr<char[]> buffers_;
  unsigned given_back_ = 0;  // buffers added since the last advance
  bool stopping_ = false, exiting_ = false;
};

// Completions are run when the ring's thread asks for them (Linux 6.1), which also brings
// everything else used here: multishot accept and recv, provided-buffer rings.
constexpr unsigned kSetupFlags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;

class Server final : public UringServer {
 public:
  Server(const UringOptions& options, SocketmapHandler& handler) : options_(options), handler_(handler) {}
  ~Server() override {
    stop_now();
    join();
  }

  bool start(std::string& error) {
    const unsigned n = std::max(1u, options_.threads);
    for (unsigned i = 0; i < n; ++i) rings_.push_back(std::make_unique<Ring>(options_, handler_, kSetupFlags, stop_));
    for (auto& ring : rings_) {
      std::promise<int> ready;
      auto started = ready.get_future();
      threads_.emplace_back([r = ring.get(), ready = std::move(ready)]() mutable {
        int rc = r->init();
        ready.set_value(rc);
        if (rc == 0) r->run();
      });
      if (int rc = started.get(); rc != 0) {
        error = std::string("io_uring (with deferred task running, Linux 6.1) is not available: ") +
                std::strerror(-rc);
        threads_.back().join();
        threads_.pop_back();
        rings_.resize(threads_.size());
        return false;
      }
    }
    return true;
  }

  void stop() override { signal(1); }
  void stop_now() override { signal(2); }
  void join() override {
    for (auto& t : threads_)
      if (t.joinable()) t.join();
  }
  std::string describe() const override {
    return std::to_string(rings_.size()) + (rings_.size() == 1 ? " ring" : " rings");
  }

 private:
  void signal(int level) {
    int cur = stop_.load();
    while (cur < level && !stop_.compare_exchange_weak(cur, level)) {
    }
    for (std::size_t i = 0; i < threads_.size(); ++i) rings_[i]->wake();
  }

  UringOptions options_;
  SocketmapHandler& handler_;
  std::atomic<int> stop_{0};
  std::vector<std::unique_ptr<Ring>> rings_;
  std::vector<std::thread> threads_;
};

}  // namespace uring_impl
}  // namespace

std::unique_ptr<UringServer> UringServer::start(const UringOptions& options, SocketmapHandler& handler,
                                                std::string& error) {
  auto s = std::make_unique<uring_impl::Server>(options, handler);
  if (!s->start(error)) return nullptr;
  return s;
}

}  // namespace mtasts::resolve
