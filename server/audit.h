/* The audit log: every mutating admin call an operator makes, recorded in the store right
 * after its handler ran and before the answer is sent (so a client that got its answer finds
 * the entry). Who (operator name), what (method, route pattern, path, the device and other
 * ids the path names, the id a creation returned in Location), from where (client address),
 * outcome (status). Never a body, a query or a header: no secrets. */
#ifndef WFMD_AUDIT_H
#define WFMD_AUDIT_H

#include "http.h"

/* http_config.on_handled: records req when it is a POST, PUT, PATCH or DELETE under
 * /admin/ by an authenticated operator (refusals for role included; calls without a valid
 * token are not recorded, they are in the request log). A store failure is logged, not
 * answered: the change itself was made. */
void audit_on_handled(struct http_request *req, const struct http_route *route,
		      unsigned status, const struct http_response *resp);

#endif
