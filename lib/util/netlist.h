/* netlist.h - lists of IP networks, as main.cf's mynetworks gives them, and matching a
 * client address against them.
 *
 * An item is an address or a network in CIDR form: 192.0.2.7, 192.0.2.0/24, 2001:db8::/32,
 * or an IPv6 one in brackets as Postfix writes them, [2001:db8::]/32 or [::1]. A network
 * whose address has bits set past its prefix (192.0.2.7/24) is refused: it is a typing
 * mistake more often than not, and what it should mean is ambiguous; so is a prefix length
 * of 0 (every client: an open relay). IPv4 clients seen on an IPv6 socket (::ffff:192.0.2.7)
 * match IPv4 items, and an IPv4-mapped item ([::ffff:127.0.0.0]/104) is the IPv4 network
 * it maps (127.0.0.0/8). */
#ifndef POSTHORN_NETLIST_H
#define POSTHORN_NETLIST_H
#include <stdbool.h>
#include <stddef.h>

struct netlist;

/* Parse n items; NULL with *err (malloc'ed, naming the item) on the first bad one. An empty
 * list (n = 0) is a list that matches nothing. */
struct netlist *netlist_parse(char *const *items, size_t n, char **err);
/* Does the address (text, as inet_ntop writes it) fall in one of the networks? */
bool netlist_match(const struct netlist *l, const char *addr);
size_t netlist_count(const struct netlist *l);
void netlist_free(struct netlist *l);

#endif
