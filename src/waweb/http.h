/*  http — the HTTP side of waweb, after czmq's zhttp_server: libmicrohttpd
    runs its own polling thread and does nothing but read requests and write
    responses. Its access handler reads the headers and the body (within the
    limits), suspends the connection and hands the request, as a pointer,
    over an inproc PUSH socket to the reactor. The reactor answers with
    http_respond, which resumes the connection; MHD then sends the response.
    No thread per request: a suspended request costs its memory only.

    Ownership: the server allocates each request (req_size bytes, zeroed, so
    the application can put its own state after the http_req_t) and frees it
    when MHD is done with the connection. Between the handover and
    http_respond the reactor alone touches it. */
#ifndef WAWEB_HTTP_H
#define WAWEB_HTTP_H

#include <stdbool.h>
#include <czmq.h>
#include "wa_config.h"

typedef struct http_server_t http_server_t;

typedef struct {
    //  Filled by the MHD thread before the handover; read-only after.
    char method[12];
    char *path;                 //  without the query string
    char *authorization;        //  the header, NULL when absent
    char *idempotency_key;      //  the Idempotency-Key header, NULL when absent
    char *format;               //  the query's format=..., NULL when absent
    const char *content_type;   //  of the response: set before http_respond (NULL: JSON)
    char client[64];            //  the peer's address, without its port
    char *body;                 //  NUL-terminated, NULL when empty
    size_t body_len;
    //  Private to the server.
    http_server_t *server;
    void *connection;
    int state;
    int status;
    char *response;
    size_t response_len;
    char allow[64];
    bool too_big;
} http_req_t;

//  Starts MHD on config's webapp_port / webapp_bind (HTTPS with
//  webapp_tls_cert and webapp_tls_key). The reactor reads request pointers
//  from *requests (a PULL socket the caller destroys after the server). NULL
//  with a message in err when it cannot start.
http_server_t *http_server_new (const wa_config_t *config, size_t req_size, zsock_t **requests,
                                char *err, size_t errlen);
//  The port actually bound, and whether it speaks TLS.
int http_server_port (http_server_t *self);
bool http_server_tls (http_server_t *self);
//  Take a handed-over request from the requests socket; NULL if none.
http_req_t *http_server_recv (http_server_t *self, zsock_t *requests);
//  Answer req: status, a JSON body (taken, malloc'd), and for 405 the Allow
//  header (or NULL). After this the reactor must not touch req.
void http_respond (http_req_t *req, int status, char *body, size_t len, const char *allow);
//  Shutdown, step 1: from now on the handler answers 503 itself instead of
//  handing requests over. Returns how many handed-over requests still wait
//  for http_respond (keep answering until 0, then destroy).
void http_server_stop_handover (http_server_t *self);
int http_server_waiting (http_server_t *self);
//  Stops MHD (every request freed). Call once none is waiting.
void http_server_destroy (http_server_t **self_p);

#endif
