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
 * MARGO_ETOOBIG; MARGO_ENOMEM. out may be NULL to validate only.
 * Also enforced (untrusted input): exactly one YAML document; nesting at most 64 deep; no
 * duplicate keys in the mappings above; metadata.annotations.id, when present, passes
 * margo_appdeploy_id_valid(); at most 256 components, 1024 parameters, 32 targets per parameter
 * and 64 components per target. Scalars are typed as in YAML 1.2's core schema: a plain `123`
 * or `true` is not a string (quote it), a plain empty value, `~` or `null` counts as missing.
 * The strings validated above must not contain control characters (they end up in commit
 * messages, logs and tables). Component names in *out are in document order. */
int margo_appdeploy_parse(const char *yaml, size_t len, struct margo_appdeploy **out,
			  struct margo_validation *v);

void margo_appdeploy_free(struct margo_appdeploy *d);

/* 1 when s can be a deployment id: 1-128 characters of [A-Za-z0-9._-], not starting with '.'
 * (the rule wfmd applies to the {deploymentId} of its routes; ids become file names). */
int margo_appdeploy_id_valid(const char *s);

/* Returns, newly allocated in *out (NUL-terminated, *out_len bytes), the document re-emitted as
 * YAML with metadata.annotations.id set to id (created when absent, replaced when different),
 * everything else kept (keys in their order, scalars as written). The input must be valid
 * (MARGO_EINVAL with the first problem in err otherwise, or when id is not valid); MARGO_ETOOBIG;
 * MARGO_ENOMEM.
 * The document is loaded as a node tree and written again by libyaml's emitter, so what YAML
 * does not keep in its data model is lost: comments, blank lines, indentation (2 spaces; block
 * lists inside a mapping start at the key's column: "components:\n- name: x"), line folding and
 * the chomping of block scalars may change, and anchors are renamed (aliases stay aliases).
 * Flow or block style of lists and mappings, scalar quoting styles where the emitter allows them,
 * explicit tags and an explicit "---" are kept. The new id value reuses the old value's quoting
 * when it was quoted; a missing id is appended as the last key of metadata.annotations. */
int margo_appdeploy_set_id(const char *yaml, size_t len, const char *id, char **out,
			   size_t *out_len, struct margo_error *err);

#endif
