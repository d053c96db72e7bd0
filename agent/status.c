#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "agent.h"
#include "deploy.h"
#include "margo/timeutil.h"
#include "schedule.h"
#include "status.h"

static const char *state_name(const struct agent_state *st, int found)
{
	if (st->client_id != NULL)
		return "onboarded";
	if (st->pending_request_id != NULL)
		return "pending approval";
	return found ? "trusted, not onboarded" : "not onboarded";
}

static void put_time(json_t *o, const char *name, int64_t t)
{
	char buf[MARGO_TIME_LEN];

	if (t == 0) {
		json_object_set_new(o, name, json_null());
		return;
	}
	margo_time_format(t, buf);
	json_object_set_new(o, name, json_string(buf));
}

static void put_str(json_t *o, const char *name, const char *s)
{
	json_object_set_new(o, name, s != NULL ? json_string(s) : json_null());
}

int agent_status(const struct agent_config *cfg, int as_json, struct margo_error *err)
{
	struct agent_state st;
	struct margo_error e;
	json_t *o = NULL;
	char *text = NULL;
	const char *keys[] = {
		"state", "stateDir", "url", "caFingerprint", "clientId", "pendingRequestId",
		"accessTokenExpiresAt", "lastContact", "lastCapabilitiesReport", "nextPoll",
		"failures", "lastError", "inDowntime", "gitAccessTokenExpiresAt", "desiredRevision",
		"appliedRevision",
	};
	json_t *deps = NULL, *rec, *list;
	const char *dep_id;
	int found = 1, code, rc;
	size_t i;

	rc = agent_state_load(cfg->state_dir, &st, &e);
	if (rc == MARGO_ENOTFOUND)
		found = 0;
	else if (rc != 0)
		return margo_error_set(err, rc, "%s", e.message), AGENT_EXIT_FAILURE;
	code = st.client_id != NULL ? AGENT_EXIT_OK : AGENT_EXIT_NOT_ONBOARDED;
	o = json_object();
	if (o == NULL) {
		margo_error_set(err, MARGO_ENOMEM, "out of memory");
		code = AGENT_EXIT_FAILURE;
		goto out;
	}
	put_str(o, "state", state_name(&st, found));
	put_str(o, "stateDir", cfg->state_dir);
	put_str(o, "url", st.url);
	put_str(o, "caFingerprint", st.ca_fingerprint);
	put_str(o, "clientId", st.client_id);
	put_str(o, "pendingRequestId", st.pending_request_id);
	put_time(o, "accessTokenExpiresAt", st.access_token != NULL ? st.access_token_expires_at : 0);
	put_time(o, "lastContact", st.last_contact);
	put_time(o, "lastCapabilitiesReport", st.last_capabilities_report);
	put_time(o, "nextPoll", st.next_poll);
	json_object_set_new(o, "failures", json_integer(st.failures));
	put_str(o, "lastError", st.last_error);
	json_object_set_new(o, "inDowntime",
			    json_boolean(agent_schedule_in_downtime(cfg, time(NULL))));
	put_time(o, "gitAccessTokenExpiresAt",
		 st.git_access_token != NULL ? st.git_access_token_expires_at : 0);
	put_str(o, "desiredRevision", st.desired_revision);
	list = json_array();
	if (found && agent_deploy_load(cfg->state_dir, &deps, &e) == 0) {
		put_str(o, "appliedRevision", json_string_value(json_object_get(deps, "revision")));
		json_object_foreach(json_object_get(deps, "deployments"), dep_id, rec)
			json_array_append_new(list, json_pack("{s:s, s:O?, s:O?}", "deploymentId", dep_id,
							      "state", json_object_get(rec, "state"),
							      "error", json_object_get(rec, "error")));
	} else {
		put_str(o, "appliedRevision", NULL);
	}
	json_object_set_new(o, "deployments", list);
	if (as_json) {
		text = json_dumps(o, JSON_INDENT(2));
		if (text != NULL)
			printf("%s\n", text);
	} else {
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			json_t *v = json_object_get(o, keys[i]);

			if (json_is_string(v))
				printf("%-24s %s\n", keys[i], json_string_value(v));
			else if (json_is_integer(v))
				printf("%-24s %lld\n", keys[i], (long long)json_integer_value(v));
			else if (json_is_boolean(v))
				printf("%-24s %s\n", keys[i], json_is_true(v) ? "yes" : "no");
			else
				printf("%-24s -\n", keys[i]);
		}
		json_array_foreach(list, i, rec) {
			json_t *err_msg = json_object_get(rec, "error");

			printf("deployment %-13s %s%s%s\n",
			       json_string_value(json_object_get(rec, "deploymentId")),
			       json_is_string(json_object_get(rec, "state"))
				       ? json_string_value(json_object_get(rec, "state")) : "-",
			       json_is_string(err_msg) ? ": " : "",
			       json_is_string(err_msg) ? json_string_value(err_msg) : "");
		}
	}
	if (code == AGENT_EXIT_NOT_ONBOARDED)
		margo_error_set(err, MARGO_ENOTFOUND, "not onboarded");
out:
	free(text);
	json_decref(deps);
	json_decref(o);
	agent_state_free(&st);
	return code;
}
