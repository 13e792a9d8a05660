#include "serve/acme_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/domain.h"
#include "fmt/format.h"

namespace mtasts::serve {

namespace {

Error files_error(std::string message) { return Error{"acme-files", 0, 0, std::move(message), {}}; }

std::optional<Error> write_file(const std::string& path, const std::string& text, mode_t mode) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return files_error(fmt::format("cannot create {}: {}", tmp, std::strerror(errno)));
  bool ok = ::fchmod(fd, mode) == 0;
  for (std::size_t done = 0; ok && done < text.size();) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) done += static_cast<std::size_t>(n);
  }
  ok = ::fsync(fd) == 0 && ok;
  ok = ::close(fd) == 0 && ok;
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return files_error(fmt::format("cannot write {}: {}", path, std::strerror(errno)));
  }
  return std::nullopt;
}

}  // namespace

Result<std::size_t> copy_new_certificates(store::CertStore& store, const std::string& dir, CopyMark& mark) {
  std::error_code ec;
  const std::filesystem::path certs = std::filesystem::path(dir) / "certificates";
  std::filesystem::create_directories(certs, ec);
  if (ec) return files_error(fmt::format("cannot create {}: {}", certs.string(), ec.message()));
  auto changed = store.updated_since(mark.since - 1);  // the mark's own second again: see CopyMark
  if (!changed) return changed.error();
  std::size_t copied = 0;
  for (const auto& [host, updated] : *changed) {
    if (updated == mark.since && mark.at_since.contains(host)) continue;
    // Host names come from the store: check them before they become file names.
    if (check_domain_syntax(host)) return files_error(fmt::format("the store holds a bad host name: {}", host));
    auto record = store.certificate(host);
    if (!record) return record.error();
    if (!*record) continue;  // removed meanwhile
    // Key first: the index pairs a .crt only with an existing .key of the same name.
    const std::string stem = (certs / host).string();
    if (auto e = write_file(stem + ".key", (*record)->key_pem, 0600)) return *e;
    if (auto e = write_file(stem + ".crt", (*record)->chain_pem, 0644)) return *e;
    if (updated > mark.since) {
      mark.since = updated;
      mark.at_since.clear();
    }
    if (updated == mark.since) mark.at_since.insert(host);
    ++copied;
  }
  return copied;
}

}  // namespace mtasts::serve
