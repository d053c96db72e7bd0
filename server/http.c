#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <microhttpd.h>
#include <openssl/crypto.h>

#include "margo/log.h"
#include "http.h"

#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"
#define DRAIN_WAIT_MS 3000
/* An oversized body up to this size is read and discarded before the 413, so the client (still
 * sending) is not answered with a reset that loses the 413; beyond it wfmd answers at once and
 * closes. */
#define DISCARD_MAX (1024u * 1024u)
/* What a streamed body is read in (MHD's buffer for it, per response). */
#define STREAM_BLOCK (32u * 1024u)

struct http_server {
	struct MHD_Daemon *daemon;
	volatile int stopping;          /* set once quiesced: close connections after replies */
	const struct http_route *routes;
	size_t nroutes;
	void *ctx;
	http_handled_fn on_handled;
	http_completed_fn on_completed;
};

/* Per request, created by the URI callback (the first thing MHD tells us about a request)
 * and freed in the completion callback. */
struct reqctx {
	struct http_request req;
	struct http_server *srv;
	char *target;
	char *pathbuf;
	const struct http_route *route;
	unsigned route_status;          /* 404/405 when no route matched */
	char allow[64];
	char *body;
	size_t len;
	size_t cap;
	size_t limit;
	size_t discarded;
	int started;
	int too_big;
	unsigned status;                /* status actually queued, for the log */
	struct timespec start;
};

/* ---- request helpers ---- */

static const char *field_find(const struct http_field *f, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(f[i].name, name) == 0)
			return f[i].value;
	return NULL;
}

const char *http_header(struct http_request *req, const char *name)
{
	if (req->conn == NULL)
		return field_find(req->fields, req->nfields, name);
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *http_query(struct http_request *req, const char *name)
{
	if (req->conn == NULL)
		return field_find(req->query, req->nquery, name);
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

int http_content_type_is(struct http_request *req, const char *mime)
{
	const char *ct = http_header(req, "Content-Type");
	size_t n = strlen(mime), i;

	if (ct == NULL)
		return 0;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	if (strncasecmp(ct, mime, n) != 0)
		return 0;
	for (i = n; ct[i] == ' ' || ct[i] == '\t'; i++)
		;
	return ct[i] == '\0' || ct[i] == ';';
}

int http_fail(struct http_request *req, unsigned status, const char *slug, const char *fmt, ...)
{
	va_list ap;

	req->problem.status = status;
	req->problem.slug = slug;
	va_start(ap, fmt);
	vsnprintf(req->problem.detail, sizeof(req->problem.detail), fmt, ap);
	va_end(ap);
	return -1;
}

int http_fail_error(struct http_request *req, int code, const struct margo_error *err)
{
	const char *msg = err != NULL && err->message[0] != '\0' ? err->message :
		margo_strerror(code);
	unsigned status;

	switch (code) {
	case MARGO_EINVAL: status = 400; break;
	case MARGO_EAUTH: status = 401; break;
	case MARGO_EFORBIDDEN: status = 403; break;
	case MARGO_ENOTFOUND: status = 404; break;
	case MARGO_EEXIST:
	case MARGO_ECONFLICT: status = 409; break;
	case MARGO_EEXPIRED: status = 410; break;
	case MARGO_ETOOBIG: status = 413; break;
	case MARGO_EUNSUPPORTED: status = 415; break;
	case MARGO_ELIMIT: status = 429; break;
	case MARGO_ESTORE: status = 503; break;
	default: status = 500; break;
	}
	if (status == 503) {
		req->problem.retry_after = 5;
		return http_fail(req, status, "store-unavailable",
				 "the database is busy or failing; retry later");
	}
	if (status == 500)
		return http_fail(req, status, NULL, "internal error");
	return http_fail(req, status, NULL, "%s", msg);
}

int http_problem_member(struct http_request *req, const char *name, json_t *value)
{
	if (req->problem.members == NULL)
		req->problem.members = json_object();
	if (req->problem.members != NULL && value != NULL)
		json_object_set(req->problem.members, name, value);
	json_decref(value);
	return -1;
}

int http_fail_validation(struct http_request *req, const struct margo_validation *v)
{
	free(req->problem.validation);
	req->problem.validation = malloc(sizeof(*v));
	if (req->problem.validation != NULL)
		memcpy(req->problem.validation, v, sizeof(*v));
	return http_fail(req, 422, "validation-failed", "the document has %zu invalid member%s",
			 v->count + v->dropped, v->count + v->dropped == 1 ? "" : "s");
}

int http_respond_body(struct http_request *req, struct http_response *resp, unsigned status,
		      const char *content_type, const char *body, size_t len)
{
	resp->body = malloc(len + 1);
	if (resp->body == NULL)
		return http_fail_error(req, MARGO_ENOMEM, NULL);
	if (len > 0)
		memcpy(resp->body, body, len);
	resp->body[len] = '\0';
	resp->body_len = len;
	resp->status = status;
	resp->content_type = content_type;
	return 0;
}

int http_respond_json(struct http_request *req, struct http_response *resp, unsigned status,
		      json_t *obj)
{
	char *text;

	if (obj == NULL)
		return http_fail_error(req, MARGO_ENOMEM, NULL);
	text = json_dumps(obj, JSON_COMPACT | JSON_REAL_PRECISION(15));
	json_decref(obj);
	if (text == NULL)
		return http_fail_error(req, MARGO_ENOMEM, NULL);
	free(resp->body);
	resp->body = text;
	resp->body_len = strlen(text);
	resp->status = status;
	resp->content_type = "application/json";
	return 0;
}

int http_response_header(struct http_response *resp, const char *name, const char *fmt, ...)
{
	va_list ap;
	char *v = NULL;
	int r;

	if (resp->nheaders >= HTTP_MAX_HEADERS)
		return MARGO_ELIMIT;
	va_start(ap, fmt);
	r = vasprintf(&v, fmt, ap);
	va_end(ap);
	if (r < 0)
		return MARGO_ENOMEM;
	resp->headers[resp->nheaders].name = name;
	resp->headers[resp->nheaders].value = v;
	resp->nheaders++;
	return 0;
}

const char *http_response_header_get(const struct http_response *resp, const char *name)
{
	for (size_t i = 0; i < resp->nheaders; i++)
		if (strcasecmp(resp->headers[i].name, name) == 0)
			return resp->headers[i].value;
	return NULL;
}

static void response_clear(struct http_response *resp)
{
	if (resp->stream_free != NULL)
		resp->stream_free(resp->stream_cls);
	free(resp->body);
	for (size_t i = 0; i < resp->nheaders; i++)
		free(resp->headers[i].value);
	memset(resp, 0, sizeof(*resp));
}

/* ---- router ---- */

/* Splits a path at '/' in place into segs; returns the count or -1 when too many. */
static int split_path(char *p, char **segs, int max)
{
	int n = 0;

	if (*p == '/')
		p++;
	for (;;) {
		if (n == max)
			return -1;
		segs[n++] = p;
		p = strchr(p, '/');
		if (p == NULL)
			break;
		*p++ = '\0';
	}
	return n;
}

#define MAX_SEGS 12

static int pattern_match(const char *pattern, char **segs, int nsegs, const char **params,
			 size_t *nparams)
{
	char pbuf[256];
	char *psegs[MAX_SEGS];
	int np;
	size_t k = 0;

	if (strlen(pattern) >= sizeof(pbuf))
		return 0;
	strcpy(pbuf, pattern);
	np = split_path(pbuf, psegs, MAX_SEGS);
	if (np != nsegs)
		return 0;
	for (int i = 0; i < np; i++) {
		if (psegs[i][0] == '{') {
			if (segs[i][0] == '\0' || k >= HTTP_MAX_PARAMS)
				return 0;
			if (params != NULL)
				params[k] = segs[i];
			k++;
		} else if (strcmp(psegs[i], segs[i]) != 0) {
			return 0;
		}
	}
	if (nparams != NULL)
		*nparams = k;
	return 1;
}

const struct http_route *http_route_find(const struct http_route *routes, size_t nroutes,
					 const char *method, const char *path, char *buf,
					 const char **params, size_t *nparams, unsigned *status,
					 char *allow, size_t allow_size)
{
	char *segs[MAX_SEGS];
	int nsegs;
	int path_known = 0;
	size_t used = 0;

	*status = 404;
	*nparams = 0;
	if (allow_size > 0)
		allow[0] = '\0';
	if (path[0] != '/')
		return NULL;
	strcpy(buf, path);
	nsegs = split_path(buf, segs, MAX_SEGS);
	if (nsegs < 0)
		return NULL;
	for (size_t i = 0; i < nroutes; i++) {
		if (!pattern_match(routes[i].pattern, segs, nsegs, NULL, NULL))
			continue;
		if (strcmp(routes[i].method, method) == 0) {
			pattern_match(routes[i].pattern, segs, nsegs, params, nparams);
			return &routes[i];
		}
		if (!path_known || strstr(allow, routes[i].method) == NULL) {
			int r = snprintf(allow + used, allow_size - used, "%s%s",
					 used > 0 ? ", " : "", routes[i].method);
			if (r > 0 && (size_t)r < allow_size - used)
				used += (size_t)r;
		}
		path_known = 1;
	}
	if (path_known)
		*status = 405;
	return NULL;
}

/* ---- problem responses ---- */

static char *problem_body(const struct http_problem *p, unsigned status)
{
	json_t *o = json_object();
	char type[128];
	char *text = NULL;
	const char *title = MHD_get_reason_phrase_for(status);

	if (o == NULL)
		return NULL;
	if (p->slug != NULL)
		snprintf(type, sizeof(type), "%s%s", HTTP_PROBLEM_BASE, p->slug);
	else
		snprintf(type, sizeof(type), "about:blank");
	if (json_object_set_new(o, "type", json_string(type)) < 0 ||
	    json_object_set_new(o, "title", json_string(title != NULL && *title ? title :
							 "Error")) < 0 ||
	    json_object_set_new(o, "status", json_integer(status)) < 0 ||
	    json_object_set_new(o, "detail", json_string(p->detail)) < 0)
		goto out;
	if (status == 422 && p->validation != NULL &&
	    json_object_set_new(o, "errors", margo_validation_to_json(p->validation)) < 0)
		goto out;
	/* extension members never replace the standard ones */
	if (p->members != NULL && json_object_update_missing(o, p->members) < 0)
		goto out;
	text = json_dumps(o, JSON_COMPACT);
out:
	json_decref(o);
	return text;
}

/* ---- MHD callbacks ---- */

/* Response bodies may hold secrets (client secrets, tokens): wiped before they are freed.
 * Every body is NUL-terminated, so strlen() stays inside it. */
static void body_free(void *p)
{
	if (p == NULL)
		return;
	OPENSSL_cleanse(p, strlen(p));
	free(p);
}

/* A streamed body (http_response.stream_read). */
struct stream {
	ssize_t (*read)(void *cls, char *buf, size_t max);
	void (*free)(void *cls);
	void *cls;
};

static ssize_t stream_read_cb(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream *s = cls;
	ssize_t n = s->read(s->cls, buf, max);

	(void)pos;
	if (n > 0)
		return n;
	return n == 0 ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;
}

static void stream_free_cb(void *cls)
{
	struct stream *s = cls;

	if (s->free != NULL)
		s->free(s->cls);
	free(s);
}

/* Takes the stream over from resp (left with it on failure). */
static struct MHD_Response *stream_response(struct http_response *resp)
{
	struct stream *s = malloc(sizeof(*s));
	struct MHD_Response *r;

	if (s == NULL)
		return NULL;
	s->read = resp->stream_read;
	s->free = resp->stream_free;
	s->cls = resp->stream_cls;
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK, stream_read_cb, s,
					      stream_free_cb);
	if (r == NULL) {
		free(s);
		return NULL;
	}
	resp->stream_read = NULL;
	resp->stream_free = NULL;
	resp->stream_cls = NULL;
	return r;
}

static int response_has_header(const struct http_response *resp, const char *name)
{
	for (size_t i = 0; i < resp->nheaders; i++)
		if (strcasecmp(resp->headers[i].name, name) == 0)
			return 1;
	return 0;
}

static enum MHD_Result queue(struct reqctx *rc, struct MHD_Connection *conn,
			     struct http_response *resp)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	char *body = resp->body;
	size_t len = resp->body_len;

	if (resp->stream_read != NULL) {
		len = 1;        /* a body follows: it has a type */
		r = stream_response(resp);
	} else if (body == NULL) {
		len = 0;
		r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	} else {
		r = MHD_create_response_from_buffer_with_free_callback(len, body, body_free);
		if (r != NULL)
			resp->body = NULL;
	}
	if (r == NULL) {
		response_clear(resp);
		return MHD_NO;
	}
	if (resp->content_type != NULL && len > 0)
		MHD_add_response_header(r, "Content-Type", resp->content_type);
	if (!response_has_header(resp, "Cache-Control"))
		MHD_add_response_header(r, "Cache-Control", "no-store");
	if (rc->srv->stopping)
		MHD_add_response_header(r, "Connection", "close");
	for (size_t i = 0; i < resp->nheaders; i++)
		MHD_add_response_header(r, resp->headers[i].name, resp->headers[i].value);
	rc->status = resp->status;
	ret = MHD_queue_response(conn, resp->status, r);
	MHD_destroy_response(r);
	response_clear(resp);
	return ret;
}

static enum MHD_Result queue_problem(struct reqctx *rc, struct MHD_Connection *conn)
{
	struct http_problem *p = &rc->req.problem;
	struct http_response resp;
	unsigned status = p->status >= 400 && p->status < 600 ? p->status : 500;

	memset(&resp, 0, sizeof(resp));
	if (p->status < 400 || p->status >= 600) {
		p->slug = NULL;
		snprintf(p->detail, sizeof(p->detail), "internal error");
	}
	resp.status = status;
	resp.body = problem_body(p, status);
	resp.body_len = resp.body != NULL ? strlen(resp.body) : 0;
	resp.content_type = "application/problem+json";
	if (p->retry_after >= 0 && (status == 429 || status == 503))
		http_response_header(&resp, "Retry-After", "%ld", p->retry_after);
	if (p->www_authenticate != NULL)
		http_response_header(&resp, "WWW-Authenticate", "%s", p->www_authenticate);
	if (status == 405)
		http_response_header(&resp, "Allow", "%s", rc->allow);
	return queue(rc, conn, &resp);
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct http_server *srv = cls;
	struct reqctx *rc = calloc(1, sizeof(*rc));
	const union MHD_ConnectionInfo *ci;

	if (rc == NULL)
		return NULL;
	clock_gettime(CLOCK_MONOTONIC, &rc->start);
	rc->srv = srv;
	rc->target = strdup(uri != NULL ? uri : "/");
	rc->req.ctx = srv->ctx;
	rc->req.conn = conn;
	rc->req.problem.retry_after = -1;
	strcpy(rc->req.client_addr, "-");
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci != NULL && ci->client_addr != NULL) {
		const struct sockaddr *sa = ci->client_addr;
		if (sa->sa_family == AF_INET)
			inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
				  rc->req.client_addr, sizeof(rc->req.client_addr));
		else if (sa->sa_family == AF_INET6)
			inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr,
				  rc->req.client_addr, sizeof(rc->req.client_addr));
	}
	return rc;
}

static enum MHD_Result count_authorization(void *cls, enum MHD_ValueKind kind, const char *key,
					   const char *value)
{
	(void)kind;
	(void)value;
	if (key != NULL && strcasecmp(key, "Authorization") == 0)
		(*(int *)cls)++;
	return MHD_YES;
}

static enum MHD_Result dispatch(struct reqctx *rc, struct MHD_Connection *conn)
{
	int nauth = 0;

	struct http_response resp;
	int r;

	memset(&resp, 0, sizeof(resp));
	if (rc->too_big) {
		http_fail(&rc->req, 413, "body-too-large", "request body larger than %zu bytes",
			  rc->limit);
		return queue_problem(rc, conn);
	}
	if (rc->route == NULL) {
		if (rc->route_status == 405)
			http_fail(&rc->req, 405, NULL, "method %s not allowed here",
				  rc->req.method);
		else
			http_fail(&rc->req, 404, NULL, "no such resource");
		return queue_problem(rc, conn);
	}
	/* Authorization is a singleton field (RFC 9110): two of them are ambiguous. */
	MHD_get_connection_values(conn, MHD_HEADER_KIND, count_authorization, &nauth);
	if (nauth > 1) {
		http_fail(&rc->req, 400, "duplicate-authorization",
			  "more than one Authorization header");
		return queue_problem(rc, conn);
	}
	rc->req.body = rc->body;
	rc->req.body_len = rc->len;
	r = rc->route->handler(&rc->req, &resp);
	if (r == 0 && resp.status == 0)
		resp.status = 200;
	if (rc->srv->on_handled != NULL)
		rc->srv->on_handled(&rc->req, rc->route, r < 0 ? (rc->req.problem.status ?
					rc->req.problem.status : 500) : resp.status, &resp);
	if (r < 0) {
		response_clear(&resp);
		return queue_problem(rc, conn);
	}
	return queue(rc, conn, &resp);
}

static int first_call(struct reqctx *rc, struct MHD_Connection *conn, const char *url,
		      const char *method)
{
	struct http_server *srv = rc->srv;
	const char *cl, *expect;
	char *end;
	unsigned long long n;

	rc->req.method = method;
	rc->req.path = url;
	rc->req.target = rc->target != NULL ? rc->target : url;
	rc->pathbuf = malloc(strlen(url) + 1);
	if (rc->pathbuf == NULL)
		return -1;
	rc->route = http_route_find(srv->routes, srv->nroutes, method, url, rc->pathbuf,
				    rc->req.params, &rc->req.nparams, &rc->route_status,
				    rc->allow, sizeof(rc->allow));
	rc->limit = rc->route != NULL && rc->route->body_max > 0 ? rc->route->body_max :
		HTTP_JSON_MAX;
	cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
	if (cl != NULL) {
		n = strtoull(cl, &end, 10);
		if (end != cl && n > rc->limit) {
			rc->too_big = 1;
			/* Answer before the body when the client waits for 100-continue or the
			 * body is too large to be worth reading away. */
			expect = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Expect");
			if (n > DISCARD_MAX || (expect != NULL && strcasecmp(expect, "100-continue") == 0))
				return 1;
		}
	}
	return 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size,
				  void **con_cls)
{
	struct reqctx *rc = *con_cls;
	char *nb;
	size_t ncap;
	int r;

	(void)cls;
	(void)version;
	if (rc == NULL)
		return MHD_NO;
	if (!rc->started) {
		rc->started = 1;
		r = first_call(rc, conn, url, method);
		if (r < 0)
			return MHD_NO;
		if (r > 0) {
			/* Refuse before reading the body; MHD closes the connection after. */
			http_fail(&rc->req, 413, "body-too-large",
				  "request body larger than %zu bytes", rc->limit);
			return queue_problem(rc, conn);
		}
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		size_t n = *upload_data_size;

		*upload_data_size = 0;
		if (!rc->too_big && n > rc->limit - rc->len) {
			/* The body outgrew the limit: stop buffering it. */
			rc->too_big = 1;
			free(rc->body);
			rc->body = NULL;
			rc->len = rc->cap = 0;
		}
		if (rc->too_big) {
			rc->discarded += n;
			if (rc->discarded > DISCARD_MAX && rc->status == 0) {
				/* Enough read away: answer now (MHD closes the connection). */
				http_fail(&rc->req, 413, "body-too-large",
					  "request body larger than %zu bytes", rc->limit);
				if (queue_problem(rc, conn) != MHD_YES)
					rc->status = 0;
			}
			return MHD_YES;
		}
		if (rc->len + n + 1 > rc->cap) {
			ncap = rc->cap ? rc->cap : 1024;
			while (ncap < rc->len + n + 1)
				ncap *= 2;
			nb = realloc(rc->body, ncap);
			if (nb == NULL)
				return MHD_NO;
			rc->body = nb;
			rc->cap = ncap;
		}
		memcpy(rc->body + rc->len, upload_data, n);
		rc->len += n;
		rc->body[rc->len] = '\0';
		return MHD_YES;
	}
	if (rc->status != 0)
		return MHD_YES; /* already answered (413 during upload) */
	return dispatch(rc, conn);
}

/* The decoded path made safe for one log line: controls, spaces and non-ASCII bytes are
 * percent-encoded again, and it is cut at LOG_PATH_MAX characters. */
#define LOG_PATH_MAX 256
static void log_path(const char *path, char out[LOG_PATH_MAX + 4])
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	for (; *path != '\0' && n + 3 < LOG_PATH_MAX; path++) {
		unsigned char ch = (unsigned char)*path;

		if (ch <= 0x20 || ch >= 0x7f || ch == '"' || ch == '%') {
			out[n++] = '%';
			out[n++] = hex[ch >> 4];
			out[n++] = hex[ch & 15];
		} else {
			out[n++] = (char)ch;
		}
	}
	if (*path != '\0') {
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n] = '\0';
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct reqctx *rc = *con_cls;
	struct timespec now;
	char path[LOG_PATH_MAX + 4];
	double ms;

	(void)cls;
	(void)conn;
	if (rc == NULL)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (double)(now.tv_sec - rc->start.tv_sec) * 1e3 +
		(double)(now.tv_nsec - rc->start.tv_nsec) / 1e6;
	if (rc->srv->on_completed != NULL)
		rc->srv->on_completed(rc->srv->ctx, rc->route, rc->status,
				      ms / 1e3);
	if (rc->req.method != NULL) {
		log_path(rc->req.path, path);
		margo_log_info("request", "method=%s route=%s status=%u duration_ms=%.1f "
			       "client_id=%s client_addr=%s%s", rc->req.method, path,
			       rc->status, ms, rc->req.client_id[0] ? rc->req.client_id : "-",
			       rc->req.client_addr,
			       toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " aborted=1");
	}
	free(rc->req.problem.validation);
	json_decref(rc->req.problem.members);
	free(rc->target);
	free(rc->pathbuf);
	free(rc->body);
	free(rc);
	*con_cls = NULL;
}

/* ---- daemon ---- */

static struct MHD_Daemon *daemon_start(const struct http_config *cfg, struct http_server *srv,
				       unsigned flags)
{
	unsigned threads = cfg->threads > 0 ? cfg->threads : 1;

	return MHD_start_daemon(flags, 0, NULL, NULL, on_request, srv,
				MHD_OPTION_SOCK_ADDR, cfg->addr,
				MHD_OPTION_HTTPS_MEM_KEY, cfg->key_pem,
				MHD_OPTION_HTTPS_MEM_CERT, cfg->cert_pem,
				MHD_OPTION_HTTPS_PRIORITIES, TLS_PRIORITIES,
				MHD_OPTION_THREAD_POOL_SIZE, threads,
				MHD_OPTION_CONNECTION_TIMEOUT, cfg->connection_timeout,
				MHD_OPTION_CONNECTION_LIMIT, cfg->connection_limit,
				MHD_OPTION_PER_IP_CONNECTION_LIMIT, cfg->per_ip_limit,
				MHD_OPTION_URI_LOG_CALLBACK, on_uri, srv,
				MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
				MHD_OPTION_END);
}

int http_server_start(const struct http_config *cfg, struct http_server **out, uint16_t *port,
		      struct margo_error *err)
{
	struct http_server *srv = calloc(1, sizeof(*srv));
	const union MHD_DaemonInfo *di;
	unsigned flags = MHD_USE_TLS | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC;

	if (srv == NULL)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	srv->routes = cfg->routes;
	srv->nroutes = cfg->nroutes;
	srv->ctx = cfg->ctx;
	srv->on_handled = cfg->on_handled;
	srv->on_completed = cfg->on_completed;
	if (cfg->addr->sa_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	srv->daemon = daemon_start(cfg, srv, flags | MHD_USE_EPOLL);
	if (srv->daemon == NULL) {
		margo_log_warn("epoll start failed, using poll", NULL);
		srv->daemon = daemon_start(cfg, srv, flags | MHD_USE_POLL);
	}
	if (srv->daemon == NULL) {
		free(srv);
		return margo_error_set(err, MARGO_ENET,
				       "cannot listen (address in use, bad address or TLS setup)");
	}
	di = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
	*port = di != NULL ? di->port : 0;
	*out = srv;
	return 0;
}

void http_server_stop(struct http_server *srv)
{
	const union MHD_DaemonInfo *di;
	MHD_socket lsock;
	int waited = 0;

	if (srv == NULL)
		return;
	/* Stop accepting; give requests in flight a moment to finish. */
	srv->stopping = 1;
	lsock = MHD_quiesce_daemon(srv->daemon);
	while (waited < DRAIN_WAIT_MS) {
		di = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
		if (di == NULL || di->num_connections == 0)
			break;
		usleep(50 * 1000);
		waited += 50;
	}
	MHD_stop_daemon(srv->daemon);
	if (lsock != MHD_INVALID_SOCKET)
		close(lsock);
	free(srv);
}
