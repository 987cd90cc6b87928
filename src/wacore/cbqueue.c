/*  cbqueue — see cbqueue.h */
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <czmq.h>
#include "cbqueue.h"

typedef enum { C_READY, C_IN_FLIGHT, C_WAITING } cstate_t;

struct cbconv_t {
    char key[CBQUEUE_CONVERSATION_MAX + 1];
    cbentry_t *head;
    cbentry_t *tail;
    cstate_t state;
    wa_usec_t due;              //  while waiting
    cbconv_t *ready_next;
};

struct cbqueue_t {
    zhashx_t *convs;            //  conversation → cbconv_t (owned)
    cbconv_t *ready_first;
    cbconv_t *ready_last;
    size_t ready;
    cbconv_t **heap;            //  waiting, by due
    size_t heap_size;
    size_t heap_cap;
    size_t entries;
    size_t in_flight;
};

static void
s_entry_free (cbentry_t *entry)
{
    free (entry->payload);
    free (entry);
}

static void
s_conv_destroy (void **item)
{
    cbconv_t *conv = *item;
    while (conv->head) {
        cbentry_t *next = conv->head->next;
        s_entry_free (conv->head);
        conv->head = next;
    }
    free (conv);
    *item = NULL;
}

cbqueue_t *
cbqueue_new (void)
{
    cbqueue_t *self = (cbqueue_t *) calloc (1, sizeof (cbqueue_t));
    assert (self);
    self->convs = zhashx_new ();
    assert (self->convs);
    zhashx_set_destructor (self->convs, s_conv_destroy);
    return self;
}

void
cbqueue_destroy (cbqueue_t **self_p)
{
    cbqueue_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy (&self->convs);
    free (self->heap);
    free (self);
    *self_p = NULL;
}

static void
s_ready_push (cbqueue_t *self, cbconv_t *conv)
{
    conv->state = C_READY;
    conv->ready_next = NULL;
    if (self->ready_last)
        self->ready_last->ready_next = conv;
    else
        self->ready_first = conv;
    self->ready_last = conv;
    self->ready++;
}

static cbconv_t *
s_ready_pop (cbqueue_t *self)
{
    cbconv_t *conv = self->ready_first;
    if (conv) {
        self->ready_first = conv->ready_next;
        if (!self->ready_first)
            self->ready_last = NULL;
        conv->ready_next = NULL;
        self->ready--;
    }
    return conv;
}

static void
s_heap_push (cbqueue_t *self, cbconv_t *conv)
{
    if (self->heap_size == self->heap_cap) {
        size_t cap = self->heap_cap ? self->heap_cap * 2 : 64;
        cbconv_t **heap = realloc (self->heap, cap * sizeof (cbconv_t *));
        assert (heap);
        self->heap = heap;
        self->heap_cap = cap;
    }
    size_t at = self->heap_size++;
    while (at > 0) {
        size_t parent = (at - 1) / 2;
        if (self->heap[parent]->due <= conv->due)
            break;
        self->heap[at] = self->heap[parent];
        at = parent;
    }
    self->heap[at] = conv;
}

static cbconv_t *
s_heap_pop (cbqueue_t *self)
{
    assert (self->heap_size > 0);
    cbconv_t *top = self->heap[0];
    cbconv_t *last = self->heap[--self->heap_size];
    size_t at = 0;
    while (true) {
        size_t child = 2 * at + 1;
        if (child >= self->heap_size)
            break;
        if (child + 1 < self->heap_size && self->heap[child + 1]->due < self->heap[child]->due)
            child++;
        if (last->due <= self->heap[child]->due)
            break;
        self->heap[at] = self->heap[child];
        at = child;
    }
    if (self->heap_size > 0)
        self->heap[at] = last;
    return top;
}

void
cbqueue_add (cbqueue_t *self, cbentry_t *entry)
{
    entry->next = NULL;
    cbconv_t *conv = zhashx_lookup (self->convs, entry->conversation);
    if (!conv) {
        conv = (cbconv_t *) calloc (1, sizeof (cbconv_t));
        assert (conv);
        snprintf (conv->key, sizeof conv->key, "%s", entry->conversation);
        zhashx_insert (self->convs, conv->key, conv);
        conv->head = conv->tail = entry;
        entry->conv = conv;
        s_ready_push (self, conv);
    }
    else {
        conv->tail->next = entry;
        conv->tail = entry;
        entry->conv = conv;
    }
    self->entries++;
}

cbentry_t *
cbqueue_next (cbqueue_t *self, wa_usec_t now)
{
    while (self->heap_size > 0 && self->heap[0]->due <= now)
        s_ready_push (self, s_heap_pop (self));
    cbconv_t *conv = s_ready_pop (self);
    if (!conv)
        return NULL;
    assert (conv->head);
    conv->state = C_IN_FLIGHT;
    self->in_flight++;
    return conv->head;
}

void
cbqueue_done (cbqueue_t *self, cbentry_t *entry, bool delivered, wa_usec_t retry_at)
{
    cbconv_t *conv = entry->conv;
    assert (conv && conv->head == entry && conv->state == C_IN_FLIGHT);
    self->in_flight--;
    if (!delivered) {
        entry->attempts++;
        conv->state = C_WAITING;
        conv->due = retry_at;
        s_heap_push (self, conv);
        return;
    }
    conv->head = entry->next;
    s_entry_free (entry);
    self->entries--;
    if (conv->head)
        s_ready_push (self, conv);
    else {
        conv->tail = NULL;
        zhashx_delete (self->convs, conv->key);
    }
}

wa_usec_t
cbqueue_next_due (cbqueue_t *self)
{
    return self->heap_size > 0 ? self->heap[0]->due : -1;
}

void
cbqueue_purge (cbqueue_t *self)
{
    zhashx_purge (self->convs);
    self->ready_first = self->ready_last = NULL;
    self->ready = 0;
    self->heap_size = 0;
    self->entries = 0;
    self->in_flight = 0;
}

size_t
cbqueue_size (cbqueue_t *self)
{
    return self->entries;
}

size_t
cbqueue_in_flight (cbqueue_t *self)
{
    return self->in_flight;
}

size_t
cbqueue_ready (cbqueue_t *self)
{
    return self->ready;
}

size_t
cbqueue_waiting (cbqueue_t *self)
{
    return self->heap_size;
}

int64_t
cbqueue_backoff_ms (int attempts, int64_t step_ms, int64_t max_ms)
{
    if (attempts <= 0 || step_ms <= 0 || max_ms <= 0)
        return 0;
    //  attempts × step would overflow only far past any sane cap.
    if (step_ms > max_ms / attempts)
        return max_ms;
    return (int64_t) attempts * step_ms;
}
