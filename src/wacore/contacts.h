/*  contacts — the primary Coreapp's contact checks (POST /v1/contacts,
    op "contacts" on its API port): asked upstream on the shard's session
    (CONTACTS, answered by a CONTACTS_REPLY with the same seq), and
    remembered in a bounded cache.

    blocking "wait": answered once the upstream has answered every contact
    the cache does not hold (every contact, with force_check). When the
    session is not open, when it closes meanwhile, or when the upstream
    does not answer within CONTACTS_TIMEOUT_SHARE × request_attempt_timeout
    (so before the Webapp gives the attempt up), the request gets 1011 and
    the Webapp tries again until request_deadline, as across a failover.
    A demotion answers 1018 (the Webapp asks the new primary).

    blocking "no_wait": answered at once, each contact from the cache or
    "processing"; the others (all, with force_check) are checked in the
    background when the session is open, so that a later request finds
    them. While the session is closed nothing is checked: the next request
    asks again.

    The cache holds up to CONTACTS_CACHE_MAX results (the oldest leave
    first), each for CONTACTS_CACHE_TTL, keyed by the contact as the client
    wrote it. It survives demotion: contacts belong to no shard. */
#ifndef WACORE_CONTACTS_H
#define WACORE_CONTACTS_H

#include <czmq.h>
#include "wa_loop.h"
#include <jansson.h>
#include "wa_clock.h"
#include "wa_config.h"

#define CONTACTS_CACHE_MAX 10000
#define CONTACTS_CACHE_TTL (7 * 24 * 3600 * WA_USEC_PER_SEC)
#define CONTACTS_CHECKS_MAX 256         //  checks waiting for the upstream
#define CONTACTS_TIMEOUT_SHARE 0.75

typedef struct contacts_t contacts_t;

typedef struct {
    //  Answer an API request: status, JSON text; the peer is taken.
    void (*reply) (void *arg, zframe_t **peer, uint64_t seq, int status, const char *json);
    //  A CONTACTS upstream on the open session: 0, or -1 when it cannot go.
    int (*ask) (void *arg, uint64_t seq, const char *payload);
} contacts_io_t;

typedef struct {
    uint64_t requests;
    uint64_t asked;             //  CONTACTS sent upstream
    uint64_t answered;          //  CONTACTS_REPLYs taken
    uint64_t timeouts;
    uint64_t cache_hits;
    size_t cached;
    size_t checking;
} contacts_stats_t;

//  settings are the live ones (request_attempt_timeout is read at each check).
contacts_t *contacts_new (const wa_config_t *settings, contacts_io_t io, void *arg, wa_loop_t *loop);
//  Every waiting request gets 1011 (stopping); then it is freed.
void contacts_destroy (contacts_t **self_p);
//  An API request ({"op":"contacts", "blocking", "contacts", "force_check"}),
//  checked here; the peer is taken. unavailable: NULL while the session is
//  open, else why it is not (a "wait" gets it with 1011).
void contacts_request (contacts_t *self, zframe_t **peer, uint64_t seq, const json_t *request,
                       const char *unavailable);
//  A CONTACTS_REPLY from the upstream.
void contacts_on_reply (contacts_t *self, uint64_t seq, const char *text, size_t len);
//  The session closed: the checks under way can no longer be answered.
void contacts_session_closed (contacts_t *self);
//  No longer primary: waiting requests get 1018.
void contacts_demoted (contacts_t *self);
contacts_stats_t contacts_stats (contacts_t *self);
//  The same as a new JSON object (the caller owns it), for STATS.
json_t *contacts_stats_json (contacts_t *self);

#endif
