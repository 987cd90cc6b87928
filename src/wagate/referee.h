/*  referee — wagate's session table and the rules of the one hard rule.

    Sessions are keyed by (account, shard, shards): shards is the shard
    count of the layout the session serves (the LOGIN's optional count; 0
    when it did not say: unknown). A session serves the recipients whose
    CRC32 (zlib's, wa_message_shard) modulo shards is its shard. Two
    sessions of an account serve common recipients, INTERSECT, when (s, N)
    and (s', N') with N <= N' have s' mod N == s (referee_layouts_intersect);
    when either count is unknown, when s == s' (as before counts). A count
    must be 1, 2, 4, 8, 16 or 32 with shard below it, or the login is
    refused (refused_layout).

    A login with an epoch lower than the highest its key has seen is refused
    (a fencing token; per key: epochs of different layouts are not compared,
    the leases of a new layout may start anew). A login while an
    intersecting session is open, of its key or of another layout, is an
    OVERLAP (the real network would ban the account): each such session is
    recorded as one overlap and kicked, and the login opens. Sessions silent
    longer than the idle timeout expire; nothing ever reopens a session.

    Pure: no sockets, no clock reads for the rules (time comes in as `now`,
    on the monotonic clock), no I/O but the optional ledger, one JSON line
    per event. The owner of a session is the client's routing id, kept as
    opaque bytes.

    Messages: a SEND on an open session of its owner carries a JSON message
    {"id","to","type","body"} of any type of the API (wa_message_types: a
    text's body a string, contacts' an array, the others' an object); its
    ledger line holds the body as it arrived. A SEND on a session whose count
    is known whose recipient's CRC32 mod the count is not the session's
    shard is MISROUTED: counted (misrouted) and marked on its ledger line,
    and otherwise taken as any other (the real network delivers it; the
    cluster sent it on a session that does not serve its recipient). Every id ever received is kept (no cap, no
    eviction: this is a test referee) so that a second arrival of an id, from
    any session of any node, is counted as a DUPLICATE and recorded beside
    the first. A QUERY asks whether an id was received, so that a new primary
    resends only what never arrived.

    Memory per id (glibc malloc, 64-bit): the czmq zhashx item, 48 B; the
    record, 16 B + the id + its NUL, + 8 B malloc header, rounded up to 16 B
    (64 B for ids of up to 39 characters, 96 B for 64); its bucket slot,
    8 B at a load of 37-75 %, so 11-21 B. About 125 B for a 36-character
    UUID: 1,000,000 ids took 112 MB of heap plus the bucket array (131 MB
    peak RSS for the whole process). What a duplicate needs to know about the
    first arrival's session (account, shard, node, epoch) is kept once per
    session, not per id. */
#ifndef REFEREE_H
#define REFEREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <jansson.h>
#include "wa_clock.h"

#define REFEREE_ACCOUNT_MAX 32
#define REFEREE_OWNER_MAX 256
#define REFEREE_OVERLAPS_KEPT 100
#define REFEREE_DUPLICATES_KEPT 100
#define REFEREE_MESSAGE_ID_MAX 64       //  [A-Za-z0-9_-]
#define REFEREE_MESSAGE_TO_MAX 20       //  digits
#define REFEREE_MESSAGE_BODY_MAX 4096   //  characters, a text message's body
#define REFEREE_SHARDS_MAX 32           //  a layout's shard count: 1, 2, 4, 8, 16 or 32

//  SEND_ACK codes (the referee_send return values)
#define REFEREE_SEND_NEW 0
#define REFEREE_SEND_DUPLICATE 1
#define REFEREE_SEND_REFUSED 2

typedef struct _referee_t referee_t;

typedef struct {
    size_t size;
    uint8_t data [REFEREE_OWNER_MAX];
} referee_owner_t;

//  The new login's key (account, shard, shards) and the session it found
//  open (old_shard, old_shards: the same key's, or an intersecting layout's).
//  A count 0 is unknown.
typedef struct {
    char account [REFEREE_ACCOUNT_MAX + 1];
    uint32_t shard;
    uint32_t shards;
    uint32_t old_shard;
    uint32_t old_shards;
    uint64_t old_node;
    uint64_t old_epoch;
    uint64_t old_session;
    wa_usec_t old_since;        //  wall clock, usec since the epoch
    uint64_t new_node;
    uint64_t new_epoch;
    uint64_t new_session;
    wa_usec_t at;               //  wall clock
} referee_overlap_t;

//  One side of a duplicate: the session a message id arrived on.
typedef struct {
    char account [REFEREE_ACCOUNT_MAX + 1];
    uint32_t shard;
    uint32_t shards;            //  0: unknown
    uint64_t node;
    uint64_t epoch;
    uint64_t session;
    wa_usec_t at;               //  wall clock, when it arrived
} referee_arrival_t;

typedef struct {
    char id [REFEREE_MESSAGE_ID_MAX + 1];
    referee_arrival_t first;    //  the arrival that was counted
    referee_arrival_t again;    //  this one, counted as a duplicate
} referee_duplicate_t;

//  What a call decided, for the reply to the sender.
typedef struct {
    uint64_t session;           //  the session opened, or the one asked about
    uint64_t epoch;             //  refused login: the highest epoch seen
    uint64_t seq;               //  ping and send: echoed
    uint32_t code;              //  send: SEND_ACK code; query: QUERY_REPLY code
    char text [96];             //  refused or gone: why; send and query: the id
    bool overlap;               //  login: it overlapped an open session (or more:
    referee_overlap_t overlap_record;   //  the last one recorded; overlaps says how many)
    uint32_t overlaps;
    bool duplicate;             //  send: the id had been received before
    referee_duplicate_t duplicate_record;
    bool misrouted;             //  send: its recipient is not the session's (recipient_shard)
    uint32_t recipient_shard;
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

//  shards: the count of the layout the session serves, 0 when unknown.
//  0: session opened (result->session); -1: refused (result->epoch, text:
//  a stale epoch, or a count that is no layout's).
int referee_login (referee_t *self, const referee_owner_t *owner, const char *account,
                   uint32_t shard, uint32_t shards, uint64_t node, uint64_t epoch, wa_usec_t now,
                   referee_result_t *result);
//  Whether shard a of a layout of shards_a and shard b of shards_b serve
//  common recipients (counts 0: unknown, then whether a == b). For valid
//  layouts (referee_layout_check).
bool referee_layouts_intersect (uint32_t shard_a, uint32_t shards_a, uint32_t shard_b, uint32_t shards_b);
//  NULL when (shard, shards) is a layout's shard (or shards is 0), else why
//  not, into why.
const char *referee_layout_check (uint32_t shard, uint32_t shards, char *why, size_t why_size);
//  0: pong; -1: session gone (result->text is expired, kicked, logged out or unknown).
int referee_ping (referee_t *self, const referee_owner_t *owner, uint64_t session,
                  uint64_t seq, wa_usec_t now, referee_result_t *result);
//  0: logged out; -1: session gone.
int referee_logout (referee_t *self, const referee_owner_t *owner, uint64_t session,
                    wa_usec_t now, referee_result_t *result);
//  A message on an open session of the owner; its arrival is activity.
//  text is the JSON message. REFEREE_SEND_NEW (recorded and counted; text
//  is the id), REFEREE_SEND_DUPLICATE (the id was received before, by any
//  session: counted and recorded as a duplicate, result->duplicate_record;
//  text is the id), REFEREE_SEND_REFUSED (invalid; text is why; nothing
//  recorded), or -1: session gone, as for a ping (nothing recorded).
int referee_send (referee_t *self, const referee_owner_t *owner, uint64_t session,
                  uint64_t seq, const char *text, wa_usec_t now, referee_result_t *result);
//  Whether a message id was received, from anyone, asked on an open session
//  of the owner (its arrival is activity). 0: result->code is 1 (received)
//  or 0, result->text the id; 1: the id is invalid, result->code 0 and
//  result->text why; -1: session gone.
int referee_query (referee_t *self, const referee_owner_t *owner, uint64_t session,
                   const char *id, wa_usec_t now, referee_result_t *result);
//  Whether an id was received (for tests and tools; no session needed).
//  Write out buffered ledger lines.
void referee_flush (referee_t *self);
bool referee_message_known (referee_t *self, const char *id);
//  Distinct ids received, and arrivals of an id already received.
size_t referee_message_count (referee_t *self);
size_t referee_duplicate_count (referee_t *self);
//  Close every session idle longer than the timeout as of now; how many.
size_t referee_expire (referee_t *self, wa_usec_t now);
//  Takes the next closed session whose owner is to be told; false when none.
bool referee_next_gone (referee_t *self, referee_gone_t *gone);

void referee_count_malformed (referee_t *self);
size_t referee_open_count (referee_t *self);
size_t referee_overlap_count (referee_t *self);
size_t referee_misrouted_count (referee_t *self);
//  Counters, overlap and duplicate lists and session table as a new JSON
//  object (the caller owns it) whose compact text takes at most max_len
//  bytes (to fit, the oldest entries of the longer list go first, then the
//  session table from its end).
json_t *referee_stats_json (referee_t *self, size_t max_len);
//  For the events (events.h): the open sessions of an account, each with
//  its layout (shard of shards, 0: unknown), at most max of them into the
//  arrays; how many.
size_t referee_open_sessions (referee_t *self, const char *account, uint64_t *sessions, uint32_t *shard,
                              uint32_t *shards, size_t max);
//  The owner of an open session. 0, or -1 when it is not open.
int referee_open_owner (referee_t *self, uint64_t session, referee_owner_t *owner);
//  The key of an open session of the owner (expired sessions closed
//  first; not activity): account, shard and, when shards is not NULL, the
//  layout's count (0: unknown). 0, or -1 with result filled in as for a
//  ping.
int referee_session_key (referee_t *self, const referee_owner_t *owner, uint64_t session, wa_usec_t now,
                         referee_result_t *result, char *account, size_t account_size, uint32_t *shard,
                         uint32_t *shards);
//  "2026-01-02T03:04:05.678Z" (decimals 3) or with 6 decimals.
void referee_format_time (wa_usec_t wall, int decimals, char *buf, size_t size);

#endif
