// The DNS TXT records of MTA-STS (`_mta-sts`, RFC 8461 §3.1) and TLS-RPT (`_smtp._tls`,
// RFC 8460 §3). Lookup is elsewhere: these take the record's character-strings and judge them.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"

namespace mtasts {

// A TXT record can hold 65535 bytes, but a DNS answer that large needs TCP and no real
// _mta-sts or _smtp._tls record comes near 4 KiB: longer is an error, not a policy.
inline constexpr std::size_t kMaxTxtRecordSize = 4096;

enum class RecordKind { sts, tlsrpt };
std::string_view to_string(RecordKind kind);

// A field of a record, in order of appearance.
struct TxtField {
  std::string name;
  std::string value;
};

struct StsRecord {
  std::string id;                     // 1-32 ALPHA/DIGIT
  std::vector<TxtField> extensions;   // fields other than v and id
};

struct TlsRptRecord {
  std::vector<std::string> rua;       // mailto: and https: URIs, in order
  std::vector<TxtField> extensions;
};

struct RecordLint {
  Findings findings;
  std::vector<TxtField> fields;  // every field as written, v included, in order
};

// RFC 8461 §3.1 / RFC 8460 §3: the strings of one TXT record are concatenated without a separator.
std::string join_txt_strings(const std::vector<std::string>& strings);

// Parses zone-file presentation form: one or more "quoted" character-strings (with \" \\ and \DDD
// escapes) separated by whitespace, returned joined. Input without a leading quote is returned as
// is. Errors: `txt-syntax`.
Result<std::string> parse_txt_presentation(std::string_view text);

// Does this record start a record of that kind ("v=STSv1" / "v=TLSRPTv1" then ';', WSP or end)?
// RFC 8461 §3.1: senders discard TXT records at _mta-sts that do not start with "v=STSv1".
bool starts_record_of_kind(std::string_view record, RecordKind kind);

RecordLint lint_sts_record(std::string_view record);
RecordLint lint_tlsrpt_record(std::string_view record);
RecordLint lint_record(std::string_view record, RecordKind kind);

Result<StsRecord> parse_sts_record(std::string_view record);
Result<TlsRptRecord> parse_tlsrpt_record(std::string_view record);

// "v=STSv1; id=<id>;" and "v=TLSRPTv1; rua=<a>,<b>;"
std::string serialize_sts_record(const StsRecord& record);
std::string serialize_tlsrpt_record(const TlsRptRecord& record);

// Validates one rua URI (RFC 8460 §3). Errors: rua-invalid, rua-scheme, rua-http, rua-mailto-invalid.
std::optional<Error> check_rua_uri(std::string_view uri);

}  // namespace mtasts
