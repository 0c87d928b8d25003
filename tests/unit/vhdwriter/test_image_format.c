/* The image formats' one interface (vhdwriter/image_format.c): auto's
 * choice for each kind of disk, the limits each format checks (quietly
 * when asked), block sizes, and an encoder opened through the interface
 * describing the file it shows (sizes of the dynamic and the fixed file). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>

#include "tests/unit/fake_layer.h"
#include "core/vhd_facts.h"
#include "vhdwriter/image_format.h"

#define MiB (1024ull * 1024)
#define GiB (1024 * MiB)

static void auto_choice(void **state)
{
    (void)state;
    struct p2v_image_disk small = { .name = "d", .size = 10 * GiB, .logical_sector = 512 };
    assert_ptr_equal(p2v_image_choose(P2V_IMAGE_AUTO, &small), &p2v_vhd_format);
    struct p2v_image_disk d = small;
    d.uefi = 1;
    assert_ptr_equal(p2v_image_choose(P2V_IMAGE_AUTO, &d), &p2v_vhdx_format);
    d = small;
    d.logical_sector = 4096;
    assert_ptr_equal(p2v_image_choose(P2V_IMAGE_AUTO, &d), &p2v_vhdx_format);
    d = small;
    d.size = VHD_MAX_SIZE;
    assert_ptr_equal(p2v_image_choose(P2V_IMAGE_AUTO, &d), &p2v_vhd_format);
    d.size += 512;
    assert_ptr_equal(p2v_image_choose(P2V_IMAGE_AUTO, &d), &p2v_vhdx_format);
    /* Asked for: kept, even where it cannot hold the disk (check says so). */
    assert_ptr_equal(p2v_image_choose(P2V_IMAGE_VHD, &d), &p2v_vhd_format);
    assert_ptr_equal(p2v_image_choose(P2V_IMAGE_VHDX, &small), &p2v_vhdx_format);
    assert_ptr_equal(p2v_image_formats[0], &p2v_vhdx_format);
}

static void limits(void **state)
{
    (void)state;
    const struct p2v_image_format *vhd = &p2v_vhd_format, *vhdx = &p2v_vhdx_format;
    struct p2v_image_disk d = { .name = "d", .size = VHD_MAX_SIZE, .logical_sector = 512 };
    assert_int_equal(vhd->check(&d, 0, 1), 0);
    d.size += 512;
    assert_int_equal(vhd->check(&d, 0, 0), -EFBIG);
    assert_int_equal(vhdx->check(&d, 0, 1), 0);
    d.size = VHDX_MAX_SIZE + 4096;
    assert_int_equal(vhdx->check(&d, 0, 0), -EFBIG);
    d = (struct p2v_image_disk){ .name = "d", .size = 64 * MiB, .logical_sector = 4096 };
    assert_int_equal(vhd->check(&d, 0, 0), -EINVAL);
    assert_int_equal(vhdx->check(&d, 0, 0), 0);
    assert_int_equal(vhdx->check(&d, 3 * MiB, 0), -EINVAL);   /* not a power of two */
    assert_int_equal(vhdx->check(&d, 512 * MiB, 0), -EINVAL); /* over 256 MiB */
    d.size = 2 * MiB;
    d.logical_sector = 512;
    assert_int_equal(vhd->check(&d, 0, 0), -EINVAL);          /* under Windows' 3 MiB */
    assert_int_equal(p2v_image_block_size(vhd, 8 * MiB), VHD_BLOCK_SIZE);
    assert_int_equal(p2v_image_block_size(vhdx, 0), VHDX_DEFAULT_BLOCK);
    assert_int_equal(p2v_image_block_size(vhdx, 8 * MiB), 8 * MiB);
    assert_string_equal(vhd->file, "disk.vhd");
    assert_string_equal(vhdx->qemu, "vhdx");
    assert_true(vhdx->hyperv_gen2 && !vhd->hyperv_gen2);
}

static int odd_blocks_zero(uint64_t b) { return b % 2 == 1; }

static void open_and_describe(void **state)
{
    (void)state;
    /* 16 blocks of 2 MiB, every other one zero, reported as holes. */
    struct fake fk = fake_make(32 * MiB, 3, odd_blocks_zero);
    fk.report_holes = 1;
    for (size_t i = 0; i < 2; i++) {
        const struct p2v_image_format *f = p2v_image_formats[i];
        struct p2v_image_params p = { .dynamic = 1, .block_size = 2 * MiB, .logical_sector = 512,
                                      .physical_sector = 512 };
        struct p2v_layer *img;
        assert_int_equal(f->open(&fk.l, &p, &img), 0);
        struct p2v_image_layout lay;
        f->describe(img, &lay);
        assert_int_equal(lay.file_size, img->size);
        assert_int_equal(lay.block_size, 2 * MiB);
        assert_int_equal(lay.blocks_total, 16);
        assert_int_equal(lay.blocks_present, 8);
        /* The fixed file has every block: exactly 8 more. */
        uint64_t more = lay.fixed_file_size - lay.file_size;
        if (f == &p2v_vhd_format)
            assert_int_equal(lay.fixed_file_size, 32 * MiB + VHD_FOOTER_SIZE);
        else
            assert_int_equal(more, 8 * 2 * MiB);
        p2v_layer_close(img);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(auto_choice),
        cmocka_unit_test(limits),
        cmocka_unit_test(open_and_describe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
