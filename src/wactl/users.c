/*  wactl users — the Webapp's users as the database holds them, and the
    local way to set a password: `wactl users set-password NAME` (the first
    ADMIN password of a new cluster, or any lost one) and `wactl users
    unlock NAME` (its failed-login count). Whoever runs it can read the
    cluster's configuration and reach its database: that is the trust it
    asks for, so no password of the API is needed. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <mysqld_error.h>
#include <sodium.h>
#include "../waweb/auth.h"
#include "wactl.h"

//  The users table came with schema version 4, login_failures with 7.
#define SCHEMA_USERS 4
#define SCHEMA_FAILURES 7

static const char *SQL_USERS =
    "SELECT username, role, must_change, " WACTL_ISO ("updated_at") " FROM users ORDER BY username";
//  The failures of each user within the window (parameters: the window twice).
static const char *SQL_USER_FAILURES =
    "SELECT name, failures, TIMESTAMPDIFF(MICROSECOND, NOW(6), window_start + INTERVAL ? MICROSECOND) / 1e6"
    " FROM login_failures WHERE kind = 'user' AND window_start > NOW(6) - INTERVAL ? MICROSECOND";
//  A new user gets role; an existing one keeps its own unless role_given.
static const char *SQL_SET_PASSWORD =
    "INSERT INTO users (username, password_hash, role, must_change, created_at, updated_at)"
    " VALUES (?, ?, ?, 0, NOW(6), NOW(6)) ON DUPLICATE KEY UPDATE password_hash = VALUES(password_hash),"
    " role = IF(?, VALUES(role), role), must_change = 0, updated_at = NOW(6)";
static const char *SQL_ROLE = "SELECT role FROM users WHERE username = ?";
static const char *SQL_REVOKE =
    "UPDATE tokens SET revoked_at = NOW(6) WHERE username = ? AND revoked_at IS NULL";
static const char *SQL_UNLOCK = "DELETE FROM login_failures WHERE kind = 'user' AND name = ?";

static int
s_failure_row (const wa_db_row_t *row, void *arg)
{
    json_object_set_new (arg, wa_db_row_str (row, 0),
                         json_pack ("{s:I,s:f}", "failures", (json_int_t) wa_db_row_int (row, 1),
                                    "seconds_left", wa_db_row_double (row, 2)));
    return 0;
}

typedef struct {
    json_t *list;
    json_t *failures;           //  name -> {"failures", "seconds_left"}
    int limit;
} list_t;

static int
s_user_row (const wa_db_row_t *row, void *arg)
{
    list_t *ctx = arg;
    const char *name = wa_db_row_str (row, 0);
    json_t *failed = json_object_get (ctx->failures, name);
    int failures = (int) json_integer_value (json_object_get (failed, "failures"));
    double left = json_real_value (json_object_get (failed, "seconds_left"));
    json_array_append_new (ctx->list, json_pack ("{s:s,s:s,s:b,s:s,s:i,s:o}", "username", name,
                                                 "role", wa_db_row_str (row, 1),
                                                 "must_change", wa_db_row_int (row, 2) != 0,
                                                 "updated_at", wa_db_row_str (row, 3),
                                                 "failed_logins", failures,
                                                 "blocked_for", failures >= ctx->limit ? json_real (left)
                                                                                       : json_null ()));
    return 0;
}

static int
s_list (wactl_t *self, int version)
{
    int64_t window = (int64_t) (self->config->login_failures_window * 1e6);
    list_t ctx = { json_array (), json_object (), self->config->login_failures_limit };
    int status = 0;
    if (version >= SCHEMA_FAILURES
    &&  wa_db_query (self->db, SQL_USER_FAILURES, s_failure_row, ctx.failures, "ii", window, window) < 0)
        status = wactl_fail (self, "database error: %s", wa_db_error (self->db));
    else
    if (wa_db_query (self->db, SQL_USERS, s_user_row, &ctx, "") < 0)
        status = wactl_fail (self, "database error: %s", wa_db_error (self->db));
    else
    if (self->json) {
        json_t *doc = json_pack ("{s:O}", "users", ctx.list);
        wactl_print_json (doc, false);
        json_decref (doc);
    }
    else {
        wactl_table_t *table = wactl_table_new (5, "USERNAME", "ROLE", "PASSWORD", "UPDATED AT", "FAILED LOGINS");
        size_t i;
        json_t *user;
        json_array_foreach (ctx.list, i, user) {
            char when[32], left[32];
            json_t *blocked = json_object_get (user, "blocked_for");
            wactl_table_cell (table, "%s", json_string_value (json_object_get (user, "username")));
            wactl_table_cell (table, "%s", json_string_value (json_object_get (user, "role")));
            wactl_table_cell (table, "%s", json_is_true (json_object_get (user, "must_change"))
                                           ? "default: to be changed at first login" : "set");
            wactl_table_cell (table, "%s", wactl_human_time (json_string_value (json_object_get (user, "updated_at")),
                                                             when, sizeof when));
            if (blocked && !json_is_null (blocked))
                wactl_table_cell (table, "%d: blocked for %s", (int) json_integer_value (json_object_get (user, "failed_logins")),
                                  wactl_human_seconds (json_real_value (blocked), left, sizeof left));
            else
                wactl_table_cell (table, "%d", (int) json_integer_value (json_object_get (user, "failed_logins")));
        }
        wactl_table_print (table, stdout);
        wactl_table_destroy (&table);
        if (json_array_size (ctx.list) == 0)
            printf ("(no users yet: the first Webapp creates 'admin'; 'wactl users set-password admin' "
                    "creates it with a password of your own)\n");
    }
    json_decref (ctx.list);
    json_decref (ctx.failures);
    return status;
}

//  The first line of file (stdin when NULL; from a terminal asked for
//  twice, without echo) into password. 0, or 1 after saying why.
static int
s_read_password (wactl_t *self, const char *name, const char *path, char *password, size_t size)
{
    char line[256] = "", again[256] = "";
    bool tty = !path && isatty (STDIN_FILENO);
    FILE *file = path ? fopen (path, "r") : stdin;
    if (!file)
        return wactl_fail (self, "cannot read %s: %s", path, strerror (errno));
    struct termios saved, quiet;
    if (tty && tcgetattr (STDIN_FILENO, &saved) == 0) {
        quiet = saved;
        quiet.c_lflag &= (tcflag_t) ~ECHO;
        tcsetattr (STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    else
        tty = false;
    if (tty)
        fprintf (stderr, "New password for '%s': ", name);
    bool read = fgets (line, sizeof line, file) != NULL;
    if (tty && read) {
        fprintf (stderr, "\nAgain: ");
        read = fgets (again, sizeof again, file) != NULL;
        fprintf (stderr, "\n");
        tcsetattr (STDIN_FILENO, TCSAFLUSH, &saved);
    }
    else
    if (tty)
        tcsetattr (STDIN_FILENO, TCSAFLUSH, &saved);
    if (path)
        fclose (file);
    line[strcspn (line, "\r\n")] = 0;
    again[strcspn (again, "\r\n")] = 0;
    int status = 0;
    if (!read)
        status = wactl_fail (self, "no password given (its first line is read from %s)", path ? path : "stdin");
    else
    if (tty && strcmp (line, again) != 0)
        status = wactl_fail (self, "the two passwords differ; nothing changed");
    else
    if (strlen (line) >= size)
        status = wactl_fail (self, "the password is longer than %d characters; nothing changed", AUTH_PASSWORD_MAX);
    else
        snprintf (password, size, "%s", line);
    sodium_memzero (line, sizeof line);
    sodium_memzero (again, sizeof again);
    return status;
}

static int
s_role_row (const wa_db_row_t *row, void *arg)
{
    snprintf (arg, 16, "%s", wa_db_row_str (row, 0));
    return 0;
}

static int
s_set_password (wactl_t *self, int version, const char *name, const char *role, const char *path)
{
    if (!auth_username_valid (name))
        return wactl_usage_error (self, "'%s' is no user name: 4 to 32 characters of A-Z, a-z, 0-9, '.', '_' "
                                  "and '-'", name);
    char password[AUTH_PASSWORD_MAX + 1], hash[crypto_pwhash_STRBYTES];
    if (s_read_password (self, name, path, password, sizeof password))
        return 1;
    const char *problem = auth_password_problem (password);
    if (problem) {
        sodium_memzero (password, sizeof password);
        return wactl_fail (self, "the password %s; nothing changed", problem);
    }
    int rc = crypto_pwhash_str (hash, password, strlen (password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                crypto_pwhash_MEMLIMIT_INTERACTIVE);
    sodium_memzero (password, sizeof password);
    if (rc)
        return wactl_fail (self, "cannot hash the password (out of memory?)");
    //  The password, then the tokens it voids, then its failed logins.
    if (wa_db_transaction (self->db, "START TRANSACTION")
    ||  wa_db_exec (self->db, SQL_SET_PASSWORD, "sssi", name, hash, role ? role : "ADMIN",
                    (int64_t) (role != NULL)) < 0
    ||  wa_db_exec (self->db, SQL_REVOKE, "s", name) < 0
    ||  (version >= SCHEMA_FAILURES && wa_db_exec (self->db, SQL_UNLOCK, "s", name) < 0)
    ||  wa_db_transaction (self->db, "COMMIT")) {
        int status = wactl_fail (self, "database error, nothing changed: %s", wa_db_error (self->db));
        wa_db_transaction (self->db, "ROLLBACK");
        return status;
    }
    char stored[16] = "?";
    wa_db_query (self->db, SQL_ROLE, s_role_row, stored, "s", name);
    printf ("the password of '%s' (%s) is set; its tokens are revoked and its failed logins cleared\n", name, stored);
    return 0;
}

static int
s_unlock (wactl_t *self, int version, const char *name)
{
    if (version < SCHEMA_FAILURES)
        return wactl_fail (self, "schema version %d counts no failed logins in the database", version);
    int64_t rows = wa_db_exec (self->db, SQL_UNLOCK, "s", name);
    if (rows < 0)
        return wactl_fail (self, "database error: %s", wa_db_error (self->db));
    printf ("'%s': %s\n", name, rows ? "its failed logins are cleared" : "had no failed logins to clear");
    return 0;
}

int
wactl_users (wactl_t *self, int argc, char **argv)
{
    static const struct option options[] = {
        { "json", no_argument, NULL, 'j' },
        { "role", required_argument, NULL, 'r' },
        { "password-file", required_argument, NULL, 'p' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char *role = NULL, *path = NULL;
    char upper[8];
    int opt;
    wactl_options_start ();
    while ((opt = wactl_option (self, argc, argv, ":jr:p:h", options)) != -1) {
        switch (opt) {
            case 'j': self->json = true; break;
            case 'r':
                snprintf (upper, sizeof upper, "%s", optarg);
                for (char *c = upper; *c; c++)
                    *c = (char) toupper ((unsigned char) *c);
                if (strcmp (upper, "ADMIN") != 0 && strcmp (upper, "USER") != 0)
                    return wactl_usage_error (self, "--role is ADMIN or USER, not '%s'", optarg);
                role = upper;
                break;
            case 'p': path = optarg; break;
            case 'h': printf ("usage: wactl users [--json]\n"
                              "       wactl users set-password NAME [--role ADMIN|USER] [--password-file FILE]\n"
                              "       wactl users unlock NAME\n"); return 0;
            default: return 2;
        }
    }
    const char *verb = optind < argc ? argv[optind] : NULL;
    bool set = verb && strcmp (verb, "set-password") == 0, unlock = verb && strcmp (verb, "unlock") == 0;
    if (verb && !set && !unlock)
        return wactl_usage_error (self, "unknown command '%s' (there are set-password and unlock); try "
                                  "'wactl --help'", verb);
    if (verb && argc - optind != 2)
        return wactl_usage_error (self, "expected %s NAME; try 'wactl --help'", verb);
    if ((role || path) && !set)
        return wactl_usage_error (self, "--role and --password-file go with set-password");
    if (verb && self->json)
        return wactl_usage_error (self, "--json is for the listing; try 'wactl --help'");
    if (sodium_init () < 0)
        return wactl_fail (self, "libsodium cannot start");
    if (wactl_connect (self))
        return 1;
    int version = wactl_require_schema (self);
    if (version < 0)
        return 1;
    if (version < SCHEMA_USERS)
        return wactl_fail (self, "schema version %d has no users yet: wait for the primary Master to upgrade it",
                           version);
    if (set)
        return s_set_password (self, version, argv[optind + 1], role, path);
    if (unlock)
        return s_unlock (self, version, argv[optind + 1]);
    return s_list (self, version);
}
