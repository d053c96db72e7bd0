/* wfmctl deploy, undeploy, device deployments: /admin/v1/devices/{id}/deployments */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "margo/appdeploy.h"
#include "margo/error.h"
#include "margo/httpc.h"
#include "margo/token.h"
#include "margo/validate.h"
#include "wfmctl.h"

#define DEVICES_PATH "/admin/v1/devices"
#define REVISION_SHORT 12
#define ERROR_CELL_MAX 60

static const char deploy_help[] =
	"Usage: wfmctl deploy DEVICE FILE.yaml [--deployment-id ID]\n"
	"\n"
	"Deploys a Margo ApplicationDeployment (YAML, apiVersion application.margo.org/v1alpha1)\n"
	"to a device: wfmd commits it to the device's desired-state repository as\n"
	"deployments/<ID>.yaml, and the device's agent applies it on its next poll. Deploying\n"
	"again with the same ID replaces the deployment (an update on the device).\n"
	"\n"
	"The file is checked here first; each problem is printed as 'FILE: FIELD: message' (FIELD\n"
	"a JSON pointer such as /spec/deploymentProfile/components/0/name) and nothing is sent.\n"
	"FILE may be '-' for standard input.\n"
	"\n"
	"The deployment ID is, in this order: --deployment-id, the file's\n"
	"metadata.annotations.id, or a new random UUID. wfmd writes it into\n"
	"metadata.annotations.id. IDs are 1-128 characters of A-Z a-z 0-9 . _ - (not starting\n"
	"with '.'). Prints: deployed <ID> to <DEVICE> (revision <commit>).\n"
	"\n"
	"Options:\n"
	"  --deployment-id ID   the deployment to create or replace\n"
	"\n"
	"Examples:\n"
	"  wfmctl --data-dir /var/lib/wfmd deploy 6f1c0e9e-2c1b-4a8e-9d3f-0b7c1d2e3f40 \\\n"
	"         docs/examples/deployment-helm.yaml\n"
	"  wfmctl --data-dir /var/lib/wfmd deploy 6f1c0e9e-2c1b-4a8e-9d3f-0b7c1d2e3f40 \\\n"
	"         gateway.yaml --deployment-id edge-gateway\n"
	"  wfmctl --data-dir /var/lib/wfmd device deployments 6f1c0e9e-2c1b-4a8e-9d3f-0b7c1d2e3f40\n";

static const char undeploy_help[] =
	"Usage: wfmctl undeploy DEVICE DEPLOYMENT\n"
	"\n"
	"Removes a deployment from a device's desired state: wfmd commits the removal of\n"
	"deployments/<DEPLOYMENT>.yaml and the agent removes the application on its next poll\n"
	"(its state goes Removing, then Removed). 'device deployments DEVICE' lists the IDs.\n"
	"\n"
	"Example:\n"
	"  wfmctl --data-dir /var/lib/wfmd undeploy 6f1c0e9e-2c1b-4a8e-9d3f-0b7c1d2e3f40 \\\n"
	"         edge-gateway\n";

/* The deployments route of a device: /admin/v1/devices/{device}/deployments[/{deployment}]. */
static char *deployments_path(const char *device, const char *deployment)
{
	char *dev = wfmctl_path_join(DEVICES_PATH, device), *list = NULL, *one;

	if (dev == NULL)
		return NULL;
	if (asprintf(&list, "%s/deployments", dev) < 0)
		list = NULL;
	free(dev);
	if (list == NULL || deployment == NULL)
		return list;
	one = wfmctl_path_join(list, deployment);
	free(list);
	return one;
}

/* Reads FILE ("-": standard input), at most MARGO_APPDEPLOY_MAX bytes (one more tells that
 * it is too big). NUL-terminated. */
int wfmctl_read_document(const char *path, char **out, size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	char *buf;
	size_t n;
	int ret = -1;

	*out = NULL;
	if (f == NULL)
		return -1;
	buf = malloc(MARGO_APPDEPLOY_MAX + 2);
	if (buf == NULL) {
		errno = ENOMEM;
		goto out;
	}
	n = fread(buf, 1, MARGO_APPDEPLOY_MAX + 1, f);
	if (ferror(f)) {
		errno = EIO;
		goto out;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	buf = NULL;
	ret = 0;
out:
	free(buf);
	if (f != stdin)
		fclose(f);
	return ret;
}

/* One field error as one line: "FILE: /field: message" (control characters blanked). */
static void print_field_error(const char *file, const char *field, const char *message)
{
	char line[512];

	if (field != NULL && field[0] != '\0')
		snprintf(line, sizeof(line), "%s: %s: %s", file, field, message);
	else
		snprintf(line, sizeof(line), "%s: %s", file, message);
	for (char *p = line; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	}
	fprintf(stderr, "%s\n", line);
}

/* A 422 from wfmd: its field errors as local ones; any other failure as one line. */
int wfmctl_print_refusal(struct wfmctl *ctx, const char *file,
			 const struct margo_http_response *resp)
{
	json_t *doc, *errors, *e;
	size_t i;

	if (resp->status != 422)
		return wfmctl_fail_response(ctx, resp);
	doc = json_loadb(resp->body != NULL ? resp->body : "", resp->body_len, 0, NULL);
	errors = json_object_get(doc, "errors");
	if (!json_is_array(errors) || json_array_size(errors) == 0) {
		json_decref(doc);
		return wfmctl_fail_response(ctx, resp);
	}
	json_array_foreach(errors, i, e) {
		const char *message = wfmctl_json_str(e, "message");

		print_field_error(file, wfmctl_json_str(e, "field"),
				  message != NULL ? message : "invalid");
	}
	json_decref(doc);
	return WFMCTL_EXIT_FAIL;
}

static int deploy(struct wfmctl *ctx, int argc, char **argv)
{
	const char *id_opt = NULL, *device, *file;
	struct wfmctl_opt opts[] = { { "deployment-id", &id_opt, NULL }, { NULL, NULL, NULL } };
	struct margo_http_response resp = { 0 };
	struct margo_appdeploy *d = NULL;
	struct margo_validation v;
	char *pos[2], *yaml = NULL, *path = NULL, uuid[MARGO_UUID_LEN];
	const char *id, *revision;
	json_t *answer = NULL;
	size_t len = 0;
	int npos, ret, rc;

	ret = wfmctl_parse_args(ctx, argc, argv, opts, pos, 2, &npos);
	if (ret != 0 || ctx->help)
		return ret != 0 ? ret : wfmctl_print_help(&wfmctl_deploy_commands[0]);
	if (npos != 2)
		return wfmctl_usage_error(ctx, "give the device ID and the deployment file");
	device = pos[0];
	file = pos[1];
	if (id_opt != NULL && !margo_appdeploy_id_valid(id_opt))
		return wfmctl_usage_error(ctx, "--deployment-id must be 1-128 characters of "
					  "A-Z a-z 0-9 . _ - not starting with '.'");
	if (wfmctl_read_document(file, &yaml, &len) != 0)
		return wfmctl_fail(ctx, "cannot read %s: %s", file, strerror(errno));
	rc = margo_appdeploy_parse(yaml, len, &d, &v);
	if (rc == MARGO_ETOOBIG) {
		ret = wfmctl_fail(ctx, "%s is larger than %u bytes", file, MARGO_APPDEPLOY_MAX);
		goto out;
	}
	if (rc == MARGO_EINVAL) {
		for (size_t i = 0; i < v.count; i++)
			print_field_error(file, v.errors[i].field, v.errors[i].message);
		if (v.dropped > 0)
			fprintf(stderr, "%s: and %zu more problems\n", file, v.dropped);
		ret = WFMCTL_EXIT_FAIL;
		goto out;
	}
	if (rc < 0) {
		ret = wfmctl_fail(ctx, "%s: %s", file, margo_strerror(rc));
		goto out;
	}
	if (id_opt != NULL) {
		id = id_opt;
	} else if (d->id != NULL) {
		id = d->id;
	} else {
		if (margo_uuid_v4(uuid) != 0) {
			ret = wfmctl_fail(ctx, "cannot generate a deployment ID");
			goto out;
		}
		id = uuid;
	}
	path = deployments_path(device, id);
	if (path == NULL) {
		ret = wfmctl_fail(ctx, "out of memory");
		goto out;
	}
	ret = wfmctl_request(ctx, "PUT", path, "application/yaml", yaml, len, &resp);
	if (ret != 0)
		goto out;
	if (resp.status < 200 || resp.status > 299) {
		ret = wfmctl_print_refusal(ctx, file, &resp);
		goto out;
	}
	if (ctx->json) {
		wfmctl_print_raw(resp.body);
		goto out;
	}
	answer = json_loadb(resp.body != NULL ? resp.body : "", resp.body_len, 0, NULL);
	revision = wfmctl_json_str(answer, "revision");
	if (wfmctl_json_str(answer, "deploymentId") != NULL)
		id = wfmctl_json_str(answer, "deploymentId");
	if (revision != NULL)
		printf("deployed %s to %s (revision %.*s)\n", id, device, REVISION_SHORT,
		       revision);
	else
		printf("deployed %s to %s\n", id, device);
out:
	json_decref(answer);
	margo_http_response_free(&resp);
	margo_appdeploy_free(d);
	free(path);
	free(yaml);
	return ret;
}

static int undeploy(struct wfmctl *ctx, int argc, char **argv)
{
	struct margo_http_response resp = { 0 };
	char *pos[2], *path = NULL;
	int npos, ret;

	ret = wfmctl_parse_args(ctx, argc, argv, NULL, pos, 2, &npos);
	if (ret != 0 || ctx->help)
		return ret != 0 ? ret : wfmctl_print_help(&wfmctl_undeploy_commands[0]);
	if (npos != 2)
		return wfmctl_usage_error(ctx, "give the device ID and the deployment ID");
	path = deployments_path(pos[0], pos[1]);
	if (path == NULL)
		return wfmctl_fail(ctx, "out of memory");
	ret = wfmctl_request(ctx, "DELETE", path, NULL, NULL, 0, &resp);
	if (ret != 0)
		goto out;
	if (resp.status < 200 || resp.status > 299) {
		ret = wfmctl_fail_response(ctx, &resp);
		goto out;
	}
	if (ctx->json)
		wfmctl_print_raw(resp.body);
	else
		printf("undeployed %s from %s\n", pos[1], pos[0]);
out:
	margo_http_response_free(&resp);
	free(path);
	return ret;
}

/* ---- listing ---- */

/* What a row shows of one deployment, from either the list route's items ({deploymentId,
 * name, applicationId, state, error, updatedAt}) or the device object's deployments
 * ({deploymentId, state, receivedAt, status: DeploymentStatus}). Borrowed strings. */
struct deployment_row {
	const char *id;
	const char *name;
	const char *application_id;
	const char *state;
	const char *updated;
	const char *error_code;
	const char *error_message;
};

static void row_from(json_t *d, struct deployment_row *r)
{
	json_t *status = json_object_get(d, "status"), *error = json_object_get(d, "error");

	/* "status" may be the whole DeploymentStatus document or just its status. */
	if (json_is_object(json_object_get(status, "status")))
		status = json_object_get(status, "status");
	if (!json_is_object(error))
		error = json_object_get(status, "error");
	r->id = wfmctl_json_str(d, "deploymentId");
	if (r->id == NULL)
		r->id = wfmctl_json_str(d, "id");
	r->name = wfmctl_json_str(d, "name");
	r->application_id = wfmctl_json_str(d, "applicationId");
	r->state = wfmctl_json_str(d, "state");
	if (r->state == NULL)
		r->state = wfmctl_json_str(status, "state");
	r->updated = wfmctl_json_str(d, "updatedAt");
	if (r->updated == NULL)
		r->updated = wfmctl_json_str(d, "receivedAt");
	r->error_code = wfmctl_json_str(error, "code");
	r->error_message = wfmctl_json_str(error, "message");
	if (r->error_code != NULL && r->error_code[0] == '\0')
		r->error_code = NULL;
	if (r->error_message != NULL && r->error_message[0] == '\0')
		r->error_message = NULL;
}

/* "CODE: message" on one line, into buf; *cut set when it did not fit the table cell. */
static const char *error_cell(const struct deployment_row *r, char *buf, size_t cap, int *cut)
{
	size_t n;

	if (r->error_code == NULL && r->error_message == NULL)
		return NULL;
	n = (size_t)snprintf(buf, cap, "%s%s%s", r->error_code != NULL ? r->error_code : "",
			     r->error_code != NULL && r->error_message != NULL ? ": " : "",
			     r->error_message != NULL ? r->error_message : "");
	for (char *p = buf; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	}
	if (n > ERROR_CELL_MAX && cap > ERROR_CELL_MAX) {
		/* Cut on a character boundary. */
		size_t k = ERROR_CELL_MAX - 3;

		while (k > 0 && ((unsigned char)buf[k] & 0xc0) == 0x80)
			k--;
		memcpy(buf + k, "...", 4);
		*cut = 1;
	}
	return buf;
}

/* "<indent>components of ID: web Installed, db Failed (E1: message)" for each deployment whose
 * latest DeploymentStatus ("status", the document) names components. */
static int print_components(json_t *items, int indent)
{
	json_t *d, *c;
	size_t i, j;

	json_array_foreach(items, i, d) {
		json_t *comps = json_object_get(json_object_get(d, "status"), "components");
		struct deployment_row r;
		char *line = NULL;
		size_t len = 0;
		FILE *f;

		if (!json_is_array(comps) || json_array_size(comps) == 0)
			continue;
		row_from(d, &r);
		f = open_memstream(&line, &len);
		if (f == NULL)
			return -1;
		json_array_foreach(comps, j, c) {
			struct deployment_row cr = { 0 };
			char buf[1024];
			int cut = 0;
			json_t *error = json_object_get(c, "error");

			cr.error_code = wfmctl_json_str(error, "code");
			cr.error_message = wfmctl_json_str(error, "message");
			if (cr.error_code != NULL && cr.error_code[0] == '\0')
				cr.error_code = NULL;
			if (cr.error_message != NULL && cr.error_message[0] == '\0')
				cr.error_message = NULL;
			fprintf(f, "%s%s %s", j > 0 ? ", " : "",
				wfmctl_json_str(c, "name") != NULL ? wfmctl_json_str(c, "name") : "?",
				wfmctl_json_str(c, "state") != NULL ? wfmctl_json_str(c, "state") : "-");
			if (error_cell(&cr, buf, sizeof(buf), &cut) != NULL)
				fprintf(f, " (%s)", buf);
		}
		if (fclose(f) != 0 || line == NULL) {
			free(line);
			return -1;
		}
		/* Names and states come from the device: no control characters on the screen. */
		for (char *p = line; *p != '\0'; p++) {
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = ' ';
		}
		printf("%*scomponents of %s: %s\n", indent, "", r.id != NULL ? r.id : "?", line);
		free(line);
	}
	return 0;
}

/* Prints items as a table indented by indent, then in full the errors cut short in it.
 * Returns 0 or -1 when out of memory. */
static int print_deployment_table(json_t *items, int indent)
{
	static const char *const headers[] = { "DEPLOYMENT", "NAME", "APPLICATION", "STATE",
					       "UPDATED", "ERROR" };
	struct wfmctl_table *table = wfmctl_table_new(6, headers);
	struct deployment_row r;
	int any_cut = 0;
	json_t *d;
	size_t i;

	if (table == NULL)
		return -1;
	json_array_foreach(items, i, d) {
		char buf[1024];
		int cut = 0;
		const char *row[6];

		row_from(d, &r);
		row[0] = r.id;
		row[1] = r.name;
		row[2] = r.application_id;
		row[3] = r.state != NULL ? r.state : "not reported";
		row[4] = r.updated;
		row[5] = error_cell(&r, buf, sizeof(buf), &cut);
		any_cut |= cut;
		if (wfmctl_table_add(table, row) != 0) {
			wfmctl_table_free(table);
			return -1;
		}
	}
	wfmctl_table_print_indented(table, indent);
	wfmctl_table_free(table);
	if (print_components(items, indent) != 0)
		return -1;
	if (!any_cut)
		return 0;
	json_array_foreach(items, i, d) {
		char buf[1024];
		int cut = 0;

		row_from(d, &r);
		error_cell(&r, buf, sizeof(buf), &cut);
		if (!cut)
			continue;
		/* The whole message, still on one line. */
		snprintf(buf, sizeof(buf), "%s%s%s", r.error_code != NULL ? r.error_code : "",
			 r.error_code != NULL && r.error_message != NULL ? ": " : "",
			 r.error_message != NULL ? r.error_message : "");
		for (char *p = buf; *p != '\0'; p++) {
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = ' ';
		}
		printf("%*sError of %s: %s\n", indent, "", r.id != NULL ? r.id : "?", buf);
	}
	return 0;
}

int wfmctl_device_deployments(struct wfmctl *ctx, int argc, char **argv)
{
	char *pos[1], *path = NULL;
	json_t *resp = NULL, *items;
	int npos, ret;

	ret = wfmctl_parse_args(ctx, argc, argv, NULL, pos, 1, &npos);
	if (ret != 0 || ctx->help)
		return ret != 0 ? ret : wfmctl_print_help(&wfmctl_device_commands[5]);
	if (npos != 1)
		return wfmctl_usage_error(ctx, "which device? give its ID");
	path = deployments_path(pos[0], NULL);
	if (path == NULL)
		return wfmctl_fail(ctx, "out of memory");
	ret = wfmctl_get_items(ctx, path, &resp, &items);
	if (ret != 0 || items == NULL)
		goto out;
	if (json_array_size(items) == 0) {
		printf("No deployments on %s.\n", pos[0]);
		goto out;
	}
	if (print_deployment_table(items, 0) != 0)
		ret = wfmctl_fail(ctx, "out of memory");
	else
		wfmctl_list_more(ctx, resp);
out:
	free(path);
	json_decref(resp);
	return ret;
}

/* 1 when list holds an item with deploymentId id. */
static int listed(json_t *list, const char *id)
{
	json_t *d;
	size_t i;

	json_array_foreach(list, i, d) {
		const char *other = wfmctl_json_str(d, "deploymentId");

		if (other != NULL && strcmp(other, id) == 0)
			return 1;
	}
	return 0;
}

int wfmctl_print_device_deployments(struct wfmctl *ctx, const char *device_id, json_t *fallback)
{
	struct margo_http_response resp = { 0 };
	json_t *doc = NULL, *items = NULL, *d;
	char *path = deployments_path(device_id, NULL);
	size_t i;
	int ret;

	if (path == NULL)
		return wfmctl_fail(ctx, "out of memory");
	ret = wfmctl_request(ctx, "GET", path, NULL, NULL, 0, &resp);
	if (ret != 0)
		goto out;
	items = json_array();
	if (items == NULL) {
		ret = wfmctl_fail(ctx, "out of memory");
		goto out;
	}
	/* The deployments route (desired state with the latest status; its first page); then
	 * what the device object adds: the deployments after that page, in the same order,
	 * those a device reported that are not (or no longer) desired, or everything when this
	 * wfmd has no such route. */
	if (resp.status == 200) {
		doc = json_loadb(resp.body != NULL ? resp.body : "", resp.body_len, 0, NULL);
		if (wfmctl_json_items(doc) != NULL &&
		    json_array_extend(items, wfmctl_json_items(doc)) != 0) {
			ret = wfmctl_fail(ctx, "out of memory");
			goto out;
		}
	}
	json_array_foreach(fallback, i, d) {
		const char *id = wfmctl_json_str(d, "deploymentId");

		if (id != NULL && !listed(items, id) && json_array_append(items, d) != 0) {
			ret = wfmctl_fail(ctx, "out of memory");
			goto out;
		}
	}
	printf("\nDeployments:\n");
	if (json_array_size(items) == 0)
		printf("  none\n");
	else if (print_deployment_table(items, 2) != 0)
		ret = wfmctl_fail(ctx, "out of memory");
out:
	json_decref(items);
	json_decref(doc);
	margo_http_response_free(&resp);
	free(path);
	return ret;
}

const struct wfmctl_command wfmctl_deploy_commands[] = {
	{ "deploy", "", deploy, "deploy an ApplicationDeployment YAML file to a device",
	  deploy_help },
	{ NULL, NULL, NULL, NULL, NULL },
};

const struct wfmctl_command wfmctl_undeploy_commands[] = {
	{ "undeploy", "", undeploy, "remove a deployment from a device", undeploy_help },
	{ NULL, NULL, NULL, NULL, NULL },
};
