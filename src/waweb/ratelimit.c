/*  ratelimit — see ratelimit.h */
#include <assert.h>
#include <czmq.h>
#include "ratelimit.h"

//  Past this many keys (after dropping the ended windows) a new key is not
//  counted: an attacker with many addresses costs bounded memory.
#define KEYS_MAX 100000

typedef struct {
    wa_usec_t since;
    int failures;
} entry_t;

struct ratelimit_t {
    int limit;
    wa_usec_t window;
    zhashx_t *keys;             //  key -> entry_t
};

static void
s_entry_free (void **item)
{
    free (*item);
    *item = NULL;
}

ratelimit_t *
ratelimit_new (int limit, wa_usec_t window)
{
    ratelimit_t *self = calloc (1, sizeof *self);
    assert (self);
    self->limit = limit;
    self->window = window;
    self->keys = zhashx_new ();
    zhashx_set_destructor (self->keys, s_entry_free);
    return self;
}

void
ratelimit_destroy (ratelimit_t **self_p)
{
    if (*self_p) {
        zhashx_destroy (&(*self_p)->keys);
        free (*self_p);
        *self_p = NULL;
    }
}

static entry_t *
s_current (ratelimit_t *self, const char *key, wa_usec_t now)
{
    entry_t *entry = zhashx_lookup (self->keys, key);
    if (entry && now - entry->since >= self->window) {
        zhashx_delete (self->keys, key);
        entry = NULL;
    }
    return entry;
}

bool
ratelimit_blocked (ratelimit_t *self, const char *key, wa_usec_t now, wa_usec_t *retry_after)
{
    entry_t *entry = s_current (self, key, now);
    bool blocked = entry && entry->failures >= self->limit;
    if (retry_after)
        *retry_after = blocked ? entry->since + self->window - now : 0;
    return blocked;
}

void
ratelimit_fail (ratelimit_t *self, const char *key, wa_usec_t now)
{
    entry_t *entry = s_current (self, key, now);
    if (!entry) {
        if (zhashx_size (self->keys) >= KEYS_MAX && ratelimit_purge (self, now) >= KEYS_MAX)
            return;
        entry = calloc (1, sizeof *entry);
        assert (entry);
        entry->since = now;
        zhashx_insert (self->keys, key, entry);
    }
    entry->failures++;
}

void
ratelimit_forget (ratelimit_t *self, const char *key)
{
    zhashx_delete (self->keys, key);
}

size_t
ratelimit_purge (ratelimit_t *self, wa_usec_t now)
{
    zlistx_t *expired = zlistx_new ();
    for (entry_t *entry = zhashx_first (self->keys); entry; entry = zhashx_next (self->keys))
        if (now - entry->since >= self->window)
            zlistx_add_end (expired, (void *) zhashx_cursor (self->keys));
    //  Keys are copied by zhashx; its cursor's string lives until deleted.
    for (const char *key = zlistx_first (expired); key; key = zlistx_next (expired)) {
        char copy[256];
        snprintf (copy, sizeof copy, "%s", key);
        zhashx_delete (self->keys, copy);
    }
    zlistx_destroy (&expired);
    return zhashx_size (self->keys);
}
