/* Fix-up plans: a text file, one action per line, '#' comments, words
 * separated by blanks, "double quotes" around words with blanks (\" and
 * \\ inside).  See README.md for the actions.  Relative file names are
 * relative to the plan file's directory. */
#ifndef P2V_PLAN_H
#define P2V_PLAN_H

#include "guest/windows.h"
#include "guest/windows_programs.h"

#include <stdio.h>

#define P2V_PLAN_MAX_ARGS 16

struct p2v_action {
    int line;
    char *buf;                      /* the words' storage */
    int argc;
    char *argv[P2V_PLAN_MAX_ARGS];  /* argv[0] is the action name */
};

struct p2v_plan {
    char *path;
    char *dir;               /* for relative names */
    struct p2v_action *a;
    int n;
};

/* Parses the plan at path.  Unknown actions, wrong argument counts and bad
 * quoting are errors naming the file and line.  0 or -errno. */
int p2v_plan_load(const char *path, struct p2v_plan *plan);
void p2v_plan_free(struct p2v_plan *plan);
/* A name from the plan made absolute against the plan's directory;
 * malloc'd. */
char *p2v_plan_file(const struct p2v_plan *plan, const char *name);

/* What has_service says of a driver service. */
enum { P2V_DRIVER_ABSENT, P2V_DRIVER_READY, P2V_DRIVER_NO_FILE };

/* The default plan for a target (hyperv, qemu-ide, qemu-sata, virtio)
 * for the Windows w found on source; -EINVAL for an unknown target.
 * has_service tells whether a service is there, and its file
 * (P2V_DRIVER_*): only drivers that can start are enabled, the others get
 * an inject-driver line for the guest's architecture.  Other hypervisors'
 * programs among progs get an uninstall-program line when they can be
 * removed unattended, else a comment saying why not. */
int p2v_plan_default(FILE *f, const char *target, const struct p2v_windows *w,
                     const char *source, const char *drivers_dir,
                     int (*has_service)(void *ctx, const char *name), void *ctx,
                     const struct p2v_win_program *progs, size_t nprogs);

/* What a plan writer emits for a string read from a guest: a word, quoted
 * ("\"" and "\\" escaped, control bytes as '?'); or text inside a comment,
 * control bytes as \xNN.  Neither can end the line it is on. */
void p2v_plan_put_word(FILE *f, const char *s);
void p2v_plan_put_text(FILE *f, const char *s);

/* What each action needs: argument counts, and whether Windows must be
 * there (all but boot-geometry). */
int p2v_plan_check_action(const struct p2v_action *a, const char **why);

#endif
