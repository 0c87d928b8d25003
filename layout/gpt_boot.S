/* p2v's protective-MBR boot code for GPT disks: chain-loads the boot sector
 * of the first partition whose "legacy BIOS bootable" attribute (bit 2) is
 * set, the GPT counterpart of the active flag.
 *
 * Like mbr_boot.S it moves itself to 0000:0600 and reads with the INT 13h
 * extensions (64-bit LBAs).  It reads the GPT header at LBA 1, walks the
 * entry array one entry at a time (one sector read per entry keeps the
 * code small and works for any entry size), loads the chosen partition's
 * first sector at 7C00 and jumps to it as an MBR would: DL = boot drive,
 * DS:SI = 0000:0500, a 16-byte MBR-style entry (active, type EDh, start
 * LBA and size clamped to 32 bits) for boot sectors that look there; NTFS
 * reads its own hidden-sectors field instead.  440 bytes at most. */
        .code16
        .include "boot_common.inc"
        /* Scratch variables past the relocated sector, not in the image. */
        ent_lba = 0x0800                /* 8 bytes */
        count   = 0x0808
        esize   = 0x080c
        pos     = 0x0810                /* byte offset in the entry array */
        .text
        .globl  _start
_start:
        BOOT_RELOCATE

relocated:
        movb    %dl, drive
        movb    $0x41, %ah              /* INT 13h extensions present? */
        movw    $0x55aa, %bx
        int     $0x13
        jc      noext
        cmpw    $0xaa55, %bx
        jne     noext
        movb    $1, dap_lba             /* LBA 1: the primary GPT header */
        call    read_sector
        cmpl    $0x20494645, 0x7c00     /* "EFI " */
        jne     nogpt
        movw    $0x7c00+72, %si         /* entry array LBA, count, size: */
        movw    $ent_lba, %di           /* header bytes 72..87, in that order */
        movw    $8, %cx
        rep movsw
        xorl    %eax, %eax
        movl    %eax, pos

next:
        cmpl    $0, count
        je      nobootable
        movl    pos, %eax               /* sector holding entry: array + pos/512 */
        shrl    $9, %eax
        xorl    %edx, %edx
        addl    ent_lba, %eax
        adcl    ent_lba+4, %edx
        movl    %eax, dap_lba
        movl    %edx, dap_lba+4
        call    read_sector
        movw    pos, %si
        andw    $511, %si
        addw    $0x7c00, %si
        testb   $4, 48(%si)             /* attribute bit 2: legacy BIOS bootable */
        jnz     bootable
        movl    esize, %eax
        addl    %eax, pos
        decl    count
        jmp     next

bootable:
        movl    $0xfffffe80, 0x0500     /* the hand-over entry at 0500: */     /* active, CHS "beyond 8 GB" */
        movl    $0xfffffeed, 0x0504     /* type EDh, CHS likewise */
        movl    32(%si), %eax           /* first LBA */
        movl    36(%si), %edx
        movl    %eax, dap_lba
        movl    %edx, dap_lba+4
        call    clamp
        movl    %eax, 0x0508
        movl    40(%si), %eax           /* sectors = last - first + 1 */
        movl    44(%si), %edx
        subl    32(%si), %eax
        sbbl    36(%si), %edx
        addl    $1, %eax
        adcl    $0, %edx
        call    clamp
        movl    %eax, 0x050c
        call    read_sector             /* the partition's boot sector */
        cmpw    $0xaa55, 0x7dfe
        jne     nosig
        movb    drive, %dl
        movw    $0x0500, %si
        ljmp    $0, $0x7c00

/* EDX:EAX -> EAX, saturated at FFFFFFFFh. */
clamp:
        testl   %edx, %edx
        jz      1f
        movl    $0xffffffff, %eax
1:      ret

/* Reads the sector at dap_lba into 0000:7C00; fails loudly. */
read_sector:
        pushw   %si
        movb    $0x42, %ah
        movb    drive, %dl
        movw    $dap, %si
        int     $0x13
        popw    %si
        jc      readerr
        ret

noext:
        movw    $msg_noext, %si
        jmp     fail
nogpt:
        movw    $msg_nogpt, %si
        jmp     fail
nobootable:
        movw    $msg_noboot, %si
        jmp     fail
readerr:
        movw    $msg_read, %si
        jmp     fail
nosig:
        movw    $msg_nosig, %si
        BOOT_FAIL_AND_DAP
drive:
        .byte   0

msg_noext:      .asciz  "p2v: no LBA BIOS"
msg_nogpt:      .asciz  "p2v: no GPT"
msg_noboot:     .asciz  "p2v: no bootable partition"
msg_read:       .asciz  "p2v: read error"
msg_nosig:      .asciz  "p2v: no 55AA"

        .org    440
