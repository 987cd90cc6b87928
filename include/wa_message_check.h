/*  wa_message_check — the checker the message types share (message.c,
    message_types.c): a path that names the field being looked at
    ("template.components[0].parameters[1].currency.code"), and checks of
    members that fail with that path in the error. Private to libwa. */
#ifndef WA_MESSAGE_CHECK_H
#define WA_MESSAGE_CHECK_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include "wa_errors.h"
#include "wa_message.h"

typedef struct {
    char path[192];
    size_t len;
    char *why;
    size_t why_size;
    wa_message_t *msg;
} chk_t;

//  What a string may hold besides printable characters.
#define CHK_ONE_LINE 0          //  no control character at all
#define CHK_LINES 1             //  line breaks and tabs
#define CHK_ANY 2               //  anything but NUL

//  Enter a member ("name") or an element ("[3]") of what is being looked
//  at; the previous length comes back for chk_leave.
size_t chk_enter (chk_t *c, const char *member);
size_t chk_enter_index (chk_t *c, size_t index);
void chk_leave (chk_t *c, size_t len);
//  Fail: why is "'<path>' <text>"; code is returned.
int chk_fail (chk_t *c, int code, const char *fmt, ...) __attribute__ ((format (printf, 3, 4)));
//  A member of obj, NULL when absent or null.
const json_t *chk_get (const json_t *obj, const char *name);
//  value (the current path) must be an object whose members are all in
//  members (NULL-terminated).
int chk_object (chk_t *c, const json_t *value, const char *const *members);
//  A string member: required or not; min to max characters; what it may
//  hold (CHK_*). 0 with *out (NULL when absent), or an error code.
int chk_string (chk_t *c, const json_t *obj, const char *name, bool required, size_t min, size_t max,
                int allow, const char **out);
//  A string member that must be one of values (NULL-terminated).
int chk_enum (chk_t *c, const json_t *obj, const char *name, bool required, const char *const *values,
              const char **out);
//  An integer member within [min, max].
int chk_int (chk_t *c, const json_t *obj, const char *name, bool required, json_int_t min, json_int_t max,
             bool *present, json_int_t *out);
//  A number member within [min, max].
int chk_number (chk_t *c, const json_t *obj, const char *name, bool required, double min, double max);
//  An array member of min to max elements.
int chk_array (chk_t *c, const json_t *obj, const char *name, bool required, size_t min, size_t max,
               const json_t **out);
//  An object member; NULL in *out when absent.
int chk_member_object (chk_t *c, const json_t *obj, const char *name, bool required, const char *const *members,
                       const json_t **out);
//  A media object member named kind (image, audio, video, document,
//  sticker): "id" or "link" (with "provider"), and "caption" / "filename"
//  as allowed. Recorded in c->msg->media.
#define CHK_CAPTION 1
#define CHK_FILENAME 2
int chk_media (chk_t *c, const json_t *obj, const char *kind, unsigned allow);

//  The structured types (message_types.c): value is the member named by
//  the type; the path is already that name.
int chk_template (chk_t *c, const json_t *value);
int chk_interactive (chk_t *c, const json_t *value);
int chk_contacts (chk_t *c, const json_t *value);
int chk_location (chk_t *c, const json_t *value);
int chk_reaction (chk_t *c, const json_t *value);

#endif
