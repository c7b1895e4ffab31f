// SPDX-License-Identifier: GPL-2.0
/*
 * A raw tracepoint program whose result depends on the clock: the kernel column of `bpfc test` must report
 * its differences as expected (testsuite/tests/kernel_column.rs).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, u64);
} last SEC(".maps");

SEC("raw_tp/sys_enter")
int clock_r0(u64 *ctx)
{
	u32 zero = 0;
	u64 now = bpf_ktime_get_ns();

	bpf_map_update_elem(&last, &zero, &now, BPF_ANY);
	return now;
}

char LICENSE[] SEC("license") = "GPL";
