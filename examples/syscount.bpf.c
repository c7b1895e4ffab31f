// SPDX-License-Identifier: GPL-2.0
/*
 * syscount: count system calls per syscall number.
 *
 * Attach: tracepoint raw_syscalls/sys_enter (fires on every syscall entry, all processes).
 * Filter: `target_pid` (a `const volatile` .rodata config, set before load) selects one process by tgid;
 *         0 counts every process.
 * Output: hash map `counts`, key = syscall number (u32), value = number of entries (u64).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

const volatile int target_pid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, u32);
	__type(value, u64);
} counts SEC(".maps");

SEC("tracepoint/raw_syscalls/sys_enter")
int count_sys_enter(struct trace_event_raw_sys_enter *ctx)
{
	u32 tgid = bpf_get_current_pid_tgid() >> 32;
	u64 one = 1;
	u64 *count;
	u32 id;

	if (target_pid && tgid != (u32)target_pid)
		return 0;
	/* Invalid syscall numbers (e.g. syscall(-1)) arrive as negative ids; they are not counted. */
	if (ctx->id < 0)
		return 0;
	id = ctx->id;

	count = bpf_map_lookup_elem(&counts, &id);
	if (count) {
		__sync_fetch_and_add(count, 1);
		return 0;
	}
	/* First sighting. Another CPU may insert the same key between our lookup and update (a
	 * multi-threaded target): BPF_NOEXIST then fails and the count goes to the winner's entry. */
	if (bpf_map_update_elem(&counts, &id, &one, BPF_NOEXIST) != 0) {
		count = bpf_map_lookup_elem(&counts, &id);
		if (count)
			__sync_fetch_and_add(count, 1);
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
