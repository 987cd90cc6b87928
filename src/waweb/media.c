/*  media — POST, GET and DELETE /v1/media: files in media_dir, shared by
    every Webapp (NFS across hosts), each described by a row of the media
    table (type, SHA-256, size, uploader).

    Upload. The HTTP layer has streamed the body to a temporary file in
    media_dir/.uploads, hashed it, and hands the request over with the file
    open (http.h). Here the type is checked against the original's list;
    then the file is synced, closed and renamed to media_dir/<id> on the
    hash worker (the worker without a database: a slow disk delays no token
    check and no query), and only then is its row inserted. So a row always
    has its file, and the Coreapps can take a row as proof that a media id
    exists. On any failure the file goes: the HTTP layer removes whatever
    upload_path names when the request ends, and the rename moves that name
    along with the file; only a stored row takes the file for good.

    Get. One DB job reads the row and opens the file; the HTTP layer sends
    it from the descriptor (sendfile, never the whole file in memory).

    Delete. ADMIN, or the user who uploaded it: the row, then the file (a
    download already under way keeps its open file to the end).

    Ids are UUIDs (wa_media_id_valid), checked before they name a file, so
    no id can reach outside media_dir. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "wa_log.h"
#include "wa_message.h"
#include "media.h"
#include "web.h"

//  Uploads older than this in the uploads folder were left by a Webapp
//  that died while receiving them (a live upload writes all the time).
#define STALE_UPLOAD_SECONDS 3600

static const char *SQL_INSERT =
    "INSERT INTO media (id, mime_type, sha256, size, created_by, created_at) VALUES (?, ?, ?, ?, ?, NOW(6))";
static const char *SQL_GET = "SELECT mime_type, size FROM media WHERE id = ?";
static const char *SQL_OWNER = "SELECT created_by FROM media WHERE id = ?";
static const char *SQL_DELETE = "DELETE FROM media WHERE id = ?";

//  A media request's own state (req->extra).
typedef struct {
    char id[WA_MEDIA_ID_LEN + 1];
    char path[PATH_MAX];        //  media_dir/<id>
    char type[128];
    char owner[40];
    uint64_t size;
    int fd;                     //  get: open on the file, -1 when not
    int error;                  //  errno of a failed file operation, 0 when none
    bool found;
    bool denied;
} media_t;

static void
s_media_free (void *extra)
{
    media_t *media = extra;
    if (media && media->fd >= 0)
        close (media->fd);
    free (media);
}

static media_t *
s_media_new (web_t *self, web_req_t *req, const char *id)
{
    media_t *media = (media_t *) zmalloc (sizeof (media_t));
    media->fd = -1;
    snprintf (media->id, sizeof media->id, "%s", id);
    snprintf (media->path, sizeof media->path, "%s/%s", web_config (self)->media_dir, id);
    req->extra = media;
    req->extra_free = s_media_free;
    return media;
}

//  A new id: a random UUID (version 4), as the original's.
static void
s_new_id (char id[WA_MEDIA_ID_LEN + 1])
{
    unsigned char bytes[16];
    char hex[33];
    randombytes_buf (bytes, sizeof bytes);
    bytes[6] = (unsigned char) ((bytes[6] & 0x0f) | 0x40);
    bytes[8] = (unsigned char) ((bytes[8] & 0x3f) | 0x80);
    sodium_bin2hex (hex, sizeof hex, bytes, sizeof bytes);
    snprintf (id, WA_MEDIA_ID_LEN + 1, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

//  --------------------------------------------------------------------------
//  Upload

//  On the hash worker: the file to stable storage, then into place.
static void
s_store_run (wa_job_t *job, wa_db_t *db)
{
    (void) db;
    web_req_t *req = web_job_req (job);
    media_t *media = req->extra;
    http_req_t *http = &req->http;
    job->rc = -1;
    if (fdatasync (http->upload_fd)) {
        media->error = errno;
        return;
    }
    int rc = close (http->upload_fd);
    http->upload_fd = -1;
    if (rc) {
        media->error = errno;
        return;
    }
    if (rename (http->upload_path, media->path)) {
        media->error = errno;
        return;
    }
    //  The name moves with the file: a failure from here on removes it there.
    char *moved = strdup (media->path);
    assert (moved);
    free (http->upload_path);
    http->upload_path = moved;
    job->rc = 0;
}

static void
s_insert_run (wa_job_t *job, wa_db_t *db)
{
    web_req_t *req = web_job_req (job);
    media_t *media = req->extra;
    job->rc = wa_db_exec (db, SQL_INSERT, "sssus", media->id, media->type, req->http.upload_sha256,
                          media->size, req->caller) == 1 ? 0 : -1;
    if (job->rc)
        wa_warn ("db: cannot insert media %s: %s", media->id, wa_db_error (db));
}

static void
s_inserted (web_t *self, web_req_t *req)
{
    media_t *media = req->extra;
    if (req->job_rc) {
        web_fail (self, req, 0, WA_ERR_DATABASE, "cannot record the media: the database failed");
        return;
    }
    //  The row holds the file now: it stays when the request ends.
    free (req->http.upload_path);
    req->http.upload_path = NULL;
    wa_info ("media %s stored: %s, %" PRIu64 " bytes, sha256 %s, by %s", media->id, media->type, media->size,
             req->http.upload_sha256, req->caller);
    json_t *response = envelope_new ();
    json_object_set_new (response, "media", json_pack ("[{s:s}]", "id", media->id));
    web_reply (self, req, 201, response);
}

static void
s_stored (web_t *self, web_req_t *req)
{
    media_t *media = req->extra;
    if (req->job_rc) {
        wa_warn ("cannot store media %s in %s: %s", media->id, web_config (self)->media_dir,
                 strerror (media->error));
        web_fail (self, req, 500, WA_ERR_INTERNAL, "cannot store the file: %s", strerror (media->error));
        return;
    }
    web_db (self, req, s_insert_run, s_inserted);
}

static void
s_upload (web_t *self, web_req_t *req)
{
    http_req_t *http = &req->http;
    if (!http->upload_type) {
        web_fail (self, req, 0, WA_ERR_MISSING, "the Content-Type header is missing: it gives the file's type "
                  "(%s)", WA_MEDIA_TYPES);
        return;
    }
    char type[128];
    if (wa_media_type (http->upload_type, type, sizeof type)) {
        if (streq (type, "audio/ogg"))
            web_fail (self, req, 0, WA_ERR_INVALID, "audio/ogg is taken only with the Opus codec: "
                      "'Content-Type: audio/ogg; codecs=opus'");
        else
            web_fail (self, req, 0, WA_ERR_INVALID, "'%.100s' is not a supported media type; supported: %s",
                      type, WA_MEDIA_TYPES);
        return;
    }
    if (!http->upload_path || http->upload_size == 0) {
        web_fail (self, req, 0, WA_ERR_MISSING, "the body is empty: it must hold the file's bytes");
        return;
    }
    char id[WA_MEDIA_ID_LEN + 1];
    s_new_id (id);
    media_t *media = s_media_new (self, req, id);
    snprintf (media->type, sizeof media->type, "%s", type);
    media->size = http->upload_size;
    web_hash (self, req, s_store_run, s_stored);
}

//  --------------------------------------------------------------------------
//  Get

static int
s_get_row (const wa_db_row_t *row, void *arg)
{
    media_t *media = arg;
    media->found = true;
    snprintf (media->type, sizeof media->type, "%s", wa_db_row_str (row, 0));
    media->size = (uint64_t) wa_db_row_int (row, 1);
    return 0;
}

static void
s_get_run (wa_job_t *job, wa_db_t *db)
{
    web_req_t *req = web_job_req (job);
    media_t *media = req->extra;
    job->rc = wa_db_query (db, SQL_GET, s_get_row, media, "s", media->id) < 0 ? -1 : 0;
    if (job->rc || !media->found)
        return;
    media->fd = open (media->path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (media->fd < 0)
        media->error = errno;
    else
    if (fstat (media->fd, &st))
        media->error = errno;
    else
    if ((uint64_t) st.st_size != media->size)
        media->error = EIO;     //  not the file that was stored
}

static void
s_got (web_t *self, web_req_t *req)
{
    media_t *media = req->extra;
    if (req->job_rc) {
        web_fail (self, req, 0, WA_ERR_DATABASE, "cannot read the media now: the database failed");
        return;
    }
    if (!media->found) {
        web_fail (self, req, 404, WA_ERR_NOT_FOUND, "no media with id '%s'", media->id);
        return;
    }
    if (media->error == ENOENT) {
        wa_warn ("media %s has a row but no file in %s", media->id, web_config (self)->media_dir);
        web_fail (self, req, 404, WA_ERR_NOT_FOUND, "the file of media '%s' is missing", media->id);
        return;
    }
    if (media->error) {
        wa_warn ("cannot read media %s: %s", media->id,
                 media->error == EIO ? "its size is not the stored one" : strerror (media->error));
        web_fail (self, req, 500, WA_ERR_INTERNAL, "cannot read the file of media '%s'", media->id);
        return;
    }
    http_req_send_file (&req->http, media->fd, media->size, media->type);
    media->fd = -1;
    web_reply_text (self, req, 200, NULL, 0, NULL);
}

//  --------------------------------------------------------------------------
//  Delete

static int
s_owner_row (const wa_db_row_t *row, void *arg)
{
    media_t *media = arg;
    media->found = true;
    snprintf (media->owner, sizeof media->owner, "%s", wa_db_row_str (row, 0));
    return 0;
}

static void
s_delete_run (wa_job_t *job, wa_db_t *db)
{
    web_req_t *req = web_job_req (job);
    media_t *media = req->extra;
    job->rc = -1;
    if (wa_db_query (db, SQL_OWNER, s_owner_row, media, "s", media->id) < 0)
        return;
    job->rc = 0;
    if (!media->found)
        return;
    if (!streq (req->caller_role, "ADMIN") && !streq (req->caller, media->owner)) {
        media->denied = true;
        return;
    }
    int64_t rows = wa_db_exec (db, SQL_DELETE, "s", media->id);
    if (rows < 0) {
        job->rc = -1;
        return;
    }
    media->found = rows == 1;       //  0: deleted meanwhile by another request
    if (media->found && unlink (media->path) && errno != ENOENT)
        media->error = errno;
}

static void
s_deleted (web_t *self, web_req_t *req)
{
    media_t *media = req->extra;
    if (req->job_rc) {
        web_fail (self, req, 0, WA_ERR_DATABASE, "cannot delete the media now: the database failed");
        return;
    }
    if (!media->found) {
        web_fail (self, req, 404, WA_ERR_NOT_FOUND, "no media with id '%s'", media->id);
        return;
    }
    if (media->denied) {
        web_fail (self, req, 403, WA_ERR_ACCESS_DENIED, "media '%s' was uploaded by another user: only they "
                  "or an ADMIN may delete it", media->id);
        return;
    }
    if (media->error)
        wa_warn ("media %s deleted, but its file stays in %s: %s", media->id, web_config (self)->media_dir,
                 strerror (media->error));
    else
        wa_info ("media %s deleted by %s", media->id, req->caller);
    web_reply (self, req, 200, NULL);
}

//  --------------------------------------------------------------------------

void
media_request (web_t *self, web_req_t *req)
{
    if (req->route.id == ROUTE_MEDIA_UPLOAD) {
        s_upload (self, req);
        return;
    }
    //  An id that is not one of ours names nothing: never a path.
    if (!wa_media_id_valid (req->route.param)) {
        web_fail (self, req, 404, WA_ERR_NOT_FOUND, "no media with id '%.64s'", req->route.param);
        return;
    }
    s_media_new (self, req, req->route.param);
    if (req->route.id == ROUTE_MEDIA_GET)
        web_db (self, req, s_get_run, s_got);
    else
        web_db (self, req, s_delete_run, s_deleted);
}

int
media_dir_prepare (const wa_config_t *config, char *err, size_t errlen)
{
    const char *dir = config->media_dir;
    struct stat st;
    if (stat (dir, &st) || !S_ISDIR (st.st_mode)) {
        snprintf (err, errlen, "media_dir '%s' %s: create it (one folder shared by every Webapp, NFS across "
                  "hosts) or set media_dir", dir, errno == ENOENT ? "does not exist" : "is not a folder");
        return -1;
    }
    char uploads[PATH_MAX];
    snprintf (uploads, sizeof uploads, "%s/%s", dir, HTTP_UPLOAD_DIR);
    if (mkdir (uploads, 0750) && errno != EEXIST) {
        snprintf (err, errlen, "media_dir '%s' is not writable: cannot make %s: %s", dir, uploads,
                  strerror (errno));
        return -1;
    }
    //  Proof that uploads can be written, and renamed into the folder.
    char probe[PATH_MAX + 32], moved[PATH_MAX + 32];
    snprintf (probe, sizeof probe, "%s/probe-XXXXXX", uploads);
    int fd = mkstemp (probe);
    if (fd < 0) {
        snprintf (err, errlen, "media_dir '%s' is not writable: cannot create a file in %s: %s", dir, uploads,
                  strerror (errno));
        return -1;
    }
    close (fd);
    snprintf (moved, sizeof moved, "%s/.%s", dir, strrchr (probe, '/') + 1);
    int rc = rename (probe, moved);
    int saved = errno;
    unlink (rc ? probe : moved);
    if (rc) {
        snprintf (err, errlen, "media_dir '%s': cannot move a file from %s into it: %s", dir, uploads,
                  strerror (saved));
        return -1;
    }
    DIR *folder = opendir (uploads);
    int removed = 0;
    time_t now = time (NULL);
    struct dirent *entry;
    while (folder && (entry = readdir (folder))) {
        char path[PATH_MAX + 300];
        snprintf (path, sizeof path, "%s/%s", uploads, entry->d_name);
        if (strncmp (entry->d_name, "upload-", 7) == 0 && stat (path, &st) == 0 && S_ISREG (st.st_mode)
        &&  st.st_mtime < now - STALE_UPLOAD_SECONDS && unlink (path) == 0)
            removed++;
    }
    if (folder)
        closedir (folder);
    if (removed)
        wa_info ("removed %d uploads left unfinished in %s over an hour ago", removed, uploads);
    return 0;
}
