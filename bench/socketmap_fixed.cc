// The ceiling for bench/resolver_bench: a socketmap server that answers every request with one
// fixed string, a blocking thread per connection, nothing else. Whatever this does with the
// same client on the same machine is the most any resolver can do.
//
//   socketmap_fixed PORT [ANSWER]
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: socketmap_fixed PORT [ANSWER]\n");
    return 2;
  }
  std::string answer = argc > 2 ? argv[2] : "OK secure match=mx1.example.test servername=hostname";
  const std::string reply = std::to_string(answer.size()) + ":" + answer + ",";
  int lfd = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(std::atoi(argv[1])));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(lfd, 1024) != 0) {
    std::perror("socketmap_fixed");
    return 2;
  }
  while (true) {
    int fd = ::accept(lfd, nullptr, nullptr);
    if (fd < 0) continue;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::thread([fd, &reply] {
      std::string buf;
      char chunk[4096];
      while (true) {
        ssize_t r = ::recv(fd, chunk, sizeof chunk, 0);
        if (r <= 0) break;
        buf.append(chunk, static_cast<std::size_t>(r));
        // Answer every complete netstring in the buffer.
        while (true) {
          auto colon = buf.find(':');
          if (colon == std::string::npos || colon > 6) break;
          std::size_t n = std::strtoul(buf.c_str(), nullptr, 10);
          if (buf.size() < colon + n + 2) break;
          buf.erase(0, colon + n + 2);
          if (::send(fd, reply.data(), reply.size(), MSG_NOSIGNAL) < 0) break;
        }
        if (buf.size() > 65536) break;
      }
      ::close(fd);
    }).detach();
  }
}
