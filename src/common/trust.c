/*  wa_trust — see include/wa_trust.h

    Why our own ZAP handler rather than czmq's zauth: zauth accepts or
    refuses a handshake but tells its program nothing about a refusal, so a
    key-less or unknown host knocking on the bus would be invisible in the
    metrics and the log. The handler below is the part of zauth we use (a
    CURVE key looked up in a directory of zcert public certificates), and it
    reports each refusal, with the peer's address and key, to the reactor.
    The certificates are czmq's (zcert) either way. */
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <sys/stat.h>
#include "wa_actor.h"
#include "wa_clock.h"
#include "wa_log.h"
#include "wa_trust.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_DOMAIN "wacluster"
#define RELOAD_EVERY (WA_USEC_PER_SEC)          //  look at the directory at most this often
#define REFUSAL_LOG_EVERY (10 * WA_USEC_PER_SEC)   //  one refusal line per key this often, ...
#define REFUSAL_LOG_KEYS 16                         //  ... for this many keys at once
#define KEYS_MAX 1024                           //  certificates read from the allow-list
#define ZAP_BIND_ATTEMPTS 50                    //  binding the ZAP endpoint, ...
#define ZAP_BIND_PAUSE_MS 20                    //  ... this far apart: a second in all

static const char *s_role_names[] = { "master", "coreapp", "webapp", "wactl", "tap" };

const char *
wa_role_name (wa_role_t role)
{
    for (unsigned i = 0; i < sizeof s_role_names / sizeof s_role_names[0]; i++)
        if (role == (wa_role_t) (1u << i))
            return s_role_names[i];
    return NULL;
}

wa_role_t
wa_role_from_name (const char *name)
{
    for (unsigned i = 0; name && i < sizeof s_role_names / sizeof s_role_names[0]; i++)
        if (streq (name, s_role_names[i]))
            return (wa_role_t) (1u << i);
    return WA_ROLE_NONE;
}

wa_role_t
wa_role_of_kind (const char *kind)
{
    return wa_role_from_name (kind);
}

//  ---------------------------------------------------------------------
//  The allow-list: public key -> role and name, read from a directory of
//  zcert public certificates, again when the directory changes.

typedef struct {
    wa_role_t role;
    char name[64];
    char file[512];
} entry_t;

typedef struct {
    char dir[WA_CONFIG_STR];
    zhashx_t *keys;             //  Z85 key -> entry_t
    struct timespec mtime;      //  the directory's, when last read
    struct timespec read_at;    //  the wall clock when last read
    wa_usec_t checked;          //  when we last looked
    bool read_once;
} allowlist_t;

static bool
s_key_valid (const char *key)
{
    if (!key || strlen (key) != 40)
        return false;
    uint8_t raw[32];
    return zmq_z85_decode (raw, key) != NULL;
}

//  A certificate file (zcert's format: czmq's zconfig), at most 4 KiB;
//  NULL when it cannot be read or parsed. Read here and parsed from memory:
//  zconfig_load leaks its file handle on a file it cannot parse (czmq
//  4.2.1), and the allow-list may hold anything.
static zconfig_t *
s_cert_load (const char *path)
{
    FILE *file = fopen (path, "re");
    if (!file)
        return NULL;
    char text[4097];
    size_t len = fread (text, 1, sizeof text - 1, file);
    bool whole = feof (file) && !ferror (file);
    fclose (file);
    if (!whole || len == 0 || memchr (text, 0, len))
        return NULL;
    text[len] = 0;
    return zconfig_str_load (text);
}

//  One certificate file: its key, role and name; -1 when it is not a
//  public certificate of a known role.
static int
s_read_cert (const char *path, char key[WA_KEY_TEXT], entry_t *entry)
{
    //  zcert_load would prefer PATH_secret when it exists: read the file
    //  itself with zconfig, the format zcert writes.
    zconfig_t *root = s_cert_load (path);
    if (!root)
        return -1;
    const char *public_key = zconfig_get (root, "curve/public-key", NULL);
    const char *role = zconfig_get (root, "metadata/role", NULL);
    const char *name = zconfig_get (root, "metadata/name", NULL);
    int rc = -1;
    if (s_key_valid (public_key) && wa_role_from_name (role) != WA_ROLE_NONE) {
        memcpy (key, public_key, WA_KEY_TEXT);
        entry->role = wa_role_from_name (role);
        snprintf (entry->name, sizeof entry->name, "%s", name ? name : "");
        snprintf (entry->file, sizeof entry->file, "%s", path);
        rc = 0;
    }
    zconfig_destroy (&root);
    return rc;
}

static void
s_entry_free (void **item)
{
    free (*item);
    *item = NULL;
}

static bool
s_skip (const char *file)
{
    size_t len = strlen (file);
    return file[0] == '.' || (len > 7 && streq (file + len - 7, "_secret"));
}

static zhashx_t *
s_read_dir (const char *dir)
{
    DIR *handle = opendir (dir);
    if (!handle)
        return NULL;
    zhashx_t *keys = zhashx_new ();
    zhashx_set_destructor (keys, s_entry_free);
    struct dirent *ent;
    while ((ent = readdir (handle)) && zhashx_size (keys) < KEYS_MAX) {
        if (s_skip (ent->d_name))
            continue;
        char path[512];
        snprintf (path, sizeof path, "%s/%s", dir, ent->d_name);
        struct stat st;
        if (stat (path, &st) || !S_ISREG (st.st_mode) || st.st_size > 4096)
            continue;
        char key[WA_KEY_TEXT];
        entry_t entry;
        if (s_read_cert (path, key, &entry) == 0) {
            entry_t *copy = (entry_t *) malloc (sizeof entry);
            assert (copy);
            *copy = entry;
            zhashx_update (keys, key, copy);
        }
    }
    closedir (handle);
    return keys;
}

//  With force, whenever it is asked: a key not found may have been trusted
//  a moment ago (one stat when the directory has not changed).
static void
s_allowlist_refresh (allowlist_t *self, bool force)
{
    wa_usec_t now = wa_clock_mono ();
    if (self->read_once && now - self->checked < RELOAD_EVERY && !force)
        return;
    self->checked = now;
    struct stat st;
    if (stat (self->dir, &st)) {
        //  The directory went away: trust nobody rather than the past.
        if (zhashx_size (self->keys))
            wa_warn ("bus: the allow-list %s cannot be read (%s): no key is trusted", self->dir, strerror (errno));
        zhashx_purge (self->keys);
        memset (&self->mtime, 0, sizeof self->mtime);
        return;
    }
    //  A directory's time stamp has the kernel's coarse clock (a few
    //  milliseconds): a change made in the same tick as our last read
    //  leaves it as it was. So a read made within a second of the time
    //  stamp it saw proves nothing, and the directory is read again
    //  (as git treats "racily clean" files).
    bool same = st.st_mtim.tv_sec == self->mtime.tv_sec && st.st_mtim.tv_nsec == self->mtime.tv_nsec;
    bool settled = self->read_at.tv_sec - self->mtime.tv_sec >= 2;
    if (self->read_once && same && settled)
        return;
    struct timespec read_at;
    clock_gettime (CLOCK_REALTIME, &read_at);
    zhashx_t *keys = s_read_dir (self->dir);
    if (!keys)
        return;
    zhashx_destroy (&self->keys);
    self->keys = keys;
    self->mtime = st.st_mtim;
    self->read_at = read_at;
    self->read_once = true;
}

static allowlist_t *
s_allowlist_new (const char *dir)
{
    allowlist_t *self = (allowlist_t *) zmalloc (sizeof (allowlist_t));
    assert (self);
    snprintf (self->dir, sizeof self->dir, "%s", dir);
    self->keys = zhashx_new ();
    s_allowlist_refresh (self, true);
    return self;
}

static void
s_allowlist_destroy (allowlist_t **self_p)
{
    if (*self_p) {
        allowlist_t *self = *self_p;
        zhashx_destroy (&self->keys);
        free (self);
        *self_p = NULL;
    }
}

//  The refreshed entry of key, or NULL.
static entry_t *
s_allowlist_lookup (allowlist_t *self, const char *key)
{
    if (!key || !*key)
        return NULL;
    s_allowlist_refresh (self, false);
    entry_t *entry = (entry_t *) zhashx_lookup (self->keys, key);
    if (!entry) {
        s_allowlist_refresh (self, true);
        entry = (entry_t *) zhashx_lookup (self->keys, key);
    }
    return entry;
}

//  ---------------------------------------------------------------------
//  The ZAP handler (RFC 27), an actor: libzmq asks it about each CURVE
//  handshake on our servers; it answers from its own copy of the list and
//  reports each refusal on its pipe ("REFUSED", address, key, missed).

static int
s_zap_answer (zsock_t *handler, allowlist_t *list, char *address, size_t address_len,
              char *key, size_t key_len)
{
    zmsg_t *request = zmsg_recv (handler);
    if (!request)
        return -1;
    char *version = zmsg_popstr (request);
    char *sequence = zmsg_popstr (request);
    char *domain = zmsg_popstr (request);
    char *peer = zmsg_popstr (request);
    char *identity = zmsg_popstr (request);
    char *mechanism = zmsg_popstr (request);
    zframe_t *credentials = zmsg_pop (request);
    snprintf (address, address_len, "%s", peer ? peer : "?");
    snprintf (key, key_len, "-");
    bool allowed = false;
    if (version && streq (version, "1.0") && mechanism && streq (mechanism, "CURVE")
    &&  credentials && zframe_size (credentials) == 32) {
        char text[WA_KEY_TEXT];
        zmq_z85_encode (text, zframe_data (credentials), 32);
        snprintf (key, key_len, "%s", text);
        //  Handshakes are few: each sees the directory as it is now (one
        //  stat), so a revoked key is refused at its very next handshake.
        s_allowlist_refresh (list, true);
        allowed = s_allowlist_lookup (list, text) != NULL;
    }
    //  Reply to whatever came, so that libzmq never waits on us.
    zmsg_t *reply = zmsg_new ();
    zmsg_addstr (reply, "1.0");
    zmsg_addstr (reply, sequence ? sequence : "");
    zmsg_addstr (reply, allowed ? "200" : "400");
    zmsg_addstr (reply, allowed ? "OK" : "key not trusted");
    zmsg_addstr (reply, allowed ? key : "");     //  the user id: the key
    zmsg_addmem (reply, NULL, 0);                //  no metadata
    zmsg_send (&reply, handler);
    zframe_destroy (&credentials);
    zstr_free (&version);
    zstr_free (&sequence);
    zstr_free (&domain);
    zstr_free (&peer);
    zstr_free (&identity);
    zstr_free (&mechanism);
    zmsg_destroy (&request);
    return allowed ? 0 : 1;
}

//  The handler's socket, bound to the process's one ZAP endpoint; NULL
//  while another handler holds it. One just destroyed gives it back a
//  moment later (libzmq's reaper thread unbinds a closed socket): try for
//  a while before concluding that another is alive.
static zsock_t *
s_zap_bind (void)
{
    zsock_t *handler = zsock_new (ZMQ_REP);
    for (int attempt = 0; handler && attempt < ZAP_BIND_ATTEMPTS; attempt++) {
        if (zsock_bind (handler, ZAP_ENDPOINT) == 0)
            return handler;
        zclock_sleep (ZAP_BIND_PAUSE_MS);
    }
    zsock_destroy (&handler);
    return NULL;
}

static void
s_zap (zsock_t *pipe, void *args)
{
    allowlist_t *list = s_allowlist_new ((const char *) args);
    zsock_t *handler = s_zap_bind ();
    if (!handler) {
        //  Another handler in this program: nobody would get an answer.
        s_allowlist_destroy (&list);
        zsock_signal (pipe, 1);
        return;
    }
    zsock_signal (pipe, 0);
    //  A reactor that does not read its reports must not stall handshakes.
    zsock_set_sndtimeo (pipe, 0);
    zpoller_t *poller = zpoller_new (pipe, handler, NULL);
    uint64_t missed = 0;
    while (true) {
        void *which = zpoller_wait (poller, -1);
        if (which == handler) {
            char address[64], key[WA_KEY_TEXT];
            if (s_zap_answer (handler, list, address, sizeof address, key, sizeof key) == 1) {
                char count[24];
                snprintf (count, sizeof count, "%" PRIu64, missed);
                if (zstr_sendx (pipe, "REFUSED", address, key, count, NULL) == 0)
                    missed = 0;
                else
                    missed++;
            }
        }
        else
        if (which == pipe) {
            char *command = zstr_recv (pipe);
            bool term = !command || streq (command, "$TERM");
            zstr_free (&command);
            if (term)
                break;
        }
        else
            break;
    }
    zpoller_destroy (&poller);
    zsock_destroy (&handler);
    s_allowlist_destroy (&list);
}

//  ---------------------------------------------------------------------

//  The refusals of one key (or of those that offered none, "") in the log.
typedef struct {
    char key[64];
    wa_usec_t logged_at;            //  the last one logged, 0: a free slot
    uint64_t unlogged;              //  refusals since then
} refusal_log_t;

struct wa_trust_t {
    bool secure;
    wa_role_t role;
    char bind_address[64];
    zcert_t *cert;
    allowlist_t *list;
    wa_actor_t *zap;
    uint64_t refused_handshakes;    //  unknown keys
    uint64_t refused_keyless;       //  handshakes that failed before a key (no CURVE)
    uint64_t refused_messages;      //  trusted keys sending what their role may not
    refusal_log_t logs[REFUSAL_LOG_KEYS];
    uint64_t unlogged;              //  refusals of keys that found no slot
};


static int
s_load_cert (wa_trust_t *self, const wa_config_t *config, char *err, size_t errlen)
{
    const char *path = config->bus_cert;
    const char *role = wa_role_name (self->role);
    if (!*path)
        return wa_errf (err, errlen, "bus_security is curve but bus_cert is not set: make this %s's "
                        "certificate with `wactl keys new NAME --role %s` and set bus_cert to its "
                        "NAME.key_secret (or set bus_security = off for a cluster on loopback only)",
                        role, role);
    size_t len = strlen (path);
    if (len < 8 || !streq (path + len - 7, "_secret"))
        return wa_errf (err, errlen, "bus_cert '%s' must name a secret certificate (NAME.key_secret, "
                        "as `wactl keys new` writes it)", path);
    struct stat st;
    if (stat (path, &st))
        return wa_errf (err, errlen, "bus_cert '%s': %s", path, strerror (errno));
    if (!S_ISREG (st.st_mode))
        return wa_errf (err, errlen, "bus_cert '%s' is not a file", path);
    if (st.st_mode & 077)
        return wa_errf (err, errlen, "bus_cert '%s' can be read by others (mode %04o): chmod 600 it",
                        path, (unsigned) (st.st_mode & 07777));
    zconfig_t *root = s_cert_load (path);
    const char *public_key = root ? zconfig_get (root, "curve/public-key", NULL) : NULL;
    const char *secret_key = root ? zconfig_get (root, "curve/secret-key", NULL) : NULL;
    const char *cert_role = root ? zconfig_get (root, "metadata/role", NULL) : NULL;
    int rc = 0;
    if (!s_key_valid (public_key) || !s_key_valid (secret_key))
        rc = wa_errf (err, errlen, "bus_cert '%s' is not a secret certificate (no curve public-key "
                      "and secret-key)", path);
    else
    if (wa_role_from_name (cert_role) != self->role
    &&  !(self->role == WA_ROLE_TAP && wa_role_from_name (cert_role) == WA_ROLE_WACTL))
        rc = wa_errf (err, errlen, "bus_cert '%s' is a certificate of role '%s'; this program runs as "
                      "a %s and needs a %s certificate%s", path, cert_role ? cert_role : "(none)", role, role,
                      self->role == WA_ROLE_TAP ? " (or an operator's wactl one)" : "");
    else {
        uint8_t public_raw[32], secret_raw[32];
        zmq_z85_decode (public_raw, public_key);
        zmq_z85_decode (secret_raw, secret_key);
        self->cert = zcert_new_from (public_raw, secret_raw);
        sodium_memzero (secret_raw, sizeof secret_raw);
        if (!self->cert)
            rc = wa_errf (err, errlen, "bus_cert '%s': the keys are not valid", path);
    }
    zconfig_destroy (&root);
    return rc;
}

wa_trust_t *
wa_trust_new (const wa_config_t *config, wa_role_t role, char *err, size_t errlen)
{
    wa_trust_t *self = (wa_trust_t *) zmalloc (sizeof (wa_trust_t));
    assert (self);
    self->role = role;
    self->secure = !streq (config->bus_security, "off");
    snprintf (self->bind_address, sizeof self->bind_address, "%s", config->bind_address);
    bool server = role == WA_ROLE_MASTER || role == WA_ROLE_COREAPP;
    if (!self->secure) {
        //  Only Masters and Coreapps have ports on the bus.
        if (!server)
            return self;
        if (streq (config->bind_address, "*"))
            snprintf (self->bind_address, sizeof self->bind_address, "127.0.0.1");
        else
        if (!wa_config_is_loopback (config->bind_address)) {
            wa_errf (err, errlen, "bus_security = off binds only loopback, and bind_address is '%s': "
                     "set bind_address to 127.0.0.1 or give every node a certificate (bus_cert)",
                     config->bind_address);
            wa_trust_destroy (&self);
        }
        return self;
    }
    if (s_load_cert (self, config, err, errlen)) {
        wa_trust_destroy (&self);
        return NULL;
    }
    struct stat st;
    if (stat (config->bus_keys_dir, &st) || !S_ISDIR (st.st_mode)) {
        wa_errf (err, errlen, "bus_keys_dir '%s' is not a directory: it holds the public certificates "
                 "(NAME.key) of every program the cluster trusts", config->bus_keys_dir);
        wa_trust_destroy (&self);
        return NULL;
    }
    self->list = s_allowlist_new (config->bus_keys_dir);
    entry_t *own = s_allowlist_lookup (self->list, zcert_public_txt (self->cert));
    if (!own)
        wa_warn ("bus: our own key %s is not in the allow-list %s: the other nodes will refuse us "
                 "(wactl keys trust %.*s)", zcert_public_txt (self->cert), config->bus_keys_dir,
                 (int) (strlen (config->bus_cert) - 7), config->bus_cert);
    //  Clients (wactl, watap) have no servers: no handshake to check.
    if (server) {
        self->zap = wa_actor_new (s_zap, self->list->dir);
        if (!self->zap) {
            wa_errf (err, errlen, "bus: cannot start the handshake checker (another ZAP handler in "
                     "this program?)");
            wa_trust_destroy (&self);
            return NULL;
        }
    }
    return self;
}

void
wa_trust_destroy (wa_trust_t **self_p)
{
    if (*self_p) {
        wa_trust_t *self = *self_p;
        wa_actor_destroy (&self->zap);
        zcert_destroy (&self->cert);
        s_allowlist_destroy (&self->list);
        free (self);
        *self_p = NULL;
    }
}

bool
wa_trust_secure (wa_trust_t *self)
{
    return self->secure;
}

const char *
wa_trust_public_key (wa_trust_t *self)
{
    return self->cert ? zcert_public_txt (self->cert) : "";
}

const char *
wa_trust_bind_address (wa_trust_t *self)
{
    return self->bind_address;
}

void
wa_trust_server (wa_trust_t *self, zsock_t *sock)
{
    zsock_set_maxmsgsize (sock, WA_FRAME_MAX);
    if (!self->secure)
        return;
    zcert_apply (self->cert, sock);
    zsock_set_curve_server (sock, 1);
    zsock_set_zap_domain (sock, ZAP_DOMAIN);
    //  Should the handshake checker ever be missing, refuse every key
    //  rather than accept any (libzmq's default without ZAP). A draft
    //  option in libzmq 4.3, by its number; a build without it ignores it.
    int enforce = 1;
    zmq_setsockopt (zsock_resolve (sock), 93 /* ZMQ_ZAP_ENFORCE_DOMAIN */, &enforce, sizeof enforce);
}

int
wa_trust_client (wa_trust_t *self, zsock_t *sock, const char *server_key, unsigned roles,
                 char *err, size_t errlen)
{
    zsock_set_maxmsgsize (sock, WA_FRAME_MAX);
    if (!self->secure)
        return 0;
    if (!s_key_valid (server_key))
        return wa_errf (err, errlen, "it published no bus key ('%s')", server_key ? server_key : "");
    entry_t *entry = s_allowlist_lookup (self->list, server_key);
    if (!entry)
        return wa_errf (err, errlen, "its key %s is not in the allow-list", server_key);
    if (!(entry->role & roles))
        return wa_errf (err, errlen, "its key %s is a %s's (%s), not one we connect to there",
                        server_key, wa_role_name (entry->role), entry->name);
    zcert_apply (self->cert, sock);
    zsock_set_curve_serverkey (sock, server_key);
    return 0;
}

wa_role_t
wa_trust_sender (wa_trust_t *self, const wa_msg_t *msg)
{
    if (!self->secure)
        return WA_ROLE_ANY;
    entry_t *entry = s_allowlist_lookup (self->list, msg->sender_key);
    return entry ? entry->role : WA_ROLE_NONE;
}

const char *
wa_trust_sender_name (wa_trust_t *self, const wa_msg_t *msg)
{
    entry_t *entry = self->secure ? s_allowlist_lookup (self->list, msg->sender_key) : NULL;
    return entry ? entry->name : "";
}

//  Log one refusal, or count it into a later line: one line per key per
//  10 s (the key-less count as one key ""), for 16 keys at once. A flood
//  of key-less knocks must not hide the one refusal that names a key, and
//  a flood of new keys must not flood the log.
static void
s_log_refusal (wa_trust_t *self, const char *key, const char *fmt, ...)
{
    wa_usec_t now = wa_clock_mono ();
    refusal_log_t *slot = NULL, *spare = NULL;
    for (int i = 0; i < REFUSAL_LOG_KEYS && !slot; i++) {
        refusal_log_t *log = &self->logs[i];
        if (log->logged_at && strncmp (log->key, key, sizeof log->key - 1) == 0)
            slot = log;
        else
        if (!spare && (!log->logged_at || now - log->logged_at >= REFUSAL_LOG_EVERY))
            spare = log;
    }
    if (!slot && spare) {
        //  What the slot's last key did not get logged goes in the next line.
        self->unlogged += spare->unlogged;
        memset (spare, 0, sizeof *spare);
        snprintf (spare->key, sizeof spare->key, "%s", key);
        slot = spare;
    }
    if (!slot || (slot->logged_at && now - slot->logged_at < REFUSAL_LOG_EVERY)) {
        if (slot)
            slot->unlogged++;
        else
            self->unlogged++;
        return;
    }
    char line[512];
    va_list args;
    va_start (args, fmt);
    vsnprintf (line, sizeof line, fmt, args);
    va_end (args);
    uint64_t unlogged = slot->unlogged + self->unlogged;
    if (unlogged)
        wa_warn ("bus: %s (and %" PRIu64 " other refusals not logged since)", line, unlogged);
    else
        wa_warn ("bus: %s", line);
    slot->logged_at = now;
    slot->unlogged = 0;
    self->unlogged = 0;
}

bool
wa_trust_allow (wa_trust_t *self, const wa_msg_t *msg, unsigned roles, const char *where)
{
    wa_role_t role = wa_trust_sender (self, msg);
    if (role & roles)
        return true;
    self->refused_messages++;
    s_log_refusal (self, msg->sender_key, "refused a %s on the %s port from key %s (%s): that role may not send it here",
                   wa_codec_type_name (msg->type), where, *msg->sender_key ? msg->sender_key : "-",
                   role == WA_ROLE_NONE ? "no longer trusted" : wa_role_name (role));
    return false;
}

void
wa_trust_refuse (wa_trust_t *self, const wa_msg_t *msg, const char *where, const char *why)
{
    wa_role_t role = wa_trust_sender (self, msg);
    self->refused_messages++;
    s_log_refusal (self, msg->sender_key, "refused a %s on the %s port from key %s (%s %s): %s",
                   wa_codec_type_name (msg->type), where, *msg->sender_key ? msg->sender_key : "-",
                   role == WA_ROLE_NONE ? "no longer trusted" : wa_role_name (role) ? wa_role_name (role) : "?",
                   wa_trust_sender_name (self, msg), why);
}

zsock_t *
wa_trust_sock (wa_trust_t *self)
{
    return self->zap ? wa_actor_sock (self->zap) : NULL;
}

void
wa_trust_on_refusal (wa_trust_t *self)
{
    char *command = NULL, *address = NULL, *key = NULL, *missed = NULL;
    if (zstr_recvx (wa_trust_sock (self), &command, &address, &key, &missed, NULL) >= 1
    &&  command && streq (command, "REFUSED")) {
        uint64_t more = missed ? strtoull (missed, NULL, 10) : 0;
        self->refused_handshakes += 1 + more;
        s_log_refusal (self, key ? key : "-", "refused a connection from %s: key %s is not in the allow-list",
                       address ? address : "?", key ? key : "-");
    }
    zstr_free (&command);
    zstr_free (&address);
    zstr_free (&key);
    zstr_free (&missed);
}

void
wa_trust_on_protocol_failure (wa_trust_t *self, const char *where, const char *endpoint)
{
    self->refused_keyless++;
    s_log_refusal (self, "", "refused a connection on the %s port (%s) that offered no CURVE key (or a "
                   "handshake made for another server's key)",
                   where, endpoint ? endpoint : "-");
}

void
wa_trust_counts (wa_trust_t *self, uint64_t *handshakes, uint64_t *keyless, uint64_t *messages)
{
    *handshakes = self->refused_handshakes;
    *keyless = self->refused_keyless;
    *messages = self->refused_messages;
}

json_t *
wa_trust_stats_json (wa_trust_t *self)
{
    return json_pack ("{s:s, s:s, s:s, s:i, s:I, s:I, s:I}",
                      "security", self->secure ? "curve" : "off",
                      "key", wa_trust_public_key (self),
                      "role", wa_role_name (self->role) ? wa_role_name (self->role) : "",
                      "trusted_keys", self->list ? (int) zhashx_size (self->list->keys) : 0,
                      "refused_handshakes", (json_int_t) self->refused_handshakes,
                      "refused_keyless", (json_int_t) self->refused_keyless,
                      "refused_messages", (json_int_t) self->refused_messages);
}

int
wa_trust_read_public (const char *path, char key[WA_KEY_TEXT], wa_role_t *role, char *name,
                      size_t namelen, char *err, size_t errlen)
{
    struct stat st;
    if (stat (path, &st))
        return wa_errf (err, errlen, "'%s': %s", path, strerror (errno));
    if (!S_ISREG (st.st_mode) || st.st_size > 4096)
        return wa_errf (err, errlen, "'%s' is not a certificate file (a regular file of at most 4 KiB)", path);
    zconfig_t *root = s_cert_load (path);
    if (!root)
        return wa_errf (err, errlen, "'%s' is not a public certificate (not in the certificate file format)", path);
    bool secret = zconfig_get (root, "curve/secret-key", NULL) != NULL;
    zconfig_destroy (&root);
    if (secret)
        return wa_errf (err, errlen, "'%s' holds a secret key: trust the public certificate (NAME.key), "
                        "and keep the secret one on its own host", path);
    entry_t entry;
    if (s_read_cert (path, key, &entry))
        return wa_errf (err, errlen, "'%s' is not a public certificate with a valid curve public-key and a "
                        "metadata role (master, coreapp, webapp, wactl or tap)", path);
    *role = entry.role;
    snprintf (name, namelen, "%s", entry.name);
    return 0;
}

json_t *
wa_trust_list (const char *dir, char *err, size_t errlen)
{
    zhashx_t *keys = s_read_dir (dir);
    if (!keys) {
        wa_errf (err, errlen, "cannot read the allow-list '%s': %s", dir, strerror (errno));
        return NULL;
    }
    json_t *list = json_array ();
    for (entry_t *entry = (entry_t *) zhashx_first (keys); entry; entry = (entry_t *) zhashx_next (keys))
        json_array_append_new (list, json_pack ("{s:s, s:s, s:s, s:s}", "name", entry->name,
                                                "role", wa_role_name (entry->role),
                                                "key", (const char *) zhashx_cursor (keys),
                                                "file", entry->file));
    zhashx_destroy (&keys);
    return list;
}

//  ---------------------------------------------------------------------
//  Connecting again after a refused handshake

#define RELINK_FIRST (WA_USEC_PER_SEC)
#define RELINK_MAX (10 * WA_USEC_PER_SEC)
#define RELINK_ENDPOINTS 32

typedef struct {
    char endpoint[256];
    char server_key[WA_KEY_TEXT];   //  its server's, when told (wa_relink_server_key)
    wa_usec_t pause;            //  the next pause; 0 when not refused
    wa_usec_t due;              //  when to connect again; 0 when not waiting
} relink_endpoint_t;

struct wa_relink_t {
    wa_relink_t *next_live;     //  the live relinks (s_live)
    wa_trust_t *trust;
    zsock_t *sock;
    zsock_t *events;            //  the monitor's PAIR
    wa_loop_t *loop;
    int timer;
    char what[96];
    wa_relink_event_fn *on_event;
    void *arg;
    relink_endpoint_t endpoints[RELINK_ENDPOINTS];
};

static relink_endpoint_t *
s_relink_endpoint (wa_relink_t *self, const char *endpoint)
{
    relink_endpoint_t *free_slot = NULL;
    for (int i = 0; i < RELINK_ENDPOINTS; i++) {
        relink_endpoint_t *entry = &self->endpoints[i];
        if (streq (entry->endpoint, endpoint))
            return entry;
        if (!free_slot && !entry->pause && !entry->due && !*entry->server_key)
            free_slot = entry;
    }
    if (free_slot) {
        memset (free_slot, 0, sizeof *free_slot);
        snprintf (free_slot->endpoint, sizeof free_slot->endpoint, "%s", endpoint);
    }
    return free_slot;
}

//  The relinks not destroyed. czmq's zloop, which ran these handlers
//  before wa_loop, called a timer ended by an earlier handler of the same
//  pass and a reader ended in the timers' part of a pass, with their arg;
//  wa_loop calls neither, and each handler still first checks that its
//  relink is live, so a relink freed there is never used.
static pthread_mutex_t s_live_lock = PTHREAD_MUTEX_INITIALIZER;
static wa_relink_t *s_live;

static bool
s_relink_live (const wa_relink_t *self)
{
    pthread_mutex_lock (&s_live_lock);
    const wa_relink_t *r = s_live;
    while (r && r != self)
        r = r->next_live;
    pthread_mutex_unlock (&s_live_lock);
    return r != NULL;
}

static void
s_relink_unlist (wa_relink_t *self)
{
    pthread_mutex_lock (&s_live_lock);
    for (wa_relink_t **r = &s_live; *r; r = &(*r)->next_live)
        if (*r == self) {
            *r = self->next_live;
            break;
        }
    pthread_mutex_unlock (&s_live_lock);
}

static int
s_relink_due (wa_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    if (!s_relink_live (arg))
        return 0;
    wa_relink_t *self = (wa_relink_t *) arg;
    wa_usec_t now = wa_clock_mono ();
    for (int i = 0; i < RELINK_ENDPOINTS; i++) {
        relink_endpoint_t *entry = &self->endpoints[i];
        if (entry->due && entry->due <= now) {
            entry->due = 0;
            zsock_disconnect (self->sock, "%s", entry->endpoint);
            //  A connection takes the server key the socket has when it is
            //  made: on a socket connected to several servers, the last one
            //  set is another server's.
            if (*entry->server_key)
                zsock_set_curve_serverkey (self->sock, entry->server_key);
            zsock_connect (self->sock, "%s", entry->endpoint);
            //  One endpoint per tick: two made again back to back on one
            //  socket with different server keys left the first one's
            //  handshake failing on the server (seen with libzmq 4.3.4 on
            //  a Coreapp's SUB to two Masters); 250 ms apart they do not.
            break;
        }
    }
    return 0;
}

static int
s_relink_event (wa_loop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    if (!s_relink_live (arg))
        return 0;
    wa_relink_t *self = (wa_relink_t *) arg;
    zmsg_t *msg = zmsg_recv (reader);
    zframe_t *head = msg ? zmsg_first (msg) : NULL;
    zframe_t *address = msg ? zmsg_next (msg) : NULL;
    if (head && address && zframe_size (head) == 6) {
        uint16_t event;
        memcpy (&event, zframe_data (head), 2);
        char *endpoint = zframe_strdup (address);
        bool handshake = event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED || event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH
                      || event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL;
        relink_endpoint_t *entry = handshake && self->trust->secure ? s_relink_endpoint (self, endpoint) : NULL;
        if (!handshake) {
            if (self->on_event)
                self->on_event (self->arg, event == ZMQ_EVENT_CONNECTED ? "CONNECTED"
                                         : event == ZMQ_EVENT_DISCONNECTED ? "DISCONNECTED" : "CONNECT_RETRIED",
                                endpoint);
        }
        else
        if (entry && event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
            if (entry->pause)
                wa_info ("bus: %s at %s accepts our key now", self->what, endpoint);
            entry->pause = entry->due = 0;
        }
        else
        if (entry && !entry->due) {
            entry->pause = entry->pause ? entry->pause * 2 : RELINK_FIRST;
            if (entry->pause > RELINK_MAX)
                entry->pause = RELINK_MAX;
            entry->due = wa_clock_mono () + entry->pause;
            s_log_refusal (self->trust, endpoint, "%s at %s refused our key %s (is it in that host's allow-list?); "
                           "trying again in %.0f s", self->what, endpoint, wa_trust_public_key (self->trust),
                           (double) entry->pause / WA_USEC_PER_SEC);
        }
        zstr_free (&endpoint);
    }
    zmsg_destroy (&msg);
    return 0;
}

wa_relink_t *
wa_relink_new (wa_trust_t *trust, zsock_t *sock, wa_loop_t *loop, const char *what,
               wa_relink_event_fn *on_event, void *arg)
{
    if ((!trust->secure && !on_event) || !loop)
        return NULL;
    wa_relink_t *self = (wa_relink_t *) zmalloc (sizeof (wa_relink_t));
    assert (self);
    self->trust = trust;
    self->sock = sock;
    self->loop = loop;
    self->on_event = on_event;
    self->arg = arg;
    snprintf (self->what, sizeof self->what, "%s", what);
    //  A name never used before in this process: libzmq frees an inproc
    //  name a while after its socket closes.
    static uint64_t s_relinks;
    char endpoint[64];
    snprintf (endpoint, sizeof endpoint, "inproc://wa-relink-%" PRIu64, ++s_relinks);
    int events = ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL;
    if (on_event)
        events |= ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_CONNECT_RETRIED;
    self->events = zsock_new (ZMQ_PAIR);
    if (zmq_socket_monitor (zsock_resolve (sock), endpoint, events)
    ||  !self->events || zsock_connect (self->events, "%s", endpoint)) {
        wa_warn ("bus: cannot watch the handshakes of %s (%s): a refused connection will not be retried",
                 what, zmq_strerror (zmq_errno ()));
        zmq_socket_monitor (zsock_resolve (sock), NULL, 0);
        zsock_destroy (&self->events);
        free (self);
        return NULL;
    }
    wa_loop_reader (loop, self->events, s_relink_event, self);
    self->timer = wa_loop_timer (loop, 250, 0, s_relink_due, self);
    pthread_mutex_lock (&s_live_lock);
    self->next_live = s_live;
    s_live = self;
    pthread_mutex_unlock (&s_live_lock);
    return self;
}

void
wa_relink_server_key (wa_relink_t *self, const char *endpoint, const char *server_key)
{
    if (!self || !self->trust->secure)
        return;
    relink_endpoint_t *entry = s_relink_endpoint (self, endpoint);
    if (!entry)
        wa_warn ("bus: %s: too many endpoints to connect again after a refusal; not %s", self->what, endpoint);
    else
    if (server_key && *server_key)
        snprintf (entry->server_key, sizeof entry->server_key, "%s", server_key);
    else
        memset (entry, 0, sizeof *entry);
}

void
wa_relink_destroy (wa_relink_t **self_p)
{
    if (*self_p) {
        wa_relink_t *self = *self_p;
        s_relink_unlist (self);
        zmq_socket_monitor (zsock_resolve (self->sock), NULL, 0);
        wa_loop_reader_end (self->loop, self->events);
        wa_loop_timer_end (self->loop, self->timer);
        zsock_destroy (&self->events);
        free (self);
        *self_p = NULL;
    }
}
