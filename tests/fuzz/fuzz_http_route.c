/*  fuzz_http_route — path routing (src/waweb/route.c). The input is
    "METHOD PATH": everything before the first space is the method. */
#include "route.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr (data, size);
    char *space = strchr (text, ' ');
    const char *method = "GET", *path = text;
    if (space) {
        *space = 0;
        method = text;
        path = space + 1;
    }
    route_t route;
    memset (&route, 'x', sizeof route);
    int rc = route_match (method, path, &route);
    FUZZ_ASSERT (rc == 0 || rc == 404 || rc == 405);
    FUZZ_ASSERT (memchr (route.param, 0, sizeof route.param) != NULL);
    FUZZ_ASSERT (memchr (route.allow, 0, sizeof route.allow) != NULL);
    if (rc == 0) {
        FUZZ_ASSERT (route.id > ROUTE_NONE && route.id < ROUTE_COUNT);
        //  A {name} segment is whole or absent, never cut, and holds no '/'.
        FUZZ_ASSERT (strchr (route.param, '/') == NULL);
        if (*route.param)
            FUZZ_ASSERT (strstr (path, route.param) != NULL);
    }
    else
        FUZZ_ASSERT (route.id == ROUTE_NONE);
    if (rc == 405)
        FUZZ_ASSERT (*route.allow);
    FUZZ_ASSERT (route_name (route.id) != NULL);
    free (text);
    return 0;
}
