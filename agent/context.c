#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "agent.h"
#include "margo/log.h"

int agent_http_init(struct agent *a, struct margo_error *err)
{
	struct margo_http_options opts = {
		.ca_pem = a->ca_pem,
		.proxy = a->cfg->https_proxy,
	};

	agent_https_free(a->http);
	a->http = NULL;
	return agent_https_new(&opts, &a->http, err);
}

int agent_open(struct agent *a, const struct agent_config *cfg, struct margo_error *err)
{
	size_t len;
	int rc;

	memset(a, 0, sizeof(*a));
	a->cfg = cfg;
	a->state_dir = cfg->state_dir;
	a->retry_after = -1;
	a->lock_fd = -1;
	rc = agent_state_load(a->state_dir, &a->st, err);
	if (rc == MARGO_ENOTFOUND)
		return margo_error_set(err, rc, "not onboarded (no state in %s); run 'margo-agent onboard' first",
				       a->state_dir);
	if (rc != 0)
		return rc;
	agent_state_free(&a->st);
	rc = agent_state_lock(a->state_dir, &a->lock_fd, err);
	if (rc != 0)
		return rc;
	/* reload under the lock, after removing what killed writers left */
	agent_state_cleanup(a->state_dir);
	rc = agent_state_load(a->state_dir, &a->st, err);
	if (rc != 0)
		goto out;
	if (a->st.client_id == NULL) {
		rc = margo_error_set(err, MARGO_ENOTFOUND,
				     "not onboarded yet (state in %s has no client id); run 'margo-agent onboard'",
				     a->state_dir);
		goto out;
	}
	if (a->st.url == NULL) {
		rc = margo_error_set(err, MARGO_EINVAL, "state in %s has no WFM url", a->state_dir);
		goto out;
	}
	rc = agent_state_read_file(a->state_dir, AGENT_CA_FILE, &a->ca_pem, &len, err);
	if (rc != 0)
		goto out;
	rc = agent_http_init(a, err);
out:
	if (rc != 0)
		agent_close(a);
	return rc;
}

int agent_save(struct agent *a, struct margo_error *err)
{
	return agent_state_save(a->state_dir, &a->st, err);
}

void agent_close(struct agent *a)
{
	if (a == NULL)
		return;
	agent_https_free(a->http);
	free(a->ca_pem);
	agent_state_free(&a->st);
	if (a->lock_fd >= 0)
		close(a->lock_fd);
	a->lock_fd = -1;
	a->http = NULL;
	a->ca_pem = NULL;
}

char *agent_url(const struct agent *a, const char *path)
{
	const char *base = a->st.url != NULL ? a->st.url : a->cfg->url;
	char *u = NULL;

	if (base == NULL || asprintf(&u, "%s%s", base, path) < 0)
		return NULL;
	return u;
}
