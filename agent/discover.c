/* DNS-SD records to WFM descriptions (see discover.h), and printing them. Every string comes
 * from unauthenticated network input: each is checked for shape before it is used in a URL,
 * and names are printed with control characters replaced. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>

#include <jansson.h>

#include "discover.h"

#define PIN_PREFIX "sha256:"

int agent_dns_records_add(struct agent_dns_records *recs, const struct margo_dns_msg *msg)
{
	for (size_t i = 0; i < msg->nrr; i++) {
		if (recs->n == recs->cap) {
			size_t cap = recs->cap > 0 ? recs->cap * 2 : 32;
			struct margo_dns_rr *rr;

			if (cap > 4096)
				return MARGO_OK; /* enough: the rest is noise or an attack */
			rr = realloc(recs->rr, cap * sizeof(*rr));
			if (rr == NULL)
				return MARGO_ENOMEM;
			recs->rr = rr;
			recs->cap = cap;
		}
		recs->rr[recs->n++] = msg->rr[i];
	}
	return MARGO_OK;
}

void agent_dns_records_free(struct agent_dns_records *recs)
{
	free(recs->rr);
	memset(recs, 0, sizeof(*recs));
}

static const struct margo_dns_rr *find(const struct agent_dns_records *recs, const char *name,
				       uint16_t type)
{
	for (size_t i = 0; i < recs->n; i++)
		if (recs->rr[i].type == type && margo_dns_name_equal(recs->rr[i].name, name))
			return &recs->rr[i];
	return NULL;
}

static int only_chars(const char *s, const char *allowed)
{
	return *s != '\0' && strspn(s, allowed) == strlen(s);
}

#define HOST_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-"
#define PATH_CHARS HOST_CHARS "/_~"

static int local_name(const char *name)
{
	size_t n = strlen(name);

	return (n >= 6 && strcasecmp(name + n - 6, ".local") == 0) || strcasecmp(name, "local") == 0;
}

/* The host part of the URL, bracketed when IPv6. 0 or -1 when there is none. */
static int url_host(const struct agent_dns_records *recs, const struct margo_dns_rr *srv,
		    const struct margo_dns_rr *txt, char *out, size_t cap)
{
	const struct margo_dns_rr *a;
	char v[256], ip[INET6_ADDRSTRLEN];
	struct in6_addr in6;

	if (txt != NULL && margo_dns_txt_get(txt, "host", v, sizeof(v))) {
		if (only_chars(v, HOST_CHARS))
			return snprintf(out, cap, "%s", v) < (int)cap ? 0 : -1;
		if (inet_pton(AF_INET6, v, &in6) == 1 &&
		    inet_ntop(AF_INET6, &in6, ip, sizeof(ip)) != NULL)
			return snprintf(out, cap, "[%s]", ip) < (int)cap ? 0 : -1;
	}
	/* a unicast DNS name resolves where the agent connects from (and is what the server
	 * certificate names); a .local name needs multicast DNS, so its address is used */
	if (!local_name(srv->target) && only_chars(srv->target, HOST_CHARS))
		return snprintf(out, cap, "%s", srv->target) < (int)cap ? 0 : -1;
	if ((a = find(recs, srv->target, MARGO_DNS_A)) != NULL &&
	    inet_ntop(AF_INET, a->addr, ip, sizeof(ip)) != NULL)
		return snprintf(out, cap, "%s", ip) < (int)cap ? 0 : -1;
	if ((a = find(recs, srv->target, MARGO_DNS_AAAA)) != NULL &&
	    inet_ntop(AF_INET6, a->addr, ip, sizeof(ip)) != NULL)
		return snprintf(out, cap, "[%s]", ip) < (int)cap ? 0 : -1;
	if (only_chars(srv->target, HOST_CHARS))
		return snprintf(out, cap, "%s", srv->target) < (int)cap ? 0 : -1;
	return -1;
}

static void printable(char *s)
{
	for (unsigned char *p = (unsigned char *)s; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			*p = '?';
}

/* One WFM from its instance name; 0 when complete enough to use. */
static int describe(const struct agent_dns_records *recs, const char *instance,
		    struct agent_wfm *w)
{
	const struct margo_dns_rr *srv = find(recs, instance, MARGO_DNS_SRV);
	const struct margo_dns_rr *txt = find(recs, instance, MARGO_DNS_TXT);
	char host[300], path[256] = "";

	memset(w, 0, sizeof(*w));
	if (srv == NULL || srv->port == 0 || url_host(recs, srv, txt, host, sizeof(host)) != 0 ||
	    margo_dns_first_label(instance, w->name, sizeof(w->name)) != 0)
		return -1;
	printable(w->name);
	if (txt != NULL && margo_dns_txt_get(txt, "path", path, sizeof(path)) &&
	    (path[0] != '/' || !only_chars(path, PATH_CHARS) || strstr(path, "..") != NULL))
		return -1;
	if (strcmp(path, "/") == 0)
		path[0] = '\0';
	else if (path[0] != '\0' && path[strlen(path) - 1] == '/')
		path[strlen(path) - 1] = '\0';
	if (txt != NULL && margo_dns_txt_get(txt, "pin", w->pin, sizeof(w->pin)) &&
	    (strncmp(w->pin, PIN_PREFIX, strlen(PIN_PREFIX)) != 0 ||
	     strlen(w->pin) != strlen(PIN_PREFIX) + 64 ||
	     !only_chars(w->pin + strlen(PIN_PREFIX), "0123456789abcdefABCDEF")))
		w->pin[0] = '\0';
	if (txt != NULL && margo_dns_txt_get(txt, "api", w->api, sizeof(w->api)))
		printable(w->api);
	snprintf(w->url, sizeof(w->url), "https://%s:%u%s", host, srv->port, path);
	return 0;
}

static void service_name(const char *domain, char *out, size_t cap)
{
	snprintf(out, cap, "%s.%s", AGENT_DISCOVER_SERVICE,
		 domain != NULL && domain[0] != '\0' ? domain : "local");
	if (out[strlen(out) - 1] == '.')
		out[strlen(out) - 1] = '\0';
}

static int seen(const struct agent_dns_records *recs, size_t upto, const char *service,
		const char *instance)
{
	for (size_t j = 0; j < upto; j++)
		if (recs->rr[j].type == MARGO_DNS_PTR &&
		    margo_dns_name_equal(recs->rr[j].name, service) &&
		    margo_dns_name_equal(recs->rr[j].target, instance))
			return 1;
	return 0;
}

size_t agent_discover_assemble(const struct agent_dns_records *recs, const char *domain,
			       struct agent_wfm *out, size_t max)
{
	char service[MARGO_DNS_NAME_MAX];
	size_t n = 0;

	service_name(domain, service, sizeof(service));
	for (size_t i = 0; i < recs->n && n < max; i++) {
		const struct margo_dns_rr *ptr = &recs->rr[i];

		if (ptr->type != MARGO_DNS_PTR || !margo_dns_name_equal(ptr->name, service) ||
		    seen(recs, i, service, ptr->target))
			continue;
		if (describe(recs, ptr->target, &out[n]) == 0)
			n++;
	}
	return n;
}

static size_t ask(struct agent_dns_question *q, size_t n, size_t max, const char *name,
		  uint16_t type)
{
	for (size_t i = 0; i < n; i++)
		if (q[i].type == type && margo_dns_name_equal(q[i].name, name))
			return n;
	if (n < max) {
		snprintf(q[n].name, sizeof(q[n].name), "%s", name);
		q[n].type = type;
		n++;
	}
	return n;
}

size_t agent_discover_missing(const struct agent_dns_records *recs, const char *domain,
			      struct agent_dns_question *q, size_t max)
{
	char service[MARGO_DNS_NAME_MAX], v[256];
	const struct margo_dns_rr *srv, *txt;
	size_t n = 0;

	service_name(domain, service, sizeof(service));
	for (size_t i = 0; i < recs->n; i++) {
		const struct margo_dns_rr *ptr = &recs->rr[i];

		if (ptr->type != MARGO_DNS_PTR || !margo_dns_name_equal(ptr->name, service))
			continue;
		srv = find(recs, ptr->target, MARGO_DNS_SRV);
		txt = find(recs, ptr->target, MARGO_DNS_TXT);
		if (srv == NULL)
			n = ask(q, n, max, ptr->target, MARGO_DNS_SRV);
		if (txt == NULL)
			n = ask(q, n, max, ptr->target, MARGO_DNS_TXT);
		if (srv != NULL && !(txt != NULL && margo_dns_txt_get(txt, "host", v, sizeof(v))) &&
		    find(recs, srv->target, MARGO_DNS_A) == NULL &&
		    find(recs, srv->target, MARGO_DNS_AAAA) == NULL)
			n = ask(q, n, max, srv->target, MARGO_DNS_A);
	}
	return n;
}

void agent_discover_print(const struct agent_wfm *list, size_t n, int json)
{
	if (json) {
		json_t *arr = json_array();
		char *text;

		for (size_t i = 0; arr != NULL && i < n; i++)
			json_array_append_new(arr, json_pack("{s:s,s:s,s:s*,s:s*}", "name",
							     list[i].name, "url", list[i].url, "pin",
							     list[i].pin[0] ? list[i].pin : NULL, "api",
							     list[i].api[0] ? list[i].api : NULL));
		text = arr != NULL ? json_dumps(arr, JSON_INDENT(2)) : NULL;
		if (text != NULL)
			printf("%s\n", text);
		free(text);
		json_decref(arr);
		return;
	}
	printf("%-24s %-36s %s\n", "NAME", "URL", "PIN (hint: unauthenticated)");
	for (size_t i = 0; i < n; i++)
		printf("%-24s %-36s %s\n", list[i].name, list[i].url,
		       list[i].pin[0] ? list[i].pin : "-");
}
