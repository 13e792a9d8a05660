// `mtasts resolver`: the socketmap server Postfix's smtp_tls_policy_maps talks to, over TCP and
// Unix sockets: connections on io_uring rings (uring_server.h) or on threads, lookups on one
// io_context per I/O thread; /metrics over HTTP; SIGTERM/SIGINT stop it gracefully (listeners
// closed, requests in progress answered).
#pragma once

#include <string>

#include "resolve/config.h"

namespace mtasts::resolve {

// Runs until a signal. Returns the process exit code (0, or 2 when it cannot start: `error`).
int run_server(const Config& config, std::string& error);

}  // namespace mtasts::resolve
