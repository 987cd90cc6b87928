/*  watch — see watch.h */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "watch.h"

void
watch_init (watch_t *self, wa_usec_t now)
{
    memset (self, 0, sizeof *self);
    self->baseline = now;
}

void
watch_rebase (watch_t *self, wa_usec_t now)
{
    self->baseline = now;
}

static watch_node_t *
s_find (watch_t *self, uint64_t node)
{
    for (int i = 0; i < self->count; i++)
        if (self->nodes[i].node == node)
            return &self->nodes[i];
    return NULL;
}

const watch_node_t *
watch_find (const watch_t *self, uint64_t node)
{
    return s_find ((watch_t *) self, node);
}

static watch_node_t *
s_add (watch_t *self, uint64_t node)
{
    watch_node_t *entry = s_find (self, node);
    if (entry)
        return entry;
    if (self->count == WATCH_NODES) {
        //  Full: the node silent longest makes room.
        int oldest = 0;
        for (int i = 1; i < self->count; i++)
            if (self->nodes[i].last < self->nodes[oldest].last)
                oldest = i;
        self->nodes[oldest] = self->nodes[--self->count];
    }
    entry = &self->nodes[self->count++];
    memset (entry, 0, sizeof *entry);
    entry->node = node;
    entry->shard = UINT32_MAX;
    return entry;
}

//  A node we start tracking now has been silent to us for no time yet: its
//  age counts from the later of the baseline and now.
static watch_node_t *
s_add_at (watch_t *self, uint64_t node, wa_usec_t now)
{
    bool known = s_find (self, node) != NULL;
    watch_node_t *entry = s_add (self, node);
    if (!known)
        entry->since = now;
    return entry;
}

void
watch_reply (watch_t *self, uint64_t node, uint32_t shard, uint64_t epoch, bool primary,
             unsigned upstream, wa_usec_t now)
{
    watch_node_t *entry = s_add_at (self, node, now);
    if (now > entry->last)
        entry->last = now;
    entry->shard = shard;
    entry->epoch = epoch;
    entry->primary = primary;
    entry->connected = (upstream & WATCH_UP_SESSION) != 0;
    entry->reachable = (upstream & (WATCH_UP_SESSION | WATCH_UP_REACHABLE)) != 0;
    if (entry->reachable) {
        entry->upstream_lost = 0;
        if (!entry->reachable_since)
            entry->reachable_since = now;
    }
    else {
        entry->reachable_since = 0;
        if (!entry->upstream_lost)
            entry->upstream_lost = now;
    }
}

wa_usec_t
watch_upstream_lost (const watch_t *self, uint64_t node, wa_usec_t now)
{
    const watch_node_t *entry = watch_find (self, node);
    return entry && entry->upstream_lost && now > entry->upstream_lost ? now - entry->upstream_lost : 0;
}

void
watch_track (watch_t *self, uint64_t node, wa_usec_t now)
{
    s_add_at (self, node, now);
}

void
watch_forget_others (watch_t *self, const uint64_t *keep, int count)
{
    for (int i = self->count - 1; i >= 0; i--) {
        bool found = false;
        for (int j = 0; j < count && !found; j++)
            found = keep[j] == self->nodes[i].node;
        if (!found)
            self->nodes[i] = self->nodes[--self->count];
    }
}

int
watch_report (watch_t *self, uint64_t master, const char *text, wa_usec_t now)
{
    watch_report_t report;
    memset (&report, 0, sizeof report);
    report.master = master;
    report.received = now;
    const char *p = text;
    while (*p) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        char *end;
        errno = 0;
        unsigned long long node = strtoull (p, &end, 10);
        if (errno || end == p || *end != ':')
            return -1;
        p = end + 1;
        long long age_ms = strtoll (p, &end, 10);
        if (errno || end == p || (*end && *end != ' ') || age_ms < 0 || age_ms > 86400LL * 1000 * 365)
            return -1;
        p = end;
        if (node == 0) {
            report.baseline_age = age_ms * 1000;
            continue;
        }
        if (report.count == WATCH_NODES)
            return -1;
        report.node[report.count] = node;
        report.age[report.count] = age_ms * 1000;
        report.count++;
    }
    for (int i = 0; i < self->reporters; i++)
        if (self->reports[i].master == master) {
            self->reports[i] = report;
            return 0;
        }
    if (self->reporters == WATCH_REPORTERS) {
        int oldest = 0;
        for (int i = 1; i < self->reporters; i++)
            if (self->reports[i].received < self->reports[oldest].received)
                oldest = i;
        self->reports[oldest] = report;
    }
    else
        self->reports[self->reporters++] = report;
    return 0;
}

wa_usec_t
watch_age (const watch_t *self, uint64_t node, wa_usec_t now)
{
    const watch_node_t *entry = watch_find (self, node);
    wa_usec_t since = self->baseline;
    if (entry && entry->last)
        since = entry->last;
    else
    if (entry && entry->since > since)
        since = entry->since;
    return now > since ? now - since : 0;
}

int
watch_report_text (const watch_t *self, wa_usec_t now, char *buf, size_t len)
{
    //  Entry 0 is how long we have been watching: a node missing from the
    //  report has been silent to us at least that long.
    int n0 = snprintf (buf, len, "0:%lld", (long long) ((now - self->baseline) / 1000));
    if (n0 < 0 || (size_t) n0 >= len)
        return -1;
    size_t used = (size_t) n0;
    for (int i = 0; i < self->count; i++) {
        int n = snprintf (buf + used, len - used, "%s%llu:%lld", used ? " " : "",
                          (unsigned long long) self->nodes[i].node,
                          (long long) (watch_age (self, self->nodes[i].node, now) / 1000));
        if (n < 0 || (size_t) n >= len - used)
            return -1;
        used += (size_t) n;
    }
    return 0;
}

watch_state_t
watch_state (const watch_t *self, uint64_t node, wa_usec_t now, wa_usec_t heartbeat, wa_usec_t unhealthy)
{
    wa_usec_t age = watch_age (self, node, now);
    if (age >= unhealthy)
        return WATCH_UNHEALTHY;
    if (age > heartbeat + heartbeat / 2)
        return WATCH_LATE;
    return WATCH_HEALTHY;
}

int
watch_votes (const watch_t *self, uint64_t node, wa_usec_t now, wa_usec_t heartbeat,
             wa_usec_t unhealthy, int *observers)
{
    int votes = 0, fresh = 0;
    for (int i = 0; i < self->reporters; i++) {
        const watch_report_t *r = &self->reports[i];
        if (now - r->received > 3 * heartbeat)
            continue;
        fresh++;
        //  The reporter's age for node, advanced by the report's own age;
        //  a node it does not know has never replied to it.
        wa_usec_t age = r->baseline_age;
        for (int j = 0; j < r->count; j++)
            if (r->node[j] == node)
                age = r->age[j];
        if (age + (now - r->received) >= unhealthy)
            votes++;
    }
    if (observers)
        *observers = fresh;
    return votes;
}

bool
watch_dead (const watch_t *self, uint64_t node, wa_usec_t now, wa_usec_t heartbeat, wa_usec_t unhealthy)
{
    if (watch_age (self, node, now) < unhealthy)
        return false;
    return watch_votes (self, node, now, heartbeat, unhealthy, NULL) >= 1;
}

const char *
watch_state_name (watch_state_t state)
{
    return state == WATCH_UNHEALTHY ? "unhealthy" : state == WATCH_LATE ? "late" : "healthy";
}
