/* A registry hive's transaction logs from a guest disk (possibly hostile)
 * through the replay (guest/hive_log.c): the input is split into a primary
 * hive and two logs (its first two bytes say where), the replay runs, and
 * whatever it returns must be a clean hive of the size it says, whose
 * sequence numbers lie above every one of the logs. */
#include "tests/fuzz/harness.h"
#include "core/bytes.h"
#include "guest/hive_log.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SIZE (4u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4 || size > MAX_SIZE)
        return 0;
    /* Two 16-bit cuts, in 512-byte units: primary | LOG1 | LOG2. */
    size_t body = size - 4;
    size_t a = (size_t)get_le16(data) * 512, b = (size_t)get_le16(data + 2) * 512;
    if (a > body)
        a = body;
    if (b > body - a)
        b = body - a;
    const uint8_t *p = data + 4;
    struct p2v_hive_log logs[2] = { { p + a, b, "LOG1" }, { p + a + b, body - a - b, "LOG2" } };
    for (int ignore = 0; ignore < 2; ignore++) {
        uint8_t *out = NULL;
        size_t out_len = 0;
        struct p2v_hive_recovery info;
        int r = p2v_hive_recover(p, a, logs, 2, ignore, &out, &out_len, &info);
        if (r == 0) {
            if (!out || out_len < P2V_HIVE_BASE_BLOCK || memcmp(out, "regf", 4) != 0)
                abort();
            /* The result is clean: Windows loads it as it is. */
            if (p2v_hive_is_dirty(out, out_len) != 0)
                abort();
            if (get_le32(out + 4) != info.seq || get_le32(out + 8) != info.seq)
                abort();
        } else if (out || (r != -ENOENT && r != -EINVAL && r != -ENOMEM)) {
            abort();
        }
        free(out);
    }
    return 0;
}
