/* test_text_match.c - tests of lib/mail/text_match: simple case folding of ASCII, Latin-1,
 * Latin Extended-A, Greek and Cyrillic; what is deliberately not folded (U+0130, "ß" vs
 * "ss"); substring search case-insensitively; a streaming search whose matches straddle
 * chunk boundaries, even inside a character; restarting between texts; malformed bytes. */
#include "unit_test.h"
#include <string.h>

#include "buf.h"
#include "text_match.h"

static void test_fold(void **state)
{
    assert_int_equal(text_fold_code_point('A'), 'a');
    assert_int_equal(text_fold_code_point('z'), 'z');
    assert_int_equal(text_fold_code_point(0x00C9), 0x00E9); /* É */
    assert_int_equal(text_fold_code_point(0x00D7), 0x00D7); /* × */
    assert_int_equal(text_fold_code_point(0x00DF), 0x00DF); /* ß: no simple folding */
    assert_int_equal(text_fold_code_point(0x00B5), 0x03BC);
    assert_int_equal(text_fold_code_point(0x0100), 0x0101);
    assert_int_equal(text_fold_code_point(0x0101), 0x0101);
    assert_int_equal(text_fold_code_point(0x0130), 0x0130);
    assert_int_equal(text_fold_code_point(0x0139), 0x013A);
    assert_int_equal(text_fold_code_point(0x0141), 0x0142); /* Ł */
    assert_int_equal(text_fold_code_point(0x0152), 0x0153); /* Œ */
    assert_int_equal(text_fold_code_point(0x0160), 0x0161); /* Š */
    assert_int_equal(text_fold_code_point(0x0178), 0x00FF); /* Ÿ */
    assert_int_equal(text_fold_code_point(0x017D), 0x017E); /* Ž */
    assert_int_equal(text_fold_code_point(0x017F), 's');
    assert_int_equal(text_fold_code_point(0x0391), 0x03B1); /* Α */
    assert_int_equal(text_fold_code_point(0x03A3), 0x03C3); /* Σ */
    assert_int_equal(text_fold_code_point(0x03C2), 0x03C3); /* ς */
    assert_int_equal(text_fold_code_point(0x0386), 0x03AC);
    assert_int_equal(text_fold_code_point(0x0401), 0x0451); /* Ё */
    assert_int_equal(text_fold_code_point(0x042F), 0x044F); /* Я */
    assert_int_equal(text_fold_code_point(0x1E9E), 0x00DF);
    assert_int_equal(text_fold_code_point(0x212A), 'k');

    static const char in[] = "\xc3\x84pfel \xd0\x9c\xd0\x9e\xd0\xa1\xd0\x9a\xd0\x92\xd0\x90 \xff X";
    struct buf out = BUF_INIT;
    text_fold(in, sizeof in - 1, &out);
    assert_string_equal(out.data,
                        "\xc3\xa4pfel \xd0\xbc\xd0\xbe\xd1\x81\xd0\xba\xd0\xb2\xd0\xb0 \xff x");
    buf_free(&out);
}

static void test_contains(void **state)
{
    const char *s = "Subject: Re: Caf\xc3\x89 ZÜRICH Meeting";
    assert_true(text_contains(s, strlen(s), "café", strlen("café")));
    assert_true(text_contains(s, strlen(s), "zürich", strlen("zürich")));
    assert_true(text_contains(s, strlen(s), "MEETING", 7));
    assert_true(text_contains(s, strlen(s), "", 0));
    assert_false(text_contains(s, strlen(s), "meetings", 8));
    assert_false(text_contains("strasse", 7, "straße", strlen("straße")));
    assert_true(text_contains("\xce\x9f\xce\x94\xce\x8f\xce\xa3", 8, "\xce\xbf\xce\xb4", 4));
    assert_true(text_contains("a\xff" "b", 3, "\xff" "B", 2));
    assert_false(text_contains("", 0, "a", 1));
}

static void test_streaming(void **state)
{
    const char *text = "xx Gr\xc3\xbc\xc3\x9f" "e aus M\xc3\x9c" "NCHEN yy";
    const char *needle = "m\xc3\xbcnchen";
    size_t len = strlen(text);
    /* every split into two chunks finds it, including splits inside "Ü" */
    for (size_t cut = 0; cut <= len; cut++) {
        struct text_match m;
        text_match_init(&m, needle, strlen(needle));
        bool found = text_match_feed(&m, text, cut);
        found = text_match_feed(&m, text + cut, len - cut) || found;
        assert_true(found);
        assert_true(text_match_found(&m));
        text_match_free(&m);
    }
    /* byte by byte */
    struct text_match m;
    text_match_init(&m, needle, strlen(needle));
    for (size_t i = 0; i < len; i++)
        text_match_feed(&m, text + i, 1);
    assert_true(text_match_found(&m));
    /* a restart forgets the previous text: "m\xc3\xbc" + "nchen" are two texts */
    text_match_restart(&m);
    assert_false(text_match_found(&m));
    text_match_feed(&m, "M\xc3\x9c", 3);
    text_match_restart(&m);
    assert_false(text_match_feed(&m, "nchen", 5));
    text_match_free(&m);
}

UNIT_TEST_MAIN(cmocka_unit_test(test_fold),
               cmocka_unit_test(test_contains),
               cmocka_unit_test(test_streaming))
