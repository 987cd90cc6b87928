/*  tokencache — what this Webapp recently learnt from the `tokens` table:
    token hash -> username and role, each entry good until a deadline the
    caller sets (monotonic microseconds). A miss means: ask the database. */
#ifndef WAWEB_TOKENCACHE_H
#define WAWEB_TOKENCACHE_H

#include <stddef.h>
#include "wa_clock.h"

typedef struct tokencache_t tokencache_t;

typedef struct {
    char username[40];
    char role[8];
    wa_usec_t until;
} tokencache_entry_t;

tokencache_t *tokencache_new (void);
void tokencache_destroy (tokencache_t **self_p);
//  The entry for hash while now < until, else NULL (and the entry dropped).
const tokencache_entry_t *tokencache_get (tokencache_t *self, const char *hash, wa_usec_t now);
void tokencache_put (tokencache_t *self, const char *hash, const char *username, const char *role,
                     wa_usec_t until);
void tokencache_forget (tokencache_t *self, const char *hash);
//  Drop every entry of username (deleted).
void tokencache_forget_user (tokencache_t *self, const char *username);
//  Drop the entries past their deadline; returns how many are left.
size_t tokencache_purge (tokencache_t *self, wa_usec_t now);

#endif
