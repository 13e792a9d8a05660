// mtasts-testd: the programmable "simulated internet" for `mtasts check` tests.
//   mtasts-testd --config FILE.json --ready FILE [--verbose]
// Binds every listener in the config, writes {"listeners": {"NAME": PORT, ...}} to the ready file
// (atomically: temp file + rename), then serves on one thread until SIGTERM or SIGINT (exit 0).
// Exit 2 on a usage, config, certificate or bind error. See README.md.
#include "config.hpp"
#include "listener.hpp"
#include "tls.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace mtasts::testd {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

void log(const Listener& listener, const std::string& message) {
  std::cerr << "testd: " << listener.config.name << ": " << message << std::endl;
}

namespace {

struct Options {
  std::string config_file;
  std::string ready_file;
  bool verbose = false;
};

constexpr const char* kUsage =
    "usage: mtasts-testd --config FILE.json --ready FILE [--verbose]\n";

bool parse_args(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if ((a == "--config" || a == "--ready") && i + 1 < argc)
      (a == "--config" ? o.config_file : o.ready_file) = argv[++i];
    else if (a == "--verbose" || a == "-v")
      o.verbose = true;
    else
      return false;
  }
  return !o.config_file.empty() && !o.ready_file.empty();
}

// Thousands of listeners and connections in one process: use the hard descriptor limit.
void raise_fd_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

bool write_ready_file(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp." + std::to_string(getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) return false;
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return false;
  }
  return true;
}

asio::awaitable<void> accept_loop(tcp::acceptor& acceptor, std::shared_ptr<Listener> listener) {
  auto executor = co_await asio::this_coro::executor;
  asio::steady_timer backoff(executor);
  for (;;) {
    boost::system::error_code ec;
    tcp::socket socket =
        co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (!acceptor.is_open() || ec == asio::error::operation_aborted) co_return;
    if (ec) {
      // EMFILE and friends: keep serving, but do not spin on the error.
      log(*listener, "accept: " + ec.message());
      backoff.expires_after(std::chrono::milliseconds(100));
      co_await backoff.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    ++listener->connections;
    socket.set_option(tcp::no_delay(true), ec);
    auto on_done = [listener](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& x) {
        log(*listener, std::string("connection ended by exception: ") + x.what());
      }
    };
    if (listener->config.kind == Kind::https)
      asio::co_spawn(executor, serve_https(std::move(socket), listener), on_done);
    else
      asio::co_spawn(executor, serve_smtp(std::move(socket), listener), on_done);
  }
}

// "mint": {"names_file": F}: every name in F (one a line, # comments) minted before the ready
// file, so that a benchmark measures handshakes, not minting.
bool premint(TlsContexts& contexts, const Listener& listener, std::string& error) {
  const MintConfig& m = *listener.config.mint;
  std::ifstream in(m.names_file);
  if (!in) {
    error = "cannot read mint names file " + m.names_file + ": " + std::strerror(errno);
    return false;
  }
  std::shared_ptr<CertMinter> minter = contexts.minter(m, error);
  if (!minter) return false;
  const auto start = std::chrono::steady_clock::now();
  std::size_t count = 0;
  for (std::string line; std::getline(in, line);) {
    line = line.substr(0, line.find('#'));
    std::string name;
    for (char c : line) {
      if (c == ' ' || c == '\t' || c == '\r') continue;
      name += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    }
    if (name.empty()) continue;
    if (name.size() < m.suffix.size() ||
        name.compare(name.size() - m.suffix.size(), m.suffix.size(), m.suffix) != 0) {
      error = m.names_file + ": \"" + name + "\" does not end in \"" + m.suffix + "\"";
      return false;
    }
    if (!minter->mint(name, error)) {
      error = m.names_file + ": \"" + name + "\": " + error;
      return false;
    }
    ++count;
  }
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  log(listener, "minted " + std::to_string(count) + " certificates from " + m.names_file + " in " +
                    std::to_string(took.count()) + " s");
  return true;
}

TlsProfile profile_of(const ListenerConfig& c) {
  if (c.kind == Kind::https && c.https == HttpsBehaviour::h2only) return TlsProfile::h2_only;
  if (c.kind == Kind::smtp && c.smtp == SmtpBehaviour::tls10_only) return TlsProfile::tls10_only;
  return TlsProfile::modern;
}

int run(const Options& options) {
  std::ifstream in(options.config_file, std::ios::binary);
  if (!in) {
    std::cerr << "testd: cannot read " << options.config_file << ": " << std::strerror(errno)
              << "\n";
    return 2;
  }
  std::stringstream text;
  text << in.rdbuf();
  ConfigError error;
  std::optional<Config> config = parse_config(text.str(), error);
  if (!config) {
    std::cerr << "testd: " << options.config_file << ": " << error.message << "\n";
    return 2;
  }

  raise_fd_limit();
  std::signal(SIGPIPE, SIG_IGN);
  asio::io_context ioc(1);
  TlsContexts contexts;
  std::vector<std::shared_ptr<Listener>> listeners;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  boost::json::object ports;
  for (ListenerConfig& c : config->listeners) {
    auto listener = std::make_shared<Listener>();
    listener->config = std::move(c);
    listener->verbose = options.verbose;
    const ListenerConfig& lc = listener->config;
    if (lc.needs_tls()) {
      std::string tls_error;
      listener->tls = contexts.get(lc.cert_file, lc.key_file, profile_of(lc), tls_error,
                                   lc.mint ? &*lc.mint : nullptr);
      if (!listener->tls) {
        log(*listener, tls_error);
        return 2;
      }
      if (lc.mint && !lc.mint->names_file.empty()) {
        std::string mint_error;
        if (!premint(contexts, *listener, mint_error)) {
          log(*listener, mint_error);
          return 2;
        }
      }
    }
    boost::system::error_code ec;
    auto address = asio::ip::make_address(lc.address, ec);
    if (ec) {
      log(*listener, "bad address \"" + lc.address + "\": " + ec.message());
      return 2;
    }
    auto acceptor = std::make_unique<tcp::acceptor>(ioc);
    tcp::endpoint endpoint(address, lc.port);
    acceptor->open(endpoint.protocol(), ec);
    if (!ec) acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor->bind(endpoint, ec);
    if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      log(*listener, "cannot listen on " + lc.address + ":" + std::to_string(lc.port) + ": " +
                         ec.message());
      return 2;
    }
    ports[lc.name] = acceptor->local_endpoint().port();
    listeners.push_back(std::move(listener));
    acceptors.push_back(std::move(acceptor));
  }

  for (std::size_t i = 0; i < acceptors.size(); ++i)
    asio::co_spawn(ioc, accept_loop(*acceptors[i], listeners[i]), asio::detached);

  asio::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    std::cerr << "testd: signal " << signo << ", stopping\n";
    boost::system::error_code ignored;
    for (auto& a : acceptors) a->close(ignored);
    ioc.stop();
  });

  boost::json::object ready;
  ready["listeners"] = std::move(ports);
  if (!write_ready_file(options.ready_file, boost::json::serialize(ready) + "\n")) {
    std::cerr << "testd: cannot write ready file " << options.ready_file << "\n";
    return 2;
  }
  std::cerr << "testd: " << listeners.size() << " listeners ready\n";

  ioc.run();

  if (options.verbose)
    for (const auto& l : listeners)
      log(*l, std::to_string(l->connections) + " connections");
  return 0;
}

}  // namespace
}  // namespace mtasts::testd

int main(int argc, char** argv) {
  mtasts::testd::Options options;
  if (!mtasts::testd::parse_args(argc, argv, options)) {
    std::cerr << mtasts::testd::kUsage;
    return 2;
  }
  try {
    return mtasts::testd::run(options);
  } catch (const std::exception& e) {
    std::cerr << "testd: " << e.what() << "\n";
    return 2;
  }
}
