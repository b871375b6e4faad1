/* test_dns.c - lib/io/dns against a loopback `unbound` this test starts itself on 127.0.0.1
 * and a free high port, serving only the local zones posthorn.example and 18.198.in-addr.arpa
 * (MX with two preferences, a domain without MX but with addresses, one with neither, a null
 * MX, A, AAAA, TXT, TLSA, PTR, NXDOMAIN) and refusing everything else: it never forwards nor
 * asks the root. (".test" and the documentation networks' reverse zones are built-in local
 * zones of libunbound, answered without asking the forwarder, hence these names.) Results must
 * come from the event loop, never from inside dns_lookup(); cancelled queries stay silent.
 * Without the unbound binary (Debian package unbound, see t/deps) every test is SKIPPED. */
#include "unit_test.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "dns.h"
#include "event.h"

static const char *const ZONE[] = {
    "mx.posthorn.example. MX 20 mx2.mx.posthorn.example.",
    "mx.posthorn.example. MX 10 mx1.mx.posthorn.example.",
    "mx1.mx.posthorn.example. A 192.0.2.1",
    "mx2.mx.posthorn.example. AAAA 2001:db8::2",
    "implicit.posthorn.example. A 192.0.2.10",
    "implicit.posthorn.example. AAAA 2001:db8::10",
    "noaddr.posthorn.example. TXT \"only text here\"",
    "null.posthorn.example. MX 0 .",
    "txt.posthorn.example. TXT \"v=spf1 \" \"-all\"",
    ("_25._tcp.mx1.mx.posthorn.example. TLSA 3 1 1 "
     "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20"),
    "1.0.18.198.in-addr.arpa. PTR mx1.mx.posthorn.example.",
};

static struct {
    pid_t pid;
    int port;
    char dir[64];
    char resolver[64];
    const char *missing; /* why the tests are skipped */
} server;

static const char *find_unbound(void)
{
    static const char *const paths[] = {"/usr/sbin/unbound", "/usr/local/sbin/unbound",
                                        "/sbin/unbound"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        if (access(paths[i], X_OK) == 0)
            return paths[i];
    return NULL;
}

/* A port free for both UDP and TCP on 127.0.0.1 (above 1024: the kernel's ephemeral range). */
static int free_port(void)
{
    for (int attempt = 0; attempt < 20; attempt++) {
        struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof sin;
        int u = socket(AF_INET, SOCK_DGRAM, 0), t = socket(AF_INET, SOCK_STREAM, 0);
        int port = 0;
        if (bind(u, (struct sockaddr *)&sin, sizeof sin) == 0 &&
            getsockname(u, (struct sockaddr *)&sin, &len) == 0 &&
            bind(t, (struct sockaddr *)&sin, sizeof sin) == 0)
            port = ntohs(sin.sin_port);
        close(u);
        close(t);
        if (port > 1024)
            return port;
    }
    return -1;
}

static bool write_config(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return false;
    fprintf(f,
            "server:\n"
            "  interface: 127.0.0.1\n  port: %d\n  do-ip6: no\n"
            "  do-daemonize: no\n  use-syslog: no\n  logfile: \"\"\n  verbosity: 0\n"
            "  username: \"\"\n  chroot: \"\"\n  directory: \"%s\"\n  pidfile: \"\"\n"
            "  access-control: 127.0.0.0/8 allow\n"
            "  module-config: \"iterator\"\n  do-not-query-localhost: no\n"
            "  num-threads: 1\n  so-reuseport: no\n"
            "  local-zone: \".\" refuse\n"
            "  local-zone: \"posthorn.example.\" static\n"
            "  local-zone: \"18.198.in-addr.arpa.\" static\n",
            server.port, server.dir);
    for (size_t i = 0; i < sizeof ZONE / sizeof ZONE[0]; i++)
        fprintf(f, "  local-data: '%s'\n", ZONE[i]);
    fprintf(f, "remote-control:\n  control-enable: no\n");
    return fclose(f) == 0;
}

static bool port_answers(int port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    bool ok = connect(fd, (struct sockaddr *)&sin, sizeof sin) == 0;
    close(fd);
    return ok;
}

static pid_t spawn_unbound(const char *bin, const char *conf, const char *logpath)
{
    pid_t pid = fork();
    if (pid == 0) {
        int log = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (log >= 0) {
            dup2(log, 1);
            dup2(log, 2);
        }
        execl(bin, bin, "-d", "-c", conf, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static int start_server(void **state)
{
    const char *bin = find_unbound();
    if (!bin) {
        server.missing = "unbound is not installed (Debian package unbound)";
        return 0;
    }
    snprintf(server.dir, sizeof server.dir, "/tmp/posthorn-dns-XXXXXX");
    char conf[128], logpath[128];
    server.port = free_port();
    if (!mkdtemp(server.dir) || server.port < 0) {
        server.missing = "no scratch directory or free port";
        return 0;
    }
    snprintf(conf, sizeof conf, "%s/unbound.conf", server.dir);
    snprintf(logpath, sizeof logpath, "%s/unbound.log", server.dir);
    if (!write_config(conf)) {
        server.missing = "cannot write the unbound configuration";
        return 0;
    }
    server.pid = spawn_unbound(bin, conf, logpath);
    for (int i = 0; i < 100 && server.pid > 0; i++) {
        if (port_answers(server.port)) {
            snprintf(server.resolver, sizeof server.resolver, "127.0.0.1@%d", server.port);
            return 0;
        }
        if (waitpid(server.pid, NULL, WNOHANG) == server.pid) {
            server.pid = 0;
            break;
        }
        usleep(50 * 1000);
    }
    fprintf(stderr, "unbound did not start, see %s\n", logpath);
    server.missing = "unbound did not start";
    return 0;
}

static int stop_server(void **state)
{
    if (server.pid > 0) {
        kill(server.pid, SIGTERM);
        waitpid(server.pid, NULL, 0);
    }
    if (server.dir[0] && !server.missing) {
        char path[128];
        snprintf(path, sizeof path, "%s/unbound.conf", server.dir);
        unlink(path);
        snprintf(path, sizeof path, "%s/unbound.log", server.dir);
        unlink(path);
        rmdir(server.dir);
    }
    return 0;
}

/* --- lookups --- */

struct outcome {
    struct event_loop *loop;
    bool called;
    enum dns_status status;
    bool null_mx, implicit_mx, secure;
    struct buf rrs; /* one "record|" per record, addresses of an implicit MX after "addr:" */
};

static void record_result(const struct dns_result *r, void *ctx)
{
    struct outcome *o = ctx;
    o->called = true;
    o->status = r->status;
    o->null_mx = r->null_mx;
    o->implicit_mx = r->implicit_mx;
    o->secure = r->secure;
    for (size_t i = 0; i < r->n; i++) {
        const struct dns_rr *rr = &r->rr[i];
        switch (r->type) {
        case DNS_MX: buf_printf(&o->rrs, "%u %s|", rr->pref, rr->name); break;
        case DNS_A:
        case DNS_AAAA: buf_printf(&o->rrs, "%s|", rr->addr); break;
        case DNS_TXT: buf_printf(&o->rrs, "%s|", (const char *)rr->data); break;
        case DNS_PTR: buf_printf(&o->rrs, "%s|", rr->name); break;
        case DNS_TLSA:
            buf_printf(&o->rrs, "%u %u %u ", rr->usage, rr->selector, rr->mtype);
            for (size_t k = 0; k < rr->len; k++)
                buf_printf(&o->rrs, "%02x", rr->data[k]);
            buf_puts(&o->rrs, "|");
            break;
        }
    }
    for (size_t i = 0; i < r->naddr; i++)
        buf_printf(&o->rrs, "addr:%s|", r->addr[i].addr);
    event_stop(o->loop);
}

static void stop(struct event_loop *loop, void *ctx) { event_stop(loop); }

static void lookup(enum dns_type type, const char *name, struct outcome *o)
{
    if (server.missing)
        skip();
    memset(o, 0, sizeof *o);
    o->loop = event_loop_new();
    char *err = NULL;
    struct dns *d = dns_new(o->loop, server.resolver, NULL, &err);
    if (!d)
        fail_msg("dns_new: %s", err);
    struct dns_query *q = dns_lookup(d, type, name, record_result, o, &err);
    if (!q)
        fail_msg("dns_lookup: %s", err);
    assert_false(o->called); /* only from the loop */
    unsigned long t = event_timer(o->loop, 10000, stop, NULL);
    event_run(o->loop);
    event_timer_cancel(o->loop, t);
    if (!o->called)
        fail_msg("no answer for %s %s within 10 s", dns_type_name(type), name);
    dns_free(d);
    event_loop_free(o->loop);
}

static void expect(enum dns_type type, const char *name, enum dns_status status, const char *rrs)
{
    struct outcome o;
    lookup(type, name, &o);
    if (o.status != status || strcmp(buf_cstr(&o.rrs), rrs) != 0)
        fail_msg("%s %s: status \"%s\" records \"%s\", expected \"%s\" \"%s\"",
                 dns_type_name(type), name, dns_status_name(o.status), buf_cstr(&o.rrs),
                 dns_status_name(status), rrs);
    assert_false(o.secure); /* no trust anchor, no DNSSEC */
    buf_free(&o.rrs);
}

static void test_mx_sorted(void **state)
{
    expect(DNS_MX, "mx.posthorn.example", DNS_OK, "10 mx1.mx.posthorn.example|20 mx2.mx.posthorn.example|");
}

static void test_mx_implicit(void **state)
{
    struct outcome o;
    lookup(DNS_MX, "implicit.posthorn.example", &o);
    assert_int_equal(o.status, DNS_OK);
    assert_true(o.implicit_mx);
    assert_false(o.null_mx);
    /* the A and AAAA answers may arrive in either order */
    const char *got = buf_cstr(&o.rrs);
    if (strcmp(got, "0 implicit.posthorn.example|addr:192.0.2.10|addr:2001:db8::10|") != 0 &&
        strcmp(got, "0 implicit.posthorn.example|addr:2001:db8::10|addr:192.0.2.10|") != 0)
        fail_msg("implicit MX: %s", got);
    buf_free(&o.rrs);
}

static void test_mx_none_without_address(void **state)
{
    struct outcome o;
    lookup(DNS_MX, "noaddr.posthorn.example", &o);
    assert_int_equal(o.status, DNS_NODATA);
    assert_false(o.implicit_mx);
    assert_string_equal(buf_cstr(&o.rrs), "");
    buf_free(&o.rrs);
}

static void test_null_mx(void **state)
{
    struct outcome o;
    lookup(DNS_MX, "null.posthorn.example", &o);
    assert_int_equal(o.status, DNS_OK);
    assert_true(o.null_mx);
    assert_false(o.implicit_mx);
    assert_string_equal(buf_cstr(&o.rrs), "");
    buf_free(&o.rrs);
}

static void test_addresses(void **state)
{
    expect(DNS_A, "mx1.mx.posthorn.example", DNS_OK, "192.0.2.1|");
    expect(DNS_AAAA, "mx2.mx.posthorn.example", DNS_OK, "2001:db8::2|");
    expect(DNS_AAAA, "mx1.mx.posthorn.example", DNS_NODATA, "");
}

static void test_txt(void **state)
{
    expect(DNS_TXT, "txt.posthorn.example", DNS_OK, "v=spf1 -all|");
}

static void test_tlsa(void **state)
{
    expect(DNS_TLSA, "_25._tcp.mx1.mx.posthorn.example", DNS_OK,
           "3 1 1 0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20|");
}

static void test_ptr(void **state)
{
    expect(DNS_PTR, "198.18.0.1", DNS_OK, "mx1.mx.posthorn.example|");
    expect(DNS_PTR, "1.0.18.198.in-addr.arpa", DNS_OK, "mx1.mx.posthorn.example|");
    expect(DNS_PTR, "198.18.0.99", DNS_NXDOMAIN, "");
}

static void test_nxdomain(void **state)
{
    expect(DNS_MX, "nonexistent.posthorn.example", DNS_NXDOMAIN, "");
    expect(DNS_A, "nonexistent.posthorn.example", DNS_NXDOMAIN, "");
}

static void never_called(const struct dns_result *r, void *ctx) { fail_msg("cancelled query answered"); }

static void test_cancel(void **state)
{
    if (server.missing)
        skip();
    struct event_loop *loop = event_loop_new();
    char *err = NULL;
    struct dns *d = dns_new(loop, server.resolver, NULL, &err);
    assert_non_null(d);
    struct outcome o = {.loop = loop};
    struct dns_query *q1 = dns_lookup(d, DNS_MX, "mx.posthorn.example", never_called, NULL, &err);
    struct dns_query *q2 = dns_lookup(d, DNS_MX, "implicit.posthorn.example", never_called, NULL, &err);
    struct dns_query *q3 = dns_lookup(d, DNS_A, "mx1.mx.posthorn.example", record_result, &o, &err);
    assert_non_null(q1);
    assert_non_null(q2);
    assert_non_null(q3);
    dns_cancel(q1);
    dns_cancel(q2);
    unsigned long t = event_timer(loop, 10000, stop, NULL);
    event_run(loop); /* stops at q3's answer */
    event_timer_cancel(loop, t);
    assert_true(o.called);
    t = event_timer(loop, 300, stop, NULL); /* and nothing else arrives */
    event_run(loop);
    event_timer_cancel(loop, t);
    /* a pending query left at dns_free is dropped silently */
    assert_non_null(dns_lookup(d, DNS_TXT, "txt.posthorn.example", never_called, NULL, &err));
    dns_free(d);
    event_loop_free(loop);
    buf_free(&o.rrs);
}

static void record_error(const struct dns_result *r, void *ctx)
{
    struct outcome *o = ctx;
    o->called = true;
    o->status = r->status;
    buf_puts(&o->rrs, r->error);
    event_stop(o->loop);
}

/* dns_set_timeout: a forwarder that never answers (a UDP socket nobody reads) gives
 * DNS_TEMPFAIL at the deadline, not after libunbound's half a minute of retries. */
static void test_deadline(void **state)
{
    int silent = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    assert_int_equal(bind(silent, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(getsockname(silent, (struct sockaddr *)&sa, &len), 0);
    char resolver[64];
    snprintf(resolver, sizeof resolver, "127.0.0.1@%u", ntohs(sa.sin_port));
    struct event_loop *loop = event_loop_new();
    char *err = NULL;
    struct dns *d = dns_new(loop, resolver, NULL, &err);
    assert_non_null(d);
    dns_set_timeout(d, 300);
    struct outcome o = {.loop = loop};
    assert_non_null(dns_lookup(d, DNS_MX, "mx.posthorn.example", record_error, &o, &err));
    unsigned long t = event_timer(loop, 5000, stop, NULL);
    event_run(loop);
    event_timer_cancel(loop, t);
    assert_true(o.called);
    assert_int_equal(o.status, DNS_TEMPFAIL);
    assert_string_equal(buf_cstr(&o.rrs), "no answer within 1 s");
    dns_free(d);
    event_loop_free(loop);
    buf_free(&o.rrs);
    close(silent);
}

static void test_bad_input(void **state)
{
    struct event_loop *loop = event_loop_new();
    char *err = NULL;
    assert_null(dns_new(loop, "not a resolver", NULL, &err));
    assert_non_null(strstr(err, "DNS resolver"));
    free(err);
    err = NULL;
    assert_null(dns_new(loop, "127.0.0.1@53", "/nonexistent/root.key", &err));
    assert_non_null(err);
    free(err);
    err = NULL;
    struct dns *d = dns_new(loop, "127.0.0.1@53", NULL, &err);
    assert_non_null(d);
    assert_null(dns_lookup(d, DNS_MX, "", never_called, NULL, &err));
    free(err);
    err = NULL;
    assert_null(dns_lookup(d, DNS_MX, "a b.posthorn.example", never_called, NULL, &err));
    free(err);
    dns_free(d);
    event_loop_free(loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mx_sorted),
        cmocka_unit_test(test_mx_implicit),
        cmocka_unit_test(test_mx_none_without_address),
        cmocka_unit_test(test_null_mx),
        cmocka_unit_test(test_addresses),
        cmocka_unit_test(test_txt),
        cmocka_unit_test(test_tlsa),
        cmocka_unit_test(test_ptr),
        cmocka_unit_test(test_nxdomain),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_deadline),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, start_server, stop_server);
}
