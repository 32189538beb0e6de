/*
 * fuzz.h: what the libFuzzer targets of fuzz/ share: the entry points
 * libFuzzer calls and the check that stops a run at a broken invariant.
 */
#ifndef CRISISD_FUZZ_H
#define CRISISD_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/*
 * A broken invariant is a crash to libFuzzer: abort() makes it save the
 * input as a reproducer.  The condition's text says which promise broke.
 */
#define FUZZ_CHECK(cond)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: invariant broken: %s\n",       \
			    __FILE__, __LINE__, #cond);                        \
			abort();                                               \
		}                                                              \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#endif
