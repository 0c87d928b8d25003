/* VHD and VHDX files given as the source of a conversion (V2V: possibly
 * hostile) through the snapshot view, as p2v opens them: format detection,
 * the checksum checks, libvhdi, p2v's own differencing-VHD reader, the
 * bad-sector layer and the guard; then reads in a few places.
 *
 * The input is written to a private directory as disk.vhd, beside a fixed
 * parent image, parent.vhd (a dynamic VHD of 4 MiB made once), so that a
 * differencing child naming "parent.vhd" with the parent's identifier opens
 * its chain.  Bit 0 of the length picks the bad-sector policy.
 *
 * libvhdi is not instrumented: coverage guides through p2v's code, and a
 * libvhdi fault shows only as a crash or through ASan's interceptors. */
#define _GNU_SOURCE
#include "tests/fuzz/harness.h"
#include "core/layer.h"
#include "core/log.h"
#include "snapshot/snapview.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_SIZE (512u * 1024)
#define PARENT_SIZE (4u << 20)
#define PARENT_BLOCK 4096u

static char dir[64], disk[96];

static void be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void be64(uint8_t *p, uint64_t v)
{
    be32(p, (uint32_t)(v >> 32));
    be32(p + 4, (uint32_t)v);
}

static uint32_t vhd_sum(const uint8_t *p, size_t n)
{
    uint32_t s = 0;
    for (size_t i = 0; i < n; i++)
        s += p[i];
    return ~s;
}

/* parent.vhd: a dynamic VHD of 4 MiB in 4 KiB blocks (libvhdi is slow on
 * big present blocks), blocks 0 and 5 present with a pattern, unique id
 * "p2v-fuzz-parent!" (the seeds' children name it). */
static void write_parent(void)
{
    enum { BAT_LEN = PARENT_SIZE / PARENT_BLOCK * 4, BLK = 512 + PARENT_BLOCK };
    size_t len = 512 + 1024 + BAT_LEN + 2 * BLK + 512;
    uint8_t *f = calloc(1, len);
    if (!f)
        abort();
    uint8_t *foot = f, *head = f + 512, *bat = f + 1536, *blk = bat + BAT_LEN;
    memcpy(foot, "conectix", 8);
    be32(foot + 8, 2);
    be32(foot + 12, 0x00010000);
    be64(foot + 16, 512);
    be32(foot + 24, 1);
    memcpy(foot + 28, "p2v ", 4);
    be32(foot + 32, 0x00010000);
    memcpy(foot + 36, "Wi2k", 4);
    be64(foot + 40, PARENT_SIZE);
    be64(foot + 48, PARENT_SIZE);
    be32(foot + 56, 0x00780410);  /* 120 cylinders, 4 heads, 16 sectors */
    be32(foot + 60, 3);           /* dynamic */
    memcpy(foot + 68, "p2v-fuzz-parent!", 16);
    be32(foot + 64, vhd_sum(foot, 512));
    memcpy(head, "cxsparse", 8);
    be64(head + 8, UINT64_MAX);
    be64(head + 16, 1536);
    be32(head + 24, 0x00010000);
    be32(head + 28, PARENT_SIZE / PARENT_BLOCK);
    be32(head + 32, PARENT_BLOCK);
    be32(head + 36, vhd_sum(head, 1024));
    memset(bat, 0xff, BAT_LEN);
    for (int b = 0; b < 2; b++) {
        uint8_t *p = blk + b * BLK;
        be32(bat + (b ? 5 : 0) * 4, (uint32_t)((size_t)(p - f) / 512));
        p[0] = 0xff;  /* the 8 sectors of the block are present */
        for (size_t i = 0; i < PARENT_BLOCK; i++)
            p[512 + i] = (uint8_t)(i * 7 + (i >> 9) + b);
    }
    memcpy(f + len - 512, foot, 512);
    char path[128];
    snprintf(path, sizeof path, "%s/parent.vhd", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, f, len) != (ssize_t)len || close(fd) < 0)
        abort();
    free(f);
}

static void cleanup(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/parent.vhd", dir);
    unlink(path);
    unlink(disk);
    rmdir(dir);
}

static void read_at(struct p2v_layer *l, uint8_t *buf, size_t len, uint64_t off)
{
    if (off >= l->size)
        return;
    if (len > l->size - off)
        len = (size_t)(l->size - off);
    if (p2v_layer_read(l, buf, len, off) == 0 && len) {
        volatile uint8_t sink = buf[0] ^ buf[len - 1];
        (void)sink;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0]) {
        p2v_log_quiet(1);
        snprintf(dir, sizeof dir, "/tmp/p2v-fuzz-vhdsource-XXXXXX");
        if (!mkdtemp(dir))
            abort();
        snprintf(disk, sizeof disk, "%s/disk.vhd", dir);
        write_parent();
        atexit(cleanup);
    }
    if (size > MAX_SIZE)
        return 0;
    int fd = open(disk, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        abort();
    if (write(fd, data, size) != (ssize_t)size)
        abort();
    close(fd);

    struct p2v_srcview_opts o = { .allow_live = 1, .format = P2V_FMT_AUTO,
                                  .bad = size & 1 ? P2V_BAD_ZERO : P2V_BAD_FAIL,
                                  .source_flags = P2V_SOURCE_CACHED };
    o.snap.provider = P2V_SNAP_NONE;
    struct p2v_srcview *v = malloc(sizeof *v);
    if (!v)
        abort();
    if (p2v_srcview_open(disk, &o, v) == 0) {
        struct p2v_layer *l = v->top;
        if (v->info.size != l->size || l->size == 0)
            abort();
        uint8_t *buf = malloc(1u << 20);
        if (!buf)
            abort();
        uint64_t s = l->size;
        read_at(l, buf, 4096, 0);
        read_at(l, buf, 512, s - 512);
        read_at(l, buf, 65536, s / 2 & ~511ull);
        read_at(l, buf, 1u << 20, 3u << 19);          /* across 2 MiB blocks */
        read_at(l, buf, 4096 + 3, (s / 3) | 511);     /* unaligned */
        uint64_t sum = 0;
        (void)p2v_layer_data_bytes(l, 0, s, &sum);
        if (sum > s)
            abort();
        free(buf);
        p2v_layer_close_stack(l);
        p2v_srcview_release(v);
    }
    free(v);
    return 0;
}
