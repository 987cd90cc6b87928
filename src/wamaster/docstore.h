/*  docstore — the primary Master's ops on the account's certificates, and
    its line to the network's first-party stickerpacks, beside api.h's
    (which hands them over: the same API port, the same API_REQ / API_REP):

      cert_set {name, pem, by}        checked again (wa_certs), stored in
                                      `certificates` fenced by the master lease,
                                      its version bumped: 200 {}
      cert_delete {name, by}          the same with an empty pem: 200 {}, or 404
                                      when none was set
      stickers_firstparty {pack?, index?}
                                      the network's catalogue (wagate's op
                                      "stickerpacks"), its answer as it is

    The Webapps and Coreapps read `certificates` themselves (they poll its
    versions), so a change reaches every node without a broadcast. Jobs run
    on the Master's DB worker one at a time, in order. */
#ifndef WAMASTER_DOCSTORE_H
#define WAMASTER_DOCSTORE_H

#include <czmq.h>
#include "wa_loop.h"
#include <jansson.h>
#include "wa_codec.h"
#include "wa_config.h"
#include "wa_dbworker.h"
#include "wa_trust.h"
#include "api.h"

#define DOCSTORE_JOB_KIND 301

typedef struct docstore_t docstore_t;

docstore_t *docstore_new (wa_loop_t *loop, zsock_t *sock, wa_trust_t *trust, wa_dbworker_t *db,
                          const wa_config_t *settings, const api_hooks_t *hooks);
void docstore_destroy (docstore_t **self_p);
//  Whether op is one of docstore's.
bool docstore_handles (const char *op);
//  Take the request (root, its op one of docstore's) from peer: it is
//  answered now or later.
void docstore_request (docstore_t *self, zframe_t *peer, const wa_msg_t *msg, json_t *root);
//  A job came back: true when it was docstore's (taken back, answered).
bool docstore_job_done (docstore_t *self, wa_job_t *job);
//  Taken back only (stopping).
bool docstore_job_back (docstore_t *self, wa_job_t *job);
//  Stopping: every waiting request gets 1017.
void docstore_stop (docstore_t *self);

#endif
