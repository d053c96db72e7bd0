/* libFuzzer target for margo-agent's HTTP/1.1 response parser (agent/https.c): status line,
 * 1xx answers, headers (Content-Length, Transfer-Encoding, Retry-After, ...), chunked,
 * sized and to-the-end bodies, read from memory by agent_https_parse_response exactly as from
 * a TLS connection. The first input byte picks the request method. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "https.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const methods[] = { "GET", "POST", "HEAD", "PUT" };
	struct margo_http_response resp;
	struct margo_error err;

	if (size == 0)
		return 0;
	if (agent_https_parse_response(methods[data[0] & 3], data + 1, size - 1, &resp, &err) ==
	    0) {
		if (resp.body == NULL || resp.status < 200 || resp.status > 999 ||
		    strlen(resp.body) > resp.body_len || resp.body_len > size)
			abort();
		margo_http_response_free(&resp);
	}
	return 0;
}
