/* The parts of the public URL (public_url.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "public_url.h"

int public_url_split(const char *url, char *host, size_t hcap, uint16_t *port, char *path,
		     size_t pcap)
{
	const char *p, *end, *rest;
	long v = 443;

	if (strncasecmp(url, "https://", 8) != 0)
		return -1;
	p = url + 8;
	if (*p == '[') {
		end = strchr(p, ']');
		if (end == NULL)
			return -1;
		p++;
		rest = end + 1;
	} else {
		end = p + strcspn(p, ":/?#");
		rest = end;
	}
	if (end == p || (size_t)(end - p) >= hcap)
		return -1;
	memcpy(host, p, (size_t)(end - p));
	host[end - p] = '\0';
	if (*rest == ':') {
		char *e;

		v = strtol(rest + 1, &e, 10);
		if (e == rest + 1 || v < 1 || v > 65535)
			return -1;
		rest = e;
	}
	*port = (uint16_t)v;
	if (path == NULL)
		return 0;
	if (*rest == '\0')
		rest = "/";
	if (*rest != '/' || strpbrk(rest, "?#") != NULL ||
	    snprintf(path, pcap, "%s", rest) >= (int)pcap)
		return -1;
	return 0;
}
