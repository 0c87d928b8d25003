/* p2v's MBR boot code: chain-loads the boot sector of the active partition.
 *
 * The BIOS loads this sector at 0000:7C00 and jumps to it with the boot
 * drive in DL.  The code moves itself to 0000:0600 so the partition's
 * boot sector can take its place at 7C00, finds the partition entry whose
 * status byte has bit 7 set, reads that partition's first sector with the
 * INT 13h extended read (LBA, so any start below 2 TiB works), checks the
 * 55AA signature and jumps to it with DL = boot drive and DS:SI pointing
 * at the partition entry, as boot sectors expect.
 *
 * Failures print a short message through the video BIOS and halt.  No CHS
 * fallback: every BIOS since the late 1990s has the extensions.
 * Assembled with GNU as; linked at 0x600; 440 bytes at most (the disk
 * signature follows at offset 440). */
        .code16
        .include "boot_common.inc"
        .text
        .globl  _start
_start:
        BOOT_RELOCATE

relocated:
        movb    %dl, drive
        movw    $0x07be, %si            /* first partition entry (0600 + 1BE) */
        movw    $4, %cx
find:
        testb   $0x80, (%si)
        jnz     found
        addw    $16, %si
        loop    find
        movw    $msg_noactive, %si
        jmp     fail

found:
        movb    $0x41, %ah              /* are the INT 13h extensions there? */
        movw    $0x55aa, %bx
        movb    drive, %dl
        pushw   %si
        int     $0x13
        popw    %si
        jc      noext
        cmpw    $0xaa55, %bx
        jne     noext
        movl    8(%si), %eax            /* the partition's first LBA */
        movl    %eax, dap_lba
        movb    $0x42, %ah
        movb    drive, %dl
        pushw   %si
        movw    $dap, %si
        int     $0x13
        popw    %si
        jc      readerr
        cmpw    $0xaa55, 0x7dfe
        jne     nosig
        movb    drive, %dl
        ljmp    $0, $0x7c00

noext:
        movw    $msg_noext, %si
        jmp     fail
readerr:
        movw    $msg_read, %si
        jmp     fail
nosig:
        movw    $msg_nosig, %si
        BOOT_FAIL_AND_DAP
drive:
        .byte   0

msg_noactive:   .asciz  "p2v: no active partition"
msg_noext:      .asciz  "p2v: BIOS lacks INT 13h extensions"
msg_read:       .asciz  "p2v: cannot read the boot sector"
msg_nosig:      .asciz  "p2v: boot sector has no 55AA signature"

        .org    440                     /* fails to assemble if the code grew past 440 */
