/* `wfmd serve --advertise`: the DNS-SD service _margo-wfm._tcp (RFC 6763) on the local link,
 * registered through avahi-daemon (libavahi-client over D-Bus). Never fatal: without
 * avahi-daemon wfmd serves on and registers when the daemon appears, and again whenever the
 * daemon restarts. */
#ifndef WFMD_ADVERTISE_H
#define WFMD_ADVERTISE_H

#include "margo/error.h"

#define ADVERTISE_SERVICE "_margo-wfm._tcp"

struct advertise;

/* Starts advertising public_url (https://HOST[:PORT][/PATH]) with the CA pin ca_pin in TXT,
 * as instance name (NULL: "margo-fleet WFM on <hostname>"). *out newly allocated
 * (advertise_stop). MARGO_EINVAL for a URL that cannot be advertised, MARGO_ENOMEM. */
int advertise_start(const char *public_url, const char *ca_pin, const char *name,
		    struct advertise **out, struct margo_error *err);

/* Withdraws the service and frees a. NULL is a no-op. */
void advertise_stop(struct advertise *a);

#endif
