/* The store interface, continued (store.h): device labels and what a label selector needs to
 * see of the fleet. Same rules as store.h: no SQL leaves the store, several rows change in
 * one transaction. */
#ifndef WFMD_STORE_FLEET_H
#define WFMD_STORE_FLEET_H

#include <stddef.h>
#include <stdint.h>

#include "label.h"
#include "store.h"

struct store_label {
	char key[LABEL_KEY_MAX + 1];
	char value[LABEL_VALUE_MAX + 1];
};

/* The operator labels of a device, by key. *items newly allocated (free()); MARGO_ENOTFOUND
 * when there is no such device. */
int store_labels_get(store *st, const char *device_id, struct store_label **items, size_t *n,
		     struct margo_error *err);

/* Sets (insert or replace) the nset labels and removes the nremove keys of a device in one
 * transaction. Keys and values must be valid already (label.h). MARGO_ENOTFOUND (no device),
 * MARGO_ELIMIT when the device would carry more than LABEL_PER_DEVICE_MAX labels (nothing
 * changed). */
int store_labels_update(store *st, const char *device_id, const struct store_label *set,
			size_t nset, const char *const *remove, size_t nremove,
			struct margo_error *err);

/* One device as a selector sees it. Borrowed for the callback. */
struct store_fleet_device {
	const char *id;
	const char *state;
	const char *vendor;             /* from the onboarding request */
	const char *model_number;
	const char *capabilities;       /* the reported DeviceCapabilities JSON, or NULL */
	const struct store_label *labels; /* operator labels */
	size_t nlabels;
};

/* Calls fn for each device in state (NULL: every state), in id order, starting after the id
 * after (NULL: from the start), until fn returns non-zero (returned as is) or the devices
 * end (0). fn runs outside any transaction and must not call the store. */
int store_fleet_scan(store *st, const char *state, const char *after,
		     int (*fn)(void *ctx, const struct store_fleet_device *d), void *ctx,
		     struct margo_error *err);

/* Calls fn once for device id (as store_fleet_scan would). MARGO_ENOTFOUND. */
int store_fleet_get(store *st, const char *id,
		    int (*fn)(void *ctx, const struct store_fleet_device *d), void *ctx,
		    struct margo_error *err);

#endif
