/* Installed Windows programs, from SOFTWARE's Uninstall keys (the 64-bit
 * view and WOW6432Node), and the command that removes one without a user:
 * what `uninstall-program` runs at first boot and what inventory lists as
 * other hypervisors' tools. */
#ifndef P2V_WINDOWS_PROGRAMS_H
#define P2V_WINDOWS_PROGRAMS_H

#include "hive.h"

#include <stddef.h>

struct p2v_win_program {
    char key[256];       /* the Uninstall subkey: a product code for MSI packages */
    char name[256];      /* DisplayName */
    char command[1024];  /* unattended uninstall; "" when none is known */
    int wow64;           /* a 32-bit program on 64-bit Windows */
    int vendor;          /* another hypervisor's tools */
};

/* Every program with a DisplayName, in key order (64-bit view first);
 * system components (SystemComponent=1) and updates (ParentKeyName) left
 * out, as Programs and Features does.  *out is malloc'd.  0 or -errno;
 * no Uninstall key at all is 0 programs. */
int p2v_windows_programs(struct p2v_hive *software, struct p2v_win_program **out, size_t *n);

/* The program named name (its DisplayName or its key, any case); NULL. */
const struct p2v_win_program *p2v_windows_program_find(const struct p2v_win_program *p, size_t n,
                                                       const char *name);

/* Where uninstall-program puts the first-boot script that removes p
 * (systemroot/p2v/firstboot/uninstall-KEY.cmd, the key reduced to
 * letters, digits, '-', '.' and '_'): inventory looks there to tell that
 * the removal is pending. */
void p2v_windows_uninstall_script(const struct p2v_win_program *p, const char *systemroot,
                                  char *out, size_t len);

/* The unattended uninstall command: QuietUninstallString when the
 * publisher gives one; for a Windows Installer package, msiexec /X with
 * its product code, no user interface and no reboot; else "".  Exposed
 * for the unit tests. */
void p2v_windows_silent_uninstall(const char *key, const char *uninstall, const char *quiet,
                                  int windows_installer, char *out, size_t len);

#endif
