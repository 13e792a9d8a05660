#include "reports/mail.h"

#include <gmime/gmime.h>

#include <dlfcn.h>

#include <type_traits>

#include "core/domain.h"
#include "fmt/format.h"
#include "fmt/ranges.h"

namespace mtasts::reports {

namespace {

Error mail_error(std::string code, std::string message) {
  return Error{std::move(code), 0, 0, std::move(message), {}};
}

// GMime (and GLib, GObject, GIO under it) is loaded when the first mail is parsed, not when
// mtasts starts: linking it would add ~13 ms of library loading and GObject constructors to
// every `mtasts` command, most of which never read a mail.
struct GMimeApi {
  void (*init)();
  GMimeStream* (*stream_mem_new_with_buffer)(const char*, size_t);
  GMimeStream* (*stream_mem_new)();
  GByteArray* (*stream_mem_get_byte_array)(GMimeStreamMem*);
  GMimeParser* (*parser_new_with_stream)(GMimeStream*);
  void (*parser_set_format)(GMimeParser*, GMimeFormat);
  GMimeMessage* (*parser_construct_message)(GMimeParser*, GMimeParserOptions*);
  GMimeObject* (*message_get_mime_part)(GMimeMessage*);
  GMimeMessage* (*message_part_get_message)(GMimeMessagePart*);
  GMimeContentType* (*object_get_content_type)(GMimeObject*);
  const char* (*object_get_header)(GMimeObject*, const char*);
  const char* (*content_type_get_media_type)(GMimeContentType*);
  const char* (*content_type_get_media_subtype)(GMimeContentType*);
  const char* (*content_type_get_parameter)(GMimeContentType*, const char*);
  int (*multipart_get_count)(GMimeMultipart*);
  GMimeObject* (*multipart_get_part)(GMimeMultipart*, int);
  const char* (*part_get_filename)(GMimePart*);
  GMimeDataWrapper* (*part_get_content)(GMimePart*);
  ssize_t (*data_wrapper_write_to_stream)(GMimeDataWrapper*, GMimeStream*);
  GType (*multipart_get_type)();
  GType (*message_part_get_type)();
  GType (*part_get_type)();
  gboolean (*type_check_instance_is_a)(GTypeInstance*, GType);
  void (*object_unref)(gpointer);

  bool is_a(GMimeObject* o, GType (*type)()) const {
    return o && type_check_instance_is_a(reinterpret_cast<GTypeInstance*>(o), type());
  }
};

const GMimeApi* gmime() {
  static const GMimeApi* api = []() -> const GMimeApi* {
    void* lib = dlopen("libgmime-3.0.so.0", RTLD_NOW | RTLD_LOCAL);
    if (!lib) return nullptr;
    static GMimeApi a;
    bool ok = true;
    auto get = [&](auto& fn, const char* name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(lib, name));
      ok = ok && fn;
    };
    get(a.init, "g_mime_init");
    get(a.stream_mem_new_with_buffer, "g_mime_stream_mem_new_with_buffer");
    get(a.stream_mem_new, "g_mime_stream_mem_new");
    get(a.stream_mem_get_byte_array, "g_mime_stream_mem_get_byte_array");
    get(a.parser_new_with_stream, "g_mime_parser_new_with_stream");
    get(a.parser_set_format, "g_mime_parser_set_format");
    get(a.parser_construct_message, "g_mime_parser_construct_message");
    get(a.message_get_mime_part, "g_mime_message_get_mime_part");
    get(a.message_part_get_message, "g_mime_message_part_get_message");
    get(a.object_get_content_type, "g_mime_object_get_content_type");
    get(a.object_get_header, "g_mime_object_get_header");
    get(a.content_type_get_media_type, "g_mime_content_type_get_media_type");
    get(a.content_type_get_media_subtype, "g_mime_content_type_get_media_subtype");
    get(a.content_type_get_parameter, "g_mime_content_type_get_parameter");
    get(a.multipart_get_count, "g_mime_multipart_get_count");
    get(a.multipart_get_part, "g_mime_multipart_get_part");
    get(a.part_get_filename, "g_mime_part_get_filename");
    get(a.part_get_content, "g_mime_part_get_content");
    get(a.data_wrapper_write_to_stream, "g_mime_data_wrapper_write_to_stream");
    get(a.multipart_get_type, "g_mime_multipart_get_type");
    get(a.message_part_get_type, "g_mime_message_part_get_type");
    get(a.part_get_type, "g_mime_part_get_type");
    get(a.type_check_instance_is_a, "g_type_check_instance_is_a");  // GObject, a dependency
    get(a.object_unref, "g_object_unref");
    if (!ok) return nullptr;
    a.init();
    return &a;
  }();
  return api;
}

// GObject references released at scope exit.
template <typename T>
struct Ref {
  const GMimeApi& api;
  T* p = nullptr;
  Ref(const GMimeApi& a, T* x) : api(a), p(x) {}
  Ref(const Ref&) = delete;
  Ref& operator=(const Ref&) = delete;
  ~Ref() {
    if (p) api.object_unref(p);
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

std::string media_type(const GMimeApi& api, GMimeObject* o) {
  GMimeContentType* ct = api.object_get_content_type(o);
  if (!ct) return "text/plain";
  const char* t = api.content_type_get_media_type(ct);
  const char* s = api.content_type_get_media_subtype(ct);
  return ascii_lower(fmt::format("{}/{}", t ? t : "", s ? s : ""));
}

// (GObject classes are single inheritance: an instance pointer is also its base's.)
void walk(const GMimeApi& api, GMimeObject* o, Walk& w) {
  if (!o || w.depth > 8 || w.seen.size() > 64) return;  // bounded: hostile nesting
  std::string type = media_type(api, o);
  if (api.is_a(o, api.multipart_get_type)) {
    auto* mp = reinterpret_cast<GMimeMultipart*>(o);
    int n = api.multipart_get_count(mp);
    ++w.depth;
    for (int i = 0; i < n; ++i) walk(api, api.multipart_get_part(mp, i), w);
    --w.depth;
    return;
  }
  if (api.is_a(o, api.message_part_get_type)) {  // a forwarded report (message/rfc822)
    GMimeMessage* inner = api.message_part_get_message(reinterpret_cast<GMimeMessagePart*>(o));
    ++w.depth;
    if (inner) walk(api, api.message_get_mime_part(inner), w);
    --w.depth;
    return;
  }
  if (!api.is_a(o, api.part_get_type)) return;
  auto* part = reinterpret_cast<GMimePart*>(o);
  const char* fn = api.part_get_filename(part);
  std::string filename = fn ? fn : "";
  w.seen.push_back(filename.empty() ? type : fmt::format("{} ({})", type, filename));
  Shape shape = classify(type, filename);
  if (shape != Shape::none) w.found.push_back({part, shape, type, filename});
}

std::string header(const GMimeApi& api, GMimeObject* o, const char* name) {
  const char* v = api.object_get_header(o, name);
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
  // GMime builds a message with no content stream from empty input (and complains on stderr).
  if (message.find_first_not_of(" \t\r\n") == std::string_view::npos)
    return mail_error("mime-invalid", "the mail is empty");
  if (count_ci(message, "boundary=", kMaxBoundaries) > kMaxBoundaries ||
      count_ci(message, "content-type", kMaxContentTypes) > kMaxContentTypes)
    return mail_error("mime-invalid",
                      fmt::format("more than {} multipart boundaries or {} MIME parts: not a report "
                                  "mail", kMaxBoundaries, kMaxContentTypes));
  const GMimeApi* loaded = gmime();
  if (!loaded)
    return mail_error("mime-unavailable",
                      "cannot load GMime 3 (libgmime-3.0.so.0): install the libgmime-3.0-0 package");
  const GMimeApi& api = *loaded;
  Ref<GMimeStream> stream(api, api.stream_mem_new_with_buffer(message.data(), message.size()));
  Ref<GMimeParser> parser(api, api.parser_new_with_stream(stream.p));
  api.parser_set_format(parser.p, GMIME_FORMAT_MESSAGE);
  Ref<GMimeMessage> msg(api, api.parser_construct_message(parser.p, nullptr));
  if (!msg.p) return mail_error("mime-invalid", "not a mail message (no MIME headers and body)");
  GMimeObject* top = api.message_get_mime_part(msg.p);
  if (!top) return mail_error("mime-no-report", "the mail has no body");

  Walk w;
  walk(api, top, w);
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
  r.report_domain = header(api, reinterpret_cast<GMimeObject*>(msg.p), "TLS-Report-Domain");
  r.submitter = header(api, reinterpret_cast<GMimeObject*>(msg.p), "TLS-Report-Submitter");

  // RFC 8460 §5.3: the message is multipart/report with report-type "tlsrpt".
  std::string top_type = media_type(api, top);
  if (top_type != "multipart/report") {
    warn(r, "mime-not-multipart-report",
         fmt::format("the mail is {}, not multipart/report (RFC 8460 §5.3)", top_type));
  } else {
    const char* rt = api.content_type_get_parameter(api.object_get_content_type(top), "report-type");
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

  GMimeDataWrapper* content = api.part_get_content(pick->part);
  if (!content) return mail_error("mime-no-report", "the report attachment is empty");
  Ref<GMimeStream> out(api, api.stream_mem_new());
  if (api.data_wrapper_write_to_stream(content, out.p) < 0)
    return mail_error("mime-invalid", "the report attachment cannot be decoded");
  GByteArray* bytes = api.stream_mem_get_byte_array(reinterpret_cast<GMimeStreamMem*>(out.p));
  r.payload.assign(reinterpret_cast<const char*>(bytes->data), bytes->len);
  if (r.payload.empty()) return mail_error("mime-no-report", "the report attachment is empty");
  return r;
}

}  // namespace mtasts::reports
