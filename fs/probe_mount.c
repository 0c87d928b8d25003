#define _GNU_SOURCE
#define FUSE_USE_VERSION 312
#include "probe_mount.h"

#include "core/log.h"

#include <errno.h>
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FILE_INO 2
#define NAME "disk"

struct p2v_probe_mount {
    struct p2v_layer *l;
    struct fuse_session *se;
    pthread_t thread;
    char dir[64];
};

static void fill(struct p2v_probe_mount *pm, fuse_ino_t ino, struct stat *st)
{
    memset(st, 0, sizeof *st);
    st->st_ino = ino;
    st->st_uid = getuid();
    st->st_gid = getgid();
    if (ino == FUSE_ROOT_ID) {
        st->st_mode = S_IFDIR | 0500;
        st->st_nlink = 2;
    } else {
        st->st_mode = S_IFREG | 0400;
        st->st_nlink = 1;
        st->st_size = (off_t)pm->l->size;
    }
}

static void p_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    struct p2v_probe_mount *pm = fuse_req_userdata(req);
    if (parent != FUSE_ROOT_ID || strcmp(name, NAME)) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    struct fuse_entry_param e = { .ino = FILE_INO, .attr_timeout = 3600, .entry_timeout = 3600 };
    fill(pm, FILE_INO, &e.attr);
    fuse_reply_entry(req, &e);
}

static void p_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    (void)fi;
    struct stat st;
    if (ino != FUSE_ROOT_ID && ino != FILE_INO) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    fill(fuse_req_userdata(req), ino, &st);
    fuse_reply_attr(req, &st, 3600);
}

static void p_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    if (ino != FILE_INO) {
        fuse_reply_err(req, EISDIR);
        return;
    }
    fi->direct_io = 1;  /* reads reach the layer as the library issues them */
    fuse_reply_open(req, fi);
}

static void p_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                   struct fuse_file_info *fi)
{
    (void)ino;
    (void)fi;
    struct p2v_probe_mount *pm = fuse_req_userdata(req);
    if (off < 0 || (uint64_t)off >= pm->l->size) {
        fuse_reply_buf(req, NULL, 0);
        return;
    }
    if (size > pm->l->size - (uint64_t)off)
        size = (size_t)(pm->l->size - (uint64_t)off);
    void *buf = malloc(size ? size : 1);
    if (!buf) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    int r = p2v_layer_read(pm->l, buf, size, (uint64_t)off);
    if (r < 0)
        fuse_reply_err(req, -r);
    else
        fuse_reply_buf(req, buf, size);
    free(buf);
}

static const struct fuse_lowlevel_ops probe_ops = {
    .lookup = p_lookup,
    .getattr = p_getattr,
    .open = p_open,
    .read = p_read,
};

static void *serve(void *arg)
{
    struct p2v_probe_mount *pm = arg;
    fuse_session_loop(pm->se);
    return NULL;
}

static void on_usr1(int sig)
{
    (void)sig;
}

int p2v_probe_mount(struct p2v_layer *l, struct p2v_probe_mount **out, char *path, size_t len)
{
    struct p2v_probe_mount *pm = calloc(1, sizeof *pm);
    if (!pm)
        return -ENOMEM;
    pm->l = l;
    /* TMPDIR only when it is safe to make a mount point in: ours or
     * root's, and sticky if others may write there. */
    const char *tmp = getenv("TMPDIR");
    struct stat td;
    if (!tmp || !*tmp || strlen(tmp) >= 40 || stat(tmp, &td) < 0 || !S_ISDIR(td.st_mode) ||
        (td.st_uid != 0 && td.st_uid != geteuid()) ||
        ((td.st_mode & (S_IWGRP | S_IWOTH)) && !(td.st_mode & S_ISVTX)))
        tmp = "/tmp";
    snprintf(pm->dir, sizeof pm->dir, "%s/p2v-probe.XXXXXX", tmp);
    /* Messages name tmp, which the user chose or can change, not the
     * random name under it, which is gone when p2v exits. */
    if (!mkdtemp(pm->dir)) {
        int e = errno;
        p2v_err("cannot make a private directory in %s to probe the partitions: %s; set TMPDIR "
                "to a writable directory of your own", tmp, strerror(e));
        free(pm);
        return -e;
    }
    char *argv[] = { "p2v-probe", "-o", "ro,fsname=p2v-probe,subtype=p2v-probe", NULL };
    struct fuse_args args = FUSE_ARGS_INIT(3, argv);
    pm->se = fuse_session_new(&args, &probe_ops, sizeof probe_ops, pm);
    fuse_opt_free_args(&args);  /* the session keeps copies of what it needs */
    if (!pm->se || fuse_session_mount(pm->se, pm->dir) != 0) {
        p2v_err("cannot mount a private FUSE view in %s to probe the partitions; p2v "
                "needs /dev/fuse for this source", tmp);
        if (pm->se)
            fuse_session_destroy(pm->se);
        rmdir(pm->dir);
        free(pm);
        return -EIO;
    }
    /* The loop is ended by a signal that interrupts its read of
     * /dev/fuse: installed without SA_RESTART. */
    struct sigaction sa = { .sa_handler = on_usr1 };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    if (pthread_create(&pm->thread, NULL, serve, pm) != 0) {
        fuse_session_unmount(pm->se);
        fuse_session_destroy(pm->se);
        rmdir(pm->dir);
        free(pm);
        return -EAGAIN;
    }
    snprintf(path, len, "%s/" NAME, pm->dir);
    *out = pm;
    return 0;
}

void p2v_probe_umount(struct p2v_probe_mount *pm)
{
    if (!pm)
        return;
    fuse_session_exit(pm->se);
    /* A signal that lands just before the loop's read is lost: repeat
     * until the thread has ended. */
    for (;;) {
        pthread_kill(pm->thread, SIGUSR1);
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        t.tv_nsec += 50 * 1000000;
        if (t.tv_nsec >= 1000000000) {
            t.tv_sec++;
            t.tv_nsec -= 1000000000;
        }
        if (pthread_timedjoin_np(pm->thread, NULL, &t) == 0)
            break;
    }
    fuse_session_unmount(pm->se);
    fuse_session_destroy(pm->se);
    rmdir(pm->dir);
    free(pm);
}
