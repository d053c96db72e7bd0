/* libFuzzer target for the Git protocol requests wfmd parses and answers: pkt-line framing,
 * protocol v0 upload-pack requests and the v2 ls-refs/fetch commands (git_request.c), and
 * the whole answer (negotiation, shallow boundaries, the pack: git_upload.c) over a small
 * in-memory history. Input: one byte selecting the protocol (odd: v2), then the request
 * body. Seeds: tests/fuzz/corpus/fuzz_gitproto (requests real clients send). Built by
 * `make fuzz` (tests/CMakeLists.txt adds the server sources it needs). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "git_memsource.h"
#include "git_request.h"
#include "git_upload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct mem_source m;
	static unsigned char hist[6][20];
	static int ready;
	struct git_source src;
	struct git_request req;
	struct git_upload *u = NULL;
	struct margo_error err;
	char buf[4096];
	int v2;

	if (!ready) {
		mem_init(&m);
		mem_history(&m, 6, hist);
		ready = 1;
	}
	if (size == 0)
		return 0;
	v2 = data[0] & 1;
	if (git_request_parse(data + 1, size - 1, v2, &req, &err) == 0 &&
	    (req.wants.n > 0 || req.command == GIT_COMMAND_LS_REFS)) {
		src = mem_source_of(&m);
		if (git_upload_new(&src, data + 1, size - 1, v2, &u, &err) == 0) {
			while (git_upload_read(u, buf, sizeof(buf), &err) > 0)
				;
			git_upload_free(u);
		}
	}
	git_request_free(&req);
	return 0;
}
