/* Route handlers, one file per API area (API.md sections 1-4 and 6), and the route table. */
#ifndef WFMD_API_H
#define WFMD_API_H

#include <jansson.h>

#include "http.h"
#include "margo/token.h"
#include "store.h"

/* api_certificate.c */
int api_certificate_get(struct http_request *req, struct http_response *resp);

/* api_onboarding.c */
int api_onboarding_post(struct http_request *req, struct http_response *resp);
int api_onboarding_poll(struct http_request *req, struct http_response *resp);

/* api_oauth.c */
int api_oauth_token(struct http_request *req, struct http_response *resp);

/* api_device.c */
int api_device_capabilities_put(struct http_request *req, struct http_response *resp);
int api_device_capabilities_get(struct http_request *req, struct http_response *resp);
int api_device_deployment_status(struct http_request *req, struct http_response *resp);

/* api_admin.c */
int api_admin_enrollment_create(struct http_request *req, struct http_response *resp);
int api_admin_enrollment_list(struct http_request *req, struct http_response *resp);
int api_admin_enrollment_revoke(struct http_request *req, struct http_response *resp);
int api_admin_certificate_add(struct http_request *req, struct http_response *resp);
int api_admin_certificate_list(struct http_request *req, struct http_response *resp);
int api_admin_certificate_remove(struct http_request *req, struct http_response *resp);
int api_admin_device_list(struct http_request *req, struct http_response *resp);
int api_admin_device_show(struct http_request *req, struct http_response *resp);
int api_admin_device_approve(struct http_request *req, struct http_response *resp);
int api_admin_device_reject(struct http_request *req, struct http_response *resp);
int api_admin_device_revoke(struct http_request *req, struct http_response *resp);

/* api_git.c: Git smart HTTP (read-only), git credentials, desired state. */
int api_git_info_refs(struct http_request *req, struct http_response *resp);
int api_git_upload_pack(struct http_request *req, struct http_response *resp);
int api_git_receive_pack(struct http_request *req, struct http_response *resp);
int api_device_git_credentials(struct http_request *req, struct http_response *resp);
int api_device_desired_state(struct http_request *req, struct http_response *resp);

/* api_repo.c: a device's repository and git credentials (onboarding and api_git.c use it).
 * Makes sure the device's repository exists; rev (may be NULL) gets main's commit id. */
int api_repo_ensure(struct http_request *req, const char *device_id,
		    char rev[STORE_REVISION_LEN]);
/* Issues a git token for device_id (hash stored by the caller's store call): the token text
 * into *token (margo_secret_free) and its expiry. */
int api_git_token_new(struct http_request *req, char **token,
		      char hash[MARGO_TOKEN_HASH_LEN], int64_t *expires_at);
/* Adds gitRepositoryUrl, gitBranch, gitUsername, gitAccessToken, gitAccessTokenExpiresAt
 * (and gitCredentialsUrl when with_credentials_url) to obj. */
int api_git_fields(struct http_request *req, json_t *obj, const char *device_id,
		   const char *token, int64_t expires_at, int with_credentials_url);

/* api_deployments.c: admin deployments (API.md section 6). */
int api_admin_deployment_put(struct http_request *req, struct http_response *resp);
int api_admin_deployment_delete(struct http_request *req, struct http_response *resp);
int api_admin_deployment_list(struct http_request *req, struct http_response *resp);
/* The device's deployments as JSON items: the desired ones with their latest status, then
 * (include_reported) those the device reported that are not desired (any more), with name
 * null. NULL on failure (problem set). */
json_t *api_deployments_json(struct http_request *req, const char *device_id,
			     int include_reported);

/* api_labels.c: device labels (admin). */
struct store_fleet_device;
struct fleet_labels;
int api_admin_labels_get(struct http_request *req, struct http_response *resp);
int api_admin_labels_patch(struct http_request *req, struct http_response *resp);
/* GET /admin/v1/devices with ?selector=: the matching devices with their labels, a page of
 * `limit` (default 100) after the device id `after`, and "next" (the id to pass as after)
 * when more match. */
int api_admin_device_select(struct http_request *req, struct http_response *resp);
/* {"deviceId", "labels": {...}, "derivedLabels": {...}} of d; NULL when out of memory. */
json_t *api_labels_json(const struct store_fleet_device *d, const struct fleet_labels *l);

/* api_rollouts.c: rollouts (admin). */
int api_admin_rollout_create(struct http_request *req, struct http_response *resp);
int api_admin_rollout_list(struct http_request *req, struct http_response *resp);
int api_admin_rollout_show(struct http_request *req, struct http_response *resp);
int api_admin_rollout_pause(struct http_request *req, struct http_response *resp);
int api_admin_rollout_resume(struct http_request *req, struct http_response *resp);
int api_admin_rollout_abort(struct http_request *req, struct http_response *resp);

/* api_operators.c: named operator accounts (admin). */
int api_admin_operator_add(struct http_request *req, struct http_response *resp);
int api_admin_operator_list(struct http_request *req, struct http_response *resp);
int api_admin_operator_revoke(struct http_request *req, struct http_response *resp);

/* api_audit.c: the audit log (admin). */
int api_admin_audit_list(struct http_request *req, struct http_response *resp);

/* api_health.c: metrics and health. */
int api_metrics_get(struct http_request *req, struct http_response *resp);
int api_healthz(struct http_request *req, struct http_response *resp);
int api_readyz(struct http_request *req, struct http_response *resp);

/* api_ui.c: the web console's static files. */
int api_ui_index(struct http_request *req, struct http_response *resp);
int api_ui_asset(struct http_request *req, struct http_response *resp);
int api_ui_redirect(struct http_request *req, struct http_response *resp);
/* Adds the console's Content-Security-Policy, nosniff, frame and referrer headers. */
int api_ui_security_headers(struct http_response *resp);

/* api_session.c: console login (POST), who am I (GET), logout (DELETE). */
int api_session_login(struct http_request *req, struct http_response *resp);
int api_session_get(struct http_request *req, struct http_response *resp);
int api_session_logout(struct http_request *req, struct http_response *resp);

/* api_status_history.c: GET /admin/v1/devices/{id}/deployments/{deploymentId}/history. */
int api_admin_deployment_history(struct http_request *req, struct http_response *resp);

/* api_summary.c: GET /admin/v1/summary. */
int api_admin_summary(struct http_request *req, struct http_response *resp);

/* routes.c: every route wfmd serves. */
extern const struct http_route api_routes[];
extern const size_t api_nroutes;

/* Shared helpers (api_common.c). */

/* Parses the JSON request body into a new object (caller json_decref()s): 415 unless
 * Content-Type is application/json, 400 when empty, malformed or not an object. */
int api_json_body(struct http_request *req, json_t **out);
/* The same for a body of media type mime or alt_mime (NULL: none). */
int api_json_body_as(struct http_request *req, const char *mime, const char *alt_mime,
		     json_t **out);
/* RFC 3339 string of t, or JSON null when t < 0. */
json_t *api_time_json(int64_t t);
/* Sets obj[key] = value (reference stolen); -1 (and a 500 problem) on failure. */
int api_set(struct http_request *req, json_t *obj, const char *key, json_t *value);

#endif
