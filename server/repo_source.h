/* A git_source over a device's bare repository on disk (repo.h): main from its reference
 * files (git_refs.h), objects from its loose object files (git_object.h). This is how the
 * Git protocol code reads today's repositories until the objects move into the store. */
#ifndef WFMD_REPO_SOURCE_H
#define WFMD_REPO_SOURCE_H

#include "margo/error.h"
#include "git_source.h"

/* Largest object content read (deployment documents are at most 1 MiB). */
#define REPO_SOURCE_OBJECT_MAX (2u * 1024u * 1024u)

/* Opens the source of device_id's repository under root. MARGO_ENOTFOUND when there is no
 * repository. Close with git_source_close. */
int repo_source_open(const char *root, const char *device_id, struct git_source *out,
		     struct margo_error *err);

#endif
