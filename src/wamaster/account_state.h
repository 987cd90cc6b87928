/*  account_state — the primary Master's side of the account-wide state
    (wa_account_state.h): the API ops a Webapp forwards, each checked on the
    Master's reactor (account_state_check), run on its DB worker (reads
    alone; writes inside the transaction api.c fences with the master lease,
    so a Master that lost its lease changes nothing), then answered:

      state_get {name}                200, the original's shape of the row
      state_set {name, value, by}     200 {}; the business profile is merged
                                      over what is stored (under a row lock),
                                      the others replaced; each value checked
      state_delete {name, by}         200 {} (two_step, photo: the photo's blob goes too)
      photo_set {sha256, by}          200 {}: the photo blob a Webapp stored
                                      (account_blobs, kind photo) becomes the
                                      profile photo, once its bytes are whole
                                      and a JPEG or PNG; older photo blobs go
      restore {sha256, by}            200 {"restored": {...counts}}: the
                                      decrypted backup a Webapp staged (kind
                                      restore, kept an hour so that a retried
                                      restore applies it again) replaces the settings named in
                                      it, the users, the account state, the
                                      photo and the media providers, all in
                                      the one transaction; anything wrong in
                                      it and nothing changes (400)

    A restore writes the settings rows in a transaction that api.c starts
    with the settings lock (WA_SETTINGS_LOCK, as `wactl settings set`'s
    does); it tells api.c to broadcast them after the commit. */
#ifndef WAMASTER_ACCOUNT_STATE_H
#define WAMASTER_ACCOUNT_STATE_H

#include <stdbool.h>
#include <jansson.h>
#include "wa_codec.h"
#include "wa_config.h"
#include "wa_db.h"

typedef enum { STATE_GET, STATE_SET, STATE_DELETE, STATE_PHOTO, STATE_RESTORE } account_state_op_t;

//  What a job carries in and out (copies: the worker reads nothing else).
typedef struct {
    account_state_op_t op;
    char name[33];
    char value[WA_TEXT_MAX + 1];    //  state_set: the value sent, JSON
    char sha256[65];
    char by[65];
    //  out
    char *answer;                   //  the answer's JSON (malloc'd), NULL for {}
    bool settings_changed;          //  restore: broadcast the settings
    char summary[200];              //  restore: for the log
} account_state_req_t;

//  The op's index in account_state_op_t, or -1 when op is not one of these.
int account_state_op (const char *op);
//  Check a request's fields into req (op set). 0, or 1008/1009 with why.
int account_state_check (const json_t *root, account_state_req_t *req, char *why, size_t size);
//  Whether the op writes (then run inside the fenced transaction).
bool account_state_writes (const account_state_req_t *req);
//  On the DB worker, inside api.c's transaction. 0 done; 2 refused (error
//  says why: the client's 400); -1 a database error (wa_db_errno says
//  which: a restore that lost to another change is tried again).
int account_state_run (account_state_req_t *req, wa_db_t *db, const wa_config_t *base, char *error, size_t size);
//  Free what an answer holds (before the job is used again).
void account_state_clear (account_state_req_t *req);

#endif
