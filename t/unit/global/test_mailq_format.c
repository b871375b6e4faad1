/* test_mailq_format.c - the mailq text and postqueue -j JSON of lib/global/mailq_format.c,
 * byte for byte: Postfix's layout, the footer rounding down, reason groups, the null
 * sender, and text from the queue made printable. */
#include "unit_test.h"
#include "mailq_format.h"
#include "mem.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A message built by hand (the scan's and showq's product). */
static struct qlist_msg msg(const char *queue, const char *id, long long size, const char *sender)
{
    struct qlist_msg m = {0};
    m.queue = xstrdup(queue);
    m.id = xstrdup(id);
    m.arrival_time = 0; /* Thu Jan  1 00:00:00 1970 in UTC */
    m.size = size;
    m.sender = xstrdup(sender);
    return m;
}

/* Everything printed for msgs in style, with empty as the empty-queue text. */
static char *render(enum mailq_style style, struct qlist_msg *msgs, size_t n)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    struct mailq_out o;
    mailq_out_init(&o, f, style);
    for (size_t i = 0; i < n; i++)
        mailq_out_msg(&o, &msgs[i]);
    mailq_out_end(&o, "Mail queue is empty");
    fclose(f);
    for (size_t i = 0; i < n; i++)
        qlist_msg_clear(&msgs[i]);
    return text;
}

static int utc(void **state)
{
    (void)state;
    setenv("TZ", "UTC", 1);
    return 0;
}

static void test_empty(void **state)
{
    char *t = render(MAILQ_TEXT, NULL, 0);
    assert_string_equal(t, "Mail queue is empty\n");
    free(t);
    t = render(MAILQ_JSON_LINES, NULL, 0);
    assert_string_equal(t, "");
    free(t);
    t = render(MAILQ_JSON_ARRAY, NULL, 0);
    assert_string_equal(t, "[]\n");
    free(t);
}

#define HEAD "----Queue ID-----   --Size-- ---Arrival Time---- --Sender/Recipient------\n"
#define INDENT "                                                 " /* 49 spaces */

static void test_text_shape(void **state)
{
    struct qlist_msg m[3];
    m[0] = msg("active", "6614BAD38FB4CEBAFB", 1023, "a@example.test");
    qlist_msg_add_rcpt(&m[0], "b@example.test", "");
    m[1] = msg("deferred", "6614BAD38FB4CEBAFC", 1023, "");
    qlist_msg_add_rcpt(&m[1], "c@example.test", "mailbox full");
    qlist_msg_add_rcpt(&m[1], "d@example.test", "mailbox full");
    qlist_msg_add_rcpt(&m[1], "e@example.test", "");
    m[2] = msg("hold", "6614BAD38FB4CEBAFD", 2, "f@example.test");
    qlist_msg_add_rcpt(&m[2], "g@example.test", "");
    char *t = render(MAILQ_TEXT, m, 3);
    const char *want =
        HEAD
        "6614BAD38FB4CEBAFB*     1023 Thu Jan  1 00:00:00 a@example.test\n"
        INDENT "b@example.test\n"
        "\n"
        "6614BAD38FB4CEBAFC      1023 Thu Jan  1 00:00:00 MAILER-DAEMON\n"
        "                                                                (mailbox full)\n"
        INDENT "c@example.test\n"
        INDENT "d@example.test\n"
        "                                                          (reason unavailable)\n"
        INDENT "e@example.test\n"
        "\n"
        "6614BAD38FB4CEBAFD!        2 Thu Jan  1 00:00:00 f@example.test\n"
        INDENT "g@example.test\n"
        "\n"
        "-- 2 Kbytes in 3 Requests.\n"; /* 2048 bytes: rounded down, as Postfix does */
    assert_string_equal(t, want);
    free(t);
}

/* 1023 bytes are 0 Kbytes (Postfix divides and rounds down); one request is singular. */
static void test_footer_rounds_down(void **state)
{
    struct qlist_msg m = msg("incoming", "6614BAD38FB4CEBAFB", 1023, "a@example.test");
    char *t = render(MAILQ_TEXT, &m, 1);
    assert_non_null(strstr(t, "\n\n-- 0 Kbytes in 1 Request.\n"));
    free(t);
    m = msg("incoming", "6614BAD38FB4CEBAFB", 1025 * 1024 - 1, "a@example.test");
    t = render(MAILQ_TEXT, &m, 1);
    assert_non_null(strstr(t, "\n\n-- 1024 Kbytes in 1 Request.\n"));
    free(t);
}

/* A reason longer than the column is not padded; controls and broken UTF-8 become '?',
 * well-formed UTF-8 stays. */
static void test_text_printable(void **state)
{
    char lng[100];
    memset(lng, 'r', sizeof lng - 1);
    lng[sizeof lng - 1] = 0;
    struct qlist_msg m = msg("deferred", "6614BAD38FB4CEBAFB", 10, "a\033[2Jb@example.test");
    qlist_msg_add_rcpt(&m, "j\xc3\xb6rg@b\xffr.test", lng);
    qlist_msg_add_rcpt(&m, "x\xc2\x9b" "y@example.test", lng);
    char *t = render(MAILQ_TEXT, &m, 1);
    assert_non_null(strstr(t, " a?[2Jb@example.test\n"));
    char *line = xasprintf("\n(%s)\n" INDENT "j\xc3\xb6rg@b?r.test\n" INDENT "x?y@example.test\n", lng);
    assert_non_null(strstr(t, line));
    free(line);
    free(t);
}

static void test_json_lines(void **state)
{
    struct qlist_msg m[2];
    m[0] = msg("deferred", "6614BAD38FB4CEBAFB", 2193, "");
    qlist_msg_add_rcpt(&m[0], "a@example.test", "mailbox \"full\"\n\x01");
    qlist_msg_add_rcpt(&m[0], "b\\c@example.test", "");
    m[1] = msg("hold", "6614BAD38FB4CEBAFC", 5, "s@example.test");
    m[1].arrival_time = 1700000000;
    char *t = render(MAILQ_JSON_LINES, m, 2);
    assert_string_equal(t,
        "{\"queue_name\": \"deferred\", \"queue_id\": \"6614BAD38FB4CEBAFB\", \"arrival_time\": 0, "
        "\"message_size\": 2193, \"forced_expire\": false, \"sender\": \"MAILER-DAEMON\", "
        "\"recipients\": [{\"address\": \"a@example.test\", \"delay_reason\": "
        "\"mailbox \\\"full\\\"\\n\\u0001\"}, {\"address\": \"b\\\\c@example.test\"}]}\n"
        "{\"queue_name\": \"hold\", \"queue_id\": \"6614BAD38FB4CEBAFC\", \"arrival_time\": "
        "1700000000, \"message_size\": 5, \"forced_expire\": false, \"sender\": "
        "\"s@example.test\", \"recipients\": []}\n");
    free(t);
}

/* posthorn queue list --json: one array, the null sender as "". */
static void test_json_array(void **state)
{
    struct qlist_msg m[2];
    m[0] = msg("deferred", "6614BAD38FB4CEBAFB", 1, "");
    m[1] = msg("active", "6614BAD38FB4CEBAFC", 2, "x@example.test");
    char *t = render(MAILQ_JSON_ARRAY, m, 2);
    assert_string_equal(t,
        "[\n  {\"queue_name\": \"deferred\", \"queue_id\": \"6614BAD38FB4CEBAFB\", \"arrival_time\": 0, "
        "\"message_size\": 1, \"forced_expire\": false, \"sender\": \"\", \"recipients\": []},\n"
        "  {\"queue_name\": \"active\", \"queue_id\": \"6614BAD38FB4CEBAFC\", \"arrival_time\": 0, "
        "\"message_size\": 2, \"forced_expire\": false, \"sender\": \"x@example.test\", "
        "\"recipients\": []}\n]\n");
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),          cmocka_unit_test(test_text_shape),
        cmocka_unit_test(test_footer_rounds_down), cmocka_unit_test(test_text_printable),
        cmocka_unit_test(test_json_lines),     cmocka_unit_test(test_json_array),
    };
    return cmocka_run_group_tests(tests, utc, NULL);
}
