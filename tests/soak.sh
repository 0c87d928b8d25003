#!/bin/bash
# Soak: the SIGKILL loop of tests/it_faults.sh (fixup apply, mount start-up
# and commit, each killed at a random moment, then checked and run again),
# SOAK_N times (default 100).  Not part of make check (about 4 s an
# iteration); run it as root, from anywhere:
#   bash tests/soak.sh                       # P2V defaults to build/p2v
#   SOAK_N=500 FAULTS_SEED=123 P2V=build/asan/p2v bash tests/soak.sh
#   bash tests/run-integration.sh build/p2v tests/soak.sh
cd "$(dirname "$0")/.." || exit 1   # the helpers are found from the top of the tree
: "${P2V:=build/p2v}"
export P2V
. tests/lib.sh
. tests/faults_lib.sh
SOAK_N=${SOAK_N:-100}
echo "  (SOAK_N=$SOAK_N, random points from FAULTS_SEED=$FAULTS_SEED)"
if kill_setup; then
    kill_loop "$SOAK_N"
    check_eq "the fixture is unchanged" "$W_HASH" "$(sha "$W")"
    check_eq "nothing of this test is left mounted" "" "$(fuse_mounts_under "$T")"
fi
((LATE == 0)) || echo "  ..   note: $LATE times the state was still locked when p2v umount returned"
finish
