/*  templates — see templates.h */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include "wa_errors.h"
#include "templates.h"

#define BUTTONS_MAX 10

typedef struct {
    const char *sub_type;       //  NULL: no button at this index
    int params;
} button_t;

typedef struct {
    const char *name;
    const char *languages[4];
    const char *header;         //  NULL: none; "text", "image", "document", "video"
    int header_params;          //  a text header's parameters (a media header takes 1)
    int body_params;
    button_t buttons[BUTTONS_MAX];
} template_t;

static const template_t s_catalogue[] = {
    { "hello_world", { "en", "en_US" }, NULL, 0, 0, { { NULL, 0 } } },
    { "order_update", { "en", "en_US", "pt_BR" }, "text", 1, 3, { { "quick_reply", 1 }, { "quick_reply", 1 } } },
    { "shipping_update", { "en", "en_US" }, "image", 1, 2, { { "url", 1 } } },
    { "invoice_ready", { "en", "en_US" }, "document", 1, 2, { { NULL, 0 } } },
    { "product_demo", { "en" }, "video", 1, 1, { { NULL, 0 } } },
};
#define NTEMPLATES (sizeof s_catalogue / sizeof s_catalogue[0])

static bool
s_streq (const char *a, const char *b)
{
    return a && b && strcmp (a, b) == 0;
}

static int
s_fail (char *details, size_t size, int code, const char *fmt, const char *what, long given, long expected)
{
    snprintf (details, size, fmt, what, given, expected);
    return code;
}

//  The button index of a component (a number, or a string of one digit).
static int
s_index (const json_t *component)
{
    const json_t *index = json_object_get (component, "index");
    if (json_is_integer (index))
        return (int) json_integer_value (index);
    if (json_is_string (index) && json_string_length (index) == 1)
        return json_string_value (index)[0] - '0';
    return -1;
}

int
templates_check (const json_t *body, char *details, size_t details_size)
{
    const char *space = json_string_value (json_object_get (body, "namespace"));
    const char *name = json_string_value (json_object_get (body, "name"));
    const char *language = json_string_value (json_object_get (json_object_get (body, "language"), "code"));
    if (!s_streq (space, TEMPLATES_NAMESPACE)) {
        snprintf (details, details_size, "no templates in namespace '%.64s' (this account's is '%s')",
                  space ? space : "", TEMPLATES_NAMESPACE);
        return WA_ERR_TEMPLATE_MISSING;
    }
    const template_t *template = NULL;
    for (size_t i = 0; i < NTEMPLATES && !template; i++)
        if (s_streq (name, s_catalogue[i].name))
            template = &s_catalogue[i];
    if (!template) {
        snprintf (details, details_size, "no template named '%.100s' in namespace '%s'", name ? name : "",
                  TEMPLATES_NAMESPACE);
        return WA_ERR_TEMPLATE_MISSING;
    }
    bool spoken = false;
    for (size_t i = 0; i < sizeof template->languages / sizeof template->languages[0]; i++)
        spoken |= s_streq (language, template->languages[i]);
    if (!spoken) {
        snprintf (details, details_size, "template '%s' does not exist in language '%.16s'", template->name,
                  language ? language : "");
        return WA_ERR_TEMPLATE_MISSING;
    }
    //  What the message gives each component.
    const json_t *header = NULL, *body_params = NULL, *buttons[BUTTONS_MAX] = { NULL };
    const json_t *components = json_object_get (body, "components");
    size_t i;
    const json_t *component;
    json_array_foreach (components, i, component) {
        const char *type = json_string_value (json_object_get (component, "type"));
        const json_t *params = json_object_get (component, "parameters");
        if (s_streq (type, "header"))
            header = params;
        else
        if (s_streq (type, "body"))
            body_params = params;
        else
        if (s_streq (type, "button")) {
            int index = s_index (component);
            if (index < 0 || index >= BUTTONS_MAX)
                continue;
            if (!template->buttons[index].sub_type) {
                char what[16];
                snprintf (what, sizeof what, "button %d", index);
                return s_fail (details, details_size, WA_ERR_TEMPLATE_PARAMS,
                               "%s: number of localizable_params (%ld) does not match the expected number of "
                               "params (%ld)", what, (long) json_array_size (params), 0);
            }
            if (!s_streq (json_string_value (json_object_get (component, "sub_type")),
                          template->buttons[index].sub_type)) {
                snprintf (details, details_size, "button %d: the template's button is a %s button", index,
                          template->buttons[index].sub_type);
                return WA_ERR_TEMPLATE_FORMAT;
            }
            buttons[index] = params;
        }
    }
    long header_expected = template->header ? template->header_params : 0;
    if ((long) json_array_size (header) != header_expected)
        return s_fail (details, details_size, WA_ERR_TEMPLATE_PARAMS, "%s: number of localizable_params (%ld) does "
                       "not match the expected number of params (%ld)", "header", (long) json_array_size (header),
                       header_expected);
    if (header && template->header) {
        const char *kind = json_string_value (json_object_get (json_array_get (header, 0), "type"));
        bool media = !s_streq (template->header, "text");
        //  A text header takes text, currency and date_time; a media header its own kind.
        if (media ? !s_streq (kind, template->header) : (s_streq (kind, "image") || s_streq (kind, "document")
                                                          || s_streq (kind, "video"))) {
            kind = kind ? kind : "";
            snprintf (details, details_size, "header: a%s %.16s parameter, but the template's header is %s%s",
                      strchr ("aeiou", kind[0]) && kind[0] ? "n" : "", kind,
                      media ? (strchr ("aeiou", template->header[0]) ? "an " : "a ") : "",
                      media ? template->header : "text");
            return WA_ERR_TEMPLATE_FORMAT;
        }
    }
    if ((long) json_array_size (body_params) != template->body_params)
        return s_fail (details, details_size, WA_ERR_TEMPLATE_PARAMS, "%s: number of localizable_params (%ld) does "
                       "not match the expected number of params (%ld)", "body", (long) json_array_size (body_params),
                       template->body_params);
    for (int b = 0; b < BUTTONS_MAX; b++)
        if (template->buttons[b].sub_type && (long) json_array_size (buttons[b]) != template->buttons[b].params) {
            char what[16];
            snprintf (what, sizeof what, "button %d", b);
            return s_fail (details, details_size, WA_ERR_TEMPLATE_PARAMS, "%s: number of localizable_params (%ld) "
                           "does not match the expected number of params (%ld)", what,
                           (long) json_array_size (buttons[b]), template->buttons[b].params);
        }
    return 0;
}

json_t *
templates_catalogue (void)
{
    json_t *list = json_array ();
    for (size_t i = 0; i < NTEMPLATES; i++) {
        const template_t *t = &s_catalogue[i];
        json_t *languages = json_array ();
        for (size_t l = 0; l < sizeof t->languages / sizeof t->languages[0] && t->languages[l]; l++)
            json_array_append_new (languages, json_string (t->languages[l]));
        json_t *buttons = json_array ();
        for (int b = 0; b < BUTTONS_MAX; b++)
            if (t->buttons[b].sub_type)
                json_array_append_new (buttons, json_pack ("{s:i, s:s, s:i}", "index", b, "sub_type",
                                                           t->buttons[b].sub_type, "parameters", t->buttons[b].params));
        json_t *header = t->header ? json_pack ("{s:s, s:i}", "format", t->header, "parameters", t->header_params)
                                   : json_null ();
        json_array_append_new (list, json_pack ("{s:s, s:s, s:o, s:o, s:{s:i}, s:o}", "namespace", TEMPLATES_NAMESPACE,
                                                "name", t->name, "languages", languages, "header", header,
                                                "body", "parameters", t->body_params, "buttons", buttons));
    }
    return list;
}
