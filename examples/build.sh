#!/bin/sh
# Rebuild the bpfc examples.
#
#   ./build.sh                 everything, in place: BPF objects, CLANG_VERSION, the user-space targets
#   ./build.sh bpf [OUTDIR]    only the BPF objects and CLANG_VERSION, into OUTDIR (default: this directory)
#   ./build.sh targets [OUTDIR] only the user-space workload binaries (workload, uprobe_target); not committed
#
# Every NAME.bpf.c becomes NAME.bpf.o (-mcpu=v3) and NAME.v4.bpf.o (-mcpu=v4). The objects are committed and
# testsuite/tests/examples_uptodate.rs rebuilds them with this script and compares them byte for byte, so the
# build must be reproducible: we compile from this directory with relative source and include paths and
# -fdebug-compilation-dir=. so that neither DWARF nor BTF records the absolute checkout path.
set -eu

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
	for src in *.bpf.c; do
		name=${src%.bpf.c}
		# shellcheck disable=SC2086 # BPF_CFLAGS is a list of words
		"$CLANG" $BPF_CFLAGS -mcpu=v3 -c "$src" -o "$OUT/$name.bpf.o"
		# shellcheck disable=SC2086
		"$CLANG" $BPF_CFLAGS -mcpu=v4 -c "$src" -o "$OUT/$name.v4.bpf.o"
		echo "built $name.bpf.o $name.v4.bpf.o"
	done
}

build_targets() {
	# -O1 -g with noinline/noipa on the probed functions: the uprobe offsets are the symbols' addresses.
	"$CC" -O1 -g -Wall -Werror -o "$OUT/uprobe_target" uprobe_target.c
	"$CC" -O1 -g -Wall -Werror -o "$OUT/workload" workload.c
	echo "built uprobe_target workload"
}

case "$MODE" in
all)
	build_bpf
	build_targets
	;;
bpf) build_bpf ;;
targets) build_targets ;;
esac
