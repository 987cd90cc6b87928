/*  wa_clock — the monotonic clock every deadline is measured on, in
    microseconds. Tests can substitute a fake clock. */
#ifndef WA_CLOCK_H
#define WA_CLOCK_H

#include <stdint.h>

typedef int64_t wa_usec_t;

#define WA_USEC_PER_SEC 1000000LL

//  CLOCK_MONOTONIC now, or the fake clock when one is set.
wa_usec_t wa_clock_mono (void);
//  Install a fake clock (NULL restores the real one). For unit tests.
void wa_clock_set_fake (wa_usec_t (*fake) (void));
//  Seconds (fractions allowed) to microseconds, rounded.
wa_usec_t wa_clock_from_sec (double seconds);

#endif
