/*  wa_db — the database connection: prepared statements only, reconnection
    with backoff, and the statement timeout that makes a hung database look
    like a failed renewal instead of a hung node.

    A wa_db_t is used by one thread at a time (the program's DB worker; wactl
    uses it directly). Parameters are bound from a format string:
        'i' int64_t   'u' uint64_t   'd' double   's' const char * (NULL = SQL NULL)
    Result columns are fetched as text; the row accessors convert. */
#ifndef WA_DB_H
#define WA_DB_H

#include <stdbool.h>
#include <stdint.h>
#include "wa_clockwatch.h"
#include "wa_config.h"

typedef struct wa_db_t wa_db_t;
typedef struct wa_db_row_t wa_db_row_t;

//  Called once per row; return non-zero to stop early.
typedef int (wa_db_row_fn) (const wa_db_row_t *row, void *arg);

//  Not connected yet: the first call that needs the database connects.
wa_db_t *wa_db_new (const wa_config_t *config);
void wa_db_destroy (wa_db_t **self_p);

//  Connect if not connected. Honours the backoff after a failure: returns -1
//  at once while the backoff runs. 0 when connected.
int wa_db_ensure (wa_db_t *self);
bool wa_db_connected (wa_db_t *self);
//  The database node ("host:port") the connection uses, "" when none; and
//  whether it is a node of a Galera cluster. A process's connections use
//  one node of db_hosts, the first that serves from the one in use; they
//  move on when it stops serving and go back to an earlier one when it
//  serves again (db_failback_interval).
const char *wa_db_node (const wa_db_t *self);
bool wa_db_galera (const wa_db_t *self);
//  Close the connection (the next call reconnects).
void wa_db_disconnect (wa_db_t *self);
//  The server ends a session silent for db_statement_timeout (so that a
//  paused node's transaction and locks do not outlive it). A connection's
//  owner calls this when it has nothing else to do, by wa_db_keepalive_due
//  (a monotonic time): an idle connection is pinged then (none while
//  not connected, or inside a transaction), or closed when it ran no
//  statement for db_connection_idle_timeout (> 0). 0, or -1 when the
//  connection was gone (then closed; the next call reconnects).
int wa_db_keepalive (wa_db_t *self);
wa_usec_t wa_db_keepalive_due (const wa_db_t *self);

//  Execute a statement that returns no rows. Returns the number of rows it
//  matched (CLIENT_FOUND_ROWS), or -1 on error (wa_db_error tells which; the
//  connection is dropped when the error means it is gone or timed out).
int64_t wa_db_exec (wa_db_t *self, const char *sql, const char *fmt, ...);
//  This process's database counters, over every connection.
typedef struct {
    uint64_t statements;        //  executed or tried (also while not connected)
    uint64_t errors;            //  statements that failed
    uint64_t connects;          //  connections made
    uint64_t connect_failures;
    uint64_t disconnects;       //  connections lost (an error that ended one)
    uint64_t node_changes;      //  moves to another database node of db_hosts (and back)
} wa_db_stats_t;
wa_db_stats_t wa_db_stats (void);

//  Execute sql once per parameter row, rows rows (up to 4096). cols[i] is
//  an array of rows values of the type fmt[i] names: int64_t, uint64_t,
//  double, or const char * (not NULL). Returns the rows affected in all, or
//  -1. How depends on the server and db_bulk (chosen at each connection,
//  logged once): MariaDB's array binding, the whole batch in one round
//  trip; or else, for "INSERT ... VALUES (...)" with nothing after the
//  tuple, multi-row statements of up to 512 rows each, and for any other
//  statement one execution per row. Not atomic by itself in the second
//  case: run it inside a transaction when it must be all or nothing.
int64_t wa_db_exec_bulk (wa_db_t *self, const char *sql, const char *fmt, unsigned int rows,
                         const void *const *cols);
//  "START TRANSACTION", "COMMIT" or "ROLLBACK". 0 / -1. A lost connection
//  rolls back by itself; after any failure inside a transaction, ROLLBACK.
//  Once the connection is lost inside a transaction, every statement fails
//  (and so does a COMMIT) until a ROLLBACK or a START TRANSACTION: none of
//  the transaction's work runs on the next connection outside of it.
int wa_db_transaction (wa_db_t *self, const char *verb);
//  After a unit of work (a DB worker's job; what: its name for the log): a
//  transaction it left open is rolled back and a lost one forgotten, both
//  logged (either is its bug), so the next unit starts clean.
void wa_db_settle (wa_db_t *self, const char *what);
//  Whether the server, in its last answer on this connection, said that a
//  transaction is open (SERVER_STATUS_IN_TRANS). A transaction the server
//  ended on its own after a statement that answered OK makes a COMMIT a
//  no-op that also answers OK: whoever must know that its rows commit asks
//  this before the COMMIT. False when not connected.
bool wa_db_server_in_transaction (wa_db_t *self);
//  Execute a query and call fn for each row. Returns the row count or -1.
int64_t wa_db_query (wa_db_t *self, const char *sql, wa_db_row_fn *fn, void *arg, const char *fmt, ...);
//  LAST_INSERT_ID() of the last exec (also set by UPDATE ... LAST_INSERT_ID(x)).
uint64_t wa_db_insert_id (wa_db_t *self);
//  Text of the last error ("" when none) and its MySQL error number.
const char *wa_db_error (wa_db_t *self);
unsigned int wa_db_errno (wa_db_t *self);

//  Row accessors; column index from 0. NULL reads as 0 / "".
bool wa_db_row_null (const wa_db_row_t *row, int col);
int64_t wa_db_row_int (const wa_db_row_t *row, int col);
double wa_db_row_double (const wa_db_row_t *row, int col);
const char *wa_db_row_str (const wa_db_row_t *row, int col);
int wa_db_row_columns (const wa_db_row_t *row);

//  Schema. Bootstrap creates the database and the tables needed to elect a
//  Master (idempotent, safe when many nodes run it at once). Migrate applies
//  the embedded migrations above the current version; only the primary
//  Master calls it. 0 / -1, or -2 when the database's schema is newer than
//  this build (the node must be upgraded, not the database).
int wa_db_bootstrap (wa_db_t *self);
int wa_db_migrate (wa_db_t *self);
//  Read the database's clock (wa_clockwatch): NOW(6) and the monotonic
//  times around the statement. 0 / -1 (reading->db then 0).
int wa_db_read_clock (wa_db_t *self, wa_clockread_t *reading);
//  Current schema version, or -1 on error (0 when bootstrapped only).
int wa_db_schema_version (wa_db_t *self);

#endif
