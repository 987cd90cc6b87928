/*  wa_lease — see include/wa_lease.h for why the deadline is safe. */
#include <assert.h>
#include "wa_db.h"
#include "wa_lease.h"

void
wa_lease_init (wa_lease_t *self, wa_usec_t ttl, wa_usec_t margin)
{
    assert (ttl > margin && margin >= 0);
    self->ttl = ttl;
    self->margin = margin;
    self->epoch = 0;
    self->deadline = 0;
    self->held = false;
}

void
wa_lease_renewed (wa_lease_t *self, wa_usec_t sent_at, uint64_t epoch)
{
    wa_lease_granted (self, sent_at, self->ttl, epoch);
}

void
wa_lease_granted (wa_lease_t *self, wa_usec_t sent_at, wa_usec_t ttl, uint64_t epoch)
{
    wa_usec_t deadline = sent_at + ttl - self->margin;
    //  Replies can come back out of order; an older send never shortens or
    //  extends past what a newer one granted.
    if (!self->held || epoch != self->epoch || deadline > self->deadline)
        self->deadline = deadline;
    self->epoch = epoch;
    self->held = true;
}

void
wa_lease_lost (wa_lease_t *self)
{
    self->held = false;
    self->deadline = 0;
}

bool
wa_lease_valid (wa_lease_t *self, wa_usec_t now)
{
    if (self->held && now >= self->deadline)
        wa_lease_lost (self);
    return self->held;
}

wa_usec_t
wa_lease_remaining (const wa_lease_t *self, wa_usec_t now)
{
    if (!self->held || now >= self->deadline)
        return 0;
    return self->deadline - now;
}

static const char *SQL_FENCE_MASTER =
    "UPDATE master_lease SET fence = fence + 1 WHERE id = 1 AND holder = ? AND epoch = ? AND expires_at > NOW(6)";

int
wa_lease_fence_master (wa_db_t *db, uint64_t master, uint64_t epoch)
{
    int64_t rows = wa_db_exec (db, SQL_FENCE_MASTER, "uu", master, epoch);
    return rows < 0 ? -1 : rows == 1;
}
