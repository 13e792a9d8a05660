#include "serve/admin_api.h"

#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include "core/domain.h"
#include "core/json.h"
#include "fmt/format.h"
#include "reports/summary_json.h"
#include "store/domain_edit.h"

namespace mtasts::serve {

namespace json = boost::json;

namespace {

ApiResponse reply(int status, const json::value& v) {
  ApiResponse r;
  r.status = status;
  r.body = json_text(v);
  r.body += '\n';
  return r;
}

ApiResponse error_reply(int status, const Error& e) {
  json::object o{{"error", e.code}, {"message", e.message}};
  if (!e.fix.empty()) o["fix"] = e.fix;
  return reply(status, o);
}

ApiResponse error_reply(int status, std::string code, std::string message) {
  return error_reply(status, Error{std::move(code), 0, 0, std::move(message), {}});
}

// Store errors: bad input is the client's (4xx), anything else is ours (500).
int status_for(const Error& e) {
  if (e.code == "not-found") return 404;
  if (e.code == "exists" || e.code == "unsafe-remove") return 409;
  if (e.code.starts_with("store-")) return 500;
  return 422;
}

// A JSON body into a DomainEdit; Errors: body-invalid.
Result<store::DomainEdit> edit_from_json(const std::string& body, std::string* domain) {
  auto bad = [](std::string why) { return Error{"body-invalid", 0, 0, std::move(why), {}}; };
  if (body.size() > 1 << 20) return bad("the body is over 1 MiB");
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return bad("the body is not a JSON object");
  const auto& o = v.get_object();
  store::DomainEdit e;
  auto strings = [&](const char* key) -> Result<std::optional<std::vector<std::string>>> {
    const json::value* a = o.if_contains(key);
    if (!a) return std::optional<std::vector<std::string>>();
    if (!a->is_array()) return bad(fmt::format("\"{}\" must be an array of strings", key));
    std::vector<std::string> out;
    for (const auto& item : a->get_array()) {
      if (!item.is_string()) return bad(fmt::format("\"{}\" must be an array of strings", key));
      out.emplace_back(item.get_string());
    }
    return std::optional<std::vector<std::string>>(std::move(out));
  };
  for (const auto& kv : o) {
    std::string_view k = kv.key();
    if (k != "domain" && k != "mode" && k != "max_age" && k != "mx" && k != "rua")
      return bad(fmt::format("unknown field \"{}\" (domain, mode, max_age, mx, rua)", k));
  }
  if (const auto* d = o.if_contains("domain")) {
    if (!d->is_string()) return bad("\"domain\" must be a string");
    if (domain) *domain = std::string(d->get_string());
  }
  if (const auto* m = o.if_contains("mode")) {
    if (!m->is_string()) return bad("\"mode\" must be a string");
    e.mode = std::string(m->get_string());
  }
  if (const auto* m = o.if_contains("max_age")) {
    if (!m->is_int64() && !m->is_uint64()) return bad("\"max_age\" must be a whole number");
    auto n = m->is_int64() ? m->get_int64() : static_cast<std::int64_t>(std::min<std::uint64_t>(m->get_uint64(), 1ull << 40));
    if (n < 0 || n > kMaxMaxAge) return bad(fmt::format("\"max_age\" must be 0..{}", kMaxMaxAge));
    e.max_age = static_cast<std::uint32_t>(n);
  }
  auto mx = strings("mx");
  if (!mx) return mx.error();
  e.mx = *mx;
  auto rua = strings("rua");
  if (!rua) return rua.error();
  e.rua = *rua;
  return e;
}

std::string query_param(const boost::urls::url_view& u, std::string_view key) {
  auto it = u.params().find(key);
  return it == u.params().end() ? std::string() : std::string((*it).value);
}

// ?limit=N, clamped to 1..most; `fallback` when absent.
std::size_t limit_param(const boost::urls::url_view& u, std::size_t fallback, std::size_t most) {
  std::string l = query_param(u, "limit");
  if (l.empty()) return fallback;
  return std::clamp<std::size_t>(std::strtoull(l.c_str(), nullptr, 10), 1, most);
}

}  // namespace

AdminApi::AdminApi(std::unique_ptr<store::Store> store, std::unique_ptr<store::TokenStore> tokens,
                   Metrics& metrics, std::function<void()> on_change,
                   std::unique_ptr<store::ReportStore> reports)
    : store_(std::move(store)),
      tokens_(std::move(tokens)),
      reports_(std::move(reports)),
      metrics_(metrics),
      on_change_(std::move(on_change)),
      unauthorized_(metrics.counter("mtasts_serve_api_unauthorized_total",
                                    "Admin API requests refused for a missing or wrong token")),
      changes_(metrics.counter("mtasts_serve_api_changes_total", "Domain changes made through the admin API")) {}

ApiResponse AdminApi::handle(const ApiRequest& request, std::int64_t now) {
  if (request.target == "/metrics" && request.metrics_without_token && request.method == "GET") {
    ApiResponse r;
    r.content_type = "text/plain; version=0.0.4";
    r.body = metrics_.render();
    return r;
  }
  // RFC 6750: "Bearer" is case-insensitive, the token is not.
  std::string_view auth = request.authorization;
  std::string token;
  if (auth.size() > 7 && ascii_lower(auth.substr(0, 7)) == "bearer ") token = std::string(auth.substr(7));
  auto who = token.empty() ? Result<std::optional<store::ApiToken>>(std::optional<store::ApiToken>())
                           : tokens_->verify(token, now);
  if (!who) return error_reply(500, who.error());
  if (!*who) {
    unauthorized_.inc();
    ApiResponse r = error_reply(401, "unauthorized",
                                token.empty() ? "an Authorization: Bearer token is required"
                                              : "the token is not valid");
    r.headers.emplace_back("WWW-Authenticate",
                           token.empty() ? "Bearer realm=\"mtasts\"" : "Bearer realm=\"mtasts\", error=\"invalid_token\"");
    return r;
  }
  if (request.target == "/metrics") {
    if (request.method != "GET") return error_reply(405, "method-not-allowed", "use GET");
    ApiResponse r;
    r.content_type = "text/plain; version=0.0.4";
    r.body = metrics_.render();
    return r;
  }
  return route(request, "api:" + (*who)->name, now);
}

ApiResponse AdminApi::route(const ApiRequest& request, const std::string& actor, std::int64_t now) {
  auto url = boost::urls::parse_origin_form(request.target);
  if (!url) return error_reply(400, "target-invalid", "the request target is not a valid path");
  std::vector<std::string> seg;
  for (auto s : url->segments()) seg.emplace_back(s);
  const std::string& m = request.method;
  if (seg.size() < 2 || seg[0] != "api" || seg[1] != "v1") return error_reply(404, "not-found", "no such API path");
  seg.erase(seg.begin(), seg.begin() + 2);

  auto changed = [&](ApiResponse r) {
    changes_.inc();
    if (on_change_) on_change_();
    return r;
  };
  auto put_result = [&](const store::PutResult& p) {
    json::object o = store::domain_json(p.domain);
    o["added"] = p.created;
    o["policy_changed"] = p.policy_changed;
    if (!p.previous_id.empty()) o["previous_id"] = p.previous_id;
    return reply(p.created ? 201 : 200, o);
  };

  if (seg.size() == 1 && seg[0] == "audit") {
    if (m != "GET") return error_reply(405, "method-not-allowed", "use GET");
    std::string domain = query_param(*url, "domain");
    const std::size_t limit = limit_param(*url, 100, 1000);
    auto log = store_->audit_log(domain, limit);
    if (!log) return error_reply(500, log.error());
    json::array out;
    for (const auto& e : *log)
      out.push_back({{"id", e.id}, {"at", e.at}, {"actor", e.actor}, {"action", e.action},
                     {"domain", e.domain}, {"detail", e.detail}});
    return reply(200, json::object{{"audit", std::move(out)}});
  }
  if (seg.size() == 2 && seg[0] == "reports" && seg[1] == "summary" && reports_) {
    if (m != "GET") return error_reply(405, "method-not-allowed", "use GET");
    auto since = reports::parse_since(query_param(*url, "since"), now);
    if (!since) return error_reply(400, since.error());
    auto doc = reports::summary_document(*reports_, query_param(*url, "domain"), *since);
    if (!doc) return error_reply(500, doc.error());
    return reply(200, std::move(doc).value());
  }
  if (seg.empty() || seg[0] != "domains") return error_reply(404, "not-found", "no such API path");

  if (seg.size() == 1) {
    if (m == "GET") {
      const std::size_t limit = limit_param(*url, 1000, 10000);
      auto list = store_->list_domains(query_param(*url, "after"), limit + 1);
      if (!list) return error_reply(500, list.error());
      json::object o;
      json::array arr;
      for (std::size_t i = 0; i < list->size() && i < limit; ++i) arr.push_back(store::domain_json((*list)[i]));
      if (list->size() > limit) o["next"] = (*list)[limit - 1].name;
      o["domains"] = std::move(arr);
      return reply(200, o);
    }
    if (m == "POST") {
      std::string name;
      auto edit = edit_from_json(request.body, &name);
      if (!edit) return error_reply(400, edit.error());
      if (name.empty()) return error_reply(400, "body-invalid", "\"domain\" is required");
      auto existing = store_->get_domain(name);
      if (!existing) return error_reply(status_for(existing.error()), existing.error());
      if (*existing) return error_reply(409, "exists", fmt::format("{} is already hosted", (*existing)->name));
      auto e = store::apply_edit(*edit, std::nullopt);
      if (!e) return error_reply(422, e.error());
      auto p = store_->put_domain(name, e->policy, e->rua, actor, now);
      if (!p) return error_reply(status_for(p.error()), p.error());
      return changed(put_result(*p));
    }
    return error_reply(405, "method-not-allowed", "use GET or POST");
  }

  auto name = normalize_domain(seg[1]);
  if (!name) return error_reply(400, name.error());
  if (seg.size() == 3 && seg[2] == "history") {
    if (m != "GET") return error_reply(405, "method-not-allowed", "use GET");
    auto h = store_->policy_history(*name);
    if (!h) return error_reply(status_for(h.error()), h.error());
    json::array out;
    for (const auto& v : *h)
      out.push_back({{"version", v.version}, {"id", v.policy_id}, {"policy_text", v.policy_text},
                     {"created", v.created}, {"actor", v.actor}});
    return reply(200, json::object{{"domain", *name}, {"history", std::move(out)}});
  }
  if (seg.size() != 2) return error_reply(404, "not-found", "no such API path");

  auto existing = store_->get_domain(*name);
  if (!existing) return error_reply(500, existing.error());
  if (m == "GET") {
    if (!*existing) return error_reply(404, "not-found", fmt::format("{} is not hosted", *name));
    return reply(200, store::domain_json(**existing));
  }
  if (m == "PUT" || m == "PATCH") {
    std::string body_name;
    auto edit = edit_from_json(request.body, &body_name);
    if (!edit) return error_reply(400, edit.error());
    if (auto n = normalize_domain(body_name); !body_name.empty() && (!n || *n != *name))
      return error_reply(400, "body-invalid", "\"domain\" in the body differs from the path");
    if (m == "PATCH" && !*existing) return error_reply(404, "not-found", fmt::format("{} is not hosted", *name));
    // PUT is the desired state: what it leaves out takes the defaults, not the current values.
    auto e = store::apply_edit(*edit, m == "PUT" ? std::nullopt : *existing);
    if (!e) return error_reply(422, e.error());
    auto p = store_->put_domain(*name, e->policy, e->rua, actor, now);
    if (!p) return error_reply(status_for(p.error()), p.error());
    return changed(put_result(*p));
  }
  if (m == "DELETE") {
    if (!*existing) return error_reply(404, "not-found", fmt::format("{} is not hosted", *name));
    if (auto unsafe = store::check_remove(**existing, query_param(*url, "force") == "true"))
      return error_reply(409, *unsafe);
    auto r = store_->remove_domain(*name, actor, now);
    if (!r) return error_reply(status_for(r.error()), r.error());
    json::object o = store::domain_json(*r);
    o["removed"] = true;
    return changed(reply(200, o));
  }
  return error_reply(405, "method-not-allowed", "use GET, PUT, PATCH or DELETE");
}

}  // namespace mtasts::serve
