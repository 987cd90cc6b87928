/*  wa_reactor — see include/wa_reactor.h */
#include "wa_log.h"
#include "wa_node.h"
#include "wa_reactor.h"

void
wa_reactor_init (wa_reactor_t *self, wa_loop_t *loop, wa_config_t *settings, void *arg,
                 wa_reactor_applied_fn *applied)
{
    memset (self, 0, sizeof *self);
    self->loop = loop;
    self->settings = settings;
    self->arg = arg;
    self->applied = applied;
    self->deadline_timer = -1;
    self->settings_job = wa_settings_job_new ();
}

void
wa_reactor_destroy (wa_reactor_t *self)
{
    WA_JOB_DESTROY (self->settings_job);
}

static int
s_on_deadline (wa_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    wa_reactor_t *self = arg;
    self->deadline_timer = -1;
    if (self->deadline)
        self->deadline (self->arg);
    return 0;
}

void
wa_reactor_deadline (wa_reactor_t *self, wa_usec_t delay, void (*passed) (void *arg))
{
    self->deadline = passed;
    wa_timer_once (self->loop, &self->deadline_timer, delay, s_on_deadline, self);
}

static double
s_period (const wa_config_t *settings, size_t period)
{
    return *(const double *) ((const char *) settings + period);
}

void
wa_reactor_every (wa_reactor_t *self, size_t period, wa_loop_timer_fn *handler)
{
    assert (self->ntimers < WA_REACTOR_TIMERS);
    wa_reactor_timer_t *timer = &self->timers[self->ntimers++];
    timer->period = period;
    timer->handler = handler;
    timer->id = -1;
    wa_timer_every (self->loop, &timer->id, s_period (self->settings, period), handler, self->arg);
}

bool
wa_reactor_apply (wa_reactor_t *self, const wa_config_t *next, const char *source)
{
    char changed[400];
    if (wa_settings_changes (self->settings, next, source, changed, sizeof changed) == 0)
        return false;
    wa_config_t was = *self->settings;
    wa_config_copy_settings (self->settings, next);
    for (int i = 0; i < self->ntimers; i++) {
        wa_reactor_timer_t *timer = &self->timers[i];
        if (s_period (&was, timer->period) != s_period (self->settings, timer->period))
            wa_timer_every (self->loop, &timer->id, s_period (self->settings, timer->period), timer->handler,
                            self->arg);
    }
    if (self->applied)
        self->applied (self->arg, &was, changed, source);
    return true;
}

void
wa_reactor_broadcast (wa_reactor_t *self, const char *json, wa_dbworker_t *db)
{
    wa_config_t next;
    char err[512];
    int rc = wa_settings_from_json (json, self->settings, &next, err, sizeof err);
    if (rc < 0) {
        wa_warn ("settings broadcast refused: %s", err);
        return;
    }
    wa_reactor_apply (self, &next, "broadcast");
    //  The secrets it withheld are in the table.
    if (rc == 1)
        wa_reactor_load (self, db);
}

void
wa_reactor_load (wa_reactor_t *self, wa_dbworker_t *db)
{
    //  A read under way may predate what was just stored: read again after it.
    if (!self->settings_job)
        self->settings_again = true;
    else
        wa_settings_load (&self->settings_job, db, self->settings);
}

int
wa_reactor_job_done (wa_reactor_t *self, wa_job_t *job, wa_dbworker_t *db)
{
    if (job->kind != WA_JOB_SETTINGS)
        return 0;
    self->settings_job = (wa_settings_job_t *) job;
    if (job->rc == 0)
        wa_reactor_apply (self, &self->settings_job->result, "database");
    if (self->settings_again) {
        self->settings_again = false;
        wa_reactor_load (self, db);
        return 2;
    }
    return 1;
}
