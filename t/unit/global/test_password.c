/* test_password.c - lib/password: new {ARGON2ID} hashes verify and are salted, wrong
 * passwords fail, known vectors from outside (the Argon2 reference test suite,
 * `openssl passwd -6`, and Dovecot's `doveadm pw -s SCHEME` for every scheme a migrated
 * user may bring) verify, and malformed or unknown hashes give -1 and are not usable. */
#include "unit_test.h"
#include <stdlib.h>
#include <string.h>

#include "password.h"

/* From the Argon2 reference implementation's test suite (argon2id, t=2, m=64 MiB, p=1). */
static const char argon2_vector[] =
    "{ARGON2ID}$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc";
/* openssl passwd -6 -salt saltsalt 'correct horse' */
static const char sha512_vector[] =
    "{SHA512-CRYPT}$6$saltsalt$hRM5XZ86KXEw9UOmjigeVqFgULtFB2sgpC9lXQDfMib3Zgw7mEiUvBJI2EplzfAqxL5Vvwp2scFtv/uamSo5z0";

static const struct password_cost rfc9106 = {3, 65536};

static void test_hash_and_verify(void **state)
{
    char *err = NULL;
    char *h1 = password_hash("s3cret pässword", &rfc9106, &err);
    assert_non_null(h1);
    assert_true(strncmp(h1, "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$", 41) == 0);
    assert_int_equal(password_verify("s3cret pässword", h1), 1);
    assert_int_equal(password_verify("s3cret password", h1), 0);
    assert_int_equal(password_verify("", h1), 0);
    char *h2 = password_hash("s3cret pässword", &rfc9106, &err);
    assert_string_not_equal(h1, h2); /* random salt */
    assert_int_equal(password_verify("s3cret pässword", h2), 1);
    char *empty = password_hash("", &rfc9106, &err);
    assert_int_equal(password_verify("", empty), 1);
    assert_int_equal(password_verify("x", empty), 0);
    free(h1);
    free(h2);
    free(empty);
}

/* argon2_time_cost and argon2_memory_cost: the new hash says (and is verified with) them. */
static void test_hash_of_a_configured_cost(void **state)
{
    static const struct password_cost cheap = {1, 1024};
    char *err = NULL;
    char *h = password_hash("pw", &cheap, &err);
    assert_non_null(h);
    assert_true(strncmp(h, "{ARGON2ID}$argon2id$v=19$m=1024,t=1,p=1$", 40) == 0);
    assert_int_equal(password_verify("pw", h), 1);
    assert_int_equal(password_verify("px", h), 0);
    free(h);
}

static void test_known_vectors(void **state)
{
    assert_int_equal(password_verify("password", argon2_vector), 1);
    assert_int_equal(password_verify("Password", argon2_vector), 0);
    assert_int_equal(password_verify("correct horse", sha512_vector), 1);
    assert_int_equal(password_verify("correct horse ", sha512_vector), 0);
    assert_int_equal(password_verify("wrong", sha512_vector), 0);
    /* the scheme name is case-insensitive, as in Dovecot */
    assert_int_equal(password_verify("correct horse", "{sha512-crypt}$6$saltsalt$hRM5XZ86KXEw9UOmjigeVqFgULtFB2sgpC9lXQDfMib3Zgw7mEiUvBJI2EplzfAqxL5Vvwp2scFtv/uamSo5z0"), 1);
}

/* doveadm pw -s SCHEME -p 'correct horse' (Dovecot 2.3.19) */
static const char *const dovecot_vectors[] = {
    "{ARGON2I}$argon2i$v=19$m=32768,t=4,p=1$qBUwh2ly+v6Eocnc15C2BQ$smEThokKeG2JK16jjBZt/GqKCUWQYX3LD89QNPdpUKc",
    "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$mqQQ3IYrbGClWOB8lW8thg$n/rsGRoK1ldfTSmagRPhCd+8nt3pYJy5fI27vqsH+TA",
    "{BLF-CRYPT}$2y$05$8VbAWw9qeAgSIM7DXXruwu7E4RYGsDF4uFiN1rdsjdFS7YVqOAsJW",
    "{SHA256-CRYPT}$5$rOshbMxcXD4boR.t$naTjUhmwgRNBSjpZKk5JiigTXDe2IkyLRpS3nZ/vuH.",
    "{MD5-CRYPT}$1$Txm.Lrsa$rn7WCeoHZv4743OfxUzxz.",
    "{SSHA512}aeMyH2nv0TKCwSMRItv3+2P0eAo7WIqelnEcQBbRxMmFAtXq9VSTnk3AmPz6xEziidh7+KADsG2L32t7f1RDkvvlE1k=",
    "{SSHA256}c0fLWJBqkHlsMAnl+S5eKNop4QJ5KZFrwgOpgv7REWN235Q2",
    "{SSHA}YL+6+3pHgeZxaVIXP+XbeIDfBqkBhOWk",
    "{SHA512}VraY3v7bWkNbY0r+MyC7rz/c2SC2xQOkRvx7endrKY1HnRumqLYXgI6wv1ec6aldZoNHvKtxSQhayTyyeZUZew==",
    "{SHA256}QQTTb42iwlQ0n4WDZ5Pr4CngyVcGOjTJHC6SAxh7VjE=",
    "{SHA1}L55TUjtiq8FBorTWAZ0jy6g129A=",
    "{SHA}L55TUjtiq8FBorTWAZ0jy6g129A=",
    "{SHA512.HEX}56b698defedb5a435b634afe3320bbaf3fdcd920b6c503a446fc7b7a776b298d479d1ba6a8b617808eb0bf579ce9a95d668347bcab7149085ac93cb27995197b",
    "{SSHA.HEX}512bd98b3bb90eb658d24e808da98c453db8d5bd75fde764",
    "{CRYPT}$2y$05$j1pXchFQY4fvmmrrXAaeKuzJ1LXT5ajgfF2bqGuqp28j4BD5bOU9m",
    "{CRYPT}$6$saltsalt$hRM5XZ86KXEw9UOmjigeVqFgULtFB2sgpC9lXQDfMib3Zgw7mEiUvBJI2EplzfAqxL5Vvwp2scFtv/uamSo5z0",
};

static void test_dovecot_schemes(void **state)
{
    for (size_t i = 0; i < sizeof dovecot_vectors / sizeof dovecot_vectors[0]; i++) {
        const char *why = NULL;
        if (!password_usable(dovecot_vectors[i], &why))
            fail_msg("%s: not usable: %s", dovecot_vectors[i], why);
        if (password_verify("correct horse", dovecot_vectors[i]) != 1)
            fail_msg("%s: the right password does not verify", dovecot_vectors[i]);
        if (password_verify("correct horsE", dovecot_vectors[i]) != 0)
            fail_msg("%s: a wrong password does not fail", dovecot_vectors[i]);
    }
}

static void test_malformed(void **state)
{
    static const char *const bad[] = {
        "",
        "plain",
        "{PLAIN}secret",
        "{MD5-CRYPT}$1$abc$def",
        "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
        "{ARGON2ID}",
        "{ARGON2ID}$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
        "{ARGON2ID}$argon2id$v=16$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
        "{ARGON2ID}$argon2id$v=19$m=99999999,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
        "{ARGON2ID}$argon2id$v=19$m=65536,t=0,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
        "{ARGON2ID}$argon2id$v=19$m=65536,t=2,p=1$c29t!XNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
        "{ARGON2ID}$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ",
        "{ARGON2ID}$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$C",
        "{SHA512-CRYPT}",
        "{SHA512-CRYPT}$5$saltsalt$abc",
        "{SHA512-CRYPT}$6$",
        "{CRAM-MD5}e02d374fde0dc75a17a557039a3a5338c7743304777dccd376f332bee68d2cf6",
        "{BLF-CRYPT}$2y$99$8VbAWw9qeAgSIM7DXXruwu7E4RYGsDF4uFiN1rdsjdFS7YVqOAsJW",
        "{BLF-CRYPT}$6$saltsalt$hRM5XZ86KXEw9UOmjigeVqFgULtFB2sgpC9lXQDfMib3Zgw7mEiUvBJI2EplzfAqxL5Vvwp2scFtv/uamSo5z0",
        "{ARGON2I}$argon2id$v=19$m=65536,t=3,p=1$mqQQ3IYrbGClWOB8lW8thg$n/rsGRoK1ldfTSmagRPhCd+8nt3pYJy5fI27vqsH+TA",
        "{SSHA512}aeMyH2nv0TKCwSMRItv3",
        "{SHA256}QQTTb42iwlQ0n4WDZ5Pr4CngyVcGOjTJHC6SAxh7VjE",
        "{SHA256.XYZ}QQTTb42iwlQ0n4WDZ5Pr4CngyVcGOjTJHC6SAxh7VjE=",
        "{SHA512-CRYPT.HEX}$6$saltsalt$hRM5XZ86KXEw9UOmjigeVqFgULtFB2sgpC9lXQDfMib3Zgw7mEiUvBJI2EplzfAqxL5Vvwp2scFtv/uamSo5z0",
        "{MD5-CRYPT}$1$rounds=5$Txm.Lrsa$rn7WCeoHZv4743OfxUzxz.",
        "{CRYPT}*",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int r = password_verify("password", bad[i]);
        const char *why = NULL;
        if (r != -1)
            fail_msg("\"%s\": %d, expected -1", bad[i], r);
        if (password_usable(bad[i], &why) || !why)
            fail_msg("\"%s\": usable", bad[i]);
    }
    assert_int_equal(password_verify(NULL, argon2_vector), -1);
    assert_int_equal(password_verify("x", NULL), -1);
}

UNIT_TEST_MAIN(cmocka_unit_test(test_hash_and_verify), cmocka_unit_test(test_hash_of_a_configured_cost),
               cmocka_unit_test(test_known_vectors),
               cmocka_unit_test(test_dovecot_schemes),
               cmocka_unit_test(test_malformed))
