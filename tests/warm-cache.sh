#!/bin/bash
# Builds (or finds cached) the Debian systems the Linux tests use
# (tests/mkdebian.sh, both variants at once), so that make check can do it
# while p2v compiles: on a new machine that is a few minutes of the mirror
# and dpkg the tests would otherwise wait for.  The tests call mkdebian.sh
# themselves too; its lock makes them wait for a build under way here, and
# a build that failed here is tried again and reported by them.
cd "$(dirname "$0")/.."
bash tests/mkdebian.sh >/dev/null &
bash tests/mkdebian.sh --variant dracut >/dev/null &
wait
