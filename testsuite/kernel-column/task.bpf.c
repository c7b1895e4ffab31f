// SPDX-License-Identifier: GPL-2.0
/*
 * Raw tracepoint programs for the kernel column of `bpfc test` (testsuite/tests/kernel_column.rs): what the
 * "current task" helpers answer and what a read through a ctx pointer returns must be the same in a
 * BPF_PROG_TEST_RUN and in bpfc's interpreter run under the kernel's conditions; `knob_r0` returns a map
 * value the tests change on the kernel side only, so the r0 and map differences must be reported.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, u32);
	__type(value, u64);
} task SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, u64);
} per_cpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, u64);
} knob SEC(".maps");

static __always_inline void put(u32 key, u64 value)
{
	bpf_map_update_elem(&task, &key, &value, BPF_ANY);
}

SEC("raw_tp/sys_enter")
int task_helpers(u64 *ctx)
{
	char comm[16] = {};
	u64 value = 0x1111111111111111;
	u32 zero = 0;
	u64 *count;
	long err;

	put(0, bpf_get_current_pid_tgid());
	put(1, bpf_get_current_uid_gid());
	put(2, bpf_get_smp_processor_id());
	bpf_get_current_comm(comm, sizeof(comm));
	put(3, *(u64 *)comm);
	put(4, *(u64 *)(comm + 8));
	err = bpf_probe_read_kernel(&value, sizeof(value), (void *)ctx[0]);
	put(5, err);
	put(6, value);
	count = bpf_map_lookup_elem(&per_cpu, &zero);
	if (count)
		*count += ctx[1];
	return err;
}

SEC("raw_tp/sys_exit")
int knob_r0(u64 *ctx)
{
	u32 zero = 0;
	u64 *k = bpf_map_lookup_elem(&knob, &zero);

	return k ? *k + ctx[1] : 0;
}

char LICENSE[] SEC("license") = "GPL";
