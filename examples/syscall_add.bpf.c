// SPDX-License-Identifier: GPL-2.0
/*
 * syscall_add: a BPF_PROG_TYPE_SYSCALL program — run by user space through BPF_PROG_TEST_RUN (or
 * bpf_prog_test_run_opts), not attached anywhere; its context is a buffer the caller passes and gets back.
 *
 * Attach: SEC("syscall") (loaded sleepable, as the kernel requires).
 * Input:  struct args {a, b, ptr} in the context.
 * Output: the context gets sum = a + b, read_err = what bpf_probe_read_kernel of 8 bytes at ptr returned,
 *         pid_tgid of the calling task; r0 = a > b; array `total` [0] += sum.
 * Replay: examples/events/syscall_add.jsonl (`ctx` lines); `bpfc test` compares it with the kernel too.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct args {
	u32 a;
	u32 b;
	u64 sum;      /* written: a + b */
	u64 ptr;      /* read through with bpf_probe_read_kernel */
	s64 read_err; /* written: what that read returned */
	u64 pid_tgid; /* written: the current task */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, u64);
} total SEC(".maps");

SEC("syscall")
int add(struct args *ctx)
{
	u32 zero = 0;
	u64 *t = bpf_map_lookup_elem(&total, &zero);
	u64 v = 0;

	ctx->sum = (u64)ctx->a + ctx->b;
	ctx->read_err = bpf_probe_read_kernel(&v, sizeof(v), (void *)ctx->ptr);
	ctx->pid_tgid = bpf_get_current_pid_tgid();
	if (t)
		*t += ctx->sum;
	return ctx->a > ctx->b;
}

char LICENSE[] SEC("license") = "GPL";
