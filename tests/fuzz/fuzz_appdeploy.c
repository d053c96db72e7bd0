/* libFuzzer target for margo_appdeploy_parse and margo_appdeploy_set_id (ApplicationDeployment
 * YAML from operators, relayed to devices). Build and run by hand, seeded with the samples:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude tests/fuzz/fuzz_appdeploy.c \
 *     lib/appdeploy.c lib/validate.c lib/error.c -lyaml -ljansson -o fuzz_appdeploy
 *   mkdir -p corpus && cp docs/examples/deployment-*.yaml corpus/ && ./fuzz_appdeploy corpus
 * Whatever set_id writes must parse again with the new id. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "margo/appdeploy.h"
#include "margo/error.h"
#include "margo/validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct margo_appdeploy *d = NULL, *again = NULL;
	struct margo_validation v;
	struct margo_error err;
	char *out = NULL;
	size_t out_len = 0;

	if (margo_appdeploy_parse((const char *)data, size, &d, &v) != 0)
		return 0;
	if (margo_appdeploy_set_id((const char *)data, size, "fuzz-id", &out, &out_len, &err) == 0) {
		if (margo_appdeploy_parse(out, out_len, &again, &v) != 0 ||
		    strcmp(again->id, "fuzz-id") != 0 || again->ncomponents != d->ncomponents)
			abort();
		margo_appdeploy_free(again);
		free(out);
	}
	margo_appdeploy_free(d);
	return 0;
}
