#include "image_format.h"

#include "vhd.h"
#include "vhdx.h"

#include "core/vhd_facts.h"

#include <string.h>

static int vhd_check(const struct p2v_image_disk *d, uint32_t block_size, int say)
{
    (void)block_size;  /* VHD blocks are always 2 MiB */
    return p2v_vhd_check(d->size, d->logical_sector, d->name, say);
}

static int vhd_open(struct p2v_layer *below, const struct p2v_image_params *p,
                    struct p2v_layer **out)
{
    struct p2v_vhd_params vp = { .dynamic = p->dynamic, .timestamp = p->timestamp };
    memcpy(vp.unique_id, p->unique_id, 16);
    return p2v_vhd_open(below, &vp, out);
}

static void vhd_describe(struct p2v_layer *image, struct p2v_image_layout *out)
{
    struct p2v_vhd_layout v;
    p2v_vhd_describe(image, &v);
    /* A fixed VHD is the disk and a footer. */
    *out = (struct p2v_image_layout){ .file_size = v.file_size,
                                      .fixed_file_size = image->below->size + VHD_FOOTER_SIZE,
                                      .block_size = VHD_BLOCK_SIZE,
                                      .blocks_total = v.blocks_total,
                                      .blocks_present = v.blocks_allocated };
}

static int vhdx_check(const struct p2v_image_disk *d, uint32_t block_size, int say)
{
    return p2v_vhdx_check(d->size, d->logical_sector ? d->logical_sector : 512,
                          p2v_image_block_size(&p2v_vhdx_format, block_size), say);
}

static int vhdx_open(struct p2v_layer *below, const struct p2v_image_params *p,
                     struct p2v_layer **out)
{
    struct p2v_vhdx_params xp = { .dynamic = p->dynamic, .block_size = p->block_size,
                                  .logical_sector = p->logical_sector,
                                  .physical_sector = p->physical_sector };
    memcpy(xp.unique_id, p->unique_id, 16);
    return p2v_vhdx_open(below, &xp, out);
}

static void vhdx_describe(struct p2v_layer *image, struct p2v_image_layout *out)
{
    struct p2v_vhdx_layout x;
    p2v_vhdx_describe(image, &x);
    /* A fixed VHDX has every block. */
    uint64_t fixed = x.file_size - x.blocks_present * x.block_size + x.blocks_total * x.block_size;
    *out = (struct p2v_image_layout){ .file_size = x.file_size, .fixed_file_size = fixed,
                                      .block_size = x.block_size,
                                      .blocks_total = x.blocks_total,
                                      .blocks_present = x.blocks_present };
}

const struct p2v_image_format p2v_vhd_format = {
    .kind = P2V_IMAGE_VHD, .name = "vhd", .label = "VHD", .file = "disk.vhd", .qemu = "vpc",
    .max_size = VHD_MAX_SIZE, .max_text = VHD_MAX_TEXT,
    .any_block_size = 0, .default_block = VHD_BLOCK_SIZE, .sector_4k = 0, .hyperv_gen2 = 0,
    .check = vhd_check, .open = vhd_open, .describe = vhd_describe,
};

const struct p2v_image_format p2v_vhdx_format = {
    .kind = P2V_IMAGE_VHDX, .name = "vhdx", .label = "VHDX", .file = "disk.vhdx", .qemu = "vhdx",
    .max_size = VHDX_MAX_SIZE, .max_text = VHDX_MAX_TEXT,
    .any_block_size = 1, .default_block = VHDX_DEFAULT_BLOCK, .sector_4k = 1, .hyperv_gen2 = 1,
    .check = vhdx_check, .open = vhdx_open, .describe = vhdx_describe,
};

const struct p2v_image_format *const p2v_image_formats[2] = { &p2v_vhdx_format, &p2v_vhd_format };

const struct p2v_image_format *p2v_image_choose(enum p2v_image_kind asked,
                                                const struct p2v_image_disk *d)
{
    if (asked == P2V_IMAGE_VHD)
        return &p2v_vhd_format;
    if (asked == P2V_IMAGE_VHDX)
        return &p2v_vhdx_format;
    /* Gen 2 Hyper-V and UEFI guests want VHDX; VHD cannot hold the rest. */
    int vhd_cannot = (d->logical_sector && d->logical_sector != VHD_SECTOR) ||
                     d->size > VHD_MAX_SIZE;
    return d->uefi || vhd_cannot ? &p2v_vhdx_format : &p2v_vhd_format;
}

uint32_t p2v_image_block_size(const struct p2v_image_format *f, uint32_t block_size)
{
    return f->any_block_size && block_size ? block_size : f->default_block;
}
