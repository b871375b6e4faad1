/* test_netlist.c - lib/util/netlist: the item forms mynetworks accepts (addresses, CIDR
 * networks, bracketed IPv6), the mistakes it refuses (host bits past the prefix, bad
 * lengths, names), and matching at prefix boundaries, IPv4-mapped clients included. */
#include "unit_test.h"

#include "netlist.h"
#include <stdlib.h>
#include <string.h>

static struct netlist *parse(const char *text)
{
    char *copy = strdup(text), *items[16], *save = NULL;
    size_t n = 0;
    for (char *t = strtok_r(copy, " ", &save); t && n < 16; t = strtok_r(NULL, " ", &save))
        items[n++] = t;
    char *err = NULL;
    struct netlist *l = netlist_parse(items, n, &err);
    if (!l)
        fail_msg("%s: %s", text, err);
    free(copy);
    return l;
}

static void refused(const char *item, const char *why)
{
    char *copy = strdup(item), *err = NULL;
    assert_null(netlist_parse(&copy, 1, &err));
    assert_non_null(err);
    assert_non_null(strstr(err, item));
    if (!strstr(err, why))
        fail_msg("%s: %s", item, err);
    free(err);
    free(copy);
}

static void test_forms(void **state)
{
    struct netlist *l = parse("192.0.2.0/24 198.51.100.7 2001:db8::/32 [2001:db8:1::]/48 [::1]");
    assert_int_equal(netlist_count(l), 5);
    assert_true(netlist_match(l, "192.0.2.0"));
    assert_true(netlist_match(l, "192.0.2.255"));
    assert_false(netlist_match(l, "192.0.3.0"));
    assert_false(netlist_match(l, "192.0.1.255"));
    assert_true(netlist_match(l, "198.51.100.7"));
    assert_false(netlist_match(l, "198.51.100.6"));
    assert_true(netlist_match(l, "2001:db8:ffff::1"));
    assert_false(netlist_match(l, "2001:db9::1"));
    assert_true(netlist_match(l, "::1"));
    assert_false(netlist_match(l, "::2"));
    assert_true(netlist_match(l, "::ffff:192.0.2.9")); /* an IPv4 client on an IPv6 socket */
    assert_false(netlist_match(l, "unknown"));
    assert_false(netlist_match(l, ""));
    netlist_free(l);
}

static void test_prefix_edges(void **state)
{
    struct netlist *l = parse("198.18.0.0/15 fe80::/10 2001:db8::1/128");
    assert_true(netlist_match(l, "198.19.255.255"));
    assert_false(netlist_match(l, "198.17.255.255"));
    assert_false(netlist_match(l, "198.20.0.0"));
    assert_true(netlist_match(l, "febf::1"));
    assert_false(netlist_match(l, "fec0::1"));
    assert_true(netlist_match(l, "2001:db8::1"));
    assert_false(netlist_match(l, "2001:db8::2"));
    netlist_free(l);
    l = parse("128.0.0.0/1");
    assert_true(netlist_match(l, "203.0.113.1"));
    assert_false(netlist_match(l, "127.255.255.255"));
    netlist_free(l);
    /* IPv4-mapped items are the IPv4 networks they map */
    l = parse("[::ffff:127.0.0.0]/104 ::ffff:192.0.2.7 [::ffff:0.0.0.0]/97");
    assert_true(netlist_match(l, "127.1.2.3"));
    assert_true(netlist_match(l, "::ffff:127.1.2.3"));
    assert_true(netlist_match(l, "192.0.2.7"));
    assert_false(netlist_match(l, "192.0.2.8"));
    assert_false(netlist_match(l, "::7f01:203"));    /* ::127.1.2.3 is not mapped */
    netlist_free(l);
    l = parse("[::ffff:0.0.0.0]/97");                 /* 0.0.0.0/1 */
    assert_true(netlist_match(l, "127.0.0.1"));
    assert_false(netlist_match(l, "203.0.113.9"));
    netlist_free(l);
    l = parse("");
    assert_int_equal(netlist_count(l), 0);
    assert_false(netlist_match(l, "127.0.0.1"));
    netlist_free(l);
}

static void test_mistakes(void **state)
{
    refused("192.0.2.7/24", "bits set past the prefix");
    refused("2001:db8::1/32", "bits set past the prefix");
    refused("192.0.2.0/33", "bad prefix length");
    refused("0.0.0.0/0", "an open relay");
    refused("::/0", "an open relay");
    refused("[::]/0", "an open relay");
    refused("::ffff:0.0.0.0/96", "an open relay");
    refused("192.0.2.0/", "bad prefix length");
    refused("192.0.2.0/+8", "bad prefix length");
    refused("192.0.2.0/24x", "bad prefix length");
    refused("2001:db8::/129", "bad prefix length");
    refused("[192.0.2.1]", "not an IP address");
    refused("mail.example.com", "not an IP address");
    refused("192.0.2", "not an IP address");
    refused("[]", "not an IP address");
    refused("/24", "not an IP address");
}

UNIT_TEST_MAIN(cmocka_unit_test(test_forms),
               cmocka_unit_test(test_prefix_edges),
               cmocka_unit_test(test_mistakes))
