/* Messages for the user.  Before a mount goes to the background they go to
 * stderr; a daemonised mount sends them to syslog or to --log FILE. */
#ifndef P2V_LOG_H
#define P2V_LOG_H

#include <stdarg.h>

enum p2v_log_target { P2V_LOG_STDERR, P2V_LOG_SYSLOG, P2V_LOG_FILE };

/* Opens the log file now, so a bad path fails before anything is mounted;
 * messages keep going to stderr until p2v_log_target(P2V_LOG_FILE). */
int p2v_log_open_file(const char *path);
/* Switch targets (P2V_LOG_FILE needs p2v_log_open_file first). */
void p2v_log_target(enum p2v_log_target t);
void p2v_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void p2v_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void p2v_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The layer trace (P2V_TRACE=1, core/layer.c): "p2v: trace: ...". */
void p2v_trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Silences p2v_note (not warnings or errors). */
void p2v_log_quiet(int quiet);

#endif
