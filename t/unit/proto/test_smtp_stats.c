/* test_smtp_stats.c - lib/proto/smtp_stats: the per-command counts of the disconnect line in
 * Postfix's shape: success decided by the final reply (continuations and the intermediate
 * 334/354 skipped), failures shown as /GIVEN, unknown verbs, the fixed order, and the
 * "commands=0/0" of a session without commands. */
#include "unit_test.h"
#include <stdio.h>
#include <string.h>

#include "smtp_stats.h"

static const char *format(const struct smtp_stats *st)
{
    static char text[256];
    struct buf b = BUF_INIT;
    smtp_stats_format(st, &b);
    snprintf(text, sizeof text, "%s", buf_cstr(&b));
    buf_free(&b);
    return text;
}

static void cmd(struct smtp_stats *st, enum smtp_verb v, const char *reply)
{
    smtp_stats_command(st, v);
    if (reply)
        smtp_stats_reply(st, reply);
}

static void test_accepted_transaction(void **state)
{
    struct smtp_stats st;
    smtp_stats_init(&st);
    smtp_stats_reply(&st, "220 mx ESMTP"); /* the greeting belongs to no command */
    cmd(&st, SMTP_EHLO, "250-mx");
    smtp_stats_reply(&st, "250-PIPELINING");
    smtp_stats_reply(&st, "250 DSN");
    cmd(&st, SMTP_MAIL, "250 2.1.0 Ok");
    cmd(&st, SMTP_RCPT, "250 2.1.5 Ok");
    cmd(&st, SMTP_DATA, "354 End data with <CR><LF>.<CR><LF>");
    smtp_stats_reply(&st, "250 2.0.0 Ok: queued as ABC");
    cmd(&st, SMTP_QUIT, "221 2.0.0 Bye");
    assert_string_equal(format(&st), " ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5");
}

static void test_refusals(void **state)
{
    struct smtp_stats st;
    smtp_stats_init(&st);
    cmd(&st, SMTP_QUIT, NULL); /* order is fixed, whatever the order of the session */
    cmd(&st, SMTP_HELO, "250 mx");
    cmd(&st, SMTP_MAIL, "250 2.1.0 Ok");
    cmd(&st, SMTP_RCPT, "550 5.1.1 <x@y>: Recipient address rejected: User unknown");
    cmd(&st, SMTP_RCPT, "250 2.1.5 Ok");
    cmd(&st, SMTP_DATA, "354 go");
    smtp_stats_reply(&st, "552 5.3.4 Message size exceeds fixed limit");
    smtp_stats_command(&st, SMTP_UNKNOWN);
    smtp_stats_reply(&st, "502 5.5.2 Error: command not recognized");
    cmd(&st, SMTP_AUTH, "334 VXNlcm5hbWU6");
    smtp_stats_reply(&st, "334 UGFzc3dvcmQ6");
    smtp_stats_reply(&st, "535 5.7.8 Error: authentication failed");
    assert_string_equal(format(&st),
                        " helo=1 auth=0/1 mail=1 rcpt=1/2 data=0/1 quit=0/1 unknown=0/1 commands=3/8");
}

static void test_lost_during_data(void **state)
{
    struct smtp_stats st;
    smtp_stats_init(&st);
    cmd(&st, SMTP_EHLO, "250 mx");
    cmd(&st, SMTP_MAIL, "250 2.1.0 Ok");
    cmd(&st, SMTP_RCPT, "250 2.1.5 Ok");
    cmd(&st, SMTP_DATA, "354 go");
    /* the client left: no final reply; a later 421 would count as the failure */
    assert_string_equal(format(&st), " ehlo=1 mail=1 rcpt=1 data=0/1 commands=3/4");
    smtp_stats_reply(&st, "421 4.4.2 mx Error: timeout exceeded");
    assert_string_equal(format(&st), " ehlo=1 mail=1 rcpt=1 data=0/1 commands=3/4");
}

static void test_no_commands(void **state)
{
    struct smtp_stats st;
    smtp_stats_init(&st);
    smtp_stats_reply(&st, "220 mx ESMTP");
    assert_string_equal(format(&st), " commands=0/0");
}

UNIT_TEST_MAIN(cmocka_unit_test(test_accepted_transaction), cmocka_unit_test(test_refusals),
               cmocka_unit_test(test_lost_during_data), cmocka_unit_test(test_no_commands))
