// SPDX-License-Identifier: GPL-2.0
/*
 * execsnoop: report every successful execve with the new program's file name.
 *
 * Attach: tracepoint sched/sched_process_exec (fires after the new image is loaded, so `comm` is already the
 *         new program's name).
 * Filter: `target_pid` (const volatile, tgid; 0 = every process).
 * Output: ringbuf `events` carrying `struct exec_event` records.
 * The file name is a `__data_loc` field: the low 16 bits of `__data_loc_filename` are its offset from the
 * start of the tracepoint record, the high 16 bits its length. The record is built in a per-CPU scratch
 * slot (`scratch`, too big for the 512-byte stack together with the rest) and copied out with
 * bpf_ringbuf_output.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define TASK_COMM_LEN 16
#define FNAME_LEN 256

/* Ringbuf record, 288 bytes, no implicit padding. */
struct exec_event {
	u32 pid;
	u32 old_pid;
	u32 tgid;
	u32 ppid;
	u32 uid;
	u32 filename_len;
	char comm[TASK_COMM_LEN];
	char filename[FNAME_LEN];
};

const volatile int target_pid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct exec_event);
} scratch SEC(".maps");

SEC("tracepoint/sched/sched_process_exec")
int handle_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	u64 pid_tgid = bpf_get_current_pid_tgid();
	struct task_struct *task;
	struct exec_event *e;
	u32 zero = 0;
	u32 loc, off;
	long len;

	if (target_pid && (pid_tgid >> 32) != (u32)target_pid)
		return 0;

	e = bpf_map_lookup_elem(&scratch, &zero);
	if (!e)
		return 0;

	/* The scratch slot holds the previous record: clear it so the bytes after the file name's NUL are
	 * zero and records compare equal field by field (and no stale name leaks out). */
	__builtin_memset(e, 0, sizeof(*e));
	e->pid = ctx->pid;
	e->old_pid = ctx->old_pid;
	e->tgid = pid_tgid >> 32;
	task = (struct task_struct *)bpf_get_current_task();
	/* Explicit probe reads of kernel memory; the field offsets still get CO-RE relocations because
	 * vmlinux.h marks every struct preserve_access_index. kprobe_openat2 shows BPF_CORE_READ. */
	{
		struct task_struct *parent = NULL;

		bpf_probe_read_kernel(&parent, sizeof(parent), &task->real_parent);
		if (parent)
			bpf_probe_read_kernel(&e->ppid, sizeof(e->ppid), &parent->tgid);
	}
	e->uid = (u32)bpf_get_current_uid_gid();
	bpf_get_current_comm(e->comm, sizeof(e->comm));

	loc = ctx->__data_loc_filename;
	off = loc & 0xFFFF;
	len = bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), (void *)ctx + off);
	if (len < 0)
		len = 0;
	e->filename_len = len;

	bpf_ringbuf_output(&events, e, sizeof(*e), 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
