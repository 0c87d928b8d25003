#!/bin/bash
# The grub.cfg the test disks get, as grub-mkconfig writes it for one
# kernel on a serial console (grub-mkconfig itself cannot run where the
# disks are built: it takes a root on a loop device for a loop-mounted
# image, and names the appliance's devices as the appliance sees them):
#   tests/grubcfg.sh KERNEL-VERSION "MODULE..." "SEARCH ARGS" "ROOT ARGS" [PREFIX]
# e.g. tests/grubcfg.sh 6.1.0-50-amd64 "part_msdos ext2" "--fs-uuid UUID" root=/dev/sda1
# PREFIX is where the root subvolume is as GRUB sees the volume (/@ on btrfs).
set -eu
K=$1 MODS=$2 SEARCH=$3 ROOTARGS=$4 PREFIX=${5:-}
cat <<CFG
serial --unit=0 --speed=115200
terminal_input serial
terminal_output serial
set default=0
set timeout=1
menuentry 'Debian GNU/Linux' --class debian --class gnu-linux --class gnu --class os {
	insmod gzio
$(for m in $MODS; do printf '\tinsmod %s\n' "$m"; done)
	search --no-floppy $SEARCH --set=root
	echo	'Loading Linux $K ...'
	linux	$PREFIX/boot/vmlinuz-$K $ROOTARGS ro console=ttyS0
	echo	'Loading initial ramdisk ...'
	initrd	$PREFIX/boot/initrd.img-$K
}
CFG
