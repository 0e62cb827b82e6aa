/* Error mapping: pg_err, the JSON error body (jansson, always UTF-8), token comparison. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "server/http.h"

static void test_errf(void **state) {
    (void)state;
    pg_err e;
    assert_int_equal(pg_errf(&e, 422, "out_of_bounds", "pod count %d is outside [%d, %d]", 9, 1, 5), -1);
    assert_int_equal(e.status, 422);
    assert_string_equal(e.code, "out_of_bounds");
    assert_string_equal(e.message, "pod count 9 is outside [1, 5]");
    assert_int_equal(pg_errf(NULL, 500, "x", "no crash"), -1);
    char big[2000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    pg_errf(&e, 500, "a_code_that_is_far_longer_than_the_code_field_allows", "%s", big);
    assert_int_equal(strlen(e.message), sizeof e.message - 1);
    assert_int_equal(strlen(e.code), sizeof e.code - 1);
}

static void test_error_body(void **state) {
    (void)state;
    http_resp r = { 0 };
    assert_int_equal(http_resp_error(&r, 400, "bad_json", "body is \"not\" JSON\n\x01"), 0);
    assert_int_equal(r.status, 400);
    assert_string_equal(r.body, "{\"error\":{\"code\":\"bad_json\",\"message\":\"body is \\\"not\\\" JSON\\n\\u0001\"}}");
    assert_string_equal(r.content_type, "application/json");
    free(r.body);
}

/* A message that echoes a client's bytes: ill-formed UTF-8 becomes U+FFFD
 * (one per maximal subpart), well-formed stays as it is. */
static void test_error_body_utf8(void **state) {
    (void)state;
    http_resp r = { 0 };
    assert_int_equal(http_resp_error(&r, 404, "not_found", "no route for /a\xff\xc3\xa9\xe2\x82/\xed\xa0\x80"), 0);
    assert_string_equal(r.body, "{\"error\":{\"code\":\"not_found\",\"message\":"
                                "\"no route for /a\xef\xbf\xbd\xc3\xa9\xef\xbf\xbd/\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"}}");
    free(r.body);
    char big[5000];
    memset(big, 0xff, sizeof big - 1);                  /* long: no truncation, each byte one U+FFFD */
    big[sizeof big - 1] = '\0';
    r = (http_resp){ 0 };
    assert_int_equal(http_resp_error(&r, 400, "bad_path", big), 0);
    assert_int_equal(r.len, strlen("{\"error\":{\"code\":\"bad_path\",\"message\":\"\"}}") + 3 * (sizeof big - 1));
    free(r.body);
}

static void test_token(void **state) {
    (void)state;
    assert_true(http_token_ok("Bearer s3cret", "s3cret"));
    assert_false(http_token_ok("Bearer s3cre", "s3cret"));
    assert_false(http_token_ok("Bearer s3cretX", "s3cret"));
    assert_false(http_token_ok("bearer s3cret", "s3cret"));
    assert_false(http_token_ok("s3cret", "s3cret"));
    assert_false(http_token_ok(NULL, "s3cret"));
    assert_false(http_token_ok("Bearer ", "s3cret"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errf), cmocka_unit_test(test_error_body),
        cmocka_unit_test(test_token), cmocka_unit_test(test_error_body_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
