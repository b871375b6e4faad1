/* test_list.c - lib/util/list.h: insertion at both ends, removal of the first, a middle,
 * the last and the only element (checking the list forwards through next and backwards
 * through prev after every change), and removing and freeing elements while iterating. */
#include "unit_test.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "list.h"

struct item {
    int v;
    struct item *prev, *next;
};

typedef DLIST_HEAD(struct item) item_list;

/* The values front to back as "1,2,3", checking the backward links give the reverse. */
static const char *order(item_list *l, char *out, size_t outlen)
{
    size_t n = 0;
    int forward[64], count = 0;
    struct item *it;
    out[0] = 0;
    DLIST_FOREACH(it, l) {
        assert_true(count < 64);
        forward[count++] = it->v;
        n += (size_t)snprintf(out + n, outlen - n, "%s%d", n ? "," : "", it->v);
        assert_true(n < outlen);
    }
    for (it = DLIST_LAST(l); it; it = it->prev)
        assert_int_equal(it->v, forward[--count]);
    assert_int_equal(count, 0);
    assert_int_equal(DLIST_EMPTY(l), DLIST_LAST(l) == NULL);
    return out;
}

static void test_insert_both_ends(void **state)
{
    item_list l = {0};
    struct item a = {.v = 1}, b = {.v = 2}, c = {.v = 3}, d = {.v = 4};
    char s[64];
    assert_true(DLIST_EMPTY(&l));
    DLIST_INSERT_HEAD(&l, &b);
    assert_string_equal(order(&l, s, sizeof s), "2");
    DLIST_INSERT_TAIL(&l, &c);
    DLIST_INSERT_HEAD(&l, &a);
    DLIST_INSERT_TAIL(&l, &d);
    assert_string_equal(order(&l, s, sizeof s), "1,2,3,4");
    assert_ptr_equal(DLIST_FIRST(&l), &a);
    assert_ptr_equal(DLIST_LAST(&l), &d);
}

static void test_remove_first_middle_last_only(void **state)
{
    item_list l = {0};
    struct item it[5];
    char s[64];
    for (int i = 0; i < 5; i++) {
        it[i] = (struct item){.v = i};
        DLIST_INSERT_TAIL(&l, &it[i]);
    }
    DLIST_REMOVE(&l, &it[0]);
    assert_string_equal(order(&l, s, sizeof s), "1,2,3,4");
    assert_null(it[0].next);
    assert_null(it[0].prev);
    DLIST_REMOVE(&l, &it[2]);
    assert_string_equal(order(&l, s, sizeof s), "1,3,4");
    DLIST_REMOVE(&l, &it[4]);
    assert_string_equal(order(&l, s, sizeof s), "1,3");
    assert_ptr_equal(DLIST_LAST(&l), &it[3]);
    DLIST_REMOVE(&l, &it[1]);
    DLIST_REMOVE(&l, &it[3]); /* the only one */
    assert_true(DLIST_EMPTY(&l));
    assert_null(DLIST_LAST(&l));
    DLIST_INSERT_TAIL(&l, &it[2]); /* usable again */
    assert_string_equal(order(&l, s, sizeof s), "2");
}

static void test_remove_while_iterating(void **state)
{
    item_list l = {0};
    char s[64];
    for (int i = 0; i < 10; i++) {
        struct item *n = calloc(1, sizeof *n);
        n->v = i;
        DLIST_INSERT_TAIL(&l, n);
    }
    struct item *it, *next;
    DLIST_FOREACH_SAFE(it, &l, next) {
        if (it->v % 2 == 0 || it->v == 9) { /* evens, and the last one */
            DLIST_REMOVE(&l, it);
            free(it);
        }
    }
    assert_string_equal(order(&l, s, sizeof s), "1,3,5,7");
    DLIST_FOREACH_SAFE(it, &l, next) {
        DLIST_REMOVE(&l, it);
        free(it);
    }
    assert_true(DLIST_EMPTY(&l));
}

UNIT_TEST_MAIN(cmocka_unit_test(test_insert_both_ends),
               cmocka_unit_test(test_remove_first_middle_last_only),
               cmocka_unit_test(test_remove_while_iterating))
