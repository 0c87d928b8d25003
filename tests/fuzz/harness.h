/* The entry point every harness defines: libFuzzer calls it, and so does
 * tests/fuzz/replay.c when make check replays the corpora. */
#ifndef P2V_FUZZ_HARNESS_H
#define P2V_FUZZ_HARNESS_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
