/* Caller authentication for the routes: admin bearer token, device access tokens. On failure
 * these set the request's problem (401 with WWW-Authenticate, or 403) and return -1. */
#ifndef WFMD_AUTH_H
#define WFMD_AUTH_H

#include <stddef.h>

#include "http.h"

#define AUTH_TOKEN_MAX 256

/* Copies the token of an "Authorization: Bearer <token>" header into buf (size
 * AUTH_TOKEN_MAX). 0, MARGO_ENOTFOUND (no header or another scheme), MARGO_EINVAL. */
int auth_bearer(struct http_request *req, char buf[AUTH_TOKEN_MAX]);

/* The admin API: the bearer must be the content of DIR/admin.token. */
int auth_admin(struct http_request *req);

/* The Device API: the bearer must be a live access token of device_id (401 when missing,
 * unknown, expired or revoked; 403 when it belongs to another device). Sets
 * req->client_id. */
int auth_device(struct http_request *req, const char *device_id);

#endif
