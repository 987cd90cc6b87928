/*  wadelay — a TCP relay that holds data for a set time: the chaos suite's
    stand-in for netem's delay, which this kernel lacks. It accepts
    connections on --listen, connects each to --connect, or, without it, to
    the connection's original destination before an nftables "redirect"
    brought it here (SO_ORIGINAL_DST), and forwards the bytes both ways, each
    chunk released --delay ms (plus up to --jitter ms) after it was read.
    Within a connection the order is kept, as TCP keeps it; across
    connections, jitter reorders. The delay can change while it runs: it
    re-reads --control FILE ("DELAY_MS [JITTER_MS]") when the file changes.
    Its own connections carry --mark, so the redirect rule can skip them.
    Each direction holds at most --buffer bytes; past that it stops reading,
    and TCP's flow control pushes back on the sender. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80      //  linux/netfilter_ipv4.h
#endif
#ifndef WA_VERSION
#define WA_VERSION "dev"
#endif

#define CONN_MAX 512
#define READ_MAX 65536
#define CONTROL_EVERY_US 100000

typedef struct _chunk_t {
    struct _chunk_t *next;
    int64_t release;            //  monotonic µs
    size_t len, off;
    char data [];
} chunk_t;

//  One direction of a connection.
typedef struct {
    chunk_t *head, *tail;
    size_t queued;
    int64_t last_release;
    bool eof;                   //  the source closed its side
    bool shut;                  //  and we passed that on
} pipe_t;

typedef struct {
    bool used;
    bool connecting;
    int client, server;
    pipe_t up;                  //  client → server
    pipe_t down;                //  server → client
    char peer [64];
} conn_t;

static volatile sig_atomic_t s_stop;
static int64_t s_delay_us, s_jitter_us;
static size_t s_buffer = 1 << 20;
static int s_mark;
static bool s_verbose;
static conn_t s_conns [CONN_MAX];

static void
s_on_signal (int signum)
{
    (void) signum;
    s_stop = 1;
}

static int64_t
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int
s_parse_addr (const char *text, struct sockaddr_in *addr)
{
    char host [64];
    const char *colon = strrchr (text, ':');
    if (!colon || (size_t) (colon - text) >= sizeof host)
        return -1;
    memcpy (host, text, (size_t) (colon - text));
    host [colon - text] = 0;
    char *end;
    long port = strtol (colon + 1, &end, 10);
    if (*end || port < 1 || port > 65535)
        return -1;
    memset (addr, 0, sizeof *addr);
    addr->sin_family = AF_INET;
    addr->sin_port = htons ((uint16_t) port);
    return inet_pton (AF_INET, host, &addr->sin_addr) == 1? 0: -1;
}

static void
s_nonblock (int fd)
{
    fcntl (fd, F_SETFL, fcntl (fd, F_GETFL) | O_NONBLOCK);
}

//  "DELAY_MS [JITTER_MS]"
static void
s_control_read (const char *path)
{
    FILE *file = fopen (path, "r");
    if (!file)
        return;
    double delay = 0, jitter = 0;
    int got = fscanf (file, "%lf %lf", &delay, &jitter);
    fclose (file);
    if (got < 1 || delay < 0 || jitter < 0 || delay > 3600000 || jitter > 3600000) {
        fprintf (stderr, "wadelay: %s: expected \"DELAY_MS [JITTER_MS]\"; keeping %.1f ms\n",
                 path, (double) s_delay_us / 1000);
        return;
    }
    int64_t d = (int64_t) (delay * 1000), j = got > 1? (int64_t) (jitter * 1000): 0;
    if (d != s_delay_us || j != s_jitter_us)
        fprintf (stderr, "wadelay: delay %.1f ms, jitter %.1f ms\n", delay, got > 1? jitter: 0.0);
    s_delay_us = d;
    s_jitter_us = j;
}

static void
s_pipe_clear (pipe_t *pipe)
{
    while (pipe->head) {
        chunk_t *next = pipe->head->next;
        free (pipe->head);
        pipe->head = next;
    }
    memset (pipe, 0, sizeof *pipe);
}

static void
s_conn_close (conn_t *conn, const char *why)
{
    if (s_verbose)
        fprintf (stderr, "wadelay: %s: closed (%s)\n", conn->peer, why);
    //  A reset on one side is passed on as a reset: linger 0.
    struct linger lin = { 1, 0 };
    if (strcmp (why, "done") != 0) {
        setsockopt (conn->client, SOL_SOCKET, SO_LINGER, &lin, sizeof lin);
        setsockopt (conn->server, SOL_SOCKET, SO_LINGER, &lin, sizeof lin);
    }
    close (conn->client);
    close (conn->server);
    s_pipe_clear (&conn->up);
    s_pipe_clear (&conn->down);
    conn->used = false;
}

static void
s_accept (int listener, const struct sockaddr_in *target)
{
    struct sockaddr_in from, to;
    socklen_t len = sizeof from;
    int client = accept (listener, (struct sockaddr *) &from, &len);
    if (client < 0)
        return;
    if (target)
        to = *target;
    else {
        len = sizeof to;
        if (getsockopt (client, SOL_IP, SO_ORIGINAL_DST, &to, &len)) {
            fprintf (stderr, "wadelay: no original destination (%s): not redirected here?\n", strerror (errno));
            close (client);
            return;
        }
        struct sockaddr_in self;
        len = sizeof self;
        if (getsockname (client, (struct sockaddr *) &self, &len) == 0
        &&  self.sin_addr.s_addr == to.sin_addr.s_addr && self.sin_port == to.sin_port) {
            close (client);     //  a direct connection: relaying it would loop
            return;
        }
    }
    conn_t *conn = NULL;
    for (int index = 0; index < CONN_MAX && !conn; index++)
        if (!s_conns [index].used)
            conn = &s_conns [index];
    int server = conn? socket (AF_INET, SOCK_STREAM, 0): -1;
    if (server < 0) {
        fprintf (stderr, "wadelay: refusing a connection: %s\n", conn? strerror (errno): "too many");
        close (client);
        return;
    }
    if (s_mark)
        setsockopt (server, SOL_SOCKET, SO_MARK, &s_mark, sizeof s_mark);
    int one = 1;
    setsockopt (server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt (client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    s_nonblock (client);
    s_nonblock (server);
    if (connect (server, (struct sockaddr *) &to, sizeof to) && errno != EINPROGRESS) {
        fprintf (stderr, "wadelay: connect: %s\n", strerror (errno));
        struct linger lin = { 1, 0 };
        setsockopt (client, SOL_SOCKET, SO_LINGER, &lin, sizeof lin);
        close (client);
        close (server);
        return;
    }
    memset (conn, 0, sizeof *conn);
    conn->used = true;
    conn->connecting = true;
    conn->client = client;
    conn->server = server;
    char a [INET_ADDRSTRLEN], b [INET_ADDRSTRLEN];
    inet_ntop (AF_INET, &from.sin_addr, a, sizeof a);
    inet_ntop (AF_INET, &to.sin_addr, b, sizeof b);
    snprintf (conn->peer, sizeof conn->peer, "%s:%d -> %s:%d", a, ntohs (from.sin_port), b, ntohs (to.sin_port));
    if (s_verbose)
        fprintf (stderr, "wadelay: %s: relaying\n", conn->peer);
}

//  Read what fd has into pipe; -1 on an error (reset).
static int
s_read (int fd, pipe_t *pipe, int64_t now)
{
    char buffer [READ_MAX];
    ssize_t got = read (fd, buffer, sizeof buffer);
    if (got < 0)
        return errno == EAGAIN || errno == EINTR? 0: -1;
    if (got == 0) {
        pipe->eof = true;
        return 0;
    }
    chunk_t *chunk = (chunk_t *) malloc (sizeof (chunk_t) + (size_t) got);
    if (!chunk)
        return -1;
    memcpy (chunk->data, buffer, (size_t) got);
    chunk->len = (size_t) got;
    chunk->off = 0;
    chunk->next = NULL;
    int64_t release = now + s_delay_us + (s_jitter_us? (int64_t) (random () % (s_jitter_us + 1)): 0);
    if (release < pipe->last_release)
        release = pipe->last_release;   //  TCP keeps the order
    chunk->release = pipe->last_release = release;
    if (pipe->tail)
        pipe->tail->next = chunk;
    else
        pipe->head = chunk;
    pipe->tail = chunk;
    pipe->queued += (size_t) got;
    return 0;
}

//  Write what is due from pipe to fd; -1 on an error.
static int
s_write (int fd, pipe_t *pipe, int64_t now)
{
    while (pipe->head && pipe->head->release <= now) {
        chunk_t *chunk = pipe->head;
        ssize_t put = write (fd, chunk->data + chunk->off, chunk->len - chunk->off);
        if (put < 0)
            return errno == EAGAIN || errno == EINTR? 0: -1;
        chunk->off += (size_t) put;
        pipe->queued -= (size_t) put;
        if (chunk->off < chunk->len)
            return 0;
        pipe->head = chunk->next;
        if (!pipe->head)
            pipe->tail = NULL;
        free (chunk);
    }
    if (!pipe->head && pipe->eof && !pipe->shut) {
        shutdown (fd, SHUT_WR);
        pipe->shut = true;
    }
    return 0;
}

static bool
s_due (const pipe_t *pipe, int64_t now)
{
    return (pipe->head && pipe->head->release <= now) || (!pipe->head && pipe->eof && !pipe->shut);
}

static void
s_usage (FILE *out)
{
    fprintf (out,
        "wadelay " WA_VERSION " — a TCP relay that holds data for a set time\n"
        "\n"
        "Usage: wadelay --listen ADDR:PORT [--connect ADDR:PORT] [options]\n"
        "\n"
        "  -l, --listen ADDR:PORT   accept connections here\n"
        "  -c, --connect ADDR:PORT  relay each to this address; without it, to the\n"
        "                           connection's original destination (an nftables\n"
        "                           redirect sent it here)\n"
        "  -d, --delay MS           hold each chunk this long (default 0)\n"
        "  -j, --jitter MS          plus a random 0..MS (order kept per connection)\n"
        "  -f, --control FILE       re-read \"DELAY_MS [JITTER_MS]\" from FILE when it changes\n"
        "  -m, --mark N             SO_MARK of the relay's own connections (default 0)\n"
        "  -b, --buffer BYTES       held per direction before reading stops (default 1048576)\n"
        "  -v, --verbose            a line per connection\n"
        "  -h, --help               this text\n"
        "\n"
        "SIGTERM or SIGINT: close everything and exit 0.\n");
}

int
main (int argc, char **argv)
{
    static struct option options [] = {
        { "listen", required_argument, NULL, 'l' },
        { "connect", required_argument, NULL, 'c' },
        { "delay", required_argument, NULL, 'd' },
        { "jitter", required_argument, NULL, 'j' },
        { "control", required_argument, NULL, 'f' },
        { "mark", required_argument, NULL, 'm' },
        { "buffer", required_argument, NULL, 'b' },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    struct sockaddr_in listen_addr, connect_addr;
    bool have_listen = false, have_connect = false;
    const char *control = NULL;
    int opt;
    while ((opt = getopt_long (argc, argv, "l:c:d:j:f:m:b:vh", options, NULL)) != -1) {
        char *end = NULL;
        switch (opt) {
            case 'l':
                if (s_parse_addr (optarg, &listen_addr)) goto usage;
                have_listen = true;
                break;
            case 'c':
                if (s_parse_addr (optarg, &connect_addr)) goto usage;
                have_connect = true;
                break;
            case 'd': s_delay_us = (int64_t) (strtod (optarg, &end) * 1000); break;
            case 'j': s_jitter_us = (int64_t) (strtod (optarg, &end) * 1000); break;
            case 'f': control = optarg; break;
            case 'm': s_mark = (int) strtol (optarg, &end, 0); break;
            case 'b': s_buffer = (size_t) strtoul (optarg, &end, 10); break;
            case 'v': s_verbose = true; break;
            case 'h': s_usage (stdout); return 0;
            default: goto usage;
        }
        if (end && (*end || s_delay_us < 0 || s_jitter_us < 0 || s_buffer < 1))
            goto usage;
    }
    if (!have_listen || optind < argc)
        goto usage;

    signal (SIGPIPE, SIG_IGN);
    signal (SIGTERM, s_on_signal);
    signal (SIGINT, s_on_signal);
    srandom ((unsigned) (s_now () ^ getpid ()));
    int listener = socket (AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt (listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (listener < 0 || bind (listener, (struct sockaddr *) &listen_addr, sizeof listen_addr)
    ||  listen (listener, 128)) {
        fprintf (stderr, "wadelay: cannot listen on %s: %s\n", argv [optind - 1], strerror (errno));
        return 1;
    }
    s_nonblock (listener);
    fprintf (stderr, "wadelay: ready: delay %.1f ms, jitter %.1f ms\n",
             (double) s_delay_us / 1000, (double) s_jitter_us / 1000);

    struct timespec control_mtime = { 0, 0 };
    int64_t control_next = 0;
    struct pollfd fds [1 + 2 * CONN_MAX];
    int owner [1 + 2 * CONN_MAX];
    while (!s_stop) {
        int64_t now = s_now ();
        if (control && now >= control_next) {
            struct stat st;
            if (stat (control, &st) == 0
            && (st.st_mtim.tv_sec != control_mtime.tv_sec || st.st_mtim.tv_nsec != control_mtime.tv_nsec)) {
                control_mtime = st.st_mtim;
                s_control_read (control);
            }
            control_next = now + CONTROL_EVERY_US;
        }
        int nfds = 0;
        int64_t wake = control? control_next: now + 1000000;
        fds [nfds].fd = listener;
        fds [nfds].events = POLLIN;
        owner [nfds++] = -1;
        for (int index = 0; index < CONN_MAX; index++) {
            conn_t *conn = &s_conns [index];
            if (!conn->used)
                continue;
            short client_events = 0, server_events = 0;
            if (!conn->up.eof && conn->up.queued < s_buffer)
                client_events |= POLLIN;
            if (conn->connecting)
                server_events |= POLLOUT;
            else {
                if (!conn->down.eof && conn->down.queued < s_buffer)
                    server_events |= POLLIN;
                if (s_due (&conn->up, now))
                    server_events |= POLLOUT;
                else
                if (conn->up.head && conn->up.head->release < wake)
                    wake = conn->up.head->release;
            }
            if (s_due (&conn->down, now))
                client_events |= POLLOUT;
            else
            if (conn->down.head && conn->down.head->release < wake)
                wake = conn->down.head->release;
            fds [nfds].fd = conn->client;
            fds [nfds].events = client_events;
            owner [nfds++] = index;
            fds [nfds].fd = conn->server;
            fds [nfds].events = server_events;
            owner [nfds++] = index;
        }
        int64_t wait_us = wake - now;
        int timeout = wait_us <= 0? 0: (int) ((wait_us + 999) / 1000);
        if (poll (fds, (nfds_t) nfds, timeout) < 0 && errno != EINTR)
            break;
        now = s_now ();
        if (fds [0].revents & POLLIN)
            s_accept (listener, have_connect? &connect_addr: NULL);
        for (int at = 1; at < nfds; at += 2) {
            conn_t *conn = &s_conns [owner [at]];
            if (!conn->used)
                continue;
            short cr = fds [at].revents, sr = fds [at + 1].revents;
            if (conn->connecting && (sr & (POLLOUT | POLLERR | POLLHUP))) {
                int error = 0;
                socklen_t len = sizeof error;
                getsockopt (conn->server, SOL_SOCKET, SO_ERROR, &error, &len);
                if (error) {
                    s_conn_close (conn, strerror (error));
                    continue;
                }
                conn->connecting = false;
            }
            int rc = 0;
            if (cr & (POLLIN | POLLHUP | POLLERR))
                rc |= s_read (conn->client, &conn->up, now);
            if (!conn->connecting && (sr & (POLLIN | POLLHUP | POLLERR)))
                rc |= s_read (conn->server, &conn->down, now);
            if (!conn->connecting)
                rc |= s_write (conn->server, &conn->up, now);
            rc |= s_write (conn->client, &conn->down, now);
            if (rc)
                s_conn_close (conn, "reset");
            else
            if (conn->up.shut && conn->down.shut)
                s_conn_close (conn, "done");
        }
    }
    for (int index = 0; index < CONN_MAX; index++)
        if (s_conns [index].used)
            s_conn_close (&s_conns [index], "stopping");
    close (listener);
    return 0;

usage:
    fprintf (stderr, "wadelay: bad usage; try 'wadelay --help'\n");
    return 2;
}
