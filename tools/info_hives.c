/* How the registry hives of a Windows guest were found, for the reports. */
#include "info.h"

#include "guest/windows.h"

void info_hives_json(struct p2v_json *j, const struct p2v_windows *w)
{
    p2v_json_array(j, "hives");
    for (int i = 0; i < w->nhives; i++) {
        const struct p2v_hive_status *h = &w->hives[i];
        p2v_json_object(j, NULL);
        p2v_json_str(j, "name", h->name);
        p2v_json_str(j, "state", p2v_hive_state_name(h->state));
        p2v_json_uint(j, "sequence", h->seq);
        p2v_json_uint(j, "primary_sequence", h->seq1);
        p2v_json_uint(j, "primary_secondary_sequence", h->seq2);
        p2v_json_int(j, "log_entries", h->entries);
        p2v_json_bool(j, "logs_ignored", h->ignored);
        p2v_json_str(j, "why", h->why);
        p2v_json_end(j);
    }
    p2v_json_end(j);
}

void info_hives_text(FILE *f, const struct p2v_windows *w)
{
    fputs("registry hives:   ", f);
    for (int i = 0; i < w->nhives; i++) {
        const struct p2v_hive_status *h = &w->hives[i];
        fprintf(f, "%s %s %s", i ? "," : "", h->name, p2v_hive_state_name(h->state));
        if (h->state == P2V_HIVE_RECOVERED)
            fprintf(f, " (sequence %u/%u; %d transaction log entries replayed)", h->seq1, h->seq2,
                    h->entries);
        else if (h->state == P2V_HIVE_DIRTY)
            fprintf(f, " (%s%s)", h->ignored ? "logs ignored: " : "", h->why);
    }
    fputc('\n', f);
}
