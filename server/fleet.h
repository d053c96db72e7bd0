/* The fleet as label selectors see it: each device's labels are the operator's (store_fleet.h)
 * plus those derived from what it reported, under LABEL_DERIVED_PREFIX:
 *   device.margo/vendor, device.margo/model   properties.vendor / modelNumber of its
 *                                             capabilities, else the onboarding request's
 *   device.margo/arch                         resources.cpus[0].architecture (or
 *                                             cpuArchitecture), lower case
 *   device.margo/role.<role>=true             one per entry of properties.roles, the role
 *                                             in lower case with blanks as '-'
 *   device.margo/state                        pending, active, rejected or revoked
 * Values are made valid label values (label_value_from_text). */
#ifndef WFMD_FLEET_H
#define WFMD_FLEET_H

#include <stddef.h>

#include "label.h"
#include "store_fleet.h"

/* At most this many derived labels per device. */
#define FLEET_DERIVED_MAX 16

struct fleet_labels {
	struct store_label derived[FLEET_DERIVED_MAX];
	size_t nderived;
	struct label all[LABEL_PER_DEVICE_MAX + FLEET_DERIVED_MAX]; /* operator + derived */
	size_t nall;
};

/* Fills out with d's derived labels and the union used for matching (pointers into d and
 * out: valid while both are). */
void fleet_labels_of(const struct store_fleet_device *d, struct fleet_labels *out);

/* Calls fn for each device in state (NULL: all) that sel matches, in id order, after `after`
 * (NULL: from the start), until fn returns non-zero (returned). */
int fleet_select(store *st, const struct selector *sel, const char *state, const char *after,
		 int (*fn)(void *ctx, const struct store_fleet_device *d,
			   const struct fleet_labels *labels),
		 void *ctx, struct margo_error *err);

#endif
