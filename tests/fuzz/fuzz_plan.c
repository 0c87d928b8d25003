/* The fix-up plan parser on arbitrary text: a plan file is the user's,
 * or comes with a batch manifest from someone else. */
#include "tests/fuzz/harness.h"
#include "core/log.h"
#include "fixup/plan.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    if (!path[0]) {
        snprintf(path, sizeof path, "/tmp/p2v-fuzz-plan-%d", (int)getpid());
        p2v_log_quiet(1);
    }
    if (size > 1 << 20)
        return 0;
    FILE *f = fopen(path, "w");
    if (!f)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    struct p2v_plan plan;
    if (p2v_plan_load(path, &plan) == 0) {
        /* Walk what was parsed: every action's words and its checks. */
        for (int i = 0; i < plan.n; i++) {
            const char *why;
            (void)p2v_plan_check_action(&plan.a[i], &why);
            for (int k = 0; k < plan.a[i].argc; k++) {
                char *abs = p2v_plan_file(&plan, plan.a[i].argv[k]);
                free(abs);
            }
        }
        p2v_plan_free(&plan);
    }
    return 0;
}
