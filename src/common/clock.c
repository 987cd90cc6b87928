/*  wa_clock — see include/wa_clock.h */
#include <math.h>
#include <time.h>
#include "wa_clock.h"

static wa_usec_t (*s_fake) (void);

wa_usec_t
wa_clock_mono (void)
{
    if (s_fake)
        return s_fake ();
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (wa_usec_t) ts.tv_sec * WA_USEC_PER_SEC + ts.tv_nsec / 1000;
}

void
wa_clock_set_fake (wa_usec_t (*fake) (void))
{
    s_fake = fake;
}

wa_usec_t
wa_clock_from_sec (double seconds)
{
    return (wa_usec_t) llround (seconds * (double) WA_USEC_PER_SEC);
}
