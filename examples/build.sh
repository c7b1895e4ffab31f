#!/bin/sh
# Rebuild the bpfc examples.
#
#   ./build.sh                 everything, in place: BPF objects, CLANG_VERSION, the user-space targets
#   ./build.sh bpf [OUTDIR]    only the BPF objects and CLANG_VERSION, into OUTDIR (default: this directory)
#   ./build.sh targets [OUTDIR] only the user-space binaries (workload, uprobe_target, kernel_run); not committed
#
# Every NAME.bpf.c becomes NAME.bpf.o (-mcpu=v3) and NAME.v4.bpf.o (-mcpu=v4). The objects are committed and
# testsuite/tests/examples_uptodate.rs rebuilds them with this script and compares them byte for byte, so the
# build must be reproducible. Two things matter:
#  - no absolute path may be recorded: we compile with relative source and include paths and
#    -fdebug-compilation-dir=., so DWARF and BTF name files "./NAME.bpf.c";
#  - clang-19's BTF writer orders the FWD types it creates for CO-RE-accessed structs (e.g. task_struct) by
#    the heap addresses of their debug-info nodes, and that layout shifts with the length and spelling of the
#    directory being compiled in (same directory: same bytes; another checkout: different BTF type ids).
#    So every compile runs in one canonical directory, $CANON, which this script fills with a copy of the
#    sources; a lock file serialises concurrent builds that would share it.
set -eu

CANON=/tmp/bpfc-examples-build
LOCK=/tmp/bpfc-examples-build.lock
if [ -z "${BPFC_EXAMPLES_BUILD_LOCKED:-}" ]; then
	command -v flock >/dev/null 2>&1 || {
		echo "build.sh: flock (util-linux) not found" >&2
		exit 1
	}
	BPFC_EXAMPLES_BUILD_LOCKED=1 exec flock "$LOCK" sh "$0" "$@"
fi

CLANG=${CLANG:-clang-19}
CC=${CC:-gcc}
HERE=$(cd "$(dirname "$0")" && pwd)
MODE=${1:-all}
OUT=${2:-$HERE}

case "$MODE" in
all | bpf | targets) ;;
*)
	echo "usage: $0 [all|bpf|targets] [OUTDIR]" >&2
	exit 2
	;;
esac

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
cd "$HERE"

# The exact flags; examples_uptodate.rs relies on this script, not on a copy of them.
BPF_CFLAGS="-O2 -g -target bpf -D__TARGET_ARCH_x86 -I. -Wall -Werror -fdebug-compilation-dir=."

build_bpf() {
	command -v "$CLANG" >/dev/null 2>&1 || {
		echo "build.sh: $CLANG not found" >&2
		exit 1
	}
	"$CLANG" --version | head -n 1 >"$OUT/CLANG_VERSION"
	rm -rf "$CANON"
	mkdir -p "$CANON"
	cp ./*.bpf.c ./*.h "$CANON/"
	for src in *.bpf.c; do
		name=${src%.bpf.c}
		# shellcheck disable=SC2086 # BPF_CFLAGS is a list of words
		(cd "$CANON" && "$CLANG" $BPF_CFLAGS -mcpu=v3 -c "$src" -o "$name.bpf.o")
		# shellcheck disable=SC2086
		(cd "$CANON" && "$CLANG" $BPF_CFLAGS -mcpu=v4 -c "$src" -o "$name.v4.bpf.o")
		cp "$CANON/$name.bpf.o" "$CANON/$name.v4.bpf.o" "$OUT/"
		echo "built $name.bpf.o $name.v4.bpf.o"
	done
	rm -rf "$CANON"
}

build_targets() {
	# -O1 -g with noinline/noipa on the probed functions: the uprobe offsets are the symbols' addresses.
	"$CC" -O1 -g -Wall -Werror -o "$OUT/uprobe_target" uprobe_target.c
	"$CC" -O1 -g -Wall -Werror -o "$OUT/workload" workload.c
	"$CC" -O1 -g -Wall -Werror -o "$OUT/kernel_run" kernel_run.c -lbpf
	echo "built uprobe_target workload kernel_run"
}

case "$MODE" in
all)
	build_bpf
	build_targets
	;;
bpf) build_bpf ;;
targets) build_targets ;;
esac
