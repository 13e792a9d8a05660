// IP address literals (IPv4 dotted quad, RFC 4291 IPv6 text forms).
#pragma once

#include <string_view>

namespace mtasts {

bool is_ip_address(std::string_view text);

}  // namespace mtasts
