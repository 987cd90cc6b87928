/*  tokencache — see tokencache.h */
#include <assert.h>
#include <czmq.h>
#include "tokencache.h"

//  A full cache is emptied: the next requests go to the database, which is
//  correct, only slower.
#define ENTRIES_MAX 100000

struct tokencache_t {
    zhashx_t *entries;          //  token hash -> tokencache_entry_t
};

static void
s_entry_free (void **item)
{
    free (*item);
    *item = NULL;
}

tokencache_t *
tokencache_new (void)
{
    tokencache_t *self = calloc (1, sizeof *self);
    assert (self);
    self->entries = zhashx_new ();
    zhashx_set_destructor (self->entries, s_entry_free);
    return self;
}

void
tokencache_destroy (tokencache_t **self_p)
{
    if (*self_p) {
        zhashx_destroy (&(*self_p)->entries);
        free (*self_p);
        *self_p = NULL;
    }
}

const tokencache_entry_t *
tokencache_get (tokencache_t *self, const char *hash, wa_usec_t now)
{
    tokencache_entry_t *entry = zhashx_lookup (self->entries, hash);
    if (entry && now >= entry->until) {
        zhashx_delete (self->entries, hash);
        entry = NULL;
    }
    return entry;
}

void
tokencache_put (tokencache_t *self, const char *hash, const char *username, const char *role,
                wa_usec_t until)
{
    if (zhashx_size (self->entries) >= ENTRIES_MAX)
        zhashx_purge (self->entries);
    tokencache_entry_t *entry = calloc (1, sizeof *entry);
    assert (entry);
    snprintf (entry->username, sizeof entry->username, "%s", username);
    snprintf (entry->role, sizeof entry->role, "%s", role);
    entry->until = until;
    zhashx_update (self->entries, hash, entry);
}

void
tokencache_forget (tokencache_t *self, const char *hash)
{
    zhashx_delete (self->entries, hash);
}

//  Deletes every entry for which drop says so (collected first: deleting
//  while walking would lose the cursor).
static size_t
s_drop (tokencache_t *self, bool (*drop) (const tokencache_entry_t *, const void *), const void *arg)
{
    zlistx_t *keys = zlistx_new ();
    zlistx_set_duplicator (keys, (zlistx_duplicator_fn *) strdup);
    zlistx_set_destructor (keys, (zlistx_destructor_fn *) zstr_free);
    for (tokencache_entry_t *e = zhashx_first (self->entries); e; e = zhashx_next (self->entries))
        if (drop (e, arg))
            zlistx_add_end (keys, (void *) zhashx_cursor (self->entries));
    for (const char *key = zlistx_first (keys); key; key = zlistx_next (keys))
        zhashx_delete (self->entries, key);
    zlistx_destroy (&keys);
    return zhashx_size (self->entries);
}

static bool
s_of_user (const tokencache_entry_t *entry, const void *username)
{
    return strcmp (entry->username, username) == 0;
}

static bool
s_expired (const tokencache_entry_t *entry, const void *now)
{
    return *(const wa_usec_t *) now >= entry->until;
}

void
tokencache_forget_user (tokencache_t *self, const char *username)
{
    s_drop (self, s_of_user, username);
}

size_t
tokencache_purge (tokencache_t *self, wa_usec_t now)
{
    return s_drop (self, s_expired, &now);
}
