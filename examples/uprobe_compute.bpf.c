// SPDX-License-Identifier: GPL-2.0
/*
 * uprobe_compute: count calls of `int compute(int a, int b)` in uprobe_target and sum its arguments and
 * results.
 *
 * Attach: uprobe and uretprobe on the symbol `compute` of the binary `uprobe_target` (built by build.sh next
 *         to this file; the section names follow libbpf's `uprobe/BINARY:FUNCTION` convention, the binary path
 *         being relative to examples/).
 * Filter: `target_pid` (const volatile, tgid; 0 = every process). Uprobes fire in every process that runs
 *         the binary, so the filter matters here.
 * Output: array `totals` (one `struct compute_totals`, including the sum of ret / 4 and ret % 5 with C's
 *         signed semantics, the divisors being .rodata config), hash `results` (a -> compute's result for that a),
 *         hash `pending` (tid -> a of the call in progress, empty once every call has returned).
 * Both programs are BPF_PROG_TYPE_KPROBE reading the user registers in pt_regs: the entry reads a and b
 * from di/si, the return reads the result from ax.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct compute_totals {
	u64 calls;
	u64 returns;
	s64 sum_a;
	s64 sum_b;
	s64 sum_ret;
	s64 sum_ret_div;     /* sum of ret / ret_divisor, C (truncating) signed division, 64-bit */
	s64 sum_ret_mod;     /* sum of ret % ret_modulus, C signed remainder, 32-bit */
	s64 sum_pending_a;   /* sum of the a values read back from `pending` at return */
};

const volatile int target_pid = 0;
/* Read at run time (volatile), so clang cannot turn the division into shifts: -mcpu=v4 emits sdiv/smod. */
const volatile s64 ret_divisor = 4;
const volatile s32 ret_modulus = 5;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct compute_totals);
} totals SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, s32);
	__type(value, s32);
} results SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, u32);
	__type(value, s32);
} pending SEC(".maps");

/*
 * C's truncating signed division and remainder. ISA v4 has sdiv/smod; earlier ISAs only divide unsigned (clang
 * refuses signed division below v4), so the v3 build works on magnitudes. Both give the same results.
 */
static __always_inline s64 div_s64(s64 a, s64 b)
{
#if __BPF_CPU_VERSION__ >= 4
	return a / b;
#else
	u64 q = (a < 0 ? -(u64)a : (u64)a) / (b < 0 ? -(u64)b : (u64)b);

	return (a < 0) != (b < 0) ? -(s64)q : (s64)q;
#endif
}

static __always_inline s32 mod_s32(s32 a, s32 b)
{
#if __BPF_CPU_VERSION__ >= 4
	return a % b;
#else
	u32 r = (a < 0 ? -(u32)a : (u32)a) % (b < 0 ? -(u32)b : (u32)b);

	return a < 0 ? -(s32)r : (s32)r;
#endif
}

static __always_inline bool selected(u64 pid_tgid)
{
	return !target_pid || (pid_tgid >> 32) == (u32)target_pid;
}

SEC("uprobe/uprobe_target:compute")
int BPF_KPROBE(compute_enter, int a, int b)
{
	u64 pid_tgid = bpf_get_current_pid_tgid();
	struct compute_totals *t;
	u32 tid = (u32)pid_tgid;
	u32 zero = 0;

	if (!selected(pid_tgid))
		return 0;
	t = bpf_map_lookup_elem(&totals, &zero);
	if (!t)
		return 0;
	__sync_fetch_and_add(&t->calls, 1);
	__sync_fetch_and_add(&t->sum_a, (s64)a);
	__sync_fetch_and_add(&t->sum_b, (s64)b);
	bpf_map_update_elem(&pending, &tid, &a, BPF_ANY);
	return 0;
}

SEC("uretprobe/uprobe_target:compute")
int BPF_KRETPROBE(compute_exit, int ret)
{
	u64 pid_tgid = bpf_get_current_pid_tgid();
	struct compute_totals *t;
	u32 tid = (u32)pid_tgid;
	u32 zero = 0;
	s32 *a;

	if (!selected(pid_tgid))
		return 0;
	t = bpf_map_lookup_elem(&totals, &zero);
	if (!t)
		return 0;
	__sync_fetch_and_add(&t->returns, 1);
	__sync_fetch_and_add(&t->sum_ret, (s64)ret);
	__sync_fetch_and_add(&t->sum_ret_div, div_s64(ret, ret_divisor));
	__sync_fetch_and_add(&t->sum_ret_mod, (s64)mod_s32(ret, ret_modulus));
	a = bpf_map_lookup_elem(&pending, &tid);
	if (a) {
		s32 key = *a;

		/* A sign-extending load at -mcpu=v4 (ldsx). */
		__sync_fetch_and_add(&t->sum_pending_a, (s64)*(volatile s32 *)a);
		bpf_map_update_elem(&results, &key, &ret, BPF_ANY);
		bpf_map_delete_elem(&pending, &tid);
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
