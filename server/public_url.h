/* The public URL devices use (--public-url), taken apart. */
#ifndef WFMD_PUBLIC_URL_H
#define WFMD_PUBLIC_URL_H

#include <stddef.h>
#include <stdint.h>

/* Splits https://HOST[:PORT][/PATH] (IPv6 HOST in brackets, given back without them): host
 * into hcap bytes, port (443 when absent) and, when path is not NULL, the path ("/" when
 * absent; no query or fragment allowed) into pcap bytes. 0, or -1 when url is not of that
 * shape or a part does not fit. */
int public_url_split(const char *url, char *host, size_t hcap, uint16_t *port, char *path,
		     size_t pcap);

#endif
