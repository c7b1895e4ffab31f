// SPDX-License-Identifier: GPL-2.0
/*
 * kprobe_openat2: trace the kernel's do_sys_openat2() with BPF_KPROBE/BPF_KRETPROBE and CO-RE reads.
 *
 * Attach: kprobe and kretprobe on do_sys_openat2(int dfd, const char __user *filename, struct open_how *how)
 *         (every open(2)/openat(2)/openat2(2) goes through it). This machine's kernel has no kprobes: the
 *         programs load and verify in the kernel but cannot be attached; bpfc runs them on replayed contexts.
 * Filter: `target_pid` (const volatile, tgid; 0 = every process).
 * Output: ringbuf `events` with one `struct openat2_event` per completed call; hash `inflight` (tid -> the
 *         entry's data) pairs entry and return.
 * CO-RE coverage (relocations resolved by libbpf, or bpfc, against the running kernel's BTF):
 *   - BPF_CORE_READ(how, flags/mode/resolve) and BPF_CORE_READ(task, real_parent, tgid): field byte offsets;
 *   - bpf_core_field_exists on a field that exists (open_how::resolve) and, through the ___pre_5_14
 *     flavor, on task_struct::state, which this kernel no longer has: its read is poisoned by libbpf and
 *     must stay unreachable;
 *   - BPF_CORE_READ_BITFIELD_PROBED(task, in_execve): byte offset, byte size, signedness and the two
 *     shift relocations;
 *   - bpf_core_type_exists / bpf_core_type_size / bpf_core_type_matches (struct open_how),
 *     bpf_core_field_size (task_struct::comm), bpf_core_enum_value_exists / bpf_core_enum_value
 *     (enum pid_type::PIDTYPE_TGID), bpf_core_type_id_kernel (task_struct) and bpf_core_type_id_local
 *     (struct openat2_event): every CO-RE relocation kind.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#define TASK_COMM_LEN 16
#define FNAME_LEN 128

/* Before Linux 5.14 task_struct::__state was called state (and was a long). */
struct task_struct___pre_5_14 {
	long state;
} __attribute__((preserve_access_index));

struct inflight_openat2 {
	u64 flags;
	u64 mode;
	u64 resolve;
	const char *filename;
	s32 dfd;
	u32 ppid;
	u32 state;
	u32 in_execve;
};

/* Ringbuf record, 240 bytes, no implicit padding. */
struct openat2_event {
	u32 pid;
	u32 tid;
	u32 ppid;
	s32 dfd;
	u64 flags;
	u64 mode;
	u64 resolve;
	s64 ret;
	u32 state;
	u32 in_execve;
	u32 how_size;
	u32 comm_size;
	u32 how_matches;
	u32 event_local_type_id;
	u64 pidtype_tgid;
	char comm[TASK_COMM_LEN];
	char filename[FNAME_LEN];
};

const volatile int target_pid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, u32);
	__type(value, struct inflight_openat2);
} inflight SEC(".maps");

/* Global data so the CO-RE constants are observable as values, not only as instructions. */
u32 task_struct_btf_id;

static __always_inline u32 task_state(struct task_struct *task)
{
	struct task_struct___pre_5_14 *old = (void *)task;

	if (bpf_core_field_exists(old->state))
		return (u32)BPF_CORE_READ(old, state);
	return BPF_CORE_READ(task, __state);
}

SEC("kprobe/do_sys_openat2")
int BPF_KPROBE(openat2_enter, int dfd, const char *filename, struct open_how *how)
{
	u64 pid_tgid = bpf_get_current_pid_tgid();
	struct inflight_openat2 in = {};
	struct task_struct *task;
	u32 tid = (u32)pid_tgid;

	if (target_pid && (pid_tgid >> 32) != (u32)target_pid)
		return 0;

	task = (struct task_struct *)bpf_get_current_task();
	in.dfd = dfd;
	in.filename = filename;
	in.flags = BPF_CORE_READ(how, flags);
	in.mode = BPF_CORE_READ(how, mode);
	if (bpf_core_field_exists(how->resolve))
		in.resolve = BPF_CORE_READ(how, resolve);
	in.ppid = BPF_CORE_READ(task, real_parent, tgid);
	in.state = task_state(task);
	in.in_execve = BPF_CORE_READ_BITFIELD_PROBED(task, in_execve);
	task_struct_btf_id = bpf_core_type_id_kernel(struct task_struct);
	bpf_map_update_elem(&inflight, &tid, &in, BPF_ANY);
	return 0;
}

SEC("kretprobe/do_sys_openat2")
int BPF_KRETPROBE(openat2_exit, long ret)
{
	u64 pid_tgid = bpf_get_current_pid_tgid();
	struct inflight_openat2 *in;
	struct openat2_event *e;
	u32 tid = (u32)pid_tgid;

	if (target_pid && (pid_tgid >> 32) != (u32)target_pid)
		return 0;
	in = bpf_map_lookup_elem(&inflight, &tid);
	if (!in)
		return 0;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (e) {
		e->pid = pid_tgid >> 32;
		e->tid = tid;
		e->ppid = in->ppid;
		e->dfd = in->dfd;
		e->flags = in->flags;
		e->mode = in->mode;
		e->resolve = in->resolve;
		e->ret = ret;
		e->state = in->state;
		e->in_execve = in->in_execve;
		e->how_size = bpf_core_type_exists(struct open_how) ? bpf_core_type_size(struct open_how) : 0;
		e->comm_size = bpf_core_field_size(struct task_struct, comm);
		e->how_matches = bpf_core_type_matches(struct open_how);
		e->event_local_type_id = bpf_core_type_id_local(struct openat2_event);
		e->pidtype_tgid = bpf_core_enum_value_exists(enum pid_type, PIDTYPE_TGID) ?
					  bpf_core_enum_value(enum pid_type, PIDTYPE_TGID) :
					  (u64)-1;
		bpf_get_current_comm(e->comm, sizeof(e->comm));
		__builtin_memset(e->filename, 0, sizeof(e->filename));
		bpf_probe_read_user_str(e->filename, sizeof(e->filename), in->filename);
		bpf_ringbuf_submit(e, 0);
	}
	bpf_map_delete_elem(&inflight, &tid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
