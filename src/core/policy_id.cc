#include "core/policy_id.h"

#include <openssl/evp.h>

namespace mtasts {

std::string policy_id(const Policy& policy) {
  const std::string text = serialize_policy(policy);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), digest, &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  for (unsigned int i = 0; i < len && id.size() < kPolicyIdLength; ++i) {
    id += kHex[digest[i] >> 4];
    id += kHex[digest[i] & 0xF];
  }
  return id;
}

}  // namespace mtasts
