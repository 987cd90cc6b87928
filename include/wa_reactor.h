/*  wa_reactor — what the Master's, the Coreapp's and the Webapp's reactors
    each did the same way, in one place:
    - periodic timers whose period is a cluster setting, re-armed only when
      that setting changes (re-arming restarts a period: changes coming
      faster than it would starve the timer; tests/chaos, settings-churn);
    - the live settings: read from the `settings` table (again after the
      read under way when asked meanwhile) and applied from there or from a
      Master's broadcast, each change logged once, then the daemon's own
      reaction (its hook);
    - the one-shot timer of a lease's local deadline.
    (Registration and the last steps of a stop are wa_node's:
    wa_register_submit, wa_node_finish.)
    The daemon keeps its settings (wa_config_t) and its timers' handlers;
    the reactor keeps the bookkeeping. */
#ifndef WA_REACTOR_H
#define WA_REACTOR_H

#include <stddef.h>
#include <czmq.h>
#include "wa_loop.h"
#include "wa_config.h"
#include "wa_settings.h"

#define WA_REACTOR_TIMERS 8

//  After the settings changed: was is what they were, changed the
//  "x=b y=c" text, source "database" or "broadcast".
typedef void (wa_reactor_applied_fn) (void *arg, const wa_config_t *was, const char *changed, const char *source);

typedef struct {
    size_t period;                      //  offsetof (wa_config_t, a setting in seconds)
    wa_loop_timer_fn *handler;
    int id;                             //  -1 until armed
} wa_reactor_timer_t;

typedef struct {
    wa_loop_t *loop;
    wa_config_t *settings;              //  the daemon's live settings
    void *arg;                          //  for the handlers and the hook
    wa_reactor_applied_fn *applied;
    int ntimers;
    wa_reactor_timer_t timers[WA_REACTOR_TIMERS];
    wa_settings_job_t *settings_job;    //  the read of the table (NULL: the worker has it)
    bool settings_again;                //  read again when the running read ends
    int deadline_timer;                 //  -1: none armed
    void (*deadline) (void *arg);       //  what the daemon checks when it fires
} wa_reactor_t;

void wa_reactor_init (wa_reactor_t *self, wa_loop_t *loop, wa_config_t *settings, void *arg,
                      wa_reactor_applied_fn *applied);
//  Free the settings read, unless the worker has it (then the worker's
//  destroy frees it). After the worker is gone.
void wa_reactor_destroy (wa_reactor_t *self);
//  A timer every settings->(period) seconds, armed now.
void wa_reactor_every (wa_reactor_t *self, size_t period, wa_loop_timer_fn *handler);
//  Apply next's settings (from source): log each change, re-arm the timers
//  whose period changed, call the hook. True when anything changed.
bool wa_reactor_apply (wa_reactor_t *self, const wa_config_t *next, const char *source);
//  A Master's settings broadcast (JSON): checked and applied as above, or
//  refused whole with a warning; when it withheld secrets (wa_settings_to_json)
//  the table is read for them on db.
void wa_reactor_broadcast (wa_reactor_t *self, const char *json, wa_dbworker_t *db);
//  A lease's local deadline: call passed (with the daemon's arg) after
//  delay, once, unless armed again before (a renewal moves the deadline).
void wa_reactor_deadline (wa_reactor_t *self, wa_usec_t delay, void (*passed) (void *arg));
//  Read the settings table on db (after the read under way, if one is).
void wa_reactor_load (wa_reactor_t *self, wa_dbworker_t *db);
//  A job came back: when it is the settings read (WA_JOB_SETTINGS), take it
//  back, apply what it found and return 1, or 2 when it started the read
//  again (what it found is already old); 0 for any other job.
int wa_reactor_job_done (wa_reactor_t *self, wa_job_t *job, wa_dbworker_t *db);

#endif
