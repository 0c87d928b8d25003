/* dpkg's database of installed packages (/var/lib/dpkg/status), read as
 * text: what inventory reports and the package fix-ups check. */
#ifndef P2V_DPKG_STATUS_H
#define P2V_DPKG_STATUS_H

/* 1 if status (the file's text) has a paragraph for pkg whose Status is
 * "install ok installed", else 0. */
int p2v_dpkg_installed(const char *status, const char *pkg);

#endif
