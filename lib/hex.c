/* Lower-case hex encoding (include/margo/hex.h). */
#include <stddef.h>
#include "margo/hex.h"

void margo_hex_lower(const unsigned char *in, size_t len, char *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 15];
	}
	out[2 * len] = '\0';
}
