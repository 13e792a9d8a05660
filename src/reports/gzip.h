// gzip (RFC 1952) for TLS-RPT reports: decompression with a cap on the output, so a small
// gzip bomb cannot make us allocate gigabytes, and fast compression for the raw copy we keep.
// Sans-I/O: bytes in, bytes out.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/error.h"

namespace mtasts::reports {

// The gzip magic (1f 8b): how we recognise gzip whatever the media type or file name says.
bool is_gzip(std::string_view data);

// Decompresses one or more concatenated gzip members. Errors: gzip-invalid (not gzip, corrupt,
// truncated, CRC mismatch, trailing bytes), gzip-too-large (more than `max_output` bytes out:
// the message says both sizes, so a bomb is named as one).
Result<std::string> gunzip(std::string_view data, std::size_t max_output);

// gzip at a fast level (the raw report copy is kept for audit, not for size records).
std::string gzip(std::string_view data);

}  // namespace mtasts::reports
