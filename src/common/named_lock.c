/*  wa_named_lock — see include/wa_named_lock.h */
#include <mysqld_error.h>
#include "wa_named_lock.h"

//  MySQL 8's error for a NOWAIT read of a locked row (MariaDB says 1205).
#define MYSQL_ER_LOCK_NOWAIT 3572

//  The row locked without waiting: another holder on this server is an
//  error at once (MariaDB 10.3+, MySQL 8.0+). A row not there yet (the
//  name's first use) takes a gap lock instead: two first takers at once
//  meet in the INSERT, and the server's deadlock check fails one (1213).
static const char *SQL_PROBE = "SELECT taken FROM named_locks WHERE name = ? FOR UPDATE NOWAIT";
//  The write that carries the lock across a Galera cluster.
static const char *SQL_TAKE =
    "INSERT INTO named_locks (name, taken, taken_at) VALUES (?, 1, NOW(6))"
    " ON DUPLICATE KEY UPDATE taken = taken + 1, taken_at = NOW(6)";

int
wa_named_lock_take (wa_db_t *db, const char *name)
{
    if (wa_db_query (db, SQL_PROBE, NULL, NULL, "s", name) < 0
    ||  wa_db_exec (db, SQL_TAKE, "s", name) < 0)
        return wa_named_lock_lost (db) ? WA_NAMED_LOCK_BUSY : WA_NAMED_LOCK_FAILED;
    return WA_NAMED_LOCK_TAKEN;
}

bool
wa_named_lock_lost (wa_db_t *db)
{
    unsigned int err = wa_db_errno (db);
    return err == ER_LOCK_WAIT_TIMEOUT || err == ER_LOCK_DEADLOCK || err == MYSQL_ER_LOCK_NOWAIT;
}
