/* What the rule files (rules.c, rules_linux.c) share: the result
 * helpers and the rules that live outside rules.c. */
#ifndef P2V_RULES_INT_H
#define P2V_RULES_INT_H

#include "rules.h"

/* A result's status and message, and its remedy (printf formats). */
__attribute__((format(printf, 3, 4)))
void p2v_rule_say(struct p2v_result *r, enum p2v_status st, const char *fmt, ...);
__attribute__((format(printf, 2, 3)))
void p2v_rule_remedy(struct p2v_result *r, const char *fmt, ...);
#define say(...) p2v_rule_say(__VA_ARGS__)
#define remedy(...) p2v_rule_remedy(__VA_ARGS__)
/* say() and leave the rule. */
#define RETURN_SAY(...) do { say(__VA_ARGS__); return; } while (0)

/* The storage driver named so in the configuration, or NULL. */
const struct p2v_m_driver *p2v_rule_driver(const struct p2v_machine *m, const char *name);

void p2v_rule_linux_boot_driver(const struct p2v_machine *m, const struct p2v_check_opts *o,
                                struct p2v_result *r);
void p2v_rule_device_names(const struct p2v_machine *m, const struct p2v_check_opts *o,
                           struct p2v_result *r);
void p2v_rule_nic_names(const struct p2v_machine *m, struct p2v_result *r);
void p2v_rule_hibernation(const struct p2v_machine *m, struct p2v_result *r);
void p2v_rule_fs_state(const struct p2v_machine *m, struct p2v_result *r);
void p2v_rule_boot_loader(const struct p2v_machine *m, struct p2v_result *r);

#endif
