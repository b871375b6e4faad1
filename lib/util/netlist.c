/* netlist.c - lists of IP networks and address matching (see netlist.h). */
#include "netlist.h"
#include "mem.h"
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct net {
    int family;              /* AF_INET or AF_INET6 */
    unsigned char addr[16];  /* the network address, host bits zero */
    unsigned bits;           /* prefix length */
};

struct netlist {
    size_t n;
    struct net *nets;
};

static bool prefix_equal(const unsigned char *a, const unsigned char *b, unsigned bits)
{
    unsigned bytes = bits / 8, rest = bits % 8;
    if (memcmp(a, b, bytes) != 0)
        return false;
    return rest == 0 || ((a[bytes] ^ b[bytes]) & (0xff << (8 - rest)) & 0xff) == 0;
}

static bool host_bits_zero(const struct net *net)
{
    unsigned len = net->family == AF_INET ? 4 : 16;
    for (unsigned bit = net->bits; bit < len * 8; bit++)
        if (net->addr[bit / 8] & (0x80 >> (bit % 8)))
            return false;
    return true;
}

/* "ADDR", "ADDR/BITS", "[V6]", "[V6]/BITS". */
static const char *parse_item(const char *item, struct net *net)
{
    char text[INET6_ADDRSTRLEN + 2];
    const char *slash = strchr(item, '/');
    size_t alen = slash ? (size_t)(slash - item) : strlen(item);
    bool bracket = alen >= 2 && item[0] == '[' && item[alen - 1] == ']';
    if (bracket) {
        item++;
        alen -= 2;
    }
    if (alen == 0 || alen >= sizeof text)
        return "not an IP address or network";
    memcpy(text, item, alen);
    text[alen] = '\0';
    if (!bracket && inet_pton(AF_INET, text, net->addr) == 1)
        net->family = AF_INET;
    else if (inet_pton(AF_INET6, text, net->addr) == 1)
        net->family = AF_INET6;
    else
        return "not an IP address or network";
    unsigned max = net->family == AF_INET ? 32 : 128;
    net->bits = max;
    if (slash) {
        const char *b = slash + 1;
        char *end;
        unsigned long v = strtoul(b, &end, 10);
        if (*b < '0' || *b > '9' || *end || v > max || end - b > 3)
            return "bad prefix length";
        net->bits = (unsigned)v;
    }
    if (!host_bits_zero(net))
        return "the address has bits set past the prefix length";
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (net->family == AF_INET6 && net->bits >= 96 && memcmp(net->addr, mapped, 12) == 0) {
        /* ::ffff:127.0.0.0/104 (Postfix's default lists it): the IPv4 network it means, as
         * clients on IPv6 sockets are matched by their IPv4 address */
        memmove(net->addr, net->addr + 12, 4);
        net->family = AF_INET;
        net->bits -= 96;
    }
    if (net->bits == 0) /* every client: an open relay, refused rather than trusted */
        return "a prefix length of 0 trusts every client: an open relay";
    return NULL;
}

struct netlist *netlist_parse(char *const *items, size_t n, char **err)
{
    struct netlist *l = xcalloc(1, sizeof *l);
    l->nets = xcalloc(n ? n : 1, sizeof *l->nets);
    for (size_t i = 0; i < n; i++) {
        const char *why = parse_item(items[i], &l->nets[i]);
        if (why) {
            *err = xasprintf("\"%s\": %s", items[i], why);
            netlist_free(l);
            return NULL;
        }
    }
    l->n = n;
    return l;
}

bool netlist_match(const struct netlist *l, const char *addr)
{
    unsigned char a[16];
    int family;
    if (inet_pton(AF_INET, addr, a) == 1) {
        family = AF_INET;
    } else if (inet_pton(AF_INET6, addr, a) == 1) {
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        family = AF_INET6;
        if (memcmp(a, mapped, sizeof mapped) == 0) { /* ::ffff:192.0.2.7 */
            memmove(a, a + 12, 4);
            family = AF_INET;
        }
    } else {
        return false;
    }
    for (size_t i = 0; l && i < l->n; i++)
        if (l->nets[i].family == family && prefix_equal(l->nets[i].addr, a, l->nets[i].bits))
            return true;
    return false;
}

size_t netlist_count(const struct netlist *l) { return l ? l->n : 0; }

void netlist_free(struct netlist *l)
{
    if (!l)
        return;
    free(l->nets);
    free(l);
}
