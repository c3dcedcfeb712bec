/* [sso] trusted_proxies: the peers whose identity headers are believed. A
 * CIDR whose prefix is not a whole number of bytes compares the partial byte
 * under its mask, so a /12 or /25 trusts exactly its range and not the
 * neighbouring one (the existing SSO test only uses /16, /32 and /128); /0
 * trusts every peer of its family and none of the other; a malformed prefix
 * is refused at start rather than read as a wider range. */
#include "auth/sso.h"
#include "test.h"

static bool trusted_by(const char *cidr, const char *peer) {
    mfd_cidr c;
    if (!mfd_cidr_parse(cidr, &c)) {
        fprintf(stderr, "cannot parse %s\n", cidr);
        mfd_test_failed_checks++;
        return false;
    }
    mfd_sso_settings s = {.proxies = &c, .n_proxies = 1};
    return mfd_sso_peer_trusted(&s, peer);
}

static void test_ipv4_prefixes_inside_a_byte(void) {
    /* 172.16.0.0/12 is 172.16.0.0 - 172.31.255.255 */
    CHECK(trusted_by("172.16.0.0/12", "172.16.0.1"));
    CHECK(trusted_by("172.16.0.0/12", "172.31.255.254"));
    CHECK(!trusted_by("172.16.0.0/12", "172.32.0.1"));
    CHECK(!trusted_by("172.16.0.0/12", "172.15.255.255"));
    CHECK(trusted_by("172.16.0.0/12", "::ffff:172.20.1.1")); /* IPv4-mapped peer */
    /* 192.168.1.128/25 is the upper half of 192.168.1.0/24 */
    CHECK(trusted_by("192.168.1.128/25", "192.168.1.128"));
    CHECK(trusted_by("192.168.1.128/25", "192.168.1.255"));
    CHECK(!trusted_by("192.168.1.128/25", "192.168.1.127"));
    CHECK(!trusted_by("192.168.1.128/25", "192.168.2.200"));
    /* /31 and a prefix of one bit */
    CHECK(trusted_by("10.0.0.2/31", "10.0.0.3"));
    CHECK(!trusted_by("10.0.0.2/31", "10.0.0.4"));
    CHECK(trusted_by("128.0.0.0/1", "200.1.2.3"));
    CHECK(!trusted_by("128.0.0.0/1", "127.255.255.255"));
    /* host bits in the written network do not matter: the mask decides */
    CHECK(trusted_by("10.1.2.3/8", "10.200.0.1"));
    CHECK(!trusted_by("10.1.2.3/8", "11.1.2.3"));
}

static void test_ipv6_prefixes_inside_a_byte(void) {
    /* fc00::/7 (unique local) holds fc00:: and fd00::, not fe80:: */
    CHECK(trusted_by("fc00::/7", "fd12:3456::1"));
    CHECK(trusted_by("fc00::/7", "fc00::1"));
    CHECK(!trusted_by("fc00::/7", "fe80::1"));
    CHECK(!trusted_by("fc00::/7", "fb00::1"));
    /* 2001:db8::/33 splits the third group at its top bit */
    CHECK(trusted_by("2001:db8::/33", "2001:db8:7fff::1"));
    CHECK(!trusted_by("2001:db8::/33", "2001:db8:8000::1"));
}

static void test_zero_prefix_trusts_its_family_only(void) {
    CHECK(trusted_by("0.0.0.0/0", "203.0.113.9"));
    CHECK(trusted_by("0.0.0.0/0", "::ffff:203.0.113.9"));
    CHECK(!trusted_by("0.0.0.0/0", "2001:db8::1"));
    CHECK(trusted_by("::/0", "2001:db8::1"));
    CHECK(!trusted_by("::/0", "203.0.113.9"));
}

static void test_malformed_prefixes_are_refused(void) {
    mfd_cidr c;
    CHECK(!mfd_cidr_parse("10.0.0.0/", &c));
    CHECK(!mfd_cidr_parse("10.0.0.0/-1", &c));
    CHECK(!mfd_cidr_parse("10.0.0.0/8x", &c));
    CHECK(!mfd_cidr_parse("10.0.0.0/33", &c));
    CHECK(!mfd_cidr_parse("fc00::/129", &c));
    CHECK(!mfd_cidr_parse("/8", &c));
    CHECK(!mfd_cidr_parse("", &c));
    CHECK(!mfd_cidr_parse("10.0.0/8", &c));
    CHECK(mfd_cidr_parse("10.0.0.0/8", &c) && c.prefix == 8);
    CHECK(mfd_cidr_parse("10.0.0.1", &c) && c.prefix == 32); /* no prefix: the one address */
    CHECK(mfd_cidr_parse("fc00::", &c) && c.prefix == 128);
}

MFD_TEST_MAIN(MFD_TEST(test_ipv4_prefixes_inside_a_byte),
              MFD_TEST(test_ipv6_prefixes_inside_a_byte),
              MFD_TEST(test_zero_prefix_trusts_its_family_only),
              MFD_TEST(test_malformed_prefixes_are_refused))
