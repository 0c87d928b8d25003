#!/bin/bash
# Builds (or finds cached) the Debian systems the Linux tests use
# (tests/mkdebian.sh, both variants at once) and the disks libguestfs makes
# of the dracut one (tests/mkguestfsdisk.sh), so that make check can do it
# while p2v compiles: on a new machine that is a few minutes of the mirror,
# dpkg and the appliance the tests would otherwise wait for.  The tests
# call both scripts themselves too; their locks make them wait for a build
# under way here, and a build that failed here is tried again and reported
# by them.
cd "$(dirname "$0")/.."
bash tests/mkdebian.sh >/dev/null &
if DTAR=$(bash tests/mkdebian.sh --variant dracut); then
    bash tests/mkguestfsdisk.sh "$DTAR" uefi-lvm >/dev/null &
    bash tests/mkguestfsdisk.sh "$DTAR" btrfs >/dev/null &
fi
wait
