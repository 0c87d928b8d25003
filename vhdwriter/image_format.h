/* The image formats p2v writes, behind one interface: what each can hold,
 * whether a disk fits, the encoder that shows a disk in it, and the one
 * decision of which format a disk gets.  mount, info, check, inventory and
 * vm create all go through here, so a limit or a default lives in one
 * place (core/vhd_facts.h). */
#ifndef P2V_IMAGE_FORMAT_H
#define P2V_IMAGE_FORMAT_H

#include "core/layer.h"

/* What --format names, in its order. */
enum p2v_image_kind { P2V_IMAGE_AUTO, P2V_IMAGE_VHD, P2V_IMAGE_VHDX };

/* The disk an image would hold. */
struct p2v_image_disk {
    const char *name;          /* the source, for messages */
    uint64_t size;
    uint32_t logical_sector, physical_sector;
    int uefi;                  /* boots through UEFI (GPT with an EFI System Partition) */
};

struct p2v_image_params {
    int dynamic;               /* only blocks holding data are present */
    uint32_t block_size;       /* VHDX; 0: the format's default */
    uint32_t timestamp;        /* VHD epoch seconds (VHD) */
    uint32_t logical_sector, physical_sector;
    uint8_t unique_id[16];     /* the image identity */
};

/* What the image file is, whichever the format. */
struct p2v_image_layout {
    uint64_t file_size;
    uint64_t fixed_file_size;  /* a fixed image of the same disk */
    uint32_t block_size;
    uint64_t blocks_total, blocks_present;
};

struct p2v_image_format {
    enum p2v_image_kind kind;
    const char *name;          /* "vhd": for --format, JSON and messages */
    const char *label;         /* "VHD": in sentences */
    const char *file;          /* "disk.vhd": the view's file */
    const char *qemu;          /* QEMU's name for it: "vpc", "vhdx" */
    uint64_t max_size;
    const char *max_text;      /* "2040 GiB" */
    int any_block_size;        /* --block-size applies */
    uint32_t default_block;
    int sector_4k;             /* keeps 4096-byte logical sectors */
    int hyperv_gen2;           /* Hyper-V Generation 2 (UEFI) attaches it */
    /* 0 if d fits (with block_size; 0: the default), else -errno, with a
     * message saying what to do when say is set. */
    int (*check)(const struct p2v_image_disk *d, uint32_t block_size, int say);
    int (*open)(struct p2v_layer *below, const struct p2v_image_params *p,
                struct p2v_layer **out);
    void (*describe)(struct p2v_layer *image, struct p2v_image_layout *out);
};

extern const struct p2v_image_format p2v_vhd_format, p2v_vhdx_format;
/* VHDX first: where a mount point holds both, its image is the VHDX. */
extern const struct p2v_image_format *const p2v_image_formats[2];

/* The format for disk d: the one asked for, or for auto VHDX when the
 * disk boots through UEFI, has 4096-byte sectors or is over VHD's limit,
 * else VHD. */
const struct p2v_image_format *p2v_image_choose(enum p2v_image_kind asked,
                                                const struct p2v_image_disk *d);
/* The block size an image of f gets when block_size is asked (0: none). */
uint32_t p2v_image_block_size(const struct p2v_image_format *f, uint32_t block_size);

#endif
