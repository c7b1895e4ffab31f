// SPDX-License-Identifier: GPL-2.0
/*
 * raw_syscount: syscall counts, failures and bytes written, from the raw (BTF-less) sys_enter/sys_exit
 * tracepoints.
 *
 * Attach: raw_tp/sys_enter and raw_tp/sys_exit. A raw tracepoint program gets the tracepoint's C arguments
 *         as an array of u64 (struct bpf_raw_tracepoint_args): for sys_enter (struct pt_regs *regs, long id),
 *         for sys_exit (struct pt_regs *regs, long ret). BPF_PROG unpacks them. `regs` points to the kernel's
 *         copy of the user registers, so its fields are read with CO-RE probe reads
 *         (PT_REGS_PARM*_CORE_SYSCALL, PT_REGS_SYSCALL_NR via BPF_CORE_READ(regs, orig_ax)).
 * Filter: `target_pid` (const volatile, tgid; 0 = every process).
 * Output: hash `counts` (syscall id -> entries), hash `failures` (syscall id -> exits with a negative
 *         result), array `write_bytes` ([0] = sum of the count argument of write(2), [1] = number of writes).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#define NR_WRITE 1 /* x86-64 */

const volatile int target_pid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, u32);
	__type(value, u64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, u32);
	__type(value, u64);
} failures SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, u32);
	__type(value, u64);
} write_bytes SEC(".maps");

static __always_inline bool selected(void)
{
	return !target_pid || (bpf_get_current_pid_tgid() >> 32) == (u32)target_pid;
}

static __always_inline void add(void *map, u32 key, u64 delta)
{
	u64 *v = bpf_map_lookup_elem(map, &key);

	if (v)
		__sync_fetch_and_add(v, delta);
	else
		bpf_map_update_elem(map, &key, &delta, BPF_NOEXIST);
}

SEC("raw_tp/sys_enter")
int BPF_PROG(raw_sys_enter, struct pt_regs *regs, long id)
{
	if (!selected() || id < 0)
		return 0;
	add(&counts, (u32)id, 1);
	if (id == NR_WRITE) {
		u64 count = PT_REGS_PARM3_CORE_SYSCALL(regs);

		add(&write_bytes, 0, count);
		add(&write_bytes, 1, 1);
	}
	return 0;
}

SEC("raw_tp/sys_exit")
int BPF_PROG(raw_sys_exit, struct pt_regs *regs, long ret)
{
	long id;

	if (!selected() || ret >= 0)
		return 0;
	/* sys_exit does not pass the syscall number; it is still in orig_ax. */
	id = BPF_CORE_READ(regs, orig_ax);
	if (id < 0)
		return 0;
	add(&failures, (u32)id, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
