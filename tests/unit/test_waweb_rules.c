/*  The pure parts of waweb: the error envelope and its table, the
    credential rules, Authorization parsing, tokens, path routing, body
    parsing, the login rate limit, the token cache and the Idempotency-Key. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>
#include "auth.h"
#include "envelope.h"
#include "idempotency.h"
#include "input.h"
#include "route.h"
#include "tokencache.h"
#include "wa_message.h"

static void
test_envelope_table (void **state)
{
    (void) state;
    int codes[] = { 1000, 1005, 1006, 1008, 1009, 1011, 1014, 1015, 1016, 1017, 1018, 1023, 1024 };
    int statuses[] = { 500, 403, 404, 400, 400, 503, 500, 429, 503, 500, 500, 500, 401 };
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        assert_int_equal (wa_error_status (codes[i]), statuses[i]);
    assert_string_equal (wa_error_title (1005), "Access denied");
    assert_string_equal (wa_error_title (1024), "Password change required");
    assert_int_equal (wa_error_status (4242), 500);
    assert_string_equal (wa_error_title (4242), "Generic error");
    assert_int_equal (atoi (WA_ERR_INTERNAL_DIGITS), WA_ERR_INTERNAL);
}

//  The envelope the Coreapp's refusals carry: details escaped, cut at 299
//  bytes, never a broken JSON text.
static void
test_error_json (void **state)
{
    (void) state;
    char *text = wa_error_json (WA_ERR_INVALID, "\"to\" is %s", "not\na number");
    assert_string_equal (text, "{\"errors\":[{\"code\":1009,\"details\":\"\\\"to\\\" is not\\na number\"}]}");
    free (text);
    char long_details[1000];
    memset (long_details, 'x', sizeof long_details - 1);
    long_details[sizeof long_details - 1] = 0;
    text = wa_error_json (WA_ERR_GENERIC, "%s", long_details);
    json_error_t error;
    json_t *body = json_loads (text, 0, &error);
    assert_non_null (body);
    const char *details = json_string_value (json_object_get (json_array_get (json_object_get (body, "errors"), 0), "details"));
    assert_non_null (details);
    assert_int_equal (strlen (details), 299);
    json_decref (body);
    free (text);
}

static void
test_envelope_shape (void **state)
{
    (void) state;
    json_t *ok = envelope_new ();
    size_t len;
    char *text = envelope_dump (ok, &len);
    assert_string_equal (text, "{\"meta\":{\"version\":\"" WA_VERSION "\",\"api_status\":\"stable\"}}");
    assert_int_equal (len, strlen (text));
    assert_int_equal (envelope_code (ok), 0);
    free (text);
    json_decref (ok);
    json_t *error = envelope_error (1008, "'%s' is required", "username");
    text = envelope_dump (error, NULL);
    assert_non_null (strstr (text, "\"errors\":[{\"code\":1008,\"title\":\"Required parameter is missing\","
                                   "\"details\":\"'username' is required\"}]"));
    assert_int_equal (envelope_code (error), 1008);
    free (text);
    json_decref (error);
    //  Details quoting invalid UTF-8 still give a valid envelope.
    error = envelope_error (1009, "bad %s", "\xff\xfe");
    assert_int_equal (envelope_code (error), 1009);
    json_decref (error);
    text = envelope_dump (NULL, NULL);
    assert_non_null (strstr (text, "\"code\":1014"));
    free (text);
}

static void
test_username (void **state)
{
    (void) state;
    assert_true (auth_username_valid ("admin"));
    assert_true (auth_username_valid ("a.b_c-D9"));
    assert_true (auth_username_valid ("abcd"));
    assert_true (auth_username_valid ("abcdefghijklmnopqrstuvwxyz012345"));
    assert_false (auth_username_valid ("abcdefghijklmnopqrstuvwxyz0123456"));
    assert_false (auth_username_valid ("abc"));
    assert_false (auth_username_valid (""));
    assert_false (auth_username_valid (NULL));
    assert_false (auth_username_valid ("with space"));
    assert_false (auth_username_valid ("semi;colon"));
    assert_false (auth_username_valid ("caf\xc3\xa9s"));
}

static void
test_password (void **state)
{
    (void) state;
    assert_null (auth_password_problem ("Adm1n-Passw0rd!"));
    assert_null (auth_password_problem ("aA1!aaaa"));
    assert_non_null (auth_password_problem ("aA1!aaa"));             //  7
    char long_pw[70];
    memset (long_pw, 'a', 65);
    memcpy (long_pw, "A1!", 3);
    long_pw[65] = 0;
    assert_non_null (auth_password_problem (long_pw));                //  65
    long_pw[64] = 0;
    assert_null (auth_password_problem (long_pw));                    //  64
    assert_string_equal (auth_password_problem ("aaaaaaa1!"), "must contain an upper case letter");
    assert_string_equal (auth_password_problem ("AAAAAAA1!"), "must contain a lower case letter");
    assert_string_equal (auth_password_problem ("AAAAaaaa!"), "must contain a digit");
    assert_string_equal (auth_password_problem ("AAAAaaaa1"), "must contain a special character");
    assert_non_null (auth_password_problem ("Aa1!\tbbbb"));
    assert_non_null (auth_password_problem (NULL));
}

static void
test_basic (void **state)
{
    (void) state;
    char user[33], pass[65];
    //  admin:secret
    assert_int_equal (auth_basic_parse ("Basic YWRtaW46c2VjcmV0", user, sizeof user, pass, sizeof pass), 0);
    assert_string_equal (user, "admin");
    assert_string_equal (pass, "secret");
    assert_int_equal (auth_basic_parse ("basic   YWRtaW46c2VjcmV0  ", user, sizeof user, pass, sizeof pass), 0);
    //  a:b:c — the password may hold ':'
    assert_int_equal (auth_basic_parse ("Basic YTpiOmM=", user, sizeof user, pass, sizeof pass), 0);
    assert_string_equal (user, "a");
    assert_string_equal (pass, "b:c");
    //  ":" — empty both
    assert_int_equal (auth_basic_parse ("Basic Og==", user, sizeof user, pass, sizeof pass), 0);
    assert_string_equal (user, "");
    assert_int_equal (auth_basic_parse ("Basic YWRtaW4=", user, sizeof user, pass, sizeof pass), -1);  //  no ':'
    assert_int_equal (auth_basic_parse ("Basic !!!!", user, sizeof user, pass, sizeof pass), -1);
    assert_int_equal (auth_basic_parse ("Basic ", user, sizeof user, pass, sizeof pass), -1);
    assert_int_equal (auth_basic_parse ("Basic", user, sizeof user, pass, sizeof pass), -1);
    assert_int_equal (auth_basic_parse ("Bearer YWRtaW46c2VjcmV0", user, sizeof user, pass, sizeof pass), -1);
    assert_int_equal (auth_basic_parse ("BasicYWRtaW46c2VjcmV0", user, sizeof user, pass, sizeof pass), -1);
    assert_int_equal (auth_basic_parse (NULL, user, sizeof user, pass, sizeof pass), -1);
    //  a\0b:c — a NUL inside is refused
    assert_int_equal (auth_basic_parse ("Basic YQBiOmM=", user, sizeof user, pass, sizeof pass), -1);
    //  too long for the buffers
    assert_int_equal (auth_basic_parse ("Basic YWRtaW46c2VjcmV0", user, 5, pass, sizeof pass), -1);
    assert_int_equal (auth_basic_parse ("Basic YWRtaW46c2VjcmV0", user, sizeof user, pass, 6), -1);
    char huge[2000] = "Basic ";
    memset (huge + 6, 'Q', sizeof huge - 7);
    huge[sizeof huge - 1] = 0;
    assert_int_equal (auth_basic_parse (huge, user, sizeof user, pass, sizeof pass), -1);
}

static void
test_bearer_and_tokens (void **state)
{
    (void) state;
    char token[AUTH_TOKEN_LEN + 1], other[AUTH_TOKEN_LEN + 1], parsed[AUTH_TOKEN_LEN + 2];
    auth_token_new (token);
    auth_token_new (other);
    assert_int_equal (strlen (token), AUTH_TOKEN_LEN);
    assert_string_not_equal (token, other);
    char header[100];
    snprintf (header, sizeof header, "Bearer %s", token);
    assert_int_equal (auth_bearer_parse (header, parsed, sizeof parsed), 0);
    assert_string_equal (parsed, token);
    snprintf (header, sizeof header, "bearer  %s ", token);
    assert_int_equal (auth_bearer_parse (header, parsed, sizeof parsed), 0);
    assert_string_equal (parsed, token);
    assert_int_equal (auth_bearer_parse ("Bearer ", parsed, sizeof parsed), -1);
    assert_int_equal (auth_bearer_parse ("Bearer a b", parsed, sizeof parsed), -1);
    assert_int_equal (auth_bearer_parse ("Bearer a'b", parsed, sizeof parsed), -1);
    assert_int_equal (auth_bearer_parse ("Basic abc", parsed, sizeof parsed), -1);
    assert_int_equal (auth_bearer_parse (NULL, parsed, sizeof parsed), -1);
    snprintf (header, sizeof header, "Bearer %sxx", token);
    assert_int_equal (auth_bearer_parse (header, parsed, sizeof parsed), -1);
    char hash[AUTH_TOKEN_HASH_LEN + 1], again[AUTH_TOKEN_HASH_LEN + 1], hash2[AUTH_TOKEN_HASH_LEN + 1];
    auth_token_hash (token, hash);
    auth_token_hash (token, again);
    auth_token_hash (other, hash2);
    assert_int_equal (strlen (hash), 64);
    assert_string_equal (hash, again);
    assert_string_not_equal (hash, hash2);
    assert_null (strstr (hash, token));
}

static void
test_route (void **state)
{
    (void) state;
    route_t r;
    //  The account state and the contacts' identity (issue 12).
    assert_int_equal (route_match ("GET", "/v1/contacts/16315551234/identity", &r), 0);
    assert_int_equal (r.id, ROUTE_IDENTITY_GET);
    assert_string_equal (r.param, "16315551234");
    assert_int_equal (r.auth, ROUTE_AUTH_BEARER);
    assert_int_equal (route_match ("PUT", "/v1/contacts/16315551234/identity", &r), 0);
    assert_int_equal (r.id, ROUTE_IDENTITY_ACK);
    assert_int_equal (route_match ("POST", "/v1/contacts/16315551234/identity", &r), 405);
    assert_string_equal (r.allow, "GET, PUT");
    assert_int_equal (route_match ("POST", "/v1/contacts/", &r), 0);
    assert_int_equal (r.id, ROUTE_CONTACTS);
    assert_int_equal (route_match ("GET", "/v1/contacts//identity", &r), 404);
    assert_int_equal (route_match ("GET", "/v1/settings/profile/photo", &r), 0);
    assert_int_equal (r.auth, ROUTE_AUTH_ADMIN);
    assert_int_equal (route_match ("PUT", "/v1/settings/profile/photo", &r), 405);
    assert_string_equal (r.allow, "GET, POST, DELETE");
    assert_int_equal (route_match ("PATCH", "/v1/settings/profile/about", &r), 0);
    assert_int_equal (r.id, ROUTE_ABOUT_SET);
    assert_int_equal (route_match ("POST", "/v1/settings/restore", &r), 0);
    assert_int_equal (r.auth, ROUTE_AUTH_ADMIN);
    assert_string_equal (route_name (ROUTE_IDENTITY_ACK), "identity_ack");
    assert_int_equal (route_match ("POST", "/v1/users/login", &r), 0);
    assert_int_equal (r.id, ROUTE_LOGIN);
    assert_int_equal (r.auth, ROUTE_AUTH_BASIC);
    assert_int_equal (route_match ("POST", "/v1/users/logout", &r), 0);
    assert_int_equal (r.id, ROUTE_LOGOUT);
    assert_int_equal (route_match ("POST", "/v1/users", &r), 0);
    assert_int_equal (r.id, ROUTE_USER_CREATE);
    assert_int_equal (r.auth, ROUTE_AUTH_ADMIN);
    assert_int_equal (route_match ("GET", "/v1/users/alice", &r), 0);
    assert_int_equal (r.id, ROUTE_USER_GET);
    assert_int_equal (r.auth, ROUTE_AUTH_SELF);
    assert_string_equal (r.param, "alice");
    assert_int_equal (route_match ("PUT", "/v1/users/alice", &r), 0);
    assert_int_equal (r.id, ROUTE_USER_UPDATE);
    assert_string_equal (r.allow, "");
    assert_int_equal (route_match ("DELETE", "/v1/users/alice", &r), 0);
    assert_int_equal (r.id, ROUTE_USER_DELETE);
    assert_int_equal (r.auth, ROUTE_AUTH_ADMIN);
    assert_int_equal (route_match ("GET", "/v1/health", &r), 0);
    assert_int_equal (r.id, ROUTE_HEALTH);
    assert_int_equal (r.auth, ROUTE_AUTH_BEARER);
    //  The balancers' probes: public, GET or HEAD, their own names.
    assert_int_equal (route_match ("GET", "/v1/health/live", &r), 0);
    assert_int_equal (r.id, ROUTE_HEALTH_LIVE);
    assert_int_equal (r.auth, ROUTE_AUTH_NONE);
    assert_string_equal (route_name (r.id), "health_live");
    assert_int_equal (route_match ("HEAD", "/v1/health/live", &r), 0);
    assert_int_equal (r.id, ROUTE_HEALTH_LIVE);
    assert_int_equal (route_match ("GET", "/v1/health/ready", &r), 0);
    assert_int_equal (r.id, ROUTE_HEALTH_READY);
    assert_int_equal (r.auth, ROUTE_AUTH_NONE);
    assert_string_equal (route_name (r.id), "health_ready");
    assert_int_equal (route_match ("HEAD", "/v1/health/ready", &r), 0);
    assert_int_equal (r.id, ROUTE_HEALTH_READY);
    assert_int_equal (route_match ("POST", "/v1/health/ready", &r), 405);
    assert_string_equal (r.allow, "GET, HEAD");
    assert_int_equal (route_match ("HEAD", "/v1/health", &r), 405);
    assert_int_equal (route_match ("GET", "/v1/health/readyx", &r), 404);
    assert_int_equal (route_match ("GET", "/v1/health/ready/", &r), 0);
    assert_int_equal (r.id, ROUTE_HEALTH_READY);
    //  Every route has its own name in the metrics.
    for (int id = ROUTE_NONE + 1; id < ROUTE_COUNT; id++)
        assert_string_not_equal (route_name ((route_id_t) id), "none");
    //  Wrong methods: 405 with what the path takes.
    assert_int_equal (route_match ("GET", "/v1/users/login", &r), 405);
    assert_string_equal (r.allow, "POST");
    assert_int_equal (route_match ("POST", "/v1/users/alice", &r), 405);
    assert_string_equal (r.allow, "GET, PUT, DELETE");
    assert_int_equal (route_match ("DELETE", "/v1/health", &r), 405);
    assert_string_equal (r.allow, "GET");
    assert_int_equal (route_match ("GET", "/v1/users", &r), 405);
    //  Unknown paths.
    assert_int_equal (route_match ("GET", "/", &r), 404);
    assert_int_equal (route_match ("GET", "", &r), 404);
    assert_int_equal (route_match ("GET", "/v1/users/a/b", &r), 404);
    assert_int_equal (route_match ("GET", "/v1/users/a/b/", &r), 404);
    assert_int_equal (route_match ("GET", "/v1/nothing/", &r), 404);
    assert_int_equal (route_match ("GET", "//", &r), 404);
    assert_int_equal (route_match ("GET", "/v1/health//", &r), 404);
    //  Every path also with one trailing slash, as the original takes it.
    assert_int_equal (route_match ("GET", "/v1/health/", &r), 0);
    assert_int_equal (r.id, ROUTE_HEALTH);
    assert_int_equal (route_match ("POST", "/v1/users/", &r), 0);
    assert_int_equal (r.id, ROUTE_USER_CREATE);
    assert_int_equal (route_match ("GET", "/v1/users/", &r), 405);
    assert_string_equal (r.allow, "POST");
    assert_int_equal (route_match ("POST", "/v1/users/login/", &r), 0);
    assert_int_equal (r.id, ROUTE_LOGIN);
    assert_int_equal (route_match ("GET", "/v1/users/alice/", &r), 0);
    assert_int_equal (r.id, ROUTE_USER_GET);
    assert_string_equal (r.param, "alice");
    assert_int_equal (route_match ("PATCH", "/v1/settings/application/", &r), 0);
    assert_int_equal (r.id, ROUTE_SETTINGS_PATCH);
    assert_int_equal (route_match ("GET", "/metrics/", &r), 0);
    assert_int_equal (r.id, ROUTE_METRICS);
    assert_int_equal (route_match ("DELETE", "/v1/media/abc/", &r), 0);
    assert_int_equal (r.id, ROUTE_MEDIA_DELETE);
    assert_string_equal (r.param, "abc");
    //  The endpoints of issue 12 (settings, operations).
    assert_int_equal (route_match ("GET", "/v1/settings/application/media/providers", &r), 0);
    assert_int_equal (r.id, ROUTE_PROVIDERS_GET);
    assert_int_equal (r.auth, ROUTE_AUTH_ADMIN);
    assert_int_equal (route_match ("POST", "/v1/settings/application/media/providers/", &r), 0);
    assert_int_equal (r.id, ROUTE_PROVIDERS_SET);
    assert_int_equal (route_match ("DELETE", "/v1/settings/application/media/providers/cdn-1", &r), 0);
    assert_int_equal (r.id, ROUTE_PROVIDERS_DELETE);
    assert_string_equal (r.param, "cdn-1");
    assert_int_equal (route_match ("DELETE", "/v1/settings/application/media/providers", &r), 405);
    assert_int_equal (route_match ("PUT", "/v1/services/message/gc", &r), 0);
    assert_int_equal (r.id, ROUTE_MESSAGE_GC);
    assert_int_equal (r.auth, ROUTE_AUTH_ADMIN);
    assert_int_equal (route_match ("GET", "/v1/services/message/gc", &r), 405);
    assert_int_equal (route_match ("GET", "/v1/stats/app/internal", &r), 0);
    assert_int_equal (r.id, ROUTE_STATS_APP_INTERNAL);
    assert_int_equal (route_match ("GET", "/v1/stats/db/internal/", &r), 0);
    assert_int_equal (r.id, ROUTE_STATS_DB_INTERNAL);
    assert_int_equal (route_match ("GET", "/v1/support", &r), 0);
    assert_int_equal (r.id, ROUTE_SUPPORT);
    assert_int_equal (r.auth, ROUTE_AUTH_ADMIN);
    //  Too long for any route, with or without the slash.
    char longpath[ROUTE_PATH_MAX + 20];
    memset (longpath, 'a', sizeof longpath - 2);
    longpath[0] = '/';
    longpath[sizeof longpath - 2] = '/';
    longpath[sizeof longpath - 1] = 0;
    assert_int_equal (route_match ("GET", longpath, &r), 404);
    assert_int_equal (route_match ("GET", "/v1/healthx", &r), 404);
    assert_int_equal (route_match ("GET", "/V1/health", &r), 404);
    //  Messages: sent with or without a trailing slash (as the original's
    //  examples write it), an inbound one marked read by its id.
    assert_int_equal (route_match ("POST", "/v1/messages", &r), 0);
    assert_int_equal (r.id, ROUTE_MESSAGES);
    assert_int_equal (route_match ("POST", "/v1/messages/", &r), 0);
    assert_int_equal (r.id, ROUTE_MESSAGES);
    assert_int_equal (route_match ("POST", "/v1/contacts/", &r), 0);
    assert_int_equal (r.id, ROUTE_CONTACTS);
    assert_int_equal (route_match ("PUT", "/v1/messages/w18c2f-12", &r), 0);
    assert_int_equal (r.id, ROUTE_MESSAGE_READ);
    assert_string_equal (r.param, "w18c2f-12");
    assert_int_equal (r.auth, ROUTE_AUTH_BEARER);
    assert_int_equal (route_match ("GET", "/v1/messages/", &r), 405);
    assert_string_equal (r.allow, "POST");
    assert_int_equal (route_match ("POST", "/v1/messages/w1", &r), 405);
    assert_string_equal (r.allow, "PUT");
    assert_int_equal (route_match ("PUT", "/v1/messages/w1/x", &r), 404);
    assert_int_equal (route_match ("POST", "/v1/messages//", &r), 404);
    //  Certificates: PEM bodies, not JSON.
    assert_int_equal (route_match ("POST", "/v1/certificates/external", &r), 0);
    assert_int_equal (r.id, ROUTE_CERT_EXTERNAL_SET);
    assert_int_equal (r.auth, ROUTE_AUTH_ADMIN);
    assert_true (r.raw_body);
    assert_int_equal (route_match ("GET", "/v1/certificates/external/ca", &r), 0);
    assert_int_equal (r.auth, ROUTE_AUTH_BEARER);
    assert_false (r.raw_body);
    assert_int_equal (route_match ("POST", "/v1/certificates/webhooks/ca", &r), 0);
    assert_true (r.raw_body);
    assert_int_equal (route_match ("PUT", "/v1/certificates/webhooks/ca", &r), 405);
    assert_string_equal (r.allow, "POST, GET, DELETE");
    //  Stickerpacks: two names in one path.
    assert_int_equal (route_match ("GET", "/v1/stickerpacks/p1/stickers/7", &r), 0);
    assert_int_equal (r.id, ROUTE_STICKER_GET);
    assert_string_equal (r.param, "p1");
    assert_string_equal (r.param2, "7");
    assert_int_equal (route_match ("POST", "/v1/stickerpacks/p1/stickers", &r), 0);
    assert_int_equal (r.id, ROUTE_STICKER_ADD);
    assert_string_equal (r.param, "p1");
    assert_string_equal (r.param2, "");
    assert_int_equal (route_match ("PATCH", "/v1/stickerpacks/p1", &r), 0);
    assert_int_equal (r.id, ROUTE_STICKERPACK_UPDATE);
    //  A trailing slash, as on every path.
    assert_int_equal (route_match ("GET", "/v1/stickerpacks/p1/stickers/", &r), 0);
    assert_int_equal (r.id, ROUTE_STICKERS_LIST);
    assert_string_equal (r.param, "p1");
    assert_int_equal (route_match ("GET", "/v1/stickerpacks//stickers", &r), 404);
    assert_int_equal (route_match ("GET", "/v1/stickerpacks/p1/stickers/7/x", &r), 404);
    assert_int_equal (route_match ("PUT", "/v1/stickerpacks", &r), 405);
    //  A name too long for any user: the route, with no name.
    char path[400] = "/v1/users/";
    memset (path + 10, 'x', 300);
    path[310] = 0;
    assert_int_equal (route_match ("GET", path, &r), 0);
    assert_string_equal (r.param, "");
}

static void
test_input (void **state)
{
    (void) state;
    json_t *in = NULL;
    char why[200], out[16];
    assert_int_equal (input_parse (NULL, 0, &in, why, sizeof why), 0);
    assert_null (in);
    assert_int_equal (input_parse ("{\"a\":", 5, &in, why, sizeof why), 1009);
    assert_non_null (strstr (why, "not valid JSON"));
    assert_int_equal (input_parse ("[1]", 3, &in, why, sizeof why), 1009);
    assert_int_equal (input_parse ("{\"a\":1,\"a\":2}", 13, &in, why, sizeof why), 1009);
    const char *body = "{\"name\":\"bob\",\"n\":5,\"z\":null,\"long\":\"0123456789abcdefg\"}";
    assert_int_equal (input_parse (body, strlen (body), &in, why, sizeof why), 0);
    assert_int_equal (input_string (in, "name", true, out, sizeof out, why, sizeof why), 0);
    assert_string_equal (out, "bob");
    assert_int_equal (input_string (in, "n", true, out, sizeof out, why, sizeof why), 1009);
    assert_string_equal (why, "'n' must be a string");
    assert_int_equal (input_string (in, "missing", true, out, sizeof out, why, sizeof why), 1008);
    assert_string_equal (why, "'missing' is required");
    assert_int_equal (input_string (in, "missing", false, out, sizeof out, why, sizeof why), 0);
    assert_string_equal (out, "");
    assert_int_equal (input_string (in, "z", false, out, sizeof out, why, sizeof why), 0);
    assert_int_equal (input_string (in, "long", true, out, sizeof out, why, sizeof why), 1009);
    json_decref (in);
    //  "a\u0000b": a NUL inside a string is refused.
    body = "{\"s\":\"a\\u0000b\"}";
    assert_int_equal (input_parse (body, strlen (body), &in, why, sizeof why), 1009);
    assert_null (in);
}

static void
test_tokencache (void **state)
{
    (void) state;
    tokencache_t *cache = tokencache_new ();
    tokencache_put (cache, "h1", "alice", "USER", 100);
    tokencache_put (cache, "h2", "alice", "USER", 200);
    tokencache_put (cache, "h3", "admin", "ADMIN", 200);
    const tokencache_entry_t *e = tokencache_get (cache, "h1", 50);
    assert_non_null (e);
    assert_string_equal (e->username, "alice");
    assert_null (tokencache_get (cache, "h1", 100));
    assert_null (tokencache_get (cache, "nope", 0));
    tokencache_forget_user (cache, "alice");
    assert_null (tokencache_get (cache, "h2", 0));
    assert_non_null (tokencache_get (cache, "h3", 0));
    tokencache_forget (cache, "h3");
    assert_null (tokencache_get (cache, "h3", 0));
    tokencache_put (cache, "h4", "bob", "USER", 10);
    assert_int_equal (tokencache_purge (cache, 10), 0);
    tokencache_destroy (&cache);
    assert_null (cache);
}

//  The client's key taken as it is or refused whole; the request's key
//  scoped to the caller, the same on every retry.
static void
test_idempotency (void **state)
{
    (void) state;
    char max[IDEMPOTENCY_CLIENT_MAX + 2];
    memset (max, 'k', IDEMPOTENCY_CLIENT_MAX);
    max[IDEMPOTENCY_CLIENT_MAX] = 0;
    assert_true (idempotency_client_valid ("retry-1"));
    assert_true (idempotency_client_valid ("~!{}"));
    assert_true (idempotency_client_valid (max));
    max[IDEMPOTENCY_CLIENT_MAX] = 'k';
    max[IDEMPOTENCY_CLIENT_MAX + 1] = 0;
    assert_false (idempotency_client_valid (max));
    assert_false (idempotency_client_valid (""));
    assert_false (idempotency_client_valid ("a b"));
    assert_false (idempotency_client_valid ("a\tb"));
    assert_false (idempotency_client_valid ("caf\xc3\xa9"));
    assert_false (idempotency_client_valid ("a\x7f"));
    char a[IDEMPOTENCY_KEY_SIZE], b[IDEMPOTENCY_KEY_SIZE], c[IDEMPOTENCY_KEY_SIZE];
    idempotency_key ("admin", "retry-1", a, sizeof a);
    idempotency_key ("admin", "retry-1", b, sizeof b);
    idempotency_key ("user1", "retry-1", c, sizeof c);
    assert_string_equal (a, b);
    assert_string_not_equal (a, c);
    assert_int_equal (strlen (a), IDEMPOTENCY_KEY_SIZE - 1);
    assert_true (strncmp (a, "c.", 2) == 0 && wa_message_key_valid (a));
    //  The caller's end is hashed: ("ab", "c") is not ("a", "bc").
    idempotency_key ("ab", "c", b, sizeof b);
    idempotency_key ("a", "bc", c, sizeof c);
    assert_string_not_equal (b, c);
    idempotency_key ("admin", NULL, b, sizeof b);
    idempotency_key ("admin", NULL, c, sizeof c);
    assert_true (strncmp (b, "w.", 2) == 0 && wa_message_key_valid (b));
    assert_string_not_equal (b, c);
}

int
main (void)
{
    if (sodium_init () < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_envelope_table),
        cmocka_unit_test (test_envelope_shape),
        cmocka_unit_test (test_error_json),
        cmocka_unit_test (test_username),
        cmocka_unit_test (test_password),
        cmocka_unit_test (test_basic),
        cmocka_unit_test (test_bearer_and_tokens),
        cmocka_unit_test (test_route),
        cmocka_unit_test (test_input),
        cmocka_unit_test (test_tokencache),
        cmocka_unit_test (test_idempotency),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
