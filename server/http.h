/* HTTP glue over libmicrohttpd: the TLS daemon with its thread pool, request bodies with size
 * limits, a route table with {param} segments, and the one place where handler errors become
 * application/problem+json responses (RFC 9457). */
#ifndef WFMD_HTTP_H
#define WFMD_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <jansson.h>

#include "margo/error.h"
#include "margo/token.h"
#include "margo/validate.h"

#define HTTP_JSON_MAX (64u * 1024u)     /* JSON and form bodies */
#define HTTP_YAML_MAX (1024u * 1024u)   /* YAML bodies (admin) */
#define HTTP_MAX_PARAMS 4
#define HTTP_MAX_HEADERS 8
#define HTTP_PROBLEM_BASE "https://margo-fleet.invalid/problems/"

struct http_problem {
	unsigned status;                /* 0: none set (500) */
	const char *slug;               /* static; NULL: type "about:blank" */
	char detail[512];
	struct margo_validation *validation; /* 422 errors[], owned by the request */
	long retry_after;               /* -1: no Retry-After */
	const char *www_authenticate;   /* static header value or NULL */
	json_t *members;                /* extension members (RFC 9457 3.2), owned; or NULL */
};

/* A header or query argument of a request built in memory (no libmicrohttpd connection). */
struct http_field {
	const char *name;
	const char *value;
};

struct http_request {
	const char *method;
	const char *path;               /* decoded path, no query */
	const char *target;             /* request target exactly as received (path?query) */
	const char *params[HTTP_MAX_PARAMS]; /* the route's {param} segments, in order */
	size_t nparams;
	const char *body;               /* NUL-terminated; NULL when empty */
	size_t body_len;
	char client_addr[64];
	char client_id[MARGO_UUID_LEN]; /* set once the caller is known, for the request log */
	int operator_role;              /* enum auth_role of an admin caller; 0: not one */
	void *ctx;                      /* the server context given to http_server_start */
	struct http_problem problem;
	void *conn;                     /* struct MHD_Connection *, for http_header/http_query */
	/* conn NULL (a request built in memory: fuzzing, tests): its headers and query */
	const struct http_field *fields;
	size_t nfields;
	const struct http_field *query;
	size_t nquery;
};

struct http_response_header {
	const char *name;               /* static */
	char *value;                    /* owned */
};

struct http_response {
	unsigned status;
	const char *content_type;       /* static; NULL: no body type */
	char *body;                     /* owned (malloc) */
	size_t body_len;
	struct http_response_header headers[HTTP_MAX_HEADERS];
	size_t nheaders;
	/* Instead of body, a body produced while it is sent (chunked, length unknown):
	 * stream_read fills at most max bytes of buf and returns the count (> 0), 0 at the end,
	 * or -1 to abort (the connection is closed). stream_free(stream_cls) runs once the
	 * response is over, sent or not. Both run on a server thread after the handler returned,
	 * whenever the client is ready for more: a slow client holds memory, not a thread. */
	ssize_t (*stream_read)(void *cls, char *buf, size_t max);
	void (*stream_free)(void *cls);
	void *stream_cls;
};

/* A handler fills resp and returns 0, or returns a negative value after setting
 * req->problem (http_fail and friends do that). */
typedef int (*http_handler_fn)(struct http_request *req, struct http_response *resp);

struct http_route {
	const char *method;
	const char *pattern;            /* "/device/{deviceId}/capabilities" */
	http_handler_fn handler;
	size_t body_max;                /* 0: HTTP_JSON_MAX */
};

/* A request header (case-insensitive name) or NULL. Borrowed for the request. */
const char *http_header(struct http_request *req, const char *name);
/* A query argument (decoded) or NULL. */
const char *http_query(struct http_request *req, const char *name);
/* 1 when the request's Content-Type media type is mime (parameters ignored). */
int http_content_type_is(struct http_request *req, const char *mime);

/* Sets req->problem; returns -1 for `return http_fail(...)`. slug may be NULL. */
int http_fail(struct http_request *req, unsigned status, const char *slug, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Maps a margo error code to a status (EINVAL 400, EAUTH 401, EFORBIDDEN 403, ENOTFOUND 404,
 * ECONFLICT/EEXIST 409, EEXPIRED 410, ETOOBIG 413, EUNSUPPORTED 415, ELIMIT 429, ESTORE 503,
 * others 500) with err's message as detail (500s get a generic detail). */
int http_fail_error(struct http_request *req, int code, const struct margo_error *err);
/* 422 with errors[] from v. */
int http_fail_validation(struct http_request *req, const struct margo_validation *v);

/* Adds an extension member to the problem set by http_fail (takes the reference to value;
 * call after http_fail). Returns -1, like http_fail. */
int http_problem_member(struct http_request *req, const char *name, json_t *value);

/* Serialises obj (reference stolen) as the application/json body with status. */
int http_respond_json(struct http_request *req, struct http_response *resp, unsigned status,
		      json_t *obj);
/* Sets a body verbatim (copied). */
int http_respond_body(struct http_request *req, struct http_response *resp, unsigned status,
		      const char *content_type, const char *body, size_t len);
/* The value of response header name (case-insensitive) already set on resp, or NULL. */
const char *http_response_header_get(const struct http_response *resp, const char *name);
/* Adds a response header (value formatted). */
int http_response_header(struct http_response *resp, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Router, exposed for tests. Finds the route for method and path; fills params (pointers into
 * buf, a scratch copy of path of at least strlen(path)+1 bytes). Returns the route, or NULL
 * with *status 404 (no such path) or 405 (path known, method not: allow gets the methods,
 * comma separated). */
const struct http_route *http_route_find(const struct http_route *routes, size_t nroutes,
					 const char *method, const char *path, char *buf,
					 const char **params, size_t *nparams, unsigned *status,
					 char *allow, size_t allow_size);

/* Observers of every request (each optional). on_handled runs in the request's thread after
 * a routed request's handler, before the answer is queued, with the status that will be
 * sent and the response (its body not yet sent): the audit log. on_completed runs when a
 * request ends (route NULL: no route matched), with its duration: metrics. */
typedef void (*http_handled_fn)(struct http_request *req, const struct http_route *route,
				unsigned status, const struct http_response *resp);
typedef void (*http_completed_fn)(void *ctx, const struct http_route *route, unsigned status,
				  double seconds);

struct http_config {
	const struct sockaddr *addr;
	socklen_t addr_len;
	unsigned threads;
	const char *cert_pem;
	const char *key_pem;
	const struct http_route *routes;
	size_t nroutes;
	void *ctx;
	unsigned connection_timeout;    /* seconds */
	unsigned connection_limit;
	unsigned per_ip_limit;
	http_handled_fn on_handled;
	http_completed_fn on_completed;
};

struct http_server;

/* Starts listening and serving. *port gets the bound port. */
int http_server_start(const struct http_config *cfg, struct http_server **out, uint16_t *port,
		      struct margo_error *err);
/* Stops accepting, lets in-flight requests finish (up to a few seconds), stops. NULL no-op. */
void http_server_stop(struct http_server *srv);

#endif
