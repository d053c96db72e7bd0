/* The web console's static files (server/ui/), compiled into wfmd at build time by
 * cmake/embed_files.cmake. */
#ifndef WFMD_UI_ASSETS_H
#define WFMD_UI_ASSETS_H

#include <stddef.h>

struct ui_asset {
	const char *name;               /* "app.js": the path below /ui/ */
	const char *content_type;
	const char *etag;               /* strong ETag, quoted */
	const unsigned char *data;      /* NUL-terminated after len bytes */
	size_t len;
};

extern const struct ui_asset ui_assets[];
extern const size_t ui_nassets;

/* The asset called name, or NULL. */
const struct ui_asset *ui_asset_find(const char *name);

/* 1 when an If-None-Match header value (a list of entity tags, weak or strong, or "*";
 * NULL: none) names etag (quoted), so the answer may be 304. */
int ui_etag_matches(const char *if_none_match, const char *etag);

#endif
