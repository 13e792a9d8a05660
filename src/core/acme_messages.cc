#include "core/acme_messages.h"

#include <boost/json.hpp>

#include <algorithm>
#include <charconv>
#include <ctime>

#include "fmt/format.h"

namespace mtasts::acme {

namespace json = boost::json;

namespace {

constexpr std::string_view kAcmeErrorPrefix = "urn:ietf:params:acme:error:";

Error message_error(std::string_view what, std::string_view why) {
  return Error{"acme-bad-response", 0, 0, fmt::format("the ACME server's {} is not usable: {}", what, why), {}};
}

std::optional<json::object> parse_object(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return std::move(v.as_object());
}

std::string str(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_string()) return {};
  return std::string(it->value().as_string());
}

std::optional<Problem> nested_problem(const json::object& o) {
  auto it = o.find("error");
  if (it == o.end() || !it->value().is_object()) return std::nullopt;
  return parse_problem(json::serialize(it->value()), 0);
}

// "about:blank" bodies may be HTML; keep the message short and printable (long enough for the
// two key authorizations a CA quotes when they differ).
std::string excerpt(std::string_view body) {
  std::string out;
  for (char c : body.substr(0, 400)) out.push_back(c >= 0x20 && c < 0x7f ? c : ' ');
  return out;
}

}  // namespace

std::string Problem::acme_type() const {
  if (!type.starts_with(kAcmeErrorPrefix)) return {};
  return type.substr(kAcmeErrorPrefix.size());
}

Problem parse_problem(std::string_view text, int http_status) {
  Problem p;
  p.status = http_status;
  auto o = parse_object(text);
  if (!o) {
    p.type = "about:blank";
    p.detail = excerpt(text);
    return p;
  }
  p.type = str(*o, "type");
  if (p.type.empty()) p.type = "about:blank";
  p.detail = excerpt(str(*o, "detail"));
  if (auto it = o->find("status"); it != o->end() && it->value().is_int64())
    p.status = static_cast<int>(it->value().as_int64());
  if (auto it = o->find("subproblems"); it != o->end() && it->value().is_array()) {
    for (const auto& s : it->value().as_array()) {
      if (!s.is_object() || p.subproblems.size() >= 20) continue;
      const auto& so = s.as_object();
      std::string id;
      if (auto i = so.find("identifier"); i != so.end() && i->value().is_object())
        id = str(i->value().as_object(), "value");
      p.subproblems.push_back(fmt::format("{}: {}: {}", id, str(so, "type"), excerpt(str(so, "detail"))));
    }
  }
  return p;
}

Error problem_error(const Problem& p, std::string_view what) {
  std::string code = "acme-server-error";
  if (std::string t = p.acme_type(); !t.empty()) {
    code = "acme-";
    for (char c : t) {
      if (c >= 'A' && c <= 'Z') {
        code.push_back('-');
        code.push_back(static_cast<char>(c - 'A' + 'a'));
      } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
        code.push_back(c);
      }
    }
  }
  return Error{code, 0, 0, fmt::format("{}: {}", what, describe(p)), {}};
}

std::string describe(const Problem& p) {
  std::string out = p.type;
  if (!p.detail.empty()) out += ": " + p.detail;
  if (p.status) out += fmt::format(" (HTTP {})", p.status);
  for (const auto& s : p.subproblems) out += "; " + s;
  return out;
}

Result<Directory> parse_directory(std::string_view text) {
  auto o = parse_object(text);
  if (!o) return message_error("directory", "not a JSON object");
  Directory d{str(*o, "newNonce"), str(*o, "newAccount"), str(*o, "newOrder"), {}};
  if (auto it = o->find("meta"); it != o->end() && it->value().is_object())
    d.terms_of_service = str(it->value().as_object(), "termsOfService");
  if (d.new_nonce.empty() || d.new_account.empty() || d.new_order.empty())
    return message_error("directory", "newNonce, newAccount or newOrder is missing");
  return d;
}

Result<Order> parse_order(std::string_view text) {
  auto o = parse_object(text);
  if (!o) return message_error("order", "not a JSON object");
  Order order;
  order.status = str(*o, "status");
  order.finalize = str(*o, "finalize");
  order.certificate = str(*o, "certificate");
  order.error = nested_problem(*o);
  if (auto it = o->find("authorizations"); it != o->end() && it->value().is_array()) {
    for (const auto& a : it->value().as_array())
      if (a.is_string()) order.authorizations.emplace_back(a.as_string());
  }
  if (order.status.empty()) return message_error("order", "no status");
  if (order.finalize.empty()) return message_error("order", "no finalize URL");
  return order;
}

Result<Challenge> parse_challenge(std::string_view text) {
  auto o = parse_object(text);
  if (!o) return message_error("challenge", "not a JSON object");
  Challenge c{str(*o, "type"), str(*o, "url"), str(*o, "token"), str(*o, "status"), nested_problem(*o)};
  if (c.type.empty() || c.url.empty()) return message_error("challenge", "no type or url");
  return c;
}

Result<Authorization> parse_authorization(std::string_view text) {
  auto o = parse_object(text);
  if (!o) return message_error("authorization", "not a JSON object");
  Authorization a;
  a.status = str(*o, "status");
  if (auto it = o->find("identifier"); it != o->end() && it->value().is_object())
    a.identifier = str(it->value().as_object(), "value");
  if (auto it = o->find("wildcard"); it != o->end() && it->value().is_bool()) a.wildcard = it->value().as_bool();
  if (auto it = o->find("challenges"); it != o->end() && it->value().is_array()) {
    for (const auto& c : it->value().as_array()) {
      if (!c.is_object()) continue;
      if (auto parsed = parse_challenge(json::serialize(c))) a.challenges.push_back(*parsed);
    }
  }
  if (a.status.empty()) return message_error("authorization", "no status");
  return a;
}

std::optional<std::int64_t> parse_retry_after(std::string_view value, std::int64_t now) {
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  if (value.find_first_not_of("0123456789") == std::string_view::npos) {
    std::int64_t s = 0;
    auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), s);
    if (ec != std::errc() || p != value.data() + value.size()) return std::nullopt;
    return s;
  }
  // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" (the obsolete forms are not worth reading).
  std::tm tm{};
  std::string copy(value);
  const char* end = strptime(copy.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (!end || *end != '\0') return std::nullopt;
  std::int64_t at = static_cast<std::int64_t>(timegm(&tm));
  return at > now ? at - now : 0;
}

std::int64_t retry_delay_ms(std::string_view retry_after, int retry, std::int64_t first_ms,
                            std::int64_t cap_ms, std::int64_t now) {
  if (auto s = parse_retry_after(retry_after, now)) {
    constexpr std::int64_t kMaxSeconds = std::int64_t{1} << 40;  // no overflow below
    return std::min(*s, kMaxSeconds) * 1000;
  }
  std::int64_t d = std::max<std::int64_t>(first_ms, 1);
  for (int i = 1; i < retry && d < cap_ms; ++i) d *= 2;
  return std::min(d, cap_ms);
}

bool is_valid_token(std::string_view token) {
  if (token.empty() || token.size() > 256) return false;
  for (char c : token)
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
      return false;
  return true;
}

}  // namespace mtasts::acme
