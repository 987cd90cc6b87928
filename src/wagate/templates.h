/*  templates — the message templates wagate's network knows, and what it
    makes of a template message: the real network looks a template up by
    namespace, name and language, fills its parameters in, and reports a
    message it cannot fill as "failed" with the reason. wagate does the
    same against a small built-in catalogue (TEMPLATES_NAMESPACE):

      name              languages          header              body  buttons
      hello_world       en, en_US          —                   0     —
      order_update      en, en_US, pt_BR   text, 1 parameter   3     0 quick_reply, 1 quick_reply
      shipping_update   en, en_US          image               2     0 url
      invoice_ready     en, en_US          document            2     —
      product_demo      en                 video               1     —

    A template message fails with
      2001 (template missing): another namespace, an unknown name, a
           language the template does not have;
      2000 (parameters do not match): a header, body or button given a
           number of parameters other than the template's (a component
           that the template has and the message leaves out counts as 0);
      2012 (format mismatch): a header parameter of another kind than the
           template's header (a video for an image header), or a button
           parameter of another sub_type.
    Pure: no sockets, no clock. */
#ifndef WAGATE_TEMPLATES_H
#define WAGATE_TEMPLATES_H

#include <stddef.h>
#include <jansson.h>

#define TEMPLATES_NAMESPACE "wacluster"

//  A template message's body (the "template" object as it went upstream).
//  0 when the network can send it; else the error code (2000, 2001,
//  2012) with details (what did not match) filled.
int templates_check (const json_t *template_body, char *details, size_t details_size);
//  The catalogue as JSON ([{"namespace","name","languages","header",
//  "body","buttons"}]), for `wagate templates`.
json_t *templates_catalogue (void);

#endif
