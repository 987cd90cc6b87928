/*  media — the media endpoints' folder: media_dir, shared by every Webapp
    (NFS across hosts). The endpoints themselves are media_request (web.h). */
#ifndef WAWEB_MEDIA_H
#define WAWEB_MEDIA_H

#include <stddef.h>
#include "wa_config.h"

//  At start: media_dir must be a folder this process can write to. Makes
//  its uploads folder (http.h, HTTP_UPLOAD_DIR) and removes uploads left
//  there over an hour ago by a Webapp that died while receiving them.
//  0, or -1 with why in err.
int media_dir_prepare (const wa_config_t *config, char *err, size_t errlen);

#endif
