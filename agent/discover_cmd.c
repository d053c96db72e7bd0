/* `discover` and `onboard --discover` (discover_cmd.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent.h"
#include "discover_cmd.h"

static const char *where(const struct agent_discover_options *o)
{
	return o->domain != NULL && strcmp(o->domain, "local") != 0 ? o->domain :
	       "the local link (multicast DNS)";
}

int agent_discover_command(const struct agent_discover_options *o, int json,
			   struct margo_error *err)
{
	struct agent_wfm *list = NULL;
	size_t n = 0;
	int code = AGENT_EXIT_FAILURE;

	if (agent_discover(o, &list, &n, err) != 0)
		goto out;
	if (n == 0 && !json) {
		margo_error_set(err, MARGO_ENOTFOUND, "no WFM (%s) answered on %s within %d ms",
				AGENT_DISCOVER_SERVICE, where(o), o->timeout_ms);
		goto out;
	}
	agent_discover_print(list, n, json);
	code = n > 0 ? AGENT_EXIT_OK : AGENT_EXIT_FAILURE;
out:
	free(list);
	return code;
}

static void list_to_stderr(const struct agent_wfm *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "  %-24s %s  pin %s\n", list[i].name, list[i].url,
			list[i].pin[0] ? list[i].pin : "(none announced)");
}

/* The one WFM to use, or an exit code with err set. */
static int pick(const struct agent_wfm *list, size_t n, const struct agent_discover_options *o,
		const char *name, const struct agent_wfm **out, struct margo_error *err)
{
	const struct agent_wfm *hit = NULL;
	size_t hits = 0;

	for (size_t i = 0; i < n; i++)
		if (name == NULL || strcmp(list[i].name, name) == 0) {
			hit = &list[i];
			hits++;
		}
	if (n == 0) {
		margo_error_set(err, MARGO_ENOTFOUND, "no WFM (%s) answered on %s within %d ms",
				AGENT_DISCOVER_SERVICE, where(o), o->timeout_ms);
		return AGENT_EXIT_FAILURE;
	}
	if (hits == 1) {
		*out = hit;
		return AGENT_EXIT_OK;
	}
	fprintf(stderr, "WFMs found on %s:\n", where(o));
	list_to_stderr(list, n);
	if (hits == 0) {
		margo_error_set(err, MARGO_ENOTFOUND, "no WFM named '%s' answered", name);
		return AGENT_EXIT_FAILURE;
	}
	margo_error_set(err, MARGO_ECONFLICT,
			"%zu WFMs answered; choose one with --discover-name NAME", hits);
	return AGENT_EXIT_USAGE;
}

int agent_discover_choose(struct agent_config *cfg, const struct agent_discover_options *o,
			  const struct agent_discover_choice *c, struct margo_error *err)
{
	const struct agent_wfm *w = NULL;
	struct agent_wfm *list = NULL;
	size_t n = 0;
	int code = AGENT_EXIT_FAILURE;

	if (agent_discover(o, &list, &n, err) != 0)
		goto out;
	code = pick(list, n, o, c->name, &w, err);
	if (code != AGENT_EXIT_OK)
		goto out;
	fprintf(stderr, "discovered WFM '%s' at %s, announced CA pin %s\n", w->name, w->url,
		w->pin[0] ? w->pin : "(none)");
	if (cfg->ca_fingerprint != NULL && w->pin[0] != '\0' &&
	    strcasecmp(cfg->ca_fingerprint, w->pin) != 0) {
		code = AGENT_EXIT_TRUST;
		margo_error_set(err, MARGO_EAUTH,
				"WFM '%s' announces CA pin %s, not the pin %s you gave: a spoofed announcement or another WFM; refusing it",
				w->name, w->pin, cfg->ca_fingerprint);
		goto out;
	}
	if (cfg->ca_fingerprint == NULL && !c->have_token && !c->tofu) {
		code = AGENT_EXIT_USAGE;
		margo_error_set(err, MARGO_EINVAL,
				"multicast and unicast DNS are unauthenticated: anyone on the network can announce a WFM. Check the announced pin with the WFM's operator ('wfmd fingerprint') and give --ca-fingerprint %s, or accept it with --trust-on-first-use, or onboard with --enrollment-token-file (the token authenticates the WFM's CA)",
				w->pin[0] ? w->pin : "sha256:...");
		goto out;
	}
	code = AGENT_EXIT_USAGE;
	if (agent_config_set(cfg, "url", w->url, err) != 0)
		goto out;
	/* shown above and explicitly accepted: the announced pin is now checked like a given one */
	if (cfg->ca_fingerprint == NULL && c->tofu && w->pin[0] != '\0' &&
	    agent_config_set(cfg, "ca_fingerprint", w->pin, err) != 0)
		goto out;
	code = AGENT_EXIT_OK;
out:
	free(list);
	return code;
}
