// mtasts domain add|set|show|list|remove: the hosted domains in the store.
#include <CLI/CLI.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>

#include <unistd.h>

#include <charconv>
#include <ctime>

#include "cli/commands.h"
#include "cli/output.h"
#include "core/domain.h"
#include "core/json.h"
#include "core/text.h"
#include "core/txt_record.h"
#include "fmt/format.h"
#include "fmt/ranges.h"
#include "net/cares_resolver.h"
#include "net/endpoint.h"
#include "store/domain_edit.h"
#include "store/domain_import.h"
#include "store/store.h"

namespace asio = boost::asio;

namespace mtasts::cli {

namespace {

struct DomainOptions {
  std::string db = "mtasts.db";
  std::string name;
  std::vector<std::string> mx;
  std::string mode;
  std::optional<std::uint32_t> max_age;
  std::vector<std::string> rua;
  bool clear_rua = false;
  bool json = false;
  bool force = false;
  bool live = true;
  std::string dns_server;
  std::string format;  // import/export: jsonl | csv
};

int fail(const Error& e, bool json) {
  if (json) {
    Findings f;
    f.errors.push_back(e);
    print_json(to_json(f));
  } else {
    fmt::print(stderr, "mtasts domain: error [{}] {}\n", e.code, e.message);
    if (!e.fix.empty()) fmt::print(stderr, "    fix: {}\n", e.fix);
  }
  // A store we cannot open is an I/O problem; anything else is bad input.
  return e.code == "store-open" || e.code == "store-migrate" || e.code == "store-error" ? kExitUsage
                                                                                         : kExitInvalid;
}

Result<std::unique_ptr<store::Store>> open(const DomainOptions& o) { return store::open_store(o.db); }

using store::domain_json;

std::string sts_record(const store::Domain& d) { return store::sts_record_value(d); }

store::DomainEdit edit_from(const DomainOptions& o) {
  store::DomainEdit e;
  if (!o.mode.empty()) e.mode = o.mode;
  e.max_age = o.max_age;
  if (!o.mx.empty()) e.mx = o.mx;
  if (!o.rua.empty()) e.rua = o.rua;
  if (o.clear_rua) e.rua = std::vector<std::string>{};
  return e;
}

void print_change(const store::PutResult& r, const DomainOptions& o) {
  if (o.json) {
    auto doc = domain_json(r.domain);
    doc["created"] = r.created;
    doc["policy_changed"] = r.policy_changed;
    if (!r.previous_id.empty()) doc["previous_id"] = r.previous_id;
    print_json(doc);
    return;
  }
  const auto& d = r.domain;
  if (r.created)
    fmt::print("{}: added, policy version {} (mode {}, max_age {}).\n", d.name, d.version,
               to_string(d.policy.mode), d.policy.max_age);
  else if (r.policy_changed)
    fmt::print("{}: policy version {}; the id changed from {} to {}.\n", d.name, d.version,
               r.previous_id, d.policy_id);
  else
    fmt::print("{}: updated; the policy is unchanged, the id stays {}.\n", d.name, d.policy_id);
  if (r.policy_changed) {
    fmt::print("Publish (after the new policy is served):\n  _mta-sts.{}. IN TXT \"{}\"\n", d.name,
               sts_record(d));
  }
  if (!o.rua.empty() || o.clear_rua) {
    if (d.rua.empty())
      fmt::print("Remove _smtp._tls.{} from DNS (no TLS-RPT destination left).\n", d.name);
    else
      fmt::print("Publish:\n  _smtp._tls.{}. IN TXT \"{}\"\n", d.name,
                 serialize_tlsrpt_record(TlsRptRecord{d.rua, {}}));
  }
}

int add_or_set(DomainOptions& o, bool adding) {
  auto s = open(o);
  if (!s) return fail(s.error(), o.json);
  auto existing = (*s)->get_domain(o.name);
  if (!existing) return fail(existing.error(), o.json);
  if (adding && *existing)
    return fail(Error{"exists", 0, 0, fmt::format("{} is already in the store", (*existing)->name),
                      "use `mtasts domain set` to change it"},
                o.json);
  if (!adding && !*existing)
    return fail(Error{"not-found", 0, 0, fmt::format("{} is not in the store", o.name),
                      "add it with `mtasts domain add`"},
                o.json);
  auto edited = store::apply_edit(edit_from(o), *existing);
  if (!edited) return fail(edited.error(), o.json);
  auto r = (*s)->put_domain(o.name, edited->policy, edited->rua, actor(), std::time(nullptr));
  if (!r) return fail(r.error(), o.json);
  print_change(*r, o);
  return kExitOk;
}

// Is the record live? One DNS lookup per record, bounded by the resolver's timeouts.
struct Live {
  std::optional<std::string> sts, tlsrpt;  // the published value, if any
  std::string error;
};

Live look_up(const std::string& name, const std::string& dns_server) {
  Live live;
  asio::io_context io(1);
  net::ResolverOptions ro;
  if (!dns_server.empty()) {
    auto hp = net::parse_host_port(dns_server, 53);
    if (!hp) {
      live.error = hp.error().message;
      return live;
    }
    ro.server = net::to_string(*hp);  // IPv6 in brackets, as for check
  }
  std::string error;
  auto resolver = net::CaresResolver::create(io, ro, error);
  if (!resolver) {
    live.error = error;
    return live;
  }
  auto pick = [](const net::TxtAnswer& a, RecordKind kind) -> std::optional<std::string> {
    for (const auto& strings : a.records) {
      std::string v = join_txt_strings(strings);
      if (starts_record_of_kind(v, kind)) return v;
    }
    return std::nullopt;
  };
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    auto sts = co_await resolver->txt("_mta-sts." + name);
    auto rpt = co_await resolver->txt("_smtp._tls." + name);
    if (sts.status == net::DnsStatus::servfail || sts.status == net::DnsStatus::timeout)
      live.error = fmt::format("DNS lookup failed ({})", net::to_string(sts.status));
    live.sts = pick(sts, RecordKind::sts);
    live.tlsrpt = pick(rpt, RecordKind::tlsrpt);
    io.stop();
  }, asio::detached);
  io.run();
  return live;
}

int show(DomainOptions& o) {
  auto s = open(o);
  if (!s) return fail(s.error(), o.json);
  auto got = (*s)->get_domain(o.name);
  if (!got) return fail(got.error(), o.json);
  if (!*got)
    return fail(Error{"not-found", 0, 0, fmt::format("{} is not in the store", o.name), {}}, o.json);
  const store::Domain& d = **got;
  auto history = (*s)->policy_history(d.name);
  std::optional<Live> live;
  if (o.live) live = look_up(d.name, o.dns_server);
  const std::string want_sts = sts_record(d);
  const std::string want_rpt = d.rua.empty() ? "" : serialize_tlsrpt_record(TlsRptRecord{d.rua, {}});
  auto sts_live = [&] {
    if (!live || !live->error.empty()) return std::string("unknown");
    if (!live->sts) return std::string("missing");
    auto rec = parse_sts_record(*live->sts);
    return rec && rec->id == d.policy_id ? std::string("live") : std::string("outdated");
  };
  auto rpt_live = [&] {
    if (want_rpt.empty()) return std::string("not configured");
    if (!live || !live->error.empty()) return std::string("unknown");
    if (!live->tlsrpt) return std::string("missing");
    auto rec = parse_tlsrpt_record(*live->tlsrpt);
    return rec && rec->rua == d.rua ? std::string("live") : std::string("outdated");
  };
  if (o.json) {
    auto doc = domain_json(d);
    if (live) {
      doc["live"] = {{"sts", sts_live()},
                     {"sts_published", live->sts ? boost::json::value(*live->sts) : nullptr},
                     {"tlsrpt", rpt_live()},
                     {"tlsrpt_published", live->tlsrpt ? boost::json::value(*live->tlsrpt) : nullptr},
                     {"error", live->error}};
    }
    boost::json::array h;
    if (history)
      for (const auto& v : *history)
        h.push_back({{"version", v.version}, {"id", v.policy_id}, {"created", v.created},
                     {"actor", v.actor}});
    doc["history"] = std::move(h);
    print_json(doc);
    return kExitOk;
  }
  Style style = stdout_style();
  fmt::print("{}  policy version {}, id {}\n\n{}\n", style.bold(d.name), d.version, d.policy_id,
             serialize_policy(d.policy));
  fmt::print("{}\n", style.bold("DNS records:"));
  fmt::print("  _mta-sts.{}.  TXT  \"{}\"   [{}]\n", d.name, want_sts, sts_live());
  if (!want_rpt.empty()) fmt::print("  _smtp._tls.{}.  TXT  \"{}\"   [{}]\n", d.name, want_rpt, rpt_live());
  else fmt::print("  _smtp._tls.{}.  (no --rua: add one to receive TLS-RPT reports)\n", d.name);
  fmt::print("  mta-sts.{}.  A/AAAA/CNAME -> the server running `mtasts serve`\n", d.name);
  if (live && !live->error.empty()) fmt::print("  (live status unknown: {})\n", live->error);
  if (live && live->sts && sts_live() == "outdated")
    fmt::print("  published now: \"{}\"\n", *live->sts);
  if (history && history->size() > 1) {
    fmt::print("\n{}\n", style.bold("History:"));
    for (const auto& v : *history)
      fmt::print("  v{}  id {}  by {}  at {}\n", v.version, v.policy_id, v.actor, v.created);
  }
  return kExitOk;
}

int list(DomainOptions& o) {
  auto s = open(o);
  if (!s) return fail(s.error(), o.json);
  auto all = (*s)->list_domains();
  if (!all) return fail(all.error(), o.json);
  if (o.json) {
    boost::json::array a;
    for (const auto& d : *all) a.push_back(domain_json(d));
    print_json(a);
    return kExitOk;
  }
  if (all->empty()) {
    fmt::print("no domains in {} (add one: mtasts domain add example.com --mx mx1.example.com)\n", o.db);
    return kExitOk;
  }
  fmt::print("{:<40} {:<8} {:>9} {:>3}  {:<20} {}\n", "DOMAIN", "MODE", "MAX_AGE", "MX", "ID", "VERSION");
  for (const auto& d : *all)
    fmt::print("{:<40} {:<8} {:>9} {:>3}  {:<20} {}\n", d.name, to_string(d.policy.mode),
               d.policy.max_age, d.policy.mx.size(), d.policy_id, d.version);
  return kExitOk;
}

int remove(DomainOptions& o) {
  auto s = open(o);
  if (!s) return fail(s.error(), o.json);
  auto got = (*s)->get_domain(o.name);
  if (!got) return fail(got.error(), o.json);
  if (!*got) return fail(Error{"not-found", 0, 0, fmt::format("{} is not in the store", o.name), {}}, o.json);
  if (auto unsafe = store::check_remove(**got, o.force)) {
    unsafe->fix = fmt::format("first `mtasts domain set {} --mode none`, wait max_age, then remove "
                              "(or pass --force)",
                              (*got)->name);
    return fail(*unsafe, o.json);
  }
  auto r = (*s)->remove_domain(o.name, actor(), std::time(nullptr));
  if (!r) return fail(r.error(), o.json);
  if (o.json) {
    auto doc = domain_json(*r);
    doc["removed"] = true;
    print_json(doc);
  } else {
    fmt::print("{}: removed. Delete _mta-sts.{} (and _smtp._tls.{} if unused) from DNS.\n", r->name,
               r->name, r->name);
  }
  return kExitOk;
}


int import(DomainOptions& o) {
  auto text = read_input(o.name, std::size_t{1} << 30);
  if (!text) return fail(text.error(), o.json);
  auto s = open(o);
  if (!s) return fail(s.error(), o.json);
  bool csv = o.format == "csv" || (o.format.empty() && o.name.ends_with(".csv"));
  std::size_t added = 0, changed = 0, unchanged = 0;
  std::vector<Error> errors;
  std::string_view rest = *text;
  const std::int64_t now = std::time(nullptr);
  const std::string who = actor();
  for (std::size_t no = 1; !rest.empty(); ++no) {
    std::size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (trim_wsp(line).empty() || line.front() == '#') continue;
    if (csv && no == 1 && line.starts_with("domain,")) continue;  // the header
    auto b = store::parse_import_line(line, no, csv);
    Result<store::PutResult> r = Error{};
    if (b) {
      if (auto edited = store::apply_edit(b->edit(), std::nullopt); !edited)
        r = edited.error();
      else
        r = (*s)->put_domain(b->domain, edited->policy, edited->rua, who, now);
    } else {
      r = b.error();
    }
    if (!r) {
      Error e = r.error();
      e.line = no;
      errors.push_back(std::move(e));
      continue;
    }
    if (r->created) ++added;
    else if (r->policy_changed) ++changed;
    else ++unchanged;
  }
  if (o.json) {
    boost::json::array errs;
    for (const auto& e : errors) errs.push_back(to_json(e));
    print_json({{"added", added}, {"changed", changed}, {"unchanged", unchanged},
                {"failed", errors.size()}, {"errors", std::move(errs)}});
  } else {
    for (const auto& e : errors) fmt::print("{}:{}: error [{}] {}\n", o.name, e.line, e.code, e.message);
    fmt::print("{}: {} added, {} changed (new ids), {} unchanged, {} failed\n", o.name, added,
               changed, unchanged, errors.size());
  }
  return errors.empty() ? kExitOk : kExitInvalid;
}

int export_domains(DomainOptions& o) {
  auto s = open(o);
  if (!s) return fail(s.error(), false);
  bool csv = o.format == "csv";
  if (csv) fmt::print("{}\n", store::kImportCsvHeader);
  std::string after;
  while (true) {  // in pages, so a large store never sits in memory whole
    auto page = (*s)->list_domains(after, 1000);
    if (!page) return fail(page.error(), false);
    for (const auto& d : *page) fmt::print("{}\n", store::export_line(d, csv));
    if (page->size() < 1000) break;
    after = page->back().name;
  }
  return kExitOk;
}

}  // namespace

void register_domain_command(CLI::App& app, int& exit_code) {
  static DomainOptions o;
  auto* cmd = app.add_subcommand("domain", "hosted domains: add, set, show, list, remove, import, export");
  cmd->require_subcommand(1);
  auto common = [&](CLI::App* sub, bool named) {
    sub->add_option("--db", o.db, "SQLite file or postgresql:// URL (default: ./mtasts.db)");
    sub->add_flag("--json", o.json, "print one JSON document");
    if (named) sub->add_option("DOMAIN", o.name, "the mail domain")->required();
  };
  auto policy_flags = [&](CLI::App* sub) {
    sub->add_option("--mx", o.mx, "MX host or *.pattern (repeat; replaces the list)");
    sub->add_option("--mode", o.mode, "testing, enforce or none")
        ->check(CLI::IsMember({"testing", "enforce", "none"}));
    sub->add_option("--max-age", o.max_age, "policy lifetime in seconds")->check(CLI::Range(0u, kMaxMaxAge));
    sub->add_option("--rua", o.rua, "TLS-RPT destination (repeat; replaces the list)");
  };
  auto* add = cmd->add_subcommand("add", "add a domain (mode testing, max_age 86400 unless given)");
  common(add, true);
  policy_flags(add);
  add->callback([&] { exit_code = add_or_set(o, true); });
  auto* set = cmd->add_subcommand("set", "change a domain; a policy change gets a new id");
  common(set, true);
  policy_flags(set);
  set->add_flag("--no-rua", o.clear_rua, "remove the TLS-RPT destinations");
  set->callback([&] { exit_code = add_or_set(o, false); });
  auto* sh = cmd->add_subcommand("show", "a domain's policy, the DNS records it needs and whether they are live");
  common(sh, true);
  sh->add_option("--dns-server", o.dns_server, "DNS server IP[:PORT] for the live check");
  sh->add_flag("!--no-live", o.live, "skip the DNS lookups");
  sh->callback([&] { exit_code = show(o); });
  auto* ls = cmd->add_subcommand("list", "every domain in the store");
  common(ls, false);
  ls->callback([&] { exit_code = list(o); });
  auto* rm = cmd->add_subcommand("remove", "remove a domain (mode none first, or --force)");
  common(rm, true);
  rm->add_flag("--force", o.force, "remove even when the mode is not none");
  rm->callback([&] { exit_code = remove(o); });
  auto* im = cmd->add_subcommand("import", "add or update many domains from JSON Lines or CSV (- = stdin)");
  common(im, false);
  im->add_option("FILE", o.name, "the file")->required();
  im->add_option("--format", o.format, "jsonl or csv (default: from the file name, else jsonl)")
      ->check(CLI::IsMember({"jsonl", "csv"}));
  im->callback([&] { exit_code = import(o); });
  auto* ex = cmd->add_subcommand("export", "every domain as JSON Lines or CSV, for import elsewhere");
  ex->add_option("--db", o.db, "SQLite file or postgresql:// URL (default: ./mtasts.db)");
  ex->add_option("--format", o.format, "jsonl (default) or csv")->check(CLI::IsMember({"jsonl", "csv"}));
  ex->callback([&] { exit_code = export_domains(o); });
}

}  // namespace mtasts::cli
