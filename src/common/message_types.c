/*  message_types — the checks of the structured message types: template,
    interactive, contacts, location and reaction (wa_message.h; the
    checker is wa_message_check.h). Each object is checked member by
    member, and a member it does not take is refused. The limits are the
    original's (docs/API.md lists them). */
#include <string.h>
#include <stdio.h>
#include "wa_message_check.h"

#define TEMPLATE_NAME_MAX 512
#define TEMPLATE_NAMESPACE_MAX 128
#define TEMPLATE_BUTTONS_MAX 10
#define TEMPLATE_BODY_PARAMS_MAX 100
#define TEMPLATE_HEADER_TEXT_MAX 60
#define TEMPLATE_BODY_TEXT_MAX 1024
#define TEMPLATE_URL_TEXT_MAX 2000
#define TEMPLATE_PAYLOAD_MAX 256
#define FALLBACK_MAX 1024
#define HEADER_TEXT_MAX 60
#define BODY_TEXT_MAX 1024
#define FOOTER_TEXT_MAX 60
#define BUTTONS_MAX 3
#define BUTTON_ID_MAX 256
#define BUTTON_TITLE_MAX 20
#define LIST_BUTTON_MAX 20
#define SECTIONS_MAX 10
#define SECTION_TITLE_MAX 24
#define ROWS_MAX 10
#define ROW_ID_MAX 200
#define ROW_TITLE_MAX 24
#define ROW_DESCRIPTION_MAX 72
#define PRODUCTS_MAX 30
#define CATALOG_ID_MAX 100
#define CONTACTS_MAX 10
#define CONTACT_LIST_MAX 10         //  addresses, emails, phones, urls per card
#define CONTACT_TEXT_MAX 512
#define LOCATION_TEXT_MAX 1000
#define EMOJI_CODE_POINTS_MAX 16

static bool
s_streq (const char *a, const char *b)
{
    return a && b && strcmp (a, b) == 0;
}

//  Every byte of text in chars (or an ASCII letter or digit when letters).
static bool
s_charset (const char *text, const char *chars, bool letters)
{
    for (const char *p = text; *p; p++) {
        bool ok = (letters && ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
               || strchr (chars, *p);
        if (!ok)
            return false;
    }
    return true;
}

//  Fail with the member name entered.
static int
s_fail_member (chk_t *c, const char *name, int code, const char *text)
{
    size_t len = chk_enter (c, name);
    code = chk_fail (c, code, "%s", text);
    chk_leave (c, len);
    return code;
}

//  Is a member of value no other than these?
static bool
s_has (const json_t *value, const char *name)
{
    return chk_get (value, name) != NULL;
}

//  --------------------------------------------------------------------------
//  Template

//  "en", "en_US", "zh_HK", "pt_BR", "es_419"? No: 2 or 3 lower case letters,
//  then optionally '_' and 2 to 4 upper case letters or digits.
static bool
s_language_code (const char *code)
{
    size_t lang = 0;
    while (code[lang] >= 'a' && code[lang] <= 'z')
        lang++;
    if (lang < 2 || lang > 3)
        return false;
    if (!code[lang])
        return true;
    if (code[lang] != '_')
        return false;
    const char *region = code + lang + 1;
    size_t len = strlen (region);
    if (len < 2 || len > 4)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((region[i] >= 'A' && region[i] <= 'Z') || (region[i] >= '0' && region[i] <= '9')))
            return false;
    return true;
}

static int
s_currency (chk_t *c, const json_t *param)
{
    static const char *const members[] = { "fallback_value", "code", "amount_1000", NULL };
    const json_t *currency;
    const char *code_text;
    int code;
    if ((code = chk_member_object (c, param, "currency", true, members, &currency)))
        return code;
    size_t len = chk_enter (c, "currency");
    if ((code = chk_string (c, currency, "fallback_value", true, 1, FALLBACK_MAX, CHK_ONE_LINE, NULL)) == 0
    &&  (code = chk_string (c, currency, "code", true, 3, 3, CHK_ONE_LINE, &code_text)) == 0
    &&  !s_charset (code_text, "ABCDEFGHIJKLMNOPQRSTUVWXYZ", false))
        code = s_fail_member (c, "code", WA_ERR_INVALID, "must be an ISO 4217 currency code: 3 upper case letters");
    if (code == 0)
        code = chk_int (c, currency, "amount_1000", true, -1000000000000000LL, 1000000000000000LL, NULL, NULL);
    chk_leave (c, len);
    return code;
}

static int
s_date_time (chk_t *c, const json_t *param)
{
    static const char *const members[] = { "fallback_value", "timestamp", "day_of_week", "year", "month",
                                           "day_of_month", "hour", "minute", "calendar", NULL };
    static const char *const calendars[] = { "GREGORIAN", "SOLAR_HIJRI", NULL };
    const json_t *date_time;
    int code;
    if ((code = chk_member_object (c, param, "date_time", true, members, &date_time)))
        return code;
    size_t len = chk_enter (c, "date_time");
    bool stamp = false;
    if ((code = chk_string (c, date_time, "fallback_value", true, 1, FALLBACK_MAX, CHK_ONE_LINE, NULL)) == 0)
        code = chk_int (c, date_time, "timestamp", false, 0, 253402300799LL, &stamp, NULL);
    bool parts = s_has (date_time, "day_of_week") || s_has (date_time, "year") || s_has (date_time, "month")
              || s_has (date_time, "day_of_month") || s_has (date_time, "hour") || s_has (date_time, "minute")
              || s_has (date_time, "calendar");
    if (code == 0 && stamp && parts)
        code = chk_fail (c, WA_ERR_INVALID, "takes a 'timestamp' or its parts (year, month, ...), not both");
    if (code == 0)
        code = chk_int (c, date_time, "day_of_week", false, 1, 7, NULL, NULL);
    if (code == 0)
        code = chk_int (c, date_time, "year", false, 1, 9999, NULL, NULL);
    if (code == 0)
        code = chk_int (c, date_time, "month", false, 1, 12, NULL, NULL);
    if (code == 0)
        code = chk_int (c, date_time, "day_of_month", false, 1, 31, NULL, NULL);
    if (code == 0)
        code = chk_int (c, date_time, "hour", false, 0, 23, NULL, NULL);
    if (code == 0)
        code = chk_int (c, date_time, "minute", false, 0, 59, NULL, NULL);
    if (code == 0)
        code = chk_enum (c, date_time, "calendar", false, calendars, NULL);
    chk_leave (c, len);
    return code;
}

//  One parameter of a template component. allowed: the types it may be.
static int
s_template_param (chk_t *c, const json_t *param, const char *const *allowed, size_t text_max)
{
    static const char *const members[] = { "type", "text", "currency", "date_time", "image", "document", "video",
                                           "payload", NULL };
    const char *type;
    int code;
    if ((code = chk_object (c, param, members)) || (code = chk_enum (c, param, "type", true, allowed, &type)))
        return code;
    //  Only the member its type names.
    for (size_t i = 1; members[i]; i++)
        if (!s_streq (members[i], type) && s_has (param, members[i])) {
            char text[96];
            snprintf (text, sizeof text, "is not allowed in a parameter of type \"%s\"", type);
            return s_fail_member (c, members[i], WA_ERR_INVALID, text);
        }
    if (s_streq (type, "text"))
        return chk_string (c, param, "text", true, 1, text_max, CHK_ONE_LINE, NULL);
    if (s_streq (type, "payload"))
        return chk_string (c, param, "payload", true, 1, TEMPLATE_PAYLOAD_MAX, CHK_ONE_LINE, NULL);
    if (s_streq (type, "currency"))
        return s_currency (c, param);
    if (s_streq (type, "date_time"))
        return s_date_time (c, param);
    return chk_media (c, param, type, s_streq (type, "document") ? CHK_FILENAME : 0);
}

//  A button's index: 0 to 9, as a number or a string of one digit.
static int
s_button_index (chk_t *c, const json_t *component, bool *used)
{
    const json_t *index = chk_get (component, "index");
    if (!index)
        return s_fail_member (c, "index", WA_ERR_MISSING, "is missing (the button's position: 0 to 9)");
    json_int_t value = -1;
    if (json_is_integer (index))
        value = json_integer_value (index);
    else
    if (json_is_string (index) && json_string_length (index) == 1 && json_string_value (index)[0] >= '0'
    &&  json_string_value (index)[0] <= '9')
        value = json_string_value (index)[0] - '0';
    if (value < 0 || value >= TEMPLATE_BUTTONS_MAX)
        return s_fail_member (c, "index", WA_ERR_INVALID, "must be 0 to 9 (a number, or a string of one digit)");
    if (used[value])
        return s_fail_member (c, "index", WA_ERR_INVALID, "names a button already given a parameter");
    used[value] = true;
    return 0;
}

static int
s_template_component (chk_t *c, const json_t *component, bool only_body, bool *seen_header, bool *seen_body,
                      bool *buttons)
{
    static const char *const members[] = { "type", "sub_type", "index", "parameters", NULL };
    static const char *const types[] = { "header", "body", "button", NULL };
    static const char *const sub_types[] = { "quick_reply", "url", NULL };
    static const char *const header_params[] = { "text", "currency", "date_time", "image", "document", "video", NULL };
    static const char *const body_params[] = { "text", "currency", "date_time", NULL };
    static const char *const payload_params[] = { "payload", NULL };
    static const char *const text_params[] = { "text", NULL };
    const char *type, *sub_type = NULL;
    int code;
    if ((code = chk_object (c, component, members)) || (code = chk_enum (c, component, "type", true, types, &type)))
        return code;
    bool button = s_streq (type, "button");
    if (!button && (s_has (component, "sub_type") || s_has (component, "index")))
        return s_fail_member (c, s_has (component, "sub_type") ? "sub_type" : "index", WA_ERR_INVALID,
                              "goes only with a component of type \"button\"");
    if (s_streq (type, "header")) {
        if (*seen_header)
            return chk_fail (c, WA_ERR_INVALID, "is a second header: a template has one");
        *seen_header = true;
    }
    if (s_streq (type, "body")) {
        if (*seen_body)
            return chk_fail (c, WA_ERR_INVALID, "is a second body: a template has one");
        *seen_body = true;
    }
    if (button && ((code = chk_enum (c, component, "sub_type", true, sub_types, &sub_type))
               ||  (code = s_button_index (c, component, buttons))))
        return code;
    const json_t *params;
    size_t min = 1, max = s_streq (type, "body") ? TEMPLATE_BODY_PARAMS_MAX : 1;
    if ((code = chk_array (c, component, "parameters", true, min, max, &params)))
        return code;
    const char *const *allowed = s_streq (type, "header") ? header_params : s_streq (type, "body") ? body_params
                               : s_streq (sub_type, "quick_reply") ? payload_params : text_params;
    size_t text_max = s_streq (type, "header") ? TEMPLATE_HEADER_TEXT_MAX
                    : button ? TEMPLATE_URL_TEXT_MAX : only_body ? 32768 : TEMPLATE_BODY_TEXT_MAX;
    size_t len = chk_enter (c, "parameters");
    for (size_t i = 0; i < json_array_size (params) && code == 0; i++) {
        size_t at = chk_enter_index (c, i);
        code = s_template_param (c, json_array_get (params, i), allowed, text_max);
        chk_leave (c, at);
    }
    chk_leave (c, len);
    return code;
}

int
chk_template (chk_t *c, const json_t *value)
{
    static const char *const members[] = { "namespace", "name", "language", "components", NULL };
    static const char *const language_members[] = { "policy", "code", NULL };
    static const char *const policies[] = { "deterministic", "fallback", NULL };
    const char *text;
    const json_t *language, *components;
    int code;
    if ((code = chk_object (c, value, members)))
        return code;
    if ((code = chk_string (c, value, "namespace", true, 1, TEMPLATE_NAMESPACE_MAX, CHK_ONE_LINE, &text)))
        return code;
    if (!s_charset (text, "_-.:", true))
        return s_fail_member (c, "namespace", WA_ERR_INVALID, "must be the account's template namespace: letters, "
                              "digits and _ - . :");
    if ((code = chk_string (c, value, "name", true, 1, TEMPLATE_NAME_MAX, CHK_ONE_LINE, &text)))
        return code;
    if (!s_charset (text, "abcdefghijklmnopqrstuvwxyz0123456789_", false))
        return s_fail_member (c, "name", WA_ERR_INVALID, "must be a template's name: lower case letters, digits "
                              "and underscores");
    if ((code = chk_member_object (c, value, "language", true, language_members, &language)))
        return code;
    size_t len = chk_enter (c, "language");
    if ((code = chk_enum (c, language, "policy", true, policies, NULL)) == 0
    &&  (code = chk_string (c, language, "code", true, 2, 8, CHK_ONE_LINE, &text)) == 0
    &&  !s_language_code (text))
        code = s_fail_member (c, "code", WA_ERR_INVALID, "must be a language and locale code such as \"en\", "
                              "\"en_US\" or \"pt_BR\"");
    chk_leave (c, len);
    if (code || (code = chk_array (c, value, "components", false, 1, 2 + TEMPLATE_BUTTONS_MAX, &components))
    ||  !components)
        return code;
    bool seen_header = false, seen_body = false, buttons[TEMPLATE_BUTTONS_MAX] = { false };
    len = chk_enter (c, "components");
    for (size_t i = 0; i < json_array_size (components) && code == 0; i++) {
        size_t at = chk_enter_index (c, i);
        code = s_template_component (c, json_array_get (components, i), json_array_size (components) == 1,
                                     &seen_header, &seen_body, buttons);
        chk_leave (c, at);
    }
    chk_leave (c, len);
    return code;
}

//  --------------------------------------------------------------------------
//  Interactive

//  An object {"text"} of 1 to max characters.
static int
s_text_object (chk_t *c, const json_t *value, const char *name, bool required, size_t max, int allow)
{
    static const char *const members[] = { "text", NULL };
    const json_t *object;
    int code = chk_member_object (c, value, name, required, members, &object);
    if (code || !object)
        return code;
    size_t len = chk_enter (c, name);
    code = chk_string (c, object, "text", true, 1, max, allow, NULL);
    chk_leave (c, len);
    return code;
}

static int
s_interactive_header (chk_t *c, const json_t *value, const char *type)
{
    static const char *const members[] = { "type", "text", "image", "video", "document", NULL };
    static const char *const text_only[] = { "text", NULL };
    static const char *const any[] = { "text", "image", "video", "document", NULL };
    bool product = s_streq (type, "product"), product_list = s_streq (type, "product_list");
    const json_t *header = chk_get (value, "header");
    if (product && header)
        return s_fail_member (c, "header", WA_ERR_INVALID, "is not allowed in a product message");
    if (!header) {
        if (product_list)
            return s_fail_member (c, "header", WA_ERR_MISSING, "is missing (a product_list message needs a text "
                                  "header)");
        return 0;
    }
    const json_t *object;
    const char *kind;
    int code = chk_member_object (c, value, "header", true, members, &object);
    if (code)
        return code;
    size_t len = chk_enter (c, "header");
    code = chk_enum (c, object, "type", true, s_streq (type, "button") ? any : text_only, &kind);
    for (size_t i = 1; code == 0 && members[i]; i++)
        if (!s_streq (members[i], kind) && s_has (object, members[i])) {
            char text[96];
            snprintf (text, sizeof text, "is not allowed in a header of type \"%s\"", kind);
            code = s_fail_member (c, members[i], WA_ERR_INVALID, text);
        }
    if (code == 0)
        code = s_streq (kind, "text") ? chk_string (c, object, "text", true, 1, HEADER_TEXT_MAX, CHK_ONE_LINE, NULL)
             : chk_media (c, object, kind, s_streq (kind, "document") ? CHK_FILENAME : 0);
    chk_leave (c, len);
    return code;
}

//  Is text already in seen (a JSON object used as a set)? Adds it.
static bool
s_repeated (json_t *seen, const char *text)
{
    if (json_object_get (seen, text))
        return true;
    json_object_set_new (seen, text, json_true ());
    return false;
}

static int
s_buttons (chk_t *c, const json_t *action)
{
    static const char *const button_members[] = { "type", "reply", NULL };
    static const char *const reply_members[] = { "id", "title", NULL };
    static const char *const types[] = { "reply", NULL };
    const json_t *buttons;
    int code = chk_array (c, action, "buttons", true, 1, BUTTONS_MAX, &buttons);
    if (code)
        return code;
    json_t *ids = json_object (), *titles = json_object ();
    size_t len = chk_enter (c, "buttons");
    for (size_t i = 0; i < json_array_size (buttons) && code == 0; i++) {
        size_t at = chk_enter_index (c, i);
        const json_t *button = json_array_get (buttons, i), *reply;
        const char *id, *title;
        if ((code = chk_object (c, button, button_members)) == 0
        &&  (code = chk_enum (c, button, "type", true, types, NULL)) == 0
        &&  (code = chk_member_object (c, button, "reply", true, reply_members, &reply)) == 0) {
            size_t in = chk_enter (c, "reply");
            if ((code = chk_string (c, reply, "id", true, 1, BUTTON_ID_MAX, CHK_ONE_LINE, &id)) == 0
            &&  (code = chk_string (c, reply, "title", true, 1, BUTTON_TITLE_MAX, CHK_ONE_LINE, &title)) == 0) {
                if (s_repeated (ids, id))
                    code = s_fail_member (c, "id", WA_ERR_INVALID, "is the id of another button: each is unique");
                else
                if (s_repeated (titles, title))
                    code = s_fail_member (c, "title", WA_ERR_INVALID, "is the title of another button: each is "
                                          "unique");
            }
            chk_leave (c, in);
        }
        chk_leave (c, at);
    }
    chk_leave (c, len);
    json_decref (ids);
    json_decref (titles);
    return code;
}

//  list: sections of rows; product_list: sections of product items.
static int
s_sections (chk_t *c, const json_t *action, bool products)
{
    static const char *const list_members[] = { "title", "rows", NULL };
    static const char *const product_members[] = { "title", "product_items", NULL };
    static const char *const row_members[] = { "id", "title", "description", NULL };
    static const char *const item_members[] = { "product_retailer_id", NULL };
    const json_t *sections;
    int code = chk_array (c, action, "sections", true, 1, SECTIONS_MAX, &sections);
    if (code)
        return code;
    json_t *ids = json_object ();
    size_t total = 0, max = products ? PRODUCTS_MAX : ROWS_MAX;
    const char *items = products ? "product_items" : "rows";
    size_t len = chk_enter (c, "sections");
    for (size_t i = 0; i < json_array_size (sections) && code == 0; i++) {
        size_t at = chk_enter_index (c, i);
        const json_t *section = json_array_get (sections, i), *list;
        //  A title, required once there are several sections (always for products).
        bool titled = products || json_array_size (sections) > 1;
        if ((code = chk_object (c, section, products ? product_members : list_members)) == 0
        &&  (code = chk_string (c, section, "title", titled, 1, SECTION_TITLE_MAX, CHK_ONE_LINE, NULL)) == 0
        &&  (code = chk_array (c, section, items, true, 1, max, &list)) == 0) {
            size_t in = chk_enter (c, items);
            for (size_t j = 0; j < json_array_size (list) && code == 0; j++) {
                size_t el = chk_enter_index (c, j);
                const json_t *item = json_array_get (list, j);
                const char *id = NULL;
                if (++total > max)
                    code = chk_fail (c, WA_ERR_INVALID, "is one too many: a %s message holds at most %zu %s in all",
                                     products ? "product_list" : "list", max, products ? "products" : "rows");
                else
                if (products) {
                    if ((code = chk_object (c, item, item_members)) == 0)
                        code = chk_string (c, item, "product_retailer_id", true, 1, CATALOG_ID_MAX, CHK_ONE_LINE,
                                           &id);
                }
                else
                if ((code = chk_object (c, item, row_members)) == 0
                &&  (code = chk_string (c, item, "id", true, 1, ROW_ID_MAX, CHK_ONE_LINE, &id)) == 0
                &&  (code = chk_string (c, item, "title", true, 1, ROW_TITLE_MAX, CHK_ONE_LINE, NULL)) == 0)
                    code = chk_string (c, item, "description", false, 1, ROW_DESCRIPTION_MAX, CHK_ONE_LINE, NULL);
                if (code == 0 && s_repeated (ids, id))
                    code = s_fail_member (c, products ? "product_retailer_id" : "id", WA_ERR_INVALID,
                                          products ? "names a product already listed" : "is the id of another "
                                          "row: each is unique");
                chk_leave (c, el);
            }
            chk_leave (c, in);
        }
        chk_leave (c, at);
    }
    chk_leave (c, len);
    json_decref (ids);
    return code;
}

int
chk_interactive (chk_t *c, const json_t *value)
{
    static const char *const members[] = { "type", "header", "body", "footer", "action", NULL };
    static const char *const types[] = { "list", "button", "product", "product_list", NULL };
    static const char *const button_action[] = { "buttons", NULL };
    static const char *const list_action[] = { "button", "sections", NULL };
    static const char *const product_action[] = { "catalog_id", "product_retailer_id", NULL };
    static const char *const product_list_action[] = { "catalog_id", "sections", NULL };
    const char *type;
    const json_t *action;
    int code;
    if ((code = chk_object (c, value, members)) || (code = chk_enum (c, value, "type", true, types, &type))
    ||  (code = s_interactive_header (c, value, type))
    ||  (code = s_text_object (c, value, "body", !s_streq (type, "product"), BODY_TEXT_MAX, CHK_LINES))
    ||  (code = s_text_object (c, value, "footer", false, FOOTER_TEXT_MAX, CHK_ONE_LINE)))
        return code;
    const char *const *action_members = s_streq (type, "button") ? button_action : s_streq (type, "list")
                                      ? list_action : s_streq (type, "product") ? product_action
                                      : product_list_action;
    if ((code = chk_member_object (c, value, "action", true, action_members, &action)))
        return code;
    size_t len = chk_enter (c, "action");
    if (s_streq (type, "button"))
        code = s_buttons (c, action);
    else
    if (s_streq (type, "list")) {
        if ((code = chk_string (c, action, "button", true, 1, LIST_BUTTON_MAX, CHK_ONE_LINE, NULL)) == 0)
            code = s_sections (c, action, false);
    }
    else {
        if ((code = chk_string (c, action, "catalog_id", true, 1, CATALOG_ID_MAX, CHK_ONE_LINE, NULL)) == 0)
            code = s_streq (type, "product")
                 ? chk_string (c, action, "product_retailer_id", true, 1, CATALOG_ID_MAX, CHK_ONE_LINE, NULL)
                 : s_sections (c, action, true);
    }
    chk_leave (c, len);
    return code;
}

//  --------------------------------------------------------------------------
//  Contacts

//  An array member of objects with these string members (and a type).
static int
s_card_list (chk_t *c, const json_t *card, const char *name, const char *const *members,
             const char *const *types, const char *required)
{
    const json_t *list;
    int code = chk_array (c, card, name, false, 1, CONTACT_LIST_MAX, &list);
    if (code || !list)
        return code;
    size_t len = chk_enter (c, name);
    for (size_t i = 0; i < json_array_size (list) && code == 0; i++) {
        size_t at = chk_enter_index (c, i);
        const json_t *item = json_array_get (list, i);
        if ((code = chk_object (c, item, members)) == 0)
            for (size_t m = 0; members[m] && code == 0; m++) {
                if (s_streq (members[m], "type"))
                    code = chk_enum (c, item, "type", false, types, NULL);
                else
                if (s_streq (members[m], "wa_id")) {
                    const char *wa_id;
                    code = chk_string (c, item, "wa_id", false, 1, WA_MESSAGE_TO_MAX, CHK_ONE_LINE, &wa_id);
                    if (code == 0 && wa_id && !s_charset (wa_id, "0123456789", false))
                        code = s_fail_member (c, "wa_id", WA_ERR_INVALID, "must be the number's digits");
                }
                else
                    code = chk_string (c, item, members[m], s_streq (members[m], required), 1, CONTACT_TEXT_MAX,
                                       s_streq (members[m], "street") ? CHK_LINES : CHK_ONE_LINE, NULL);
            }
        chk_leave (c, at);
    }
    chk_leave (c, len);
    return code;
}

//  "YYYY-MM-DD", a date that exists.
static bool
s_date (const char *text)
{
    int year, month, day;
    char tail;
    if (strlen (text) != 10 || text[4] != '-' || text[7] != '-'
    ||  sscanf (text, "%4d-%2d-%2d%c", &year, &month, &day, &tail) != 3
    ||  !s_charset (text, "0123456789-", false))
        return false;
    static const int days[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (year < 1 || month < 1 || month > 12 || day < 1 || day > days[month - 1])
        return false;
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return !(month == 2 && day == 29 && !leap);
}

static int
s_card (chk_t *c, const json_t *card)
{
    static const char *const members[] = { "addresses", "birthday", "emails", "name", "org", "phones", "urls", NULL };
    static const char *const name_members[] = { "formatted_name", "first_name", "last_name", "middle_name", "suffix",
                                                "prefix", NULL };
    static const char *const org_members[] = { "company", "department", "title", NULL };
    static const char *const address_members[] = { "street", "city", "state", "zip", "country", "country_code",
                                                    "type", NULL };
    static const char *const email_members[] = { "email", "type", NULL };
    static const char *const phone_members[] = { "phone", "type", "wa_id", NULL };
    static const char *const url_members[] = { "url", "type", NULL };
    static const char *const home_work[] = { "HOME", "WORK", NULL };
    static const char *const phone_types[] = { "CELL", "MAIN", "IPHONE", "HOME", "WORK", NULL };
    const json_t *name, *org;
    const char *birthday;
    int code;
    if ((code = chk_object (c, card, members))
    ||  (code = chk_member_object (c, card, "name", true, name_members, &name)))
        return code;
    size_t len = chk_enter (c, "name");
    bool more = false;
    for (size_t i = 0; name_members[i] && code == 0; i++) {
        code = chk_string (c, name, name_members[i], i == 0, 1, CONTACT_TEXT_MAX, CHK_ONE_LINE, NULL);
        more |= i > 0 && s_has (name, name_members[i]);
    }
    if (code == 0 && !more)
        code = chk_fail (c, WA_ERR_MISSING, "needs one of first_name, last_name, middle_name, suffix or prefix "
                         "besides formatted_name");
    chk_leave (c, len);
    if (code || (code = chk_member_object (c, card, "org", false, org_members, &org)))
        return code;
    if (org) {
        len = chk_enter (c, "org");
        for (size_t i = 0; org_members[i] && code == 0; i++)
            code = chk_string (c, org, org_members[i], false, 1, CONTACT_TEXT_MAX, CHK_ONE_LINE, NULL);
        chk_leave (c, len);
        if (code)
            return code;
    }
    if ((code = chk_string (c, card, "birthday", false, 10, 10, CHK_ONE_LINE, &birthday)))
        return code;
    if (birthday && !s_date (birthday))
        return s_fail_member (c, "birthday", WA_ERR_INVALID, "must be a date written YYYY-MM-DD");
    if ((code = s_card_list (c, card, "addresses", address_members, home_work, NULL))
    ||  (code = s_card_list (c, card, "emails", email_members, home_work, "email"))
    ||  (code = s_card_list (c, card, "phones", phone_members, phone_types, "phone")))
        return code;
    return s_card_list (c, card, "urls", url_members, home_work, "url");
}

int
chk_contacts (chk_t *c, const json_t *value)
{
    if (!json_is_array (value) || json_array_size (value) < 1 || json_array_size (value) > CONTACTS_MAX)
        return chk_fail (c, WA_ERR_INVALID, "must be an array of 1 to %d contact cards", CONTACTS_MAX);
    int code = 0;
    for (size_t i = 0; i < json_array_size (value) && code == 0; i++) {
        size_t at = chk_enter_index (c, i);
        code = s_card (c, json_array_get (value, i));
        chk_leave (c, at);
    }
    return code;
}

//  --------------------------------------------------------------------------
//  Location and reaction

int
chk_location (chk_t *c, const json_t *value)
{
    static const char *const members[] = { "longitude", "latitude", "name", "address", NULL };
    int code;
    if ((code = chk_object (c, value, members))
    ||  (code = chk_number (c, value, "latitude", true, -90, 90))
    ||  (code = chk_number (c, value, "longitude", true, -180, 180))
    ||  (code = chk_string (c, value, "name", false, 1, LOCATION_TEXT_MAX, CHK_ONE_LINE, NULL)))
        return code;
    return chk_string (c, value, "address", false, 1, LOCATION_TEXT_MAX, CHK_LINES, NULL);
}

//  The next code point of a UTF-8 string (jansson's strings are valid UTF-8).
static unsigned int
s_next (const unsigned char **p)
{
    const unsigned char *s = *p;
    unsigned int cp;
    int extra;
    if (s[0] < 0x80) {
        cp = s[0];
        extra = 0;
    }
    else
    if ((s[0] & 0xE0) == 0xC0) {
        cp = s[0] & 0x1F;
        extra = 1;
    }
    else
    if ((s[0] & 0xF0) == 0xE0) {
        cp = s[0] & 0x0F;
        extra = 2;
    }
    else {
        cp = s[0] & 0x07;
        extra = 3;
    }
    s++;
    for (int i = 0; i < extra && *s; i++, s++)
        cp = (cp << 6) | (*s & 0x3F);
    *p = s;
    return cp;
}

static bool
s_emoji_base (unsigned int cp)
{
    static const unsigned int ranges[][2] = {
        { 0x00A9, 0x00A9 }, { 0x00AE, 0x00AE }, { 0x203C, 0x203C }, { 0x2049, 0x2049 }, { 0x2122, 0x2122 },
        { 0x2139, 0x2139 }, { 0x2194, 0x2199 }, { 0x21A9, 0x21AA }, { 0x231A, 0x231B }, { 0x2328, 0x2328 },
        { 0x23CF, 0x23CF }, { 0x23E9, 0x23F3 }, { 0x23F8, 0x23FA }, { 0x24C2, 0x24C2 }, { 0x25AA, 0x25AB },
        { 0x25B6, 0x25B6 }, { 0x25C0, 0x25C0 }, { 0x25FB, 0x25FE }, { 0x2600, 0x27BF }, { 0x2934, 0x2935 },
        { 0x2B05, 0x2B07 }, { 0x2B1B, 0x2B1C }, { 0x2B50, 0x2B50 }, { 0x2B55, 0x2B55 }, { 0x3030, 0x3030 },
        { 0x303D, 0x303D }, { 0x3297, 0x3297 }, { 0x3299, 0x3299 }, { 0x1F000, 0x1F1E5 }, { 0x1F200, 0x1F3FA },
        { 0x1F400, 0x1FAFF },
    };
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++)
        if (cp >= ranges[i][0] && cp <= ranges[i][1])
            return true;
    return false;
}

//  One emoji: a base (or a keycap, or a flag of two regional indicators)
//  with its variation selector, skin tone, tags, and others joined to it
//  with ZERO WIDTH JOINER: what one reaction shows.
static bool
s_one_emoji (const char *text)
{
    const unsigned char *p = (const unsigned char *) text;
    int points = 0;
    bool expect_base = true;
    while (*p) {
        if (++points > EMOJI_CODE_POINTS_MAX)
            return false;
        unsigned int cp = s_next (&p);
        if (expect_base) {
            if (cp >= 0x1F1E6 && cp <= 0x1F1FF) {           //  a flag: two regional indicators
                if (!*p)
                    return false;
                unsigned int second = s_next (&p);
                points++;
                if (second < 0x1F1E6 || second > 0x1F1FF)
                    return false;
            }
            else
            if ((cp >= '0' && cp <= '9') || cp == '#' || cp == '*') {   //  a keycap
                unsigned int next = *p ? s_next (&p) : 0;
                points++;
                if (next == 0xFE0F) {
                    next = *p ? s_next (&p) : 0;
                    points++;
                }
                if (next != 0x20E3)
                    return false;
            }
            else
            if (!s_emoji_base (cp))
                return false;
            expect_base = false;
            continue;
        }
        if (cp == 0x200D)
            expect_base = true;
        else
        if (!(cp == 0xFE0F || cp == 0xFE0E || (cp >= 0x1F3FB && cp <= 0x1F3FF) || (cp >= 0xE0020 && cp <= 0xE007F)
           || cp == 0x20E3))
            return false;
    }
    return points > 0 && !expect_base;
}

int
chk_reaction (chk_t *c, const json_t *value)
{
    static const char *const members[] = { "message_id", "emoji", NULL };
    const char *id, *emoji;
    int code;
    if ((code = chk_object (c, value, members))
    ||  (code = chk_string (c, value, "message_id", true, 1, WA_MESSAGE_REF_MAX, CHK_ONE_LINE, &id)))
        return code;
    if (!wa_message_ref_valid (id))
        return s_fail_member (c, "message_id", WA_ERR_INVALID, "must be a message id: letters, digits and "
                              ". _ : = + / -");
    if ((code = chk_string (c, value, "emoji", true, 0, EMOJI_CODE_POINTS_MAX, CHK_ONE_LINE, &emoji)))
        return code;
    if (*emoji && !s_one_emoji (emoji))
        return s_fail_member (c, "emoji", WA_ERR_INVALID, "must be one emoji (or \"\" to remove the reaction)");
    return 0;
}
