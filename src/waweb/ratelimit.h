/*  ratelimit — failures per key (a client address) within a window: once a
    key has had `limit` failures in the window that its first failure opened,
    it is blocked until that window ends. Times are the caller's (monotonic
    microseconds), so the rule is unit-tested without sleeping. */
#ifndef WAWEB_RATELIMIT_H
#define WAWEB_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include "wa_clock.h"

typedef struct ratelimit_t ratelimit_t;

ratelimit_t *ratelimit_new (int limit, wa_usec_t window);
void ratelimit_destroy (ratelimit_t **self_p);
//  True while key may not try again; *retry_after gets the time left.
bool ratelimit_blocked (ratelimit_t *self, const char *key, wa_usec_t now, wa_usec_t *retry_after);
//  Count a failure of key.
void ratelimit_fail (ratelimit_t *self, const char *key, wa_usec_t now);
//  Forget key (a success).
void ratelimit_forget (ratelimit_t *self, const char *key);
//  Drop the keys whose window has ended; returns how many are left.
size_t ratelimit_purge (ratelimit_t *self, wa_usec_t now);

#endif
