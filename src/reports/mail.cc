#include "reports/mail.h"

#include <gmime/gmime.h>

#include <mutex>

#include "core/domain.h"
#include "fmt/format.h"
#include "fmt/ranges.h"

namespace mtasts::reports {

namespace {

Error mail_error(std::string code, std::string message) {
  return Error{std::move(code), 0, 0, std::move(message), {}};
}

void init_gmime() {
  static std::once_flag once;
  std::call_once(once, [] { g_mime_init(); });
}

// GObject references released at scope exit.
template <typename T>
struct Ref {
  T* p = nullptr;
  explicit Ref(T* x) : p(x) {}
  Ref(const Ref&) = delete;
  Ref& operator=(const Ref&) = delete;
  ~Ref() {
    if (p) g_object_unref(p);
  }
};

enum class Shape { none, tlsrpt_gzip, tlsrpt_json, gzip_like, json_like };

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// What a part may hold, from its media type and file name.
Shape classify(const std::string& type, const std::string& filename) {
  if (type == "application/tlsrpt+gzip") return Shape::tlsrpt_gzip;
  if (type == "application/tlsrpt+json") return Shape::tlsrpt_json;
  std::string name = ascii_lower(filename);
  bool gz_name = ends_with(name, ".gz") || ends_with(name, ".gzip");
  bool json_name = ends_with(name, ".json");
  if (type == "application/gzip" || type == "application/x-gzip" || type == "application/x-gunzip")
    return Shape::gzip_like;
  if (type == "application/json") return Shape::json_like;
  // Generic binary or text types: only when the file name says it is a report.
  if (type == "application/octet-stream" || type == "application/x-zip-compressed" ||
      type.starts_with("text/") || type == "application/x-tlsrpt") {
    if (gz_name) return Shape::gzip_like;
    if (json_name) return Shape::json_like;
  }
  return Shape::none;
}

struct Candidate {
  GMimePart* part = nullptr;
  Shape shape = Shape::none;
  std::string type, filename;
};

struct Walk {
  std::vector<Candidate> found;
  std::vector<std::string> seen;  // media types, for the error message
  int depth = 0;
};

std::string media_type(GMimeObject* o) {
  GMimeContentType* ct = g_mime_object_get_content_type(o);
  if (!ct) return "text/plain";
  const char* t = g_mime_content_type_get_media_type(ct);
  const char* s = g_mime_content_type_get_media_subtype(ct);
  return ascii_lower(fmt::format("{}/{}", t ? t : "", s ? s : ""));
}

void walk(GMimeObject* o, Walk& w) {
  if (!o || w.depth > 8 || w.seen.size() > 64) return;  // bounded: hostile nesting
  std::string type = media_type(o);
  if (GMIME_IS_MULTIPART(o)) {
    auto* mp = GMIME_MULTIPART(o);
    int n = g_mime_multipart_get_count(mp);
    ++w.depth;
    for (int i = 0; i < n; ++i) walk(g_mime_multipart_get_part(mp, i), w);
    --w.depth;
    return;
  }
  if (GMIME_IS_MESSAGE_PART(o)) {  // a forwarded report (message/rfc822)
    GMimeMessage* inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(o));
    ++w.depth;
    if (inner) walk(g_mime_message_get_mime_part(inner), w);
    --w.depth;
    return;
  }
  if (!GMIME_IS_PART(o)) return;
  auto* part = GMIME_PART(o);
  const char* fn = g_mime_part_get_filename(part);
  std::string filename = fn ? fn : "";
  w.seen.push_back(filename.empty() ? type : fmt::format("{} ({})", type, filename));
  Shape shape = classify(type, filename);
  if (shape != Shape::none) w.found.push_back({part, shape, type, filename});
}

std::string header(GMimeObject* o, const char* name) {
  const char* v = g_mime_object_get_header(o, name);
  if (!v) return {};
  std::string s(v);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.pop_back();
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.erase(0, 1);
  return s;
}

// GMime matches every line against every open boundary (thousands of nested multiparts make
// parsing quadratic) and recurses into nested message/rfc822 parts (deep nesting would exhaust
// the stack). A report mail has two or three parts: refuse hostile structure before parsing.
constexpr std::size_t kMaxBoundaries = 64;
constexpr std::size_t kMaxContentTypes = 128;

// Case-insensitive occurrences of `needle` (lower case), counting stops past `limit`.
std::size_t count_ci(std::string_view text, std::string_view needle, std::size_t limit) {
  std::size_t n = 0;
  const char first = needle.front();
  for (std::size_t at = 0; at + needle.size() <= text.size() && n <= limit; ++at) {
    char c = text[at];
    if ((c | 0x20) != first) continue;
    if (ascii_lower(text.substr(at, needle.size())) == needle) ++n, at += needle.size() - 1;
  }
  return n;
}

void warn(MailReport& r, std::string code, std::string message) {
  r.warnings.push_back(Error{std::move(code), 0, 0, std::move(message), {}});
}

}  // namespace

Result<MailReport> extract_mail_report(std::string_view message) {
  if (message.size() > kMaxMailSize)
    return mail_error("mail-too-large", fmt::format("the mail has {} bytes; the limit is {}",
                                                    message.size(), kMaxMailSize));
  if (count_ci(message, "boundary=", kMaxBoundaries) > kMaxBoundaries ||
      count_ci(message, "content-type", kMaxContentTypes) > kMaxContentTypes)
    return mail_error("mime-invalid",
                      fmt::format("more than {} multipart boundaries or {} MIME parts: not a report "
                                  "mail", kMaxBoundaries, kMaxContentTypes));
  init_gmime();
  Ref<GMimeStream> stream(g_mime_stream_mem_new_with_buffer(message.data(), message.size()));
  Ref<GMimeParser> parser(g_mime_parser_new_with_stream(stream.p));
  g_mime_parser_set_format(parser.p, GMIME_FORMAT_MESSAGE);
  Ref<GMimeMessage> msg(g_mime_parser_construct_message(parser.p, nullptr));
  if (!msg.p) return mail_error("mime-invalid", "not a mail message (no MIME headers and body)");
  GMimeObject* top = g_mime_message_get_mime_part(msg.p);
  if (!top) return mail_error("mime-no-report", "the mail has no body");

  Walk w;
  walk(top, w);
  if (w.found.empty())
    return mail_error("mime-no-report",
                      fmt::format("no TLS-RPT report in the mail: no part is "
                                  "application/tlsrpt+gzip or application/tlsrpt+json, nor a "
                                  "gzip or JSON attachment (parts seen: {})",
                                  w.seen.empty() ? std::string("none")
                                                 : fmt::format("{}", fmt::join(w.seen, ", "))));
  // The standard media types win over look-alikes, then document order.
  const Candidate* pick = &w.found.front();
  for (const auto& c : w.found)
    if ((c.shape == Shape::tlsrpt_gzip || c.shape == Shape::tlsrpt_json) &&
        !(pick->shape == Shape::tlsrpt_gzip || pick->shape == Shape::tlsrpt_json)) {
      pick = &c;
      break;
    }

  MailReport r;
  r.media_type = pick->type;
  r.filename = pick->filename;
  r.declared_gzip = pick->shape == Shape::tlsrpt_gzip || pick->shape == Shape::gzip_like;
  r.report_domain = header(GMIME_OBJECT(msg.p), "TLS-Report-Domain");
  r.submitter = header(GMIME_OBJECT(msg.p), "TLS-Report-Submitter");

  // RFC 8460 §5.3: the message is multipart/report with report-type "tlsrpt".
  std::string top_type = media_type(top);
  if (top_type != "multipart/report") {
    warn(r, "mime-not-multipart-report",
         fmt::format("the mail is {}, not multipart/report (RFC 8460 §5.3)", top_type));
  } else {
    const char* rt = g_mime_content_type_get_parameter(g_mime_object_get_content_type(top),
                                                       "report-type");
    if (!rt || ascii_lower(rt) != "tlsrpt")
      warn(r, "mime-report-type",
           fmt::format("multipart/report has report-type \"{}\", not \"tlsrpt\"", rt ? rt : ""));
  }
  if (pick->shape == Shape::gzip_like || pick->shape == Shape::json_like)
    warn(r, "media-type-nonstandard",
         fmt::format("the report is attached as {}{}; RFC 8460 §5.3 says application/tlsrpt+gzip "
                     "or application/tlsrpt+json",
                     pick->type, pick->filename.empty() ? "" : " named " + pick->filename));
  if (r.report_domain.empty())
    warn(r, "tls-report-domain-missing", "the TLS-Report-Domain header is missing (RFC 8460 §5.3)");
  if (w.found.size() > 1)
    warn(r, "several-reports", fmt::format("the mail has {} report-like attachments; the first "
                                           "was read", w.found.size()));

  GMimeDataWrapper* content = g_mime_part_get_content(pick->part);
  if (!content) return mail_error("mime-no-report", "the report attachment is empty");
  Ref<GMimeStream> out(g_mime_stream_mem_new());
  if (g_mime_data_wrapper_write_to_stream(content, out.p) < 0)
    return mail_error("mime-invalid", "the report attachment cannot be decoded");
  GByteArray* bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(out.p));
  r.payload.assign(reinterpret_cast<const char*>(bytes->data), bytes->len);
  if (r.payload.empty()) return mail_error("mime-no-report", "the report attachment is empty");
  return r;
}

}  // namespace mtasts::reports
