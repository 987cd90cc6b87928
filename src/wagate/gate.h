/*  gate — wagate's reactor: the sessions ROUTER (upstream_endpoint), the
    control ROUTER (upstream_control_endpoint), the expiry timer, and the
    client side of the control socket for `wagate stats`. The rules are in
    referee. */
#ifndef GATE_H
#define GATE_H

#include <stdbool.h>
#include "wa_config.h"

typedef struct _gate_t gate_t;

//  Binds both sockets and opens the ledger; NULL (logged) on failure.
gate_t *gate_new (const wa_config_t *config);
void gate_destroy (gate_t **self_p);
//  Serves until SIGINT/SIGTERM; 0, or -1 on a reactor failure.
int gate_run (gate_t *self);

//  `wagate stats`: asks the running wagate, prints its answer (JSON as is,
//  or a summary). Returns the exit status.
int gate_stats_command (const wa_config_t *config, bool json);

//  `wagate inject`: an inbound message from a customer (name may be
//  NULL), through the running wagate's control socket. Prints the answer
//  ({"event_id": ...}); returns the exit status.
int gate_inject_command (const wa_config_t *config, const char *from, const char *text, const char *name);
//  `wagate inbound-rate N`: generate N inbound messages per second from now.
int gate_rate_command (const wa_config_t *config, double rate);
//  `wagate rotate-identity WA_ID`: a new identity key for the contact.
int gate_rotate_identity_command (const wa_config_t *config, const char *wa_id);

#endif
