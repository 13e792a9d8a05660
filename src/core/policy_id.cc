#include "core/policy_id.h"

#include <openssl/evp.h>

namespace mtasts {

std::string sha256_hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * len);
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 0xF];
  }
  return out;
}

std::string policy_id(const Policy& policy) {
  return sha256_hex(serialize_policy(policy)).substr(0, kPolicyIdLength);
}

}  // namespace mtasts
