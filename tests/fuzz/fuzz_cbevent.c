/*  fuzz_cbevent — an UP_EVENT's text as the Coreapp checks it before it
    stores a callback (src/wacore/cbevent.c). An event that passes gives a
    payload that passes again when read back from its row. */
#include "cbevent.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr (data, size);
    cbevent_t event;
    char why[256] = "";
    if (cbevent_parse (text, size, &event, why, sizeof why) == 0) {
        FUZZ_ASSERT (event.payload && strlen (event.payload) <= CBEVENT_PAYLOAD_MAX);
        FUZZ_ASSERT (cbevent_id_valid (event.event_id));
        FUZZ_ASSERT (strcmp (event.kind, "status") == 0 || strcmp (event.kind, "message") == 0);
        cbevent_t row;
        FUZZ_ASSERT (cbevent_check_payload (event.payload, event.event_id, &row, why, sizeof why) == 0);
        FUZZ_ASSERT (strcmp (row.payload, event.payload) == 0);
        FUZZ_ASSERT (strcmp (row.kind, event.kind) == 0);
        FUZZ_ASSERT (strcmp (row.conversation, event.conversation) == 0);
        FUZZ_ASSERT (row.sent_status == event.sent_status);
        free (row.payload);
        free (event.payload);
    }
    else
        FUZZ_ASSERT (*why);
    (void) cbevent_id_valid (text);
    free (text);
    return 0;
}
