// tls_floor: what one TLS handshake costs on this machine with its OpenSSL, and nothing else.
//
// The throughput targets of check_bench (1,000 domains/s, each three handshakes) and of
// resolver_bench's cold fetch (10x the peer) are bound by TLS handshakes whose two sides run on
// the same two cores. This program measures the floor under them: a client and a server SSL in
// one thread, joined by an in-memory BIO pair (no sockets, no kernel, no DNS, no HTTP), doing the
// handshake a sender does with an MX or policy host: TLS 1.3, the default groups (X25519), an
// ECDSA P-256 leaf for the host name signed by a root (the chain sent as leaf + root, as
// mtasts-testd sends it), verified by the client against that root with the host name checked.
// Contexts are made once; each handshake gets fresh SSL objects and no session is resumed, as
// for a sender that meets each host for the first time.
//
// It prints the CPU time per handshake of each side (thread CPU clock around each side's
// SSL calls), the primitive operations alone (ECDSA sign and verify, X25519 key generation and
// derivation: what a TLS library with no overhead at all would still pay), and what those
// floors allow on the machine's cores.
//
// --builtin-ec measures what OpenSSL 3.0's provider decoders cost: an in-process ENGINE offers
// OpenSSL's own built-in EC method, which makes 3.0 decode and verify EC keys the way 1.1.1 did
// (3.1 and later cache the decoder set-up instead: openssl/openssl#17950). mtasts does not do
// this in the product: it is process-wide and breaks other users of EC keys (EVP_PKEY_fromdata
// on "EC", as libunbound's DNSSEC validation uses it, and EC key generation by NIST name fail
// with it); bench/README.md "tls_floor" has the figures.
//
// The last line is for scripts: `floor client_us=... server_us=... crypto_us=...`.
//
//   tls_floor [--handshakes N] [--cores N] [--builtin-ec]
#define OPENSSL_SUPPRESS_DEPRECATED  // the ENGINE calls of --builtin-ec
#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/engine.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <cstring>
#include <string>
#include <thread>

namespace {

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "tls_floor: %s\n", what);
  ERR_print_errors_fp(stderr);
  std::exit(2);
}

double thread_cpu_us() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

EVP_PKEY* p256_key() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  if (key == nullptr) die("EC key generation failed");
  return key;
}

X509* make_cert(EVP_PKEY* key, const char* cn, X509* issuer, EVP_PKEY* issuer_key, bool ca) {
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), ca ? 1 : 2);
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), 86400L * 30);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn),
                             -1, -1, 0);
  X509_set_issuer_name(cert, issuer != nullptr ? X509_get_subject_name(issuer) : name);
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, issuer != nullptr ? issuer : cert, cert, nullptr, nullptr, 0);
  auto add = [&](int nid, const char* value) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value);
    if (ext == nullptr) die("certificate extension");
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
  };
  if (ca) {
    add(NID_basic_constraints, "critical,CA:TRUE");
    add(NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    std::string san = std::string("DNS:") + cn;
    add(NID_basic_constraints, "critical,CA:FALSE");
    add(NID_key_usage, "critical,digitalSignature");
    add(NID_ext_key_usage, "serverAuth");
    add(NID_subject_alt_name, san.c_str());
  }
  if (X509_sign(cert, issuer_key != nullptr ? issuer_key : key, EVP_sha256()) == 0)
    die("signing a certificate");
  return cert;
}

struct Sides {
  double client_us = 0;
  double server_us = 0;
};

// One handshake over a fresh BIO pair; false if it failed (the error queue says why).
bool handshake(SSL_CTX* client_ctx, SSL_CTX* server_ctx, const char* host, Sides& sides) {
  SSL* client = SSL_new(client_ctx);
  SSL* server = SSL_new(server_ctx);
  BIO* client_bio = nullptr;
  BIO* server_bio = nullptr;
  BIO_new_bio_pair(&client_bio, 1 << 16, &server_bio, 1 << 16);
  SSL_set_bio(client, client_bio, client_bio);
  SSL_set_bio(server, server_bio, server_bio);
  SSL_set_connect_state(client);
  SSL_set_accept_state(server);
  SSL_set_tlsext_host_name(client, host);
  SSL_set1_host(client, host);
  SSL_set_verify(client, SSL_VERIFY_PEER, nullptr);

  bool client_done = false;
  bool server_done = false;
  bool ok = true;
  for (int round = 0; round < 16 && ok && !(client_done && server_done); ++round) {
    double t0 = thread_cpu_us();
    if (!client_done) {
      int r = SSL_do_handshake(client);
      if (r == 1) client_done = true;
      else if (SSL_get_error(client, r) != SSL_ERROR_WANT_READ) ok = false;
    }
    double t1 = thread_cpu_us();
    if (!server_done && ok) {
      int r = SSL_do_handshake(server);
      if (r == 1) server_done = true;
      else if (SSL_get_error(server, r) != SSL_ERROR_WANT_READ) ok = false;
    }
    double t2 = thread_cpu_us();
    sides.client_us += t1 - t0;
    sides.server_us += t2 - t1;
  }
  // Freeing is part of each side's cost per connection.
  double t0 = thread_cpu_us();
  ok = ok && client_done && server_done && SSL_get_verify_result(client) == X509_V_OK;
  SSL_free(client);
  double t1 = thread_cpu_us();
  SSL_free(server);
  double t2 = thread_cpu_us();
  sides.client_us += t1 - t0;
  sides.server_us += t2 - t1;
  return ok;
}

// The primitives alone: microseconds of CPU per operation, over `n` operations.
struct Primitives {
  double sign_us = 0;
  double verify_us = 0;
  double x25519_keygen_us = 0;
  double x25519_derive_us = 0;
};

Primitives measure_primitives(EVP_PKEY* key, int n) {
  Primitives p;
  unsigned char digest[32];
  std::memset(digest, 7, sizeof digest);
  unsigned char sig[80];
  size_t sig_len = sizeof sig;
  EVP_PKEY_CTX* sctx = EVP_PKEY_CTX_new(key, nullptr);
  EVP_PKEY_sign_init(sctx);
  double t0 = thread_cpu_us();
  for (int i = 0; i < n; ++i) {
    sig_len = sizeof sig;
    if (EVP_PKEY_sign(sctx, sig, &sig_len, digest, sizeof digest) != 1) die("ECDSA sign");
  }
  p.sign_us = (thread_cpu_us() - t0) / n;
  EVP_PKEY_CTX* vctx = EVP_PKEY_CTX_new(key, nullptr);
  EVP_PKEY_verify_init(vctx);
  t0 = thread_cpu_us();
  for (int i = 0; i < n; ++i)
    if (EVP_PKEY_verify(vctx, sig, sig_len, digest, sizeof digest) != 1) die("ECDSA verify");
  p.verify_us = (thread_cpu_us() - t0) / n;
  EVP_PKEY_CTX_free(sctx);
  EVP_PKEY_CTX_free(vctx);

  EVP_PKEY* peer = EVP_PKEY_Q_keygen(nullptr, nullptr, "X25519");
  t0 = thread_cpu_us();
  EVP_PKEY* mine = nullptr;
  for (int i = 0; i < n; ++i) {
    EVP_PKEY_free(mine);
    mine = EVP_PKEY_Q_keygen(nullptr, nullptr, "X25519");
    if (mine == nullptr) die("X25519 keygen");
  }
  p.x25519_keygen_us = (thread_cpu_us() - t0) / n;
  EVP_PKEY_CTX* dctx = EVP_PKEY_CTX_new(mine, nullptr);
  EVP_PKEY_derive_init(dctx);
  EVP_PKEY_derive_set_peer(dctx, peer);
  unsigned char secret[32];
  t0 = thread_cpu_us();
  for (int i = 0; i < n; ++i) {
    size_t len = sizeof secret;
    if (EVP_PKEY_derive(dctx, secret, &len) != 1) die("X25519 derive");
  }
  p.x25519_derive_us = (thread_cpu_us() - t0) / n;
  EVP_PKEY_CTX_free(dctx);
  EVP_PKEY_free(mine);
  EVP_PKEY_free(peer);
  return p;
}

// Parsing one certificate as a TLS client does (d2i_X509, public key decoded with it).
double measure_parse(X509* cert, int n) {
  unsigned char* der = nullptr;
  int len = i2d_X509(cert, &der);
  if (len <= 0) die("encoding a certificate");
  double t0 = thread_cpu_us();
  for (int i = 0; i < n; ++i) {
    const unsigned char* p = der;
    X509* parsed = d2i_X509(nullptr, &p, len);
    if (parsed == nullptr) die("parsing a certificate");
    X509_free(parsed);
  }
  double us = (thread_cpu_us() - t0) / n;
  OPENSSL_free(der);
  return us;
}

// The ENGINE of --builtin-ec: it offers OpenSSL's built-in (1.1.1-style) EC method for EC keys.
int builtin_ec_methods(ENGINE*, EVP_PKEY_METHOD** method, const int** nids, int nid) {
  static const int kNids[] = {EVP_PKEY_EC};
  if (method == nullptr) {
    *nids = kNids;
    return 1;
  }
  *method = nid == EVP_PKEY_EC ? const_cast<EVP_PKEY_METHOD*>(EVP_PKEY_meth_find(EVP_PKEY_EC))
                               : nullptr;
  return *method != nullptr;
}

void route_ec_through_builtin() {
  ENGINE* e = ENGINE_new();
  if (e == nullptr || ENGINE_set_id(e, "tls_floor-builtin-ec") != 1 ||
      ENGINE_set_name(e, "OpenSSL's built-in EC method") != 1 ||
      ENGINE_set_pkey_meths(e, builtin_ec_methods) != 1 || ENGINE_add(e) != 1 ||
      ENGINE_init(e) != 1 || ENGINE_register_pkey_meths(e) != 1)
    die("--builtin-ec: the ENGINE could not be registered");
}

}  // namespace

int main(int argc, char** argv) {
  int handshakes = 3000;
  int cores = static_cast<int>(std::thread::hardware_concurrency());
  bool builtin_ec = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--handshakes" && i + 1 < argc) handshakes = std::atoi(argv[++i]);
    else if (arg == "--cores" && i + 1 < argc) cores = std::atoi(argv[++i]);
    else if (arg == "--builtin-ec") builtin_ec = true;
    else {
      std::fprintf(stderr, "usage: tls_floor [--handshakes N] [--cores N] [--builtin-ec]\n");
      return 2;
    }
  }
  if (handshakes < 10 || cores < 1) die("--handshakes must be >= 10 and --cores >= 1");
  const char* host = "mta-sts.d00001.bench.test";

  EVP_PKEY* root_key = p256_key();
  X509* root = make_cert(root_key, "tls_floor root", nullptr, nullptr, true);
  EVP_PKEY* leaf_key = p256_key();
  X509* leaf = make_cert(leaf_key, host, root, root_key, false);

  // After the keys are made: EC key generation by name does not work through the ENGINE.
  if (builtin_ec) route_ec_through_builtin();

  SSL_CTX* server_ctx = SSL_CTX_new(TLS_server_method());
  SSL_CTX_set_min_proto_version(server_ctx, TLS1_2_VERSION);
  SSL_CTX_set_num_tickets(server_ctx, 0);
  SSL_CTX_set_session_cache_mode(server_ctx, SSL_SESS_CACHE_OFF);
  if (SSL_CTX_use_certificate(server_ctx, leaf) != 1 ||
      SSL_CTX_use_PrivateKey(server_ctx, leaf_key) != 1 ||
      SSL_CTX_add1_chain_cert(server_ctx, root) != 1)
    die("server certificate");

  SSL_CTX* client_ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(client_ctx, TLS1_2_VERSION);
  SSL_CTX_set_session_cache_mode(client_ctx, SSL_SESS_CACHE_OFF);
  X509_STORE_add_cert(SSL_CTX_get_cert_store(client_ctx), root);

  Sides warm;
  for (int i = 0; i < 50; ++i)
    if (!handshake(client_ctx, server_ctx, host, warm)) die("a handshake failed");
  // Rounds of handshakes, primitives and parses in turn; each figure is its best round, so a
  // burst of other work on the machine during one round does not raise the floor.
  const int rounds = 5;
  const int per_round = std::max(2, handshakes / rounds);
  double client = 1e18, server = 1e18, parse_us = 1e18;
  Primitives p{1e18, 1e18, 1e18, 1e18};
  for (int r = 0; r < rounds; ++r) {
    Sides sides;
    for (int i = 0; i < per_round; ++i)
      if (!handshake(client_ctx, server_ctx, host, sides)) die("a handshake failed");
    client = std::min(client, sides.client_us / per_round);
    server = std::min(server, sides.server_us / per_round);
    Primitives q = measure_primitives(leaf_key, std::max(200, per_round));
    p.sign_us = std::min(p.sign_us, q.sign_us);
    p.verify_us = std::min(p.verify_us, q.verify_us);
    p.x25519_keygen_us = std::min(p.x25519_keygen_us, q.x25519_keygen_us);
    p.x25519_derive_us = std::min(p.x25519_derive_us, q.x25519_derive_us);
    parse_us = std::min(parse_us, measure_parse(leaf, std::max(200, per_round)));
  }
  double pair = client + server;

  // What the two sides must compute even with no overhead: the client generates a key share,
  // derives the secret, verifies the leaf's signature (by the root) and the CertificateVerify;
  // the server generates its key share, derives, and signs the CertificateVerify.
  double client_crypto = p.x25519_keygen_us + p.x25519_derive_us + 2 * p.verify_us;
  double server_crypto = p.x25519_keygen_us + p.x25519_derive_us + p.sign_us;
  double crypto = client_crypto + server_crypto;

  std::printf("tls_floor: %s, TLS 1.3, X25519, ECDSA P-256 leaf + root, host name verified, "
              "no resumption, in memory (no sockets)%s\n",
              OpenSSL_version(OPENSSL_VERSION),
              builtin_ec ? "; EC keys through OpenSSL's built-in method (--builtin-ec)" : "");
  std::printf("handshakes           %d (after 50 to warm up), one thread, %d rounds: each figure "
              "is its best round\n",
              per_round * rounds, rounds);
  std::printf("client side          %7.1f us CPU per handshake (verifying)\n", client);
  std::printf("server side          %7.1f us CPU per handshake\n", server);
  std::printf("both sides           %7.1f us CPU per handshake\n", pair);
  std::printf("primitives           ECDSA P-256 sign %.1f us, verify %.1f us; X25519 keygen %.1f us, "
              "derive %.1f us\n",
              p.sign_us, p.verify_us, p.x25519_keygen_us, p.x25519_derive_us);
  std::printf("crypto alone         %7.1f us per handshake (client %.1f, server %.1f): the floor "
              "of any TLS library on this CPU\n",
              crypto, client_crypto, server_crypto);
  std::printf("certificate parse    %7.1f us per certificate (d2i_X509 with its public key); the "
              "client parses 2 per handshake\n",
              parse_us);
  std::printf("OpenSSL's overhead   %.1fx the crypto it must do\n", pair / crypto);
  double budget_us = cores * 1e6;
  std::printf("on %d cores, nothing but handshakes (both sides on the machine):\n", cores);
  std::printf("  check_bench        3 handshakes per domain: at most %.0f domains/s with this "
              "OpenSSL, %.0f with crypto alone (target 1000)\n",
              budget_us / (3 * pair), budget_us / (3 * crypto));
  std::printf("  policy fetches     1 handshake each: at most %.0f/s with this OpenSSL, %.0f with "
              "crypto alone\n",
              budget_us / pair, budget_us / crypto);

  std::printf("floor client_us=%.1f server_us=%.1f crypto_us=%.1f parse_us=%.1f\n", client, server,
              crypto, parse_us);

  SSL_CTX_free(client_ctx);
  SSL_CTX_free(server_ctx);
  X509_free(leaf);
  X509_free(root);
  EVP_PKEY_free(leaf_key);
  EVP_PKEY_free(root_key);
  return 0;
}
