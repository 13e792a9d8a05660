// Resolver on c-ares, driven by an Asio io_context (sockets watched with posix descriptors,
// c-ares' own timers honoured). Answers are parsed with ldns; CNAME chains are followed across
// zones (an authoritative server only follows them inside its zones), at most 8 deep.
#pragma once

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "net/resolver.h"

namespace mtasts::net {

struct ResolverOptions {
  std::string server;  // "IP:PORT" or "IP"; empty: the system's resolv.conf
  std::chrono::milliseconds timeout{2000};  // per try
  int tries = 2;
};

class CaresResolver final : public Resolver {
 public:
  CaresResolver(boost::asio::io_context& io, const ResolverOptions& options);
  ~CaresResolver() override;
  CaresResolver(const CaresResolver&) = delete;
  CaresResolver& operator=(const CaresResolver&) = delete;

  // Fails (with the reason) when c-ares cannot start or the server address is invalid.
  static std::unique_ptr<CaresResolver> create(boost::asio::io_context& io,
                                               const ResolverOptions& options,
                                               std::string& error);

  awaitable<TxtAnswer> txt(std::string name) override;
  awaitable<MxAnswer> mx(std::string name) override;
  awaitable<AddressAnswer> addresses(std::string name) override;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace mtasts::net
