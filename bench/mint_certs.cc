// mint_certs CA_CERT CA_KEY DIR < names: a lego-layout certificate directory (DIR/NAME.crt +
// DIR/NAME.key, ECDSA P-256, signed by the CA) for every name on stdin, fast enough for the
// 100,000 domains of serve_bench (the openssl command line takes milliseconds per certificate).
#include <cstdio>
#include <iostream>
#include <string>

#include "testd/mint.hpp"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: mint_certs CA_CERT CA_KEY DIR < names\n");
    return 2;
  }
  std::string error;
  auto minter = mtasts::testd::CertMinter::load(argv[1], argv[2], 90, error);
  if (!minter) {
    std::fprintf(stderr, "mint_certs: %s\n", error.c_str());
    return 2;
  }
  std::string dir = argv[3], name;
  std::size_t n = 0;
  while (std::getline(std::cin, name)) {
    if (name.empty()) continue;
    if (!minter->write(name, dir + "/" + name + ".crt", dir + "/" + name + ".key", error)) {
      std::fprintf(stderr, "mint_certs: %s: %s\n", name.c_str(), error.c_str());
      return 1;
    }
    ++n;
  }
  std::printf("%zu certificates\n", n);
  return 0;
}
