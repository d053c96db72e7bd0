#!/usr/bin/env bash
# The short leak loop of make test: 50 onboard -> token -> git credentials -> revoke
# iterations against one wfmd, descriptors sampled every 10 must not move (RSS bounded), see
# tests/soak/leak-loop.sh (`make leak-loop` runs the full 1,000).
ITERATIONS=${ITERATIONS:-50} SAMPLE_EVERY=${SAMPLE_EVERY:-10} \
	exec bash "$(dirname "$0")/../soak/leak-loop.sh"
