/* DNS-SD advertisement through avahi (advertise.h). The avahi client runs in avahi's own
 * thread (AvahiThreadedPoll); every callback below runs there. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <avahi-client/client.h>
#include <avahi-client/publish.h>
#include <avahi-common/alternative.h>
#include <avahi-common/error.h>
#include <avahi-common/malloc.h>
#include <avahi-common/thread-watch.h>
#include <avahi-common/timeval.h>

#include "margo/log.h"
#include "advertise.h"
#include "public_url.h"

#define TXT_MAX 300
#define RECONNECT_MS 2000

struct advertise {
	AvahiThreadedPoll *poll;
	AvahiClient *client;
	AvahiEntryGroup *group;
	char *name;                 /* current instance name (avahi_malloc'ed after collisions) */
	uint16_t port;
	char txt_path[TXT_MAX], txt_pin[TXT_MAX], txt_host[TXT_MAX];
	int warned;                 /* the "no avahi-daemon" warning was given */
};

static void client_callback(AvahiClient *c, AvahiClientState state, void *userdata);

/* Adds the service to a fresh or reset entry group and commits it. */
static void register_service(struct advertise *a, AvahiClient *c)
{
	int rc;

	if (a->group == NULL) {
		a->group = avahi_entry_group_new(c, NULL, a);
		if (a->group == NULL) {
			margo_log_warn("advertise: cannot create an avahi entry group", "error=\"%s\"",
				       avahi_strerror(avahi_client_errno(c)));
			return;
		}
	}
	for (;;) {
		rc = avahi_entry_group_add_service(a->group, AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC, 0,
						   a->name, ADVERTISE_SERVICE, NULL, NULL, a->port,
						   "txtvers=1", "api=v1alpha1", a->txt_path,
						   a->txt_pin, a->txt_host, NULL);
		if (rc != AVAHI_ERR_COLLISION)
			break;
		/* another service has this name on the link: take "NAME #2" and so on */
		char *alt = avahi_alternative_service_name(a->name);

		avahi_free(a->name);
		a->name = alt;
		if (a->name == NULL)
			return;
	}
	if (rc == 0)
		rc = avahi_entry_group_commit(a->group);
	if (rc < 0)
		margo_log_warn("advertise: cannot register the service", "error=\"%s\"",
			       avahi_strerror(rc));
	else
		margo_log_info("advertising", "service=%s name=\"%s\" port=%u", ADVERTISE_SERVICE,
			       a->name, (unsigned)a->port);
}

static void reconnect(AvahiTimeout *t, void *userdata)
{
	struct advertise *a = userdata;
	const AvahiPoll *api = avahi_threaded_poll_get(a->poll);
	int error;

	api->timeout_free(t);
	a->client = avahi_client_new(api, AVAHI_CLIENT_NO_FAIL, client_callback, a, &error);
	if (a->client == NULL) {
		struct timeval tv;

		margo_log_warn("advertise: avahi client failed; retrying", "error=\"%s\"",
			       avahi_strerror(error));
		api->timeout_new(api, avahi_elapse_time(&tv, RECONNECT_MS, 0), reconnect, a);
	}
}

static void client_callback(AvahiClient *c, AvahiClientState state, void *userdata)
{
	struct advertise *a = userdata;

	switch (state) {
	case AVAHI_CLIENT_S_RUNNING:
		a->warned = 0;
		register_service(a, c);
		break;
	case AVAHI_CLIENT_S_COLLISION:
	case AVAHI_CLIENT_S_REGISTERING:
		/* the host name changed or collided: register again once running */
		if (a->group != NULL)
			avahi_entry_group_reset(a->group);
		break;
	case AVAHI_CLIENT_CONNECTING:
		if (!a->warned)
			margo_log_warn("advertise: avahi-daemon is not running; serving without "
				       "DNS-SD until it starts", NULL);
		a->warned = 1;
		/* the daemon's groups died with it */
		if (a->group != NULL)
			avahi_entry_group_free(a->group);
		a->group = NULL;
		break;
	case AVAHI_CLIENT_FAILURE: {
		/* the D-Bus connection itself is gone: start over with a new client */
		const AvahiPoll *api = avahi_threaded_poll_get(a->poll);
		struct timeval tv;

		margo_log_warn("advertise: lost avahi; reconnecting", "error=\"%s\"",
			       avahi_strerror(avahi_client_errno(c)));
		a->group = NULL;
		avahi_client_free(c);
		a->client = NULL;
		api->timeout_new(api, avahi_elapse_time(&tv, RECONNECT_MS, 0), reconnect, a);
		break;
	}
	}
}

int advertise_start(const char *public_url, const char *ca_pin, const char *name,
		    struct advertise **out, struct margo_error *err)
{
	struct advertise *a = calloc(1, sizeof(*a));
	char host[256], path[256], hostname[128], def[200];
	int error, rc = MARGO_OK;

	*out = NULL;
	if (a == NULL)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	if (public_url_split(public_url, host, sizeof(host), &a->port, path, sizeof(path)) != 0) {
		rc = margo_error_set(err, MARGO_EINVAL, "cannot advertise the public URL %s",
				     public_url);
		goto out;
	}
	snprintf(a->txt_path, sizeof(a->txt_path), "path=%s", path);
	snprintf(a->txt_pin, sizeof(a->txt_pin), "pin=%s", ca_pin);
	snprintf(a->txt_host, sizeof(a->txt_host), "host=%s", host);
	if (name == NULL) {
		if (gethostname(hostname, sizeof(hostname)) != 0)
			snprintf(hostname, sizeof(hostname), "unknown");
		hostname[sizeof(hostname) - 1] = '\0';
		snprintf(def, sizeof(def), "margo-fleet WFM on %s", hostname);
		name = def;
	}
	if (strlen(name) == 0 || strlen(name) > 63) {
		rc = margo_error_set(err, MARGO_EINVAL, "the service name must have 1 to 63 bytes");
		goto out;
	}
	a->name = avahi_strdup(name);
	a->poll = avahi_threaded_poll_new();
	if (a->name == NULL || a->poll == NULL) {
		rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
		goto out;
	}
	/* NO_FAIL: without avahi-daemon the client waits for it instead of failing */
	a->client = avahi_client_new(avahi_threaded_poll_get(a->poll), AVAHI_CLIENT_NO_FAIL,
				     client_callback, a, &error);
	if (a->client == NULL) {
		rc = margo_error_set(err, MARGO_EIO, "avahi client: %s (is D-Bus running?)",
				     avahi_strerror(error));
		goto out;
	}
	if (avahi_threaded_poll_start(a->poll) < 0) {
		rc = margo_error_set(err, MARGO_EIO, "cannot start the avahi thread");
		goto out;
	}
	*out = a;
	a = NULL;
out:
	if (a != NULL) {
		if (a->client != NULL)
			avahi_client_free(a->client);
		if (a->poll != NULL)
			avahi_threaded_poll_free(a->poll);
		avahi_free(a->name);
		free(a);
	}
	return rc;
}

void advertise_stop(struct advertise *a)
{
	if (a == NULL)
		return;
	avahi_threaded_poll_stop(a->poll);
	/* freeing the client withdraws its groups (avahi sends the goodbye packets) */
	if (a->client != NULL)
		avahi_client_free(a->client);
	avahi_threaded_poll_free(a->poll);
	avahi_free(a->name);
	free(a);
}
