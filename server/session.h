/* Web console sessions (docs/console.md, "Security model"): an operator token exchanged once
 * for a session cookie; the admin API accepts the cookie instead of a bearer token when the
 * request also proves it comes from the console (CSRF token header and Origin). */
#ifndef WFMD_SESSION_H
#define WFMD_SESSION_H

#include "http.h"
#include "store_console.h"

#define SESSION_COOKIE "__Host-margo_session"
#define SESSION_CSRF_HEADER "X-CSRF-Token"
#define SESSION_TOKEN_PREFIX "wfmses_"
#define SESSION_TTL (8 * 3600)          /* absolute lifetime of a session, seconds */

/* Copies the session cookie's value out of a Cookie header (NULL: none) into buf (size
 * AUTH_TOKEN_MAX). 0, MARGO_ENOTFOUND, MARGO_EINVAL (empty or too long). */
int session_cookie_parse(const char *cookie_header, char *buf);
/* The same for the request's Cookie header. */
int session_token(struct http_request *req, char *buf);

/* 1 when the request carries the session cookie (and no Authorization header wins). */
int session_cookie_present(struct http_request *req);

/* The CSRF token of a session token: hex SHA-256 of "csrf:" + token. Never stored; the
 * console reads it from the login answer or GET /admin/v1/session. */
void session_csrf_token(const char *token, char out[MARGO_TOKEN_HASH_LEN]);

/* 1 when the request's Origin is this service (https:// + Host, or the public URL). A missing
 * Origin is accepted only when allow_missing. */
int session_origin_ok(struct http_request *req, int allow_missing);

/* Authenticates the request by its session cookie: 0 with *out the session; otherwise sets
 * the request's problem (401: no, unknown, expired session; 403: a mutating request without
 * the CSRF header or from another origin) and returns -1. When csrf is not NULL it gets the
 * session's CSRF token. */
int session_authenticate(struct http_request *req, struct store_session *out,
			 char csrf[MARGO_TOKEN_HASH_LEN]);

#endif
