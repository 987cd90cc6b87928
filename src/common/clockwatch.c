/*  wa_clockwatch — see include/wa_clockwatch.h */
#include "wa_clockwatch.h"

int64_t
wa_clockwatch_feed (wa_clockwatch_t *self, wa_usec_t db_now, wa_usec_t sent, wa_usec_t received,
                    wa_usec_t threshold)
{
    if (threshold < WA_CLOCKWATCH_MIN_THRESHOLD)
        threshold = WA_CLOCKWATCH_MIN_THRESHOLD;
    if (received < sent)
        received = sent;
    if (self->have && sent < self->sent)
        return 0;
    int64_t step = 0;
    if (self->have) {
        //  NOW(6) was read somewhere within [sent, received] each time: the
        //  monotonic time between the readings is known within the sum of
        //  both round trips; compare with the middles.
        wa_usec_t mono = (sent + received) / 2 - (self->sent + self->received) / 2;
        wa_usec_t slack = (received - sent) / 2 + (self->received - self->sent) / 2;
        int64_t diff = (db_now - self->db) - mono;
        int64_t size = diff < 0 ? -diff : diff;
        if (size > threshold + slack) {
            step = diff;
            self->stepped_at = received;
            self->last_step = step;
            self->steps++;
        }
    }
    self->have = true;
    self->db = db_now;
    self->sent = sent;
    self->received = received;
    return step;
}

bool
wa_clockwatch_recent (const wa_clockwatch_t *self, wa_usec_t now, wa_usec_t window)
{
    return self->steps > 0 && now - self->stepped_at <= window;
}

int64_t
wa_clockwatch_feed_read (wa_clockwatch_t *self, const wa_clockread_t *reading, wa_usec_t threshold)
{
    return reading->db ? wa_clockwatch_feed (self, reading->db, reading->sent, reading->received, threshold) : 0;
}
