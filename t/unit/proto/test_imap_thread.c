/* test_imap_thread.c - tests of lib/proto/imap_thread (RFC 5256 sec 3): REFERENCES with
 * the cases of Dovecot imaptest's thread groups (a reference that would make a loop, a
 * missing parent becoming a dummy, duplicate and missing Message-IDs, dummies pruned or kept
 * at the top, subjects gathered with a reply joining its original), loops between
 * References fields, step 1B replacing a parent 1A made, siblings by sent date, the output
 * grammar (chains, nested lists, a dummy's list); ORDEREDSUBJECT with imaptest's subjects
 * and dates; a long chain and a wide fan-out without recursion. */
#include "unit_test.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "imap_thread.h"

struct spec {
    const char *id;      /* Message-ID, NULL for none */
    const char *refs;    /* space-separated, oldest first */
    const char *subject; /* a base subject key, NULL for none */
    bool reply;
    int64_t sent;
};

struct msgs {
    struct imap_thread_msg *m;
    char ***refs;
    size_t n;
};

static struct msgs make(const struct spec *s, size_t n)
{
    struct msgs x = {.m = calloc(n, sizeof *x.m), .refs = calloc(n, sizeof *x.refs), .n = n};
    for (size_t i = 0; i < n; i++) {
        struct imap_thread_msg *m = &x.m[i];
        m->number = (uint32_t)i + 1;
        m->sent = s[i].sent;
        m->subject = s[i].subject ? s[i].subject : "";
        m->subject_len = strlen(m->subject);
        m->reply = s[i].reply;
        m->message_id = s[i].id;
        x.refs[i] = calloc(16, sizeof(char *));
        char *copy = strdup(s[i].refs ? s[i].refs : ""), *save = NULL;
        for (char *t = strtok_r(copy, " ", &save); t; t = strtok_r(NULL, " ", &save))
            x.refs[i][m->nrefs++] = strdup(t);
        free(copy);
        m->refs = (const char *const *)x.refs[i];
    }
    return x;
}

static void release(struct msgs *x)
{
    for (size_t i = 0; i < x->n; i++) {
        for (size_t r = 0; r < x->m[i].nrefs; r++)
            free(x->refs[i][r]);
        free(x->refs[i]);
    }
    free(x->refs);
    free(x->m);
}

static void check(const struct spec *s, size_t n, bool refs, const char *want)
{
    struct msgs x = make(s, n);
    struct buf out = BUF_INIT;
    if (refs)
        imap_thread_references(x.m, n, &out);
    else
        imap_thread_orderedsubject(x.m, n, &out);
    if (strcmp(buf_cstr(&out), want) != 0)
        fail_msg("threads:\n got  %s\n want %s", out.data, want);
    buf_free(&out);
    release(&x);
}

#define REFS(want, ...)                                                                     \
    do {                                                                                    \
        const struct spec s_[] = {__VA_ARGS__};                                             \
        check(s_, sizeof s_ / sizeof s_[0], true, want);                                    \
    } while (0)

/* imaptest "thread": b references a and c, c references b: c's link to b would be a loop. */
static void test_loop_from_references(void **state)
{
    REFS("(3 2)(1)", {"a@b", NULL, NULL, false, 300}, {"b@b", "a@b c@b", NULL, false, 100},
         {"c@b", "b@b", NULL, false, 200});
    /* after message 1 is expunged, a@b is a dummy without children */
    REFS("(2 1)", {"b@b", "a@b c@b", NULL, false, 100}, {"c@b", "b@b", NULL, false, 200});
    /* two messages that reference each other */
    REFS("(2 1)", {"x@y", "z@y", NULL, false, 1}, {"z@y", "x@y", NULL, false, 2});
    /* a message that references itself */
    REFS("(1)", {"x@y", "x@y", NULL, false, 1});
    /* References that form a loop among three dummies and a message */
    REFS("(1)", {"m@y", "p@y q@y p@y", NULL, false, 1});
}

/* imaptest "thread5": dummies with one child go to the top, with two they stay. */
static void test_dummies(void **state)
{
    REFS("(1 (2 4)(3))", {"1@b", NULL, NULL, false, 5}, {"2@b", "1@b", NULL, false, 1},
         {"3@b", "1@b", NULL, false, 1}, {"4@b", "2@b", NULL, false, 1});
    REFS("(1)(2)", {"3@b", "1@b", NULL, false, 1}, {"4@b", "2@b", NULL, false, 1});
    REFS("(1)((2)(3))", {"3@b", "1@b", NULL, false, 1}, {"4@b", "2@b", NULL, false, 1},
         {"5@b", "2@b", NULL, false, 1});
    /* imaptest "thread6": no Message-IDs, both reference a@b */
    REFS("((1)(2))", {NULL, "a@b", NULL, false, 1}, {NULL, "a@b", NULL, false, 2});
    /* a dummy in the middle gives its children to its parent */
    REFS("(1 (2)(3))", {"r@x", NULL, NULL, false, 1}, {"c1@x", "r@x d@x", NULL, false, 2},
         {"c2@x", "r@x d@x", NULL, false, 3});
    /* a dummy's children sort the top by the first of them */
    REFS("(3)((2)(1))", {NULL, "d@x", NULL, false, 20}, {NULL, "d@x", NULL, false, 10},
         {"e@x", NULL, NULL, false, 5});
}

/* imaptest "thread7", "thread8", "thread2": duplicate Message-IDs. */
static void test_duplicates(void **state)
{
    REFS("(1 (2 3)(4))", {"a@b", NULL, NULL, false, 1}, {"b@b", "a@b", NULL, false, 1},
         {"c@b", "b@b", NULL, false, 1}, {"b@b", "a@b", NULL, false, 1});
    REFS("(1 3 2)", {"a@b", NULL, NULL, false, 1}, {"c@b", "b@b", NULL, false, 1},
         {"b@b", "a@b", NULL, false, 1});
    REFS("(1 2)", {"a@b", NULL, NULL, false, 1}, {"b@b", "a@b", NULL, false, 1});
    REFS("(1)(2)", {"a@b", NULL, NULL, false, 1}, {"a@b", NULL, NULL, false, 1});
}

/* imaptest "thread3", "thread4", and step 5's other rules. */
static void test_subjects(void **state)
{
    REFS("(1 2)", {"a@b", NULL, "FOO", false, 1}, {"a@b", NULL, "FOO", true, 2});
    REFS("(1 2)", {"a@b", NULL, "FOO", false, 1}, {"b@b", "c@b", "FOO", true, 2});
    /* the reply is older, but joins the original all the same */
    REFS("(2 1)", {"x@b", NULL, "FOO", true, 1}, {"y@b", NULL, "FOO", false, 2});
    /* neither is a reply: both go under a new dummy */
    REFS("((1)(2))", {"x@b", NULL, "FOO", false, 1}, {"y@b", NULL, "FOO", false, 2});
    /* both replies: a dummy too */
    REFS("((1)(2))", {"x@b", NULL, "FOO", true, 1}, {"y@b", NULL, "FOO", true, 2});
    /* a thread headed by a dummy takes the others in */
    REFS("((1)(2)(3))", {NULL, "d@x", "FOO", false, 1}, {NULL, "d@x", "FOO", false, 2},
         {"z@x", NULL, "FOO", false, 3});
    /* two dummy-headed threads become one list */
    REFS("((1)(3)(2)(4))", {NULL, "d@x", "FOO", false, 1}, {NULL, "d@x", "FOO", false, 3},
         {NULL, "e@x", "FOO", false, 2}, {NULL, "e@x", "FOO", false, 4});
    /* empty subjects are never gathered; different ones neither */
    REFS("(1)(2)(3)", {"x@b", NULL, "", false, 1}, {"y@b", NULL, "", true, 2},
         {"z@b", NULL, "BAR", false, 3});
}

/* 1B replaces the parent 1A gave; siblings by sent date, ties in mailbox order. */
static void test_links_and_order(void **state)
{
    /* message 2's 1A makes message 1 the parent of message 3; 3's own 1B replaces that */
    REFS("(1)(3 2)", {"a@x", NULL, NULL, false, 1}, {"m@x", "a@x b@x", NULL, false, 2},
         {"b@x", "c@x", NULL, false, 3});
    /* 1A never replaces a parent: c stays below b */
    REFS("(1 2 3 4)", {"a@x", NULL, NULL, false, 1}, {"b@x", "a@x", NULL, false, 2},
         {"c@x", "a@x b@x", NULL, false, 3}, {"d@x", "a@x c@x", NULL, false, 4});
    REFS("(1 (3)(4)(2))", {"r@x", NULL, NULL, false, 0}, {"a@x", "r@x", NULL, false, 9},
         {"b@x", "r@x", NULL, false, 5}, {"c@x", "r@x", NULL, false, 5});
    REFS("(2)(1)(3)", {"a@x", NULL, NULL, false, 7}, {"b@x", NULL, NULL, false, 3},
         {"c@x", NULL, NULL, false, 7});
}

/* ORDEREDSUBJECT with imaptest's thread-orderedsubject and thread-orderedsubject2. */
static void test_orderedsubject(void **state)
{
    const struct spec s1[] = {
        {NULL, NULL, "A", 0, 0},   {NULL, NULL, "C", 0, 0},   {NULL, NULL, "B", 0, 0},
        {NULL, NULL, "_", 0, 0},   {NULL, NULL, "B", 0, 0},   {NULL, NULL, "B (A)", 0, 0},
        {NULL, NULL, "C", 0, 0},   {NULL, NULL, "[XYZ]", 0, 0}, {NULL, NULL, "", 0, 0},
        {NULL, NULL, "", 0, 0},    {NULL, NULL, "B", 0, 0},   {NULL, NULL, "C", 0, 0},
        {NULL, NULL, "C", 0, 0},   {NULL, NULL, "AD: RE: AD: RE: AD: X", 0, 0},
        {NULL, NULL, "BABYLON", 0, 0},
    };
    check(s1, 15, false, "(1)(2 (7)(12)(13))(3 (5)(11))(4)(6)(8)(9 10)(14)(15)");
    const struct spec s2[] = {
        {NULL, NULL, "A", 0, 10}, {NULL, NULL, "B", 0, 9},  {NULL, NULL, "A", 0, 8},
        {NULL, NULL, "B", 0, 7},  {NULL, NULL, "A", 0, 30}, {NULL, NULL, "B", 0, 29},
        {NULL, NULL, "A", 0, 28}, {NULL, NULL, "B", 0, 27},
    };
    check(s2, 8, false, "(4 (2)(8)(6))(3 (1)(7)(5))");
    check(s2, 0, false, "");
    check(s2, 0, true, "");
}

/* 200000 messages in one chain, each referencing its parent; then a fan-out below one. */
static void test_big(void **state)
{
    enum { N = 200000 };
    struct imap_thread_msg *m = calloc(N, sizeof *m);
    char (*ids)[16] = calloc(N, sizeof *ids);
    const char **refs = calloc(N, sizeof *refs);
    for (size_t i = 0; i < N; i++) {
        snprintf(ids[i], sizeof ids[i], "%zu@x", i);
        m[i] = (struct imap_thread_msg){.number = (uint32_t)i + 1, .sent = (int64_t)i,
                                        .message_id = ids[i]};
        if (i) {
            refs[i] = ids[i - 1];
            m[i].refs = &refs[i];
            m[i].nrefs = 1;
        }
    }
    struct buf out = BUF_INIT;
    imap_thread_references(m, N, &out);
    assert_true(out.len > 6 * N);
    assert_memory_equal(out.data, "(1 2 3 ", 7);
    assert_int_equal(out.data[out.len - 1], ')');
    for (size_t i = 1; i < N; i++) /* alternate: every other message replies to the one before */
        refs[i] = ids[i % 2 ? i - 1 : i - 2 + (i < 2)];
    buf_reset(&out);
    imap_thread_references(m, N, &out);
    assert_int_equal(out.data[out.len - 1], ')');
    buf_free(&out);
    free(refs);
    free(ids);
    free(m);
}

UNIT_TEST_MAIN(cmocka_unit_test(test_loop_from_references),
               cmocka_unit_test(test_dummies),
               cmocka_unit_test(test_duplicates),
               cmocka_unit_test(test_subjects),
               cmocka_unit_test(test_links_and_order),
               cmocka_unit_test(test_orderedsubject),
               cmocka_unit_test(test_big))
