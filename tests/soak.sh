#!/bin/bash
# Soak: the SIGKILL loop of tests/faults.sh (fixup apply, mount start-up
# and commit, each killed at a random moment, then checked and run again),
# SOAK_N times (default 100).  Not part of make check (about 4 s an
# iteration); run it as
#   bash tests/run-integration.sh build/p2v tests/soak.sh
#   SOAK_N=500 FAULTS_SEED=123 bash tests/run-integration.sh build/p2v tests/soak.sh
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/faults_lib.sh"
SOAK_N=${SOAK_N:-100}
echo "  (SOAK_N=$SOAK_N, random points from FAULTS_SEED=$FAULTS_SEED)"
if kill_setup; then
    kill_loop "$SOAK_N"
    check_eq "the fixture is unchanged" "$W_HASH" "$(sha "$W")"
    check_eq "nothing of this test is left mounted" "" "$(fuse_mounts_under "$T")"
fi
((LATE == 0)) || echo "  ..   note: $LATE times the state was still locked when p2v umount returned"
finish
