/* Margo ApplicationDeployment documents (YAML, apiVersion application.margo.org/v1alpha1):
 * parsing, validation with field-level errors, and setting metadata.annotations.id.
 * Used by wfmd (admin deployments) and margo-agent (component names for status reports). */
#ifndef MARGO_APPDEPLOY_H
#define MARGO_APPDEPLOY_H

#include <stddef.h>

#include "margo/error.h"
#include "margo/validate.h"

#define MARGO_APPDEPLOY_API_VERSION "application.margo.org/v1alpha1"
#define MARGO_APPDEPLOY_KIND "ApplicationDeployment"
/* YAML documents larger than this are refused (MARGO_ETOOBIG). */
#define MARGO_APPDEPLOY_MAX (1024u * 1024u)

/* What the agent and the server need to know of a deployment. All strings owned. */
struct margo_appdeploy {
	char *name;            /* metadata.name */
	char *namespace_;      /* metadata.namespace */
	char *id;              /* metadata.annotations.id (NULL when absent) */
	char *application_id;  /* metadata.annotations.applicationId */
	char *profile_type;    /* spec.deploymentProfile.type: "helm.v3" or "compose" */
	size_t ncomponents;
	char **components;     /* spec.deploymentProfile.components[].name */
};

/* Parses and validates one YAML document. Validation follows Margo's ApplicationDeployment:
 * apiVersion and kind exact; metadata.name and metadata.namespace non-empty strings;
 * metadata.annotations.applicationId non-empty string; metadata.annotations.id string when
 * present; spec.deploymentProfile.type helm.v3 or compose; spec.deploymentProfile.components a
 * non-empty list of maps each with a unique non-empty name and a properties map (helm.v3:
 * properties.repository required, compose: properties.packageLocation required); spec.parameters
 * optional map of name -> {value (scalar), targets: non-empty list of {pointer string,
 * components: non-empty list of names of existing components}}.
 * Returns 0 and *out (caller frees with margo_appdeploy_free) when valid; MARGO_EINVAL with v
 * filled (JSON-pointer fields such as "/spec/deploymentProfile/components/0/name") when the
 * document is not valid (a YAML syntax error is reported as field "" with line and column);
 * MARGO_ETOOBIG; MARGO_ENOMEM. out may be NULL to validate only. */
int margo_appdeploy_parse(const char *yaml, size_t len, struct margo_appdeploy **out,
			  struct margo_validation *v);

void margo_appdeploy_free(struct margo_appdeploy *d);

/* Returns, newly allocated in *out (NUL-terminated, *out_len bytes), the document re-emitted as
 * YAML with metadata.annotations.id set to id (created when absent, replaced when different),
 * everything else kept (keys in their order, scalars as written). The input must be valid. */
int margo_appdeploy_set_id(const char *yaml, size_t len, const char *id, char **out,
			   size_t *out_len, struct margo_error *err);

#endif
