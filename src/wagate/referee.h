/*  referee — wagate's session table and the rules of the one hard rule.

    Sessions are keyed by (account, shard). A login with an epoch lower than
    the highest the key has seen is refused (a fencing token); a login while
    the key has an open session is an OVERLAP (the real network would ban the
    account): it is recorded and the old session is kicked. Sessions silent
    longer than the idle timeout expire; nothing ever reopens a session.

    Pure: no sockets, no clock reads for the rules (time comes in as `now`,
    on the monotonic clock), no I/O but the optional ledger, one JSON line
    per event. The owner of a session is the client's routing id, kept as
    opaque bytes. */
#ifndef REFEREE_H
#define REFEREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "wa_clock.h"

#define REFEREE_ACCOUNT_MAX 32
#define REFEREE_OWNER_MAX 256
#define REFEREE_OVERLAPS_KEPT 100

typedef struct _referee_t referee_t;

typedef struct {
    size_t size;
    uint8_t data [REFEREE_OWNER_MAX];
} referee_owner_t;

typedef struct {
    char account [REFEREE_ACCOUNT_MAX + 1];
    uint32_t shard;
    uint64_t old_node;
    uint64_t old_epoch;
    uint64_t old_session;
    wa_usec_t old_since;        //  wall clock, usec since the epoch
    uint64_t new_node;
    uint64_t new_epoch;
    uint64_t new_session;
    wa_usec_t at;               //  wall clock
} referee_overlap_t;

//  What a call decided, for the reply to the sender.
typedef struct {
    uint64_t session;           //  the session opened, or the one asked about
    uint64_t epoch;             //  refused login: the highest epoch seen
    uint64_t seq;               //  ping: echoed
    char text [96];             //  refused or gone: why
    bool overlap;               //  login: it overlapped an open session
    referee_overlap_t overlap_record;
} referee_result_t;

//  A session the referee closed on its own (kicked or expired) whose owner
//  should be told.
typedef struct {
    referee_owner_t owner;
    uint64_t session;
    const char *reason;         //  "kicked" or "expired"
    char account [REFEREE_ACCOUNT_MAX + 1];
    uint32_t shard;
    uint64_t node;
    uint64_t epoch;
} referee_gone_t;

//  idle_timeout in usec; ledger may be NULL and stays the caller's.
referee_t *referee_new (wa_usec_t idle_timeout, FILE *ledger);
void referee_destroy (referee_t **self_p);

//  0: session opened (result->session); -1: refused (result->epoch, text).
int referee_login (referee_t *self, const referee_owner_t *owner, const char *account,
                   uint32_t shard, uint64_t node, uint64_t epoch, wa_usec_t now,
                   referee_result_t *result);
//  0: pong; -1: session gone (result->text is expired, kicked, logged out or unknown).
int referee_ping (referee_t *self, const referee_owner_t *owner, uint64_t session,
                  uint64_t seq, wa_usec_t now, referee_result_t *result);
//  0: logged out; -1: session gone.
int referee_logout (referee_t *self, const referee_owner_t *owner, uint64_t session,
                    wa_usec_t now, referee_result_t *result);
//  Close every session idle longer than the timeout as of now; how many.
size_t referee_expire (referee_t *self, wa_usec_t now);
//  Takes the next closed session whose owner is to be told; false when none.
bool referee_next_gone (referee_t *self, referee_gone_t *gone);

void referee_count_malformed (referee_t *self);
size_t referee_open_count (referee_t *self);
size_t referee_overlap_count (referee_t *self);
//  Counters, overlap list and session table as JSON of at most max_len
//  bytes (oldest overlap entries dropped to fit). Caller frees.
char *referee_stats_json (referee_t *self, size_t max_len);
//  "2026-01-02T03:04:05.678Z" (decimals 3) or with 6 decimals.
void referee_format_time (wa_usec_t wall, int decimals, char *buf, size_t size);

#endif
