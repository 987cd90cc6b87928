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
    http_respond the reactor alone touches it.

    Uploads: a POST to HTTP_UPLOAD_PATH is never held in memory. Its body
    streams to a temporary file in <media_dir>/HTTP_UPLOAD_DIR (the file
    system the media live on, so moving it into place is an atomic rename),
    hashed with SHA-256 on the way, up to HTTP_UPLOAD_MAX bytes (413 past
    it: a declared Content-Length before the body is read). The request is
    then handed over with the file open, its size and its hash; the file is
    removed when the request ends unless the reactor took it.

    Credentials before the body: a request that has a body (a Content-Length
    above 0, or chunked) is handed over twice. First at its headers, with
    has_body set and nothing of the body read: the reactor checks the route
    and the credentials and either answers (the body is then never read, the
    connection closed after the answer) or calls http_read_body, which
    resumes the connection to read the body; once the body is in, the
    request is handed over again with body_read set. A request without a body
    is handed over once. An answer at the headers is sent at once to a
    client that waits for "100 Continue" (it never sends the body); one
    that sends its body anyway gets the answer once the body is read and
    thrown away (never stored, never parsed; the connection closed past
    HTTP_UPLOAD_MAX or webapp_body_timeout), so that it is not reset before
    it can read it.

    The edge: at most webapp_max_connections connections, and
    webapp_max_connections_per_address from one address; a connection has
    webapp_header_timeout seconds to send its headers (from its start, or
    from its previous response) and a request webapp_body_timeout seconds
    for its whole body, however slowly it trickles: http_server_sweep closes
    those past their deadline. Bodies in memory are bounded per request
    (webapp_max_body, 413) and in total (webapp_max_body_total, 503). Over
    HTTPS only TLS 1.2 and 1.3 are offered. */
#ifndef WAWEB_HTTP_H
#define WAWEB_HTTP_H

#include <stdbool.h>
#include <czmq.h>
#include "wa_config.h"

typedef struct http_server_t http_server_t;

#define HTTP_UPLOAD_PATH "/v1/media"
#define HTTP_UPLOAD_DIR ".uploads"                      //  in media_dir
#define HTTP_UPLOAD_MAX ((uint64_t) 100 * 1024 * 1024)  //  bytes
//  POST /v1/settings/profile/photo streams in as an upload, up to this.
#define HTTP_PHOTO_PATH "/v1/settings/profile/photo"
#define HTTP_PHOTO_MAX ((uint64_t) 5 * 1024 * 1024)
//  POST /v1/settings/restore: a backup, held in memory, up to this.
#define HTTP_RESTORE_PATH "/v1/settings/restore"
#define HTTP_RESTORE_MAX ((uint64_t) 17 * 1024 * 1024)

typedef struct {
    //  Filled by the MHD thread before the handover; read-only after.
    char method[12];
    char *path;                 //  without the query string
    char *authorization;        //  the header, NULL when absent
    char *idempotency_key;      //  the Idempotency-Key header, NULL when absent
    char *format;               //  the query's format=..., NULL when absent
    char *namespace_;           //  the query's namespace=... (stickerpacks), NULL when absent
    const char *content_type;   //  of the response: set before http_respond (NULL: JSON)
    char client[64];            //  the peer's address, without its port
    char *body;                 //  NUL-terminated, NULL when empty
    size_t body_len;
    bool has_body;              //  a body follows the headers (see above)
    bool body_read;             //  handed over the second time: the body is in
    //  A streamed upload (a POST to HTTP_UPLOAD_PATH; body stays NULL).
    bool upload;
    char *upload_type;          //  its Content-Type header, NULL when absent
    char *upload_path;          //  the file holding the body, NULL when the body was empty.
                                //  Removed when the request ends: a reactor (or its
                                //  worker) that moves the file sets the new path, one
                                //  that keeps it sets NULL (and frees the string).
    int upload_fd;              //  open on it (written, not yet synced), -1 once closed
    uint64_t upload_size;
    char upload_sha256[65];     //  hex
    //  Private to the server.
    http_server_t *server;
    void *connection;
    int state;
    int status;
    char *response;
    size_t response_len;
    char allow[64];
    bool too_big;
    uint64_t limit;             //  the most its body may be (413 past it)
    int response_fd;            //  a file to send instead of response (http_req_send_file)
    uint64_t response_size;
    char response_type[128];
    void *upload_state;         //  while the body streams in
    bool upload_counted;
    bool overloaded;            //  the bodies in memory passed webapp_max_body_total
    bool repeat_call;           //  MHD calls again with the headers after a resume
    bool expect_continue;       //  "Expect: 100-continue": the client waits to send the body
    bool discard;               //  answered at the headers: the body is read and thrown away
    uint64_t discarded;
    uint64_t declared;          //  the Content-Length, 0 when none
    size_t reserved;            //  bytes counted in the server's body total
    void *conn;                 //  the connection's deadline (http.c)
} http_req_t;

//  Starts MHD on config's webapp_bind_port (else webapp_port) / webapp_bind
//  (HTTPS with webapp_tls_cert and webapp_tls_key). The reactor reads request pointers
//  from *requests (a PULL socket the caller destroys after the server). NULL
//  with a message in err when it cannot start.
http_server_t *http_server_new (const wa_config_t *config, size_t req_size, zsock_t **requests,
                                char *err, size_t errlen);
//  The port actually bound, and whether it speaks TLS.
int http_server_port (http_server_t *self);
bool http_server_tls (http_server_t *self);
//  What HTTPS offers, to change while running (tlscert.h); NULL over HTTP.
struct tlscert_t *http_server_certs (http_server_t *self);
//  Take a handed-over request from the requests socket; NULL if none.
http_req_t *http_server_recv (http_server_t *self, zsock_t *requests);
//  Answer req: status, a JSON body (taken, malloc'd), and for 405 the Allow
//  header (or NULL). After this the reactor must not touch req.
void http_respond (http_req_t *req, int status, char *body, size_t len, const char *allow);
//  The credentials of a request handed over with has_body are good: read
//  its body (it comes back with body_read set; until then the reactor must
//  forget req, which MHD may free if the client goes). NULL when the body
//  is being read; else why it cannot be now (too many bodies in memory or
//  uploads at once: answer 503 1016 with http_respond).
const char *http_read_body (http_req_t *req);
//  Close the connections past their header or body deadline: call often
//  (every 100 ms) from any thread. Returns how many it closed.
int http_server_sweep (http_server_t *self);
//  Make the next http_respond send size bytes of the file open on fd (taken:
//  closed once sent, or when the request ends) as type, instead of a body.
void http_req_send_file (http_req_t *req, int fd, uint64_t size, const char *type);
//  Shutdown, step 1: from now on the handler answers 503 itself instead of
//  handing requests over. Returns how many handed-over requests still wait
//  for http_respond (keep answering until 0, then destroy).
void http_server_stop_handover (http_server_t *self);
int http_server_waiting (http_server_t *self);
//  Stops MHD (every request freed). Call once none is waiting.
void http_server_destroy (http_server_t **self_p);

#endif
