/*  check — the pure logic of wacheck, the chaos suite's independent
    checker: it trusts no node of the cluster. It reads three logs written
    by programs outside the cluster, a line at a time:

    - the load generator's record (waload --record): one JSON object per
      request, with the answer (status, message id) and when it was sent
      and answered;
    - wagate's ledger: one JSON object per upstream event (login, logout,
      expired, kicked, refused, overlap, message, duplicate, emitted);
    - the webhook receiver's log (wahook --out): one JSON object per POST
      it received, {"at","status","path","body"}; a POST it answered with
      an error status (while told to fail) delivered nothing;

    and joins them into the numbers of one scenario (check_result_t):
    overlapping sessions (recomputed from the session lines, by layout,
    and wagate's own count beside it), messages answered 201 that never
    reached the upstream, duplicates, messages sent on a session whose
    layout does not serve their recipient (misrouted), lost callbacks, the longest unavailability,
    failovers, and the longest delivery delays (201 to the upstream, and
    emission upstream to the webhook's POST). No clock, no files: main.c feeds the lines. */
#ifndef WACHECK_CHECK_H
#define WACHECK_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _check_t check_t;

//  The examples a result names (the first of each kind).
#define CHECK_EXAMPLE_MAX 160

typedef struct {
    //  Sessions (the ledger, in the window)
    uint64_t sessions;              //  logins accepted
    uint64_t overlaps;              //  recomputed: a login while a session serving some of the same
                                    //  recipients was open (its key's, or an intersecting layout's:
                                    //  (s, N), (s', N') with N <= N' and s' mod N == s), one per such session
    uint64_t overlaps_wagate;       //  "overlap" lines
    uint64_t failovers;             //  a login of a key by another node than its previous login's
    uint64_t refused;               //  stale-epoch logins refused (the fence at work)
    uint64_t refused_layout;        //  logins refused for a count that is no layout's
    //  Requests (the record)
    uint64_t requests;              //  lines of the record
    uint64_t ok;                    //  answered 201 with an id
    uint64_t failed;                //  any other answer, or no answer (transport error)
    uint64_t lost;                  //  ok, but the id never reached the upstream
    uint64_t conflicts;             //  one id answered to two different keys
    //  Messages (the ledger)
    uint64_t delivered;             //  distinct ids upstream (of the record's, or in the window)
    uint64_t duplicates;            //  recomputed: arrivals of an id beyond its first
    uint64_t duplicates_wagate;     //  "duplicate" lines
    uint64_t misrouted;             //  recomputed: arrivals on a session of a known count whose
                                    //  recipient's CRC32 mod the count is not the session's shard
    uint64_t misrouted_wagate;      //  arrival lines wagate marked "misrouted"
    //  Callbacks (the ledger's "emitted" lines and the webhook log)
    bool callbacks_checked;         //  false: no webhook log ("n/a")
    uint64_t callbacks_expected;    //  events the upstream emitted (in the window)
    uint64_t callbacks_lost;        //  emitted, never POSTed to the webhook
    uint64_t callbacks_out_of_order;    //  first POSTed before an earlier event of its conversation
    //  Availability (the record, per shard)
    double unavailable;             //  seconds: the longest stretch in which a shard had no 201
    uint32_t unavailable_shard;
    double unavailable_from;        //  unix seconds
    double unavailable_any;         //  the longest stretch with no 201 at all
    //  Delivery delays: a scenario where the API answers 201 but nothing
    //  moves for a minute must show, though nothing is lost.
    double message_delay;           //  seconds: the longest from a 201 to the upstream's first arrival
    double callback_delay;          //  seconds: the longest from an emission upstream to its first 2xx POST
    //  Malformed input lines, per log
    uint64_t bad_record_lines;
    uint64_t bad_ledger_lines;
    uint64_t bad_hook_lines;
    //  Examples, for the report ("" when none)
    char overlap_example[CHECK_EXAMPLE_MAX];
    char lost_example[CHECK_EXAMPLE_MAX];
    char duplicate_example[CHECK_EXAMPLE_MAX];
    char misrouted_example[CHECK_EXAMPLE_MAX];
    char callback_example[CHECK_EXAMPLE_MAX];
    char message_delay_example[CHECK_EXAMPLE_MAX];
    char callback_delay_example[CHECK_EXAMPLE_MAX];
} check_result_t;

check_t *check_new (void);
void check_destroy (check_t **self_p);

//  Only what happened from since to until (unix seconds; 0: no bound) counts
//  for sessions, failovers and stray duplicates. The messages answered in
//  the record count whenever they arrived.
void check_window (check_t *self, double since, double until);

//  Feed one line of each log, in the file's order. 0, or -1 when the line
//  is not what that log holds (counted in the result; the line is skipped).
//  Blank lines are ignored.
int check_ledger_line (check_t *self, const char *line);
int check_record_line (check_t *self, const char *line);
//  The first webhook line turns the callback check on.
int check_hook_line (check_t *self, const char *line);
//  A webhook log that exists but is empty: callbacks are checked (all lost).
void check_hooks_present (check_t *self);

//  Everything fed so far, joined.
void check_result (check_t *self, check_result_t *result);

//  Did the result keep every invariant? (no overlap either way, nothing
//  lost, no duplicate, no conflict, no lost or reordered callback).
bool check_result_safe (const check_result_t *result);

//  "2026-11-28T01:00:50.291123Z" (any number of decimals, or none) as unix
//  seconds; -1 when it is not such a time.
double check_parse_time (const char *text);

#endif
