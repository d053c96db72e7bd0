/* libFuzzer target for the DNS message parser behind `margo-agent discover` (multicast and
 * unicast DNS-SD answers arrive unauthenticated from anyone on the link). Parses the input as
 * a response, then reads every TXT key discovery uses and every instance label; also encodes
 * the input as a name. Seed corpus: tests/fuzz/corpus/fuzz_dns/. Build by hand:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude tests/fuzz/fuzz_dns.c \
 *     lib/dns.c lib/error.c -o fuzz_dns
 *   ./fuzz_dns -max_total_time=60 tests/fuzz/corpus/fuzz_dns */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "margo/dns.h"
#include "margo/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const keys[] = { "txtvers", "path", "api", "pin", "host" };
	struct margo_dns_msg msg;
	struct margo_error err;
	uint8_t query[600];
	char v[MARGO_DNS_NAME_MAX], *name;
	size_t qlen;

	if (margo_dns_parse(data, size, &msg, &err) == 0) {
		for (size_t i = 0; i < msg.nrr; i++) {
			for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
				margo_dns_txt_get(&msg.rr[i], keys[k], v, sizeof(v));
			margo_dns_first_label(msg.rr[i].name, v, sizeof(v));
			margo_dns_first_label(msg.rr[i].target, v, sizeof(v));
			/* a parsed name must encode back */
			if (margo_dns_query_build(0, 0, msg.rr[i].name, msg.rr[i].type, 0, query,
						  sizeof(query), &qlen, &err) != 0)
				abort();
		}
		margo_dns_msg_free(&msg);
	}
	name = malloc(size + 1);
	if (name == NULL)
		return 0;
	memcpy(name, data, size);
	name[size] = '\0';
	margo_dns_query_build(1, 1, name, MARGO_DNS_PTR, 0, query, sizeof(query), &qlen, &err);
	free(name);
	return 0;
}
