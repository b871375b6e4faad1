/* test_buf.c - lib/util/buf.c against a simple model (a flat byte array): random
 * interleavings of append, consume, reserve-and-write (as a read() into the buffer does),
 * printf, truncate and reset, checking after every step that data/len are exactly the
 * unread bytes, data[len] is NUL and cap leaves the promised room. Also: consuming does
 * not move the bytes, a full consume or reset gives the whole allocation back, and steal
 * after a consume returns a string the caller can free. */
#include "unit_test.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

#define MODEL_MAX (1 << 20)

struct model {
    unsigned char *bytes;
    size_t len;
};

static void model_append(struct model *m, const void *p, size_t n)
{
    assert_true(m->len + n <= MODEL_MAX);
    memcpy(m->bytes + m->len, p, n);
    m->len += n;
}

static void model_consume(struct model *m, size_t n)
{
    if (n > m->len)
        n = m->len;
    memmove(m->bytes, m->bytes + n, m->len - n);
    m->len -= n;
}

static void assert_matches(const struct buf *b, const struct model *m)
{
    assert_int_equal(b->len, m->len);
    if (b->data == NULL) {
        assert_int_equal(m->len, 0);
        return;
    }
    if (m->len)
        assert_memory_equal(b->data, m->bytes, m->len);
    assert_int_equal(b->data[b->len], 0);
    assert_true(b->cap >= b->len + 1);
}

static void random_bytes(unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(rand() % 4 == 0 ? 0 : 'a' + rand() % 26); /* NULs included */
}

static void step(struct buf *b, struct model *m, unsigned char *scratch)
{
    size_t n = (size_t)(rand() % 3 == 0 ? rand() % 5000 : rand() % 100);
    if (m->len + n + 64 > MODEL_MAX)
        n = 0;
    switch (rand() % 8) {
    case 0:
    case 1:
        random_bytes(scratch, n);
        buf_append(b, scratch, n);
        model_append(m, scratch, n);
        break;
    case 2:
    case 3:
        buf_consume(b, n);
        model_consume(m, n);
        break;
    case 4: /* reserve, then write into the room like read() does */
        buf_reserve(b, n);
        assert_true(b->cap >= b->len + n + 1);
        random_bytes(scratch, n);
        memcpy(b->data + b->len, scratch, n);
        b->len += n;
        b->data[b->len] = 0;
        model_append(m, scratch, n);
        break;
    case 5: {
        char text[32];
        int k = snprintf(text, sizeof text, "<%zu>", n);
        buf_printf(b, "<%zu>", n);
        model_append(m, text, (size_t)k);
        break;
    }
    case 6:
        if (m->len && rand() % 4 == 0) {
            size_t keep = (size_t)rand() % m->len;
            buf_truncate(b, keep);
            m->len = keep;
        }
        break;
    default:
        if (rand() % 20 == 0) {
            buf_reset(b);
            m->len = 0;
        }
        break;
    }
}

static void test_random_interleavings_match_model(void **state)
{
    struct model m = {malloc(MODEL_MAX), 0};
    unsigned char *scratch = malloc(MODEL_MAX);
    for (unsigned seed = 1; seed <= 20; seed++) {
        srand(seed);
        struct buf b = BUF_INIT;
        m.len = 0;
        for (int i = 0; i < 3000; i++) {
            step(&b, &m, scratch);
            assert_matches(&b, &m);
        }
        buf_free(&b);
    }
    free(scratch);
    free(m.bytes);
}

static void test_consume_does_not_move_bytes(void **state)
{
    struct buf b = BUF_INIT;
    buf_puts(&b, "USER alice\r\nPASS secret\r\n");
    const char *second = b.data + 12;
    buf_consume(&b, 12);
    assert_ptr_equal(b.data, second);
    assert_string_equal(b.data, "PASS secret\r\n");
    assert_int_equal(b.len, 13);
    buf_free(&b);
}

static void test_full_consume_gives_back_allocation(void **state)
{
    struct buf b = BUF_INIT;
    buf_reserve(&b, 1000);
    size_t whole = b.cap;
    buf_puts(&b, "0123456789");
    buf_consume(&b, 4);
    assert_int_equal(b.cap, whole - 4);
    buf_consume(&b, 100);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, whole);
    assert_string_equal(buf_cstr(&b), "");
    buf_puts(&b, "abc");
    buf_consume(&b, 1);
    buf_reset(&b);
    assert_int_equal(b.cap, whole);
    buf_free(&b);
}

static void test_steady_stream_does_not_grow(void **state)
{
    /* Lines appended at the end and consumed from the front: the dead space is reused,
     * so the allocation stays small however much passes through. */
    struct buf b = BUF_INIT;
    char line[100];
    memset(line, 'x', sizeof line);
    for (int i = 0; i < 100000; i++) {
        buf_append(&b, line, sizeof line);
        if (b.len > 300)
            buf_consume(&b, sizeof line);
    }
    assert_true(b.cap + b.dead <= 2048);
    buf_free(&b);
}

static void test_steal_after_consume(void **state)
{
    struct buf b = BUF_INIT;
    buf_puts(&b, "head:tail");
    buf_consume(&b, 5);
    char *s = buf_steal(&b);
    assert_string_equal(s, "tail");
    free(s); /* must be the start of an allocation */
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    char *empty = buf_steal(&b);
    assert_string_equal(empty, "");
    free(empty);
}

UNIT_TEST_MAIN(cmocka_unit_test(test_random_interleavings_match_model),
               cmocka_unit_test(test_consume_does_not_move_bytes),
               cmocka_unit_test(test_full_consume_gives_back_allocation),
               cmocka_unit_test(test_steady_stream_does_not_grow),
               cmocka_unit_test(test_steal_after_consume))
