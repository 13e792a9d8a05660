#include "core/dane.h"

#include <gtest/gtest.h>

namespace mtasts {
namespace {

SecureRrset rr(Dnssec s, bool exists = true, std::uint32_t ttl = 300, std::vector<std::string> rdata = {}) {
  SecureRrset r;
  r.security = s;
  r.exists = exists;
  r.ttl = ttl;
  r.rdata = std::move(rdata);
  return r;
}

std::string tlsa(int usage, std::size_t len = 32) {
  std::string r{static_cast<char>(usage), 1, 1};
  r.append(len, 'x');
  return r;
}

DaneHostObservation host(std::string name, SecureRrset tlsa_rrset, SecureRrset addr = rr(Dnssec::secure)) {
  return {std::move(name), std::move(addr), std::move(tlsa_rrset)};
}

DaneObservation secure_mx(std::vector<DaneHostObservation> hosts) {
  DaneObservation o;
  o.mx = rr(Dnssec::secure, true, 3600);
  for (const auto& h : hosts) o.mx_hosts.push_back(h.host);
  o.hosts = std::move(hosts);
  return o;
}

TEST(Dane, EveryHostWithUsableTlsaIsDaneOnly) {
  auto d = decide_dane(secure_mx({host("mx1.example.com", rr(Dnssec::secure, true, 120, {tlsa(3)})),
                                  host("mx2.example.com", rr(Dnssec::secure, true, 600, {tlsa(1), tlsa(2)}))}));
  EXPECT_EQ(d.answer, DaneAnswer::dane_only) << d.reason;
  EXPECT_EQ(d.ttl, 120u);  // the smallest TTL the decision rests on
  ASSERT_EQ(d.hosts.size(), 2u);
  EXPECT_EQ(d.hosts[1].usable, 1u);
  EXPECT_EQ(d.hosts[1].unusable, 1u);
  EXPECT_EQ(dane_answer(d.answer), "OK dane-only");
}

TEST(Dane, SomeHostsWithTlsaIsOpportunisticDane) {
  auto d = decide_dane(secure_mx({host("mx1.example.com", rr(Dnssec::secure, true, 300, {tlsa(3)})),
                                  host("mx2.example.com", rr(Dnssec::secure, false))}));
  EXPECT_EQ(d.answer, DaneAnswer::dane) << d.reason;
  EXPECT_EQ(dane_answer(d.answer), "OK dane");
}

TEST(Dane, OnlyUnusableRecordsIsDaneWithTlsaInvalid) {
  // RFC 7672 §2.2: TLSA present, none usable: TLS mandatory, not authenticated (Postfix "dane").
  auto d = decide_dane(secure_mx({host("mx1.example.com", rr(Dnssec::secure, true, 300, {tlsa(0), tlsa(3, 5)}))}));
  EXPECT_EQ(d.answer, DaneAnswer::dane);
  EXPECT_EQ(d.result_type, "tlsa-invalid");
  EXPECT_EQ(d.hosts[0].unusable, 2u);
}

TEST(Dane, InsecureOrNoTlsaMeansTheMtaStsAnswer) {
  DaneObservation unsigned_zone;
  unsigned_zone.mx = rr(Dnssec::insecure);
  unsigned_zone.mx_hosts = {"mx1.example.com"};
  EXPECT_EQ(decide_dane(unsigned_zone).answer, DaneAnswer::none);
  EXPECT_TRUE(dane_hosts_to_probe(unsigned_zone.mx, unsigned_zone.mx_hosts).empty());

  EXPECT_EQ(decide_dane(secure_mx({host("mx1.example.com", rr(Dnssec::secure, false))})).answer, DaneAnswer::none);
  // A host in an unsigned zone: RFC 7672 §2.2.2, its TLSA records are not used.
  EXPECT_EQ(decide_dane(secure_mx({host("mx1.example.net", rr(Dnssec::secure, true, 300, {tlsa(3)}),
                                        rr(Dnssec::insecure))})).answer,
            DaneAnswer::none);
  EXPECT_EQ(decide_dane(secure_mx({host("mx1.example.net", rr(Dnssec::insecure, true, 300, {tlsa(3)}))})).answer,
            DaneAnswer::none);

  DaneObservation no_mx;
  no_mx.mx = rr(Dnssec::secure, false);
  EXPECT_EQ(decide_dane(no_mx).answer, DaneAnswer::none);
  DaneObservation null_mx;
  null_mx.mx = rr(Dnssec::secure);
  null_mx.mx_hosts = {""};
  EXPECT_EQ(decide_dane(null_mx).answer, DaneAnswer::none);
}

TEST(Dane, BogusOrFailedIsTempNeverADowngrade) {
  DaneObservation bogus_mx;
  bogus_mx.mx = rr(Dnssec::bogus);
  bogus_mx.mx.detail = "signature expired";
  auto d = decide_dane(bogus_mx);
  EXPECT_EQ(d.answer, DaneAnswer::temp);
  EXPECT_EQ(d.result_type, "dnssec-invalid");
  EXPECT_NE(d.reason.find("signature expired"), std::string::npos);

  DaneObservation failed_mx;
  failed_mx.mx = rr(Dnssec::failed);
  EXPECT_EQ(decide_dane(failed_mx).answer, DaneAnswer::temp);

  // RFC 7672 §2.1.1: a bogus TLSA RRset is a failure, even when another host has usable records.
  auto tlsa_bogus = decide_dane(secure_mx({host("mx1.example.com", rr(Dnssec::secure, true, 300, {tlsa(3)})),
                                           host("mx2.example.com", rr(Dnssec::bogus))}));
  EXPECT_EQ(tlsa_bogus.answer, DaneAnswer::temp);
  EXPECT_EQ(tlsa_bogus.result_type, "dnssec-invalid");
  EXPECT_EQ(decide_dane(secure_mx({host("mx1.example.com", rr(Dnssec::failed))})).answer, DaneAnswer::temp);
  EXPECT_EQ(decide_dane(secure_mx({host("mx1.example.com", rr(Dnssec::secure, true, 300, {tlsa(3)}),
                                        rr(Dnssec::bogus))})).answer,
            DaneAnswer::temp);
}

TEST(Dane, HostsWithoutAddressesAndTheProbeLimit) {
  auto d = decide_dane(secure_mx({host("mx1.example.com", rr(Dnssec::secure, true, 300, {tlsa(3)})),
                                  host("gone.example.com", rr(Dnssec::secure, false), rr(Dnssec::secure, false))}));
  EXPECT_EQ(d.answer, DaneAnswer::dane_only) << d.reason;

  DaneObservation many;
  many.mx = rr(Dnssec::secure);
  for (int i = 0; i < 12; ++i) many.mx_hosts.push_back("mx" + std::to_string(i) + ".example.com");
  many.mx_hosts.push_back("mx0.example.com");  // duplicates are probed once
  auto probe = dane_hosts_to_probe(many.mx, many.mx_hosts);
  ASSERT_EQ(probe.size(), kMaxDaneHosts);
  for (const auto& h : probe) many.hosts.push_back(host(h, rr(Dnssec::secure, true, 300, {tlsa(3)})));
  // Hosts beyond the limit are not known to have TLSA records: opportunistic DANE at most.
  EXPECT_EQ(decide_dane(many).answer, DaneAnswer::dane);
}

TEST(Dane, MergeAddresses) {
  EXPECT_EQ(merge_addresses(rr(Dnssec::secure), rr(Dnssec::secure, false)).security, Dnssec::secure);
  EXPECT_EQ(merge_addresses(rr(Dnssec::secure), rr(Dnssec::bogus)).security, Dnssec::bogus);
  EXPECT_EQ(merge_addresses(rr(Dnssec::failed), rr(Dnssec::secure)).security, Dnssec::failed);
  EXPECT_EQ(merge_addresses(rr(Dnssec::insecure), rr(Dnssec::insecure, false)).security, Dnssec::insecure);
  auto none = merge_addresses(rr(Dnssec::secure, false, 60), rr(Dnssec::secure, false, 30));
  EXPECT_EQ(none.security, Dnssec::secure);
  EXPECT_FALSE(none.exists);
  EXPECT_EQ(none.ttl, 30u);
}

}  // namespace
}  // namespace mtasts
