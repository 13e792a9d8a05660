// When serve's ACME manager runs its next pass: the interval, the backoff after failed passes,
// the quick look after a deferred host.
#include <gtest/gtest.h>

#include "serve/acme_manager.h"

namespace mtasts::serve {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

AcmePass failed_pass() {
  AcmePass pass;
  pass.failed.emplace("mta-sts.example.com", Error{"acme-timeout", 0, 0, "the CA did not answer", ""});
  return pass;
}

TEST(AcmeSchedule, QuietPassWaitsTheInterval) {
  AcmeManagerOptions o;
  AcmePass pass;
  pass.current = {"mta-sts.example.com"};
  EXPECT_EQ(next_pass_wait(o, pass, 0), hours(12));
}

TEST(AcmeSchedule, FailedPassesBackOffFromOneMinuteToTheCap) {
  AcmeManagerOptions o;
  AcmePass pass = failed_pass();
  EXPECT_EQ(next_pass_wait(o, pass, 1), minutes(1));
  EXPECT_EQ(next_pass_wait(o, pass, 2), minutes(2));
  EXPECT_EQ(next_pass_wait(o, pass, 3), minutes(4));
  EXPECT_EQ(next_pass_wait(o, pass, 6), minutes(32));
  EXPECT_EQ(next_pass_wait(o, pass, 7), hours(1));   // 64 min capped
  EXPECT_EQ(next_pass_wait(o, pass, 1000), hours(1));  // no overflow however long it fails
}

TEST(AcmeSchedule, FailureWinsOverDeferral) {
  AcmeManagerOptions o;
  AcmePass pass = failed_pass();
  pass.deferred = {"mta-sts.example.net"};
  EXPECT_EQ(next_pass_wait(o, pass, 1), minutes(1));
  pass.failed.clear();
  EXPECT_EQ(next_pass_wait(o, pass, 0), minutes(2));
}

TEST(AcmeSchedule, OptionsAreHonoured) {
  AcmeManagerOptions o;
  o.retry_first = seconds(0);  // never a busy loop
  o.retry_interval = minutes(5);
  o.interval = minutes(1);
  AcmePass pass = failed_pass();
  EXPECT_EQ(next_pass_wait(o, pass, 1), seconds(1));
  EXPECT_EQ(next_pass_wait(o, pass, 20), minutes(5));
  pass.failed.clear();
  pass.deferred = {"mta-sts.example.net"};
  EXPECT_EQ(next_pass_wait(o, pass, 0), minutes(1));  // never later than a plain pass
}

}  // namespace
}  // namespace mtasts::serve
