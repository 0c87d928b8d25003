/* The fix-up plan parser: words, quotes, comments; errors name the line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixup/plan.h"
#include "machine/linux_plan.h"

static char path[64];

static int no_service(void *ctx, const char *name)
{
    (void)ctx, (void)name;
    return P2V_DRIVER_ABSENT;
}

static int write_plan(const char *text)
{
    snprintf(path, sizeof path, "/tmp/p2v-plan-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, text, strlen(text));
    close(fd);
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

static void words_quotes_and_comments(void **state)
{
    (void)state;
    assert_int_equal(write_plan("# a comment\n\n"
                                "  enable-driver viostor   # trailing comment\n"
                                "reg-set HKLM\\SOFTWARE\\X \"Value Name\" sz \"a \\\"quoted\\\" # not a comment\"\n"
                                "file-put \"my file.txt\" %SystemRoot%\\x.txt\r\n"
                                "boot-geometry"),  /* no final newline */
                     0);
    struct p2v_plan p;
    assert_int_equal(p2v_plan_load(path, &p), 0);
    assert_int_equal(p.n, 4);
    assert_int_equal(p.a[0].line, 3);
    assert_int_equal(p.a[0].argc, 2);
    assert_string_equal(p.a[0].argv[1], "viostor");
    assert_int_equal(p.a[1].argc, 5);
    assert_string_equal(p.a[1].argv[1], "HKLM\\SOFTWARE\\X");
    assert_string_equal(p.a[1].argv[2], "Value Name");
    assert_string_equal(p.a[1].argv[4], "a \"quoted\" # not a comment");
    assert_string_equal(p.a[2].argv[1], "my file.txt");
    assert_string_equal(p.a[2].argv[2], "%SystemRoot%\\x.txt");
    assert_int_equal(p.a[3].line, 6);
    char *f = p2v_plan_file(&p, "my file.txt");
    assert_non_null(f);
    assert_string_equal(f, "/tmp/my file.txt");
    free(f);
    f = p2v_plan_file(&p, "/abs/x");
    assert_string_equal(f, "/abs/x");
    free(f);
    p2v_plan_free(&p);
    unlink(path);
}

static void errors_are_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "boot-geometry\nfrobnicate\n",               /* unknown action */
        "enable-driver\n",                            /* too few words */
        "no-auto-reboot now\n",                       /* too many */
        "reg-set K V sz \"open quote\n",              /* quote not closed */
        "file-put onlyone\n",
        "efi-fallback\n",                             /* no loader */
        "efi-fallback EFI/debian/grubx64.efi\n",      /* not under /EFI/ */
        "efi-fallback /EFI/../x.efi\n",               /* climbs */
        "efi-fallback \"/EFI/a b.efi\"\n",           /* a blank */
        "efi-fallback /EFI/debian/grub$x.efi\n",      /* a shell character */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(write_plan(bad[i]), 0);
        struct p2v_plan p;
        assert_int_equal(p2v_plan_load(path, &p), -EINVAL);
        assert_int_equal(p.n, 0);
        unlink(path);
    }
    /* A NUL cuts a line short where nobody sees it; an escape would reach
     * the terminal in messages (issue 19, 10 and 11).  Tabs and CRLF pass. */
    static const struct { const char *text; size_t len; } controls[] = {
        { "no-auto-reboot\nfile-delete a\0b\n", 31 },
        { "file-delete \"\033[31mred\"\n", 23 },
        { "file-delete a\x7f\n", 15 },
        { "\nno-auto-reboot\b\n", 17 },
    };
    for (size_t i = 0; i < sizeof controls / sizeof *controls; i++) {
        snprintf(path, sizeof path, "/tmp/p2v-plan-XXXXXX");
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, controls[i].text, controls[i].len), (ssize_t)controls[i].len);
        close(fd);
        struct p2v_plan p;
        assert_int_equal(p2v_plan_load(path, &p), -EINVAL);
        assert_int_equal(p.n, 0);
        unlink(path);
    }
    struct p2v_plan p;
    assert_int_equal(write_plan("no-auto-reboot\t# tab\r\nboot-geometry\r\n"), 0);
    assert_int_equal(p2v_plan_load(path, &p), 0);
    assert_int_equal(p.n, 2);
    p2v_plan_free(&p);
    unlink(path);
    assert_int_equal(p2v_plan_load("/nonexistent/plan", &p), -ENOENT);
    assert_int_equal(write_plan("efi-fallback /EFI/Microsoft/Boot/bootmgfw.efi\n"), 0);
    assert_int_equal(p2v_plan_load(path, &p), 0);
    assert_int_equal(p.n, 1);
    p2v_plan_free(&p);
    unlink(path);
}


/* 0 when the one-line plan loads, else its error; the plan is removed. */
static int load_one(const char *text)
{
    struct p2v_plan p;
    if (write_plan(text) < 0)
        return -EIO;
    int r = p2v_plan_load(path, &p);
    if (r == 0)
        p2v_plan_free(&p);
    unlink(path);
    return r;
}

static char line[70000];

/* A plan line: fmt's %s is n copies of unit. */
static const char *with_name(const char *fmt, const char *unit, int n)
{
    char name[4 * 70000 / 4];
    size_t u = strlen(unit), at = 0;
    for (int i = 0; i < n && at + u < sizeof name; i++, at += u)
        memcpy(name + at, unit, u);
    name[at] = 0;
    snprintf(line, sizeof line, fmt, name);
    return line;
}

/* Issue 19: a name longer than NTFS (or the registry) can hold is refused
 * with the plan's line, not found out half-way through an apply. */
static void over_long_names_are_refused(void **state)
{
    (void)state;
    assert_int_equal(load_one(with_name("file-put x.txt \"1:/%s\"\n", "a", 255)), 0);
    assert_int_equal(load_one(with_name("file-put x.txt \"1:/%s\"\n", "a", 256)), -EINVAL);
    assert_int_equal(load_one(with_name("file-put x.txt \"%%SystemRoot%%\\%s\\x\"\n", "a", 300)),
                     -EINVAL);
    assert_int_equal(load_one(with_name("file-delete \"/d/%s\"\n", "a", 300)), -EINVAL);
    /* UTF-16 units, not bytes: 255 two-byte letters fit, 128 emoji do not. */
    assert_int_equal(load_one(with_name("file-delete \"/%s\"\n", "\xc3\xa9", 255)), 0);
    assert_int_equal(load_one(with_name("file-delete \"/%s\"\n", "\xf0\x9f\x98\x80", 128)), -EINVAL);
    assert_int_equal(load_one("file-delete \"/\xff\xfe\"\n"), -EINVAL);  /* not UTF-8 */
    /* Strict UTF-8, as libntfs-3g takes it: an overlong '/', an encoded
     * surrogate, a code point past U+10FFFF. */
    assert_int_equal(load_one("file-delete \"/a\xc0\xaf" "b\"\n"), -EINVAL);
    assert_int_equal(load_one("file-delete \"/a\xed\xa0\x80" "b\"\n"), -EINVAL);
    assert_int_equal(load_one("file-delete \"/a\xf4\x90\x80\x80" "b\"\n"), -EINVAL);
    assert_int_equal(load_one(with_name("reg-set \"HKLM\\SOFTWARE\\%s\" v dword 1\n", "k", 255)), 0);
    assert_int_equal(load_one(with_name("reg-set \"HKLM\\SOFTWARE\\%s\" v dword 1\n", "k", 256)),
                     -EINVAL);
    assert_int_equal(load_one(with_name("reg-delete \"HKLM\\SOFTWARE\\%s\"\n", "k", 300)), -EINVAL);
    assert_int_equal(load_one(with_name("reg-set HKLM\\SOFTWARE\\p2v %s dword 1\n", "v", 16384)),
                     -EINVAL);
    assert_int_equal(load_one(with_name("reg-set HKLM\\SOFTWARE\\p2v %s dword 1\n", "v", 16383)), 0);
    assert_int_equal(load_one(with_name("disable-service %s\n", "s", 129)), -EINVAL);
    assert_int_equal(load_one(with_name("disable-service %s\n", "s", 128)), 0);
    assert_int_equal(load_one(with_name("inject-driver %s x.sys\n", "s", 55)), -EINVAL);
    assert_int_equal(load_one(with_name("inject-driver %s x.sys\n", "s", 54)), 0);
    assert_int_equal(load_one(with_name("firstboot /x/%s.cmd\n", "s", 197)), -EINVAL);
    assert_int_equal(load_one(with_name("firstboot /x/%s.cmd\n", "s", 196)), 0);
    assert_int_equal(load_one("enable-driver ..\\x\n"), -EINVAL);
    /* Whole paths too: p2v would cut them short. */
    assert_int_equal(load_one(with_name("file-delete \"%s\"\n", "/aaaaaaaa", 120)), -EINVAL);
}

/* Issue 19: the volume's root and NTFS's own files are never deleted or
 * replaced; names that only look like them are. */
static void system_files_are_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "file-delete 1:/$MFT\n", "file-delete 1:/\n", "file-delete 1:\n", "file-delete /\n",
        "file-delete \"\"\n", "file-delete /$mft\n", "file-delete 1:/./$Boot\n",
        "file-delete \"1:\\\\$Extend\\\\$Quota\"\n", "file-delete $LogFile\n",
        "file-put x.txt 1:/$UpCase\n", "file-put x.txt 2:/$Extend/$ObjId\n",
        "file-delete $MFTMirr\n", "file-delete $Volume\n", "file-delete $AttrDef\n",
        "file-delete $Bitmap\n", "file-delete $BadClus\n", "file-delete $Secure\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(load_one(bad[i]), -EINVAL);
    static const char *const good[] = {
        "file-delete 1:/$MFTx\n", "file-delete 1:/dir/$MFT\n", "file-delete %SystemRoot%\\$MFT\n",
        "file-put x.txt /hello.txt\n", "file-delete 1:/$Recycle.Bin/x\n",
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        assert_int_equal(load_one(good[i]), 0);
}

/* Issue 19: what fixup plan writes from the guest cannot add a line. */
static void guest_strings_cannot_start_a_line(void **state)
{
    (void)state;
    struct p2v_windows w;
    memset(&w, 0, sizeof w);
    snprintf(w.product, sizeof w.product, "Windows\nfile-delete 1:/evil\r\nreg-delete HKLM\\SYSTEM\\X");
    snprintf(w.version, sizeof w.version, "6.1\n#");
    snprintf(w.arch, sizeof w.arch, "x86_64");
    snprintf(w.ccs, sizeof w.ccs, "ControlSet001");
    snprintf(w.systemroot, sizeof w.systemroot, "/Windows");
    struct p2v_win_program prog[1];
    memset(prog, 0, sizeof prog);
    prog[0].vendor = 1;
    snprintf(prog[0].name, sizeof prog[0].name, "Tools\"\nfile-delete 1:/evil2\x7f");
    snprintf(prog[0].command, sizeof prog[0].command, "msiexec /x {X}\nfile-delete 1:/evil3");
    snprintf(path, sizeof path, "/tmp/p2v-plan-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    assert_int_equal(p2v_plan_default(f, "virtio", &w, "/src/disk\n.img", "drivers", no_service,
                                      NULL, prog, 1), 0);
    assert_int_equal(fclose(f), 0);
    struct p2v_plan p;
    assert_int_equal(p2v_plan_load(path, &p), 0);
    for (int i = 0; i < p.n; i++) {
        assert_string_not_equal(p.a[i].argv[0], "file-delete");
        assert_string_not_equal(p.a[i].argv[0], "reg-delete");
        if (!strcmp(p.a[i].argv[0], "uninstall-program")) {
            assert_int_equal(p.a[i].argc, 2);
            assert_string_equal(p.a[i].argv[1], "Tools\"?file-delete 1:/evil2?");
        }
    }
    p2v_plan_free(&p);
    unlink(path);
}

/* The Linux plan writer too: names from the guest stay one word, and its
 * text stays in its comment. */
static void linux_guest_strings_cannot_start_a_line(void **state)
{
    (void)state;
    struct p2v_machine *m = calloc(1, sizeof *m);
    assert_non_null(m);
    snprintf(m->os.family, sizeof m->os.family, "linux");
    snprintf(m->os.name, sizeof m->os.name, "Debian\nfile-delete 1:/evil");
    m->nnics = 1;
    snprintf(m->nic[0].name, sizeof m->nic[0].name, "eth0 #\nfile-delete 1:/evil2");
    snprintf(m->nic[0].mac, sizeof m->nic[0].mac, "52:54:00:12:34:56");
    snprintf(m->nic[0].pin, sizeof m->nic[0].pin, "/etc/udev/rules.d/70-net.rules");
    m->os.ntools = 2;
    snprintf(m->os.tool[0].name, sizeof m->os.tool[0].name, "open-vm-tools\nreg-delete X");
    snprintf(m->os.tool[0].kind, sizeof m->os.tool[0].kind, "package");
    snprintf(m->os.tool[1].name, sizeof m->os.tool[1].name, "vmware\nfile-delete 1:/evil3");
    snprintf(m->os.tool[1].kind, sizeof m->os.tool[1].kind, "program");
    snprintf(path, sizeof path, "/tmp/p2v-plan-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    assert_int_equal(p2v_linux_plan_default(f, "virtio", 1, m, "/src\nreg-delete Y"), 0);
    assert_int_equal(fclose(f), 0);
    free(m);
    struct p2v_plan p;
    assert_int_equal(p2v_plan_load(path, &p), 0);
    int nic = 0;
    for (int i = 0; i < p.n; i++) {
        assert_string_not_equal(p.a[i].argv[0], "file-delete");
        assert_string_not_equal(p.a[i].argv[0], "reg-delete");
        if (!strcmp(p.a[i].argv[0], "linux-nic")) {
            nic++;
            assert_int_equal(p.a[i].argc, 3);
            assert_string_equal(p.a[i].argv[1], "eth0 #?file-delete 1:/evil2");
        }
        if (!strcmp(p.a[i].argv[0], "linux-remove-package"))
            assert_int_equal(p.a[i].argc, 2);
    }
    assert_int_equal(nic, 1);
    p2v_plan_free(&p);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(words_quotes_and_comments),
        cmocka_unit_test(errors_are_refused),
        cmocka_unit_test(over_long_names_are_refused),
        cmocka_unit_test(system_files_are_refused),
        cmocka_unit_test(guest_strings_cannot_start_a_line),
        cmocka_unit_test(linux_guest_strings_cannot_start_a_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
