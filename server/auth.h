/* Caller authentication for the routes: admin bearer token, device access tokens. On failure
 * these set the request's problem (401 with WWW-Authenticate, or 403) and return -1. */
#ifndef WFMD_AUTH_H
#define WFMD_AUTH_H

#include <stddef.h>

#include "http.h"
#include "store_operator.h"

struct wfmd;

#define AUTH_TOKEN_MAX 256

/* Copies the token of an "Authorization: Bearer <token>" header into buf (size
 * AUTH_TOKEN_MAX). 0, MARGO_ENOTFOUND (no header or another scheme), MARGO_EINVAL. */
int auth_bearer(struct http_request *req, char buf[AUTH_TOKEN_MAX]);

/* Operator roles, each including the ones below it: a viewer reads the admin API; an operator
 * also approves, rejects and revokes devices, deploys, labels and runs rollouts; an admin also
 * manages operators, enrollment tokens and pre-registered certificates. */
enum auth_role {
	AUTH_ROLE_NONE = 0,
	AUTH_ROLE_VIEWER,
	AUTH_ROLE_OPERATOR,
	AUTH_ROLE_ADMIN,
};

/* The bootstrap operator: whoever holds DIR/admin.token, with role admin. */
#define AUTH_BOOTSTRAP_OPERATOR "admin"

struct auth_operator {
	char name[STORE_OPERATOR_NAME_MAX];
	enum auth_role role;
};

/* "viewer", "operator", "admin" (static); "none" for AUTH_ROLE_NONE. */
const char *auth_role_name(enum auth_role role);
/* The role named s, or AUTH_ROLE_NONE. */
enum auth_role auth_role_parse(const char *s);
/* 1 when name is a valid operator name: 1 to 32 of [a-z0-9._-], starting with a letter or
 * digit. */
int auth_operator_name_valid(const char *name);

/* Who presents token (borrowed; not kept): the bootstrap admin when it is DIR/admin.token,
 * else the live named operator whose token it is. 0, MARGO_EAUTH (unknown or revoked token,
 * err says so), MARGO_ESTORE. For any front end that receives an operator token (the admin
 * API's bearer, a console login). */
int auth_operator_resolve(struct wfmd *w, const char *token, struct auth_operator *out,
			  struct margo_error *err);

/* The role the admin API request method path needs: GET and HEAD need viewer, changes to
 * operators, enrollment tokens and certificates need admin (reading operators too), any
 * other change needs operator. The one place that decides it. */
enum auth_role auth_required_role(const char *method, const char *path);

/* The admin API: the bearer must be an operator token (401 otherwise) whose role is at least
 * auth_required_role() of the request (403 problem "insufficient-role" naming the role
 * needed, in the member "requiredRole", otherwise). Sets req->client_id to the operator's
 * name and req->operator_role. */
int auth_admin(struct http_request *req);

/* The Device API: the bearer must be a live access token of device_id (401 when missing,
 * unknown, expired or revoked; 403 when it belongs to another device). Sets
 * req->client_id. */
int auth_device(struct http_request *req, const char *device_id);
/* auth_device for a desired-state poll: also the revision main points to in the device's
 * repository, "" when it has none yet (store_access_poll: one store round trip). */
int auth_device_poll(struct http_request *req, const char *device_id,
		     char rev[STORE_REVISION_LEN]);

#endif
