/*  probe_db — wa_db's transaction guarantees against a real server, for
    tests/integration/test_db_transaction.sh: probe_db CONFIG TABLE.

    TABLE (one column `v` INT) must exist and be empty. Each step prints
    "ok ..." or "FAIL ..."; the exit status is 0 only when every step held. */
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include "wa_config.h"
#include "wa_db.h"

static int s_failures;

static void
s_check (bool held, const char *what)
{
    printf ("%s %s\n", held ? "ok" : "FAIL", what);
    if (!held)
        s_failures++;
}

static int
s_int_row (const wa_db_row_t *row, void *arg)
{
    *(int64_t *) arg = wa_db_row_int (row, 0);
    return 0;
}

static int64_t
s_count (wa_db_t *db, const char *sql)
{
    int64_t n = -1;
    if (wa_db_query (db, sql, s_int_row, &n, "") != 1)
        return -1;
    return n;
}

int
main (int argc, char **argv)
{
    if (argc != 3) {
        fprintf (stderr, "usage: probe_db CONFIG TABLE\n");
        return 2;
    }
    wa_config_t config;
    char err[300];
    wa_config_defaults (&config);
    if (wa_config_load_file (&config, argv[1], err, sizeof err)) {
        fprintf (stderr, "probe_db: %s\n", err);
        return 2;
    }
    //  (wa_db keeps a statement by its text's address: each its own buffer.)
    char insert[160], count[160], kill[64], kill2[64];
    snprintf (insert, sizeof insert, "INSERT INTO %s (v) VALUES (?)", argv[2]);
    snprintf (count, sizeof count, "SELECT COUNT(*) FROM %s", argv[2]);
    wa_db_t *db = wa_db_new (&config), *other = wa_db_new (&config);

    //  The server's own word on the transaction.
    s_check (wa_db_transaction (db, "START TRANSACTION") == 0 && wa_db_exec (db, insert, "i", (int64_t) 1) == 1
             && wa_db_server_in_transaction (db), "inside a transaction, the server says one is open");
    s_check (wa_db_transaction (db, "ROLLBACK") == 0 && !wa_db_server_in_transaction (db),
             "after its ROLLBACK, it says none is");

    //  The connection lost inside a transaction (killed from another one).
    int64_t id = s_count (db, "SELECT CONNECTION_ID()");
    s_check (wa_db_transaction (db, "START TRANSACTION") == 0 && wa_db_exec (db, insert, "i", (int64_t) 2) == 1,
             "a transaction wrote a row");
    snprintf (kill, sizeof kill, "KILL CONNECTION %lld", (long long) id);
    s_check (wa_db_exec (other, kill, "") >= 0, "its connection killed from another");
    s_check (wa_db_exec (db, insert, "i", (int64_t) 3) == -1, "the next statement of the transaction fails");
    s_check (wa_db_exec (db, insert, "i", (int64_t) 4) == -1
             && strstr (wa_db_error (db), "lost inside the transaction") != NULL,
             "and so does the one after it, on no new connection, saying why");
    s_check (wa_db_transaction (db, "COMMIT") == -1, "its COMMIT fails");
    s_check (s_count (other, count) == 0, "none of its rows is in the table");
    s_check (wa_db_exec (db, insert, "i", (int64_t) 5) == 1, "after the failed COMMIT, a statement runs again");
    s_check (s_count (other, count) == 1, "and commits by itself (autocommit), alone");

    //  The same, ended by a ROLLBACK.
    id = s_count (db, "SELECT CONNECTION_ID()");
    snprintf (kill2, sizeof kill2, "KILL CONNECTION %lld", (long long) id);
    s_check (wa_db_transaction (db, "START TRANSACTION") == 0 && wa_db_exec (db, insert, "i", (int64_t) 6) == 1,
             "a second transaction wrote a row");
    s_check (wa_db_exec (other, kill2, "") >= 0, "its connection killed too");
    s_check (wa_db_exec (db, insert, "i", (int64_t) 7) == -1, "its next statement fails");
    s_check (wa_db_transaction (db, "ROLLBACK") == 0 && wa_db_exec (db, insert, "i", (int64_t) 8) == 1
             && s_count (other, count) == 2, "after its ROLLBACK, statements run again");

    //  A unit of work that ends inside its transaction is rolled back.
    s_check (wa_db_transaction (db, "START TRANSACTION") == 0 && wa_db_exec (db, insert, "i", (int64_t) 9) == 1,
             "a job left its transaction open");
    wa_db_settle (db, "the probe's job");
    s_check (!wa_db_server_in_transaction (db) && s_count (other, count) == 2, "settled: rolled back");

    wa_db_destroy (&db);
    wa_db_destroy (&other);
    return s_failures ? 1 : 0;
}
