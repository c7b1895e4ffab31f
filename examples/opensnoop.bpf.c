// SPDX-License-Identifier: GPL-2.0
/*
 * opensnoop: trace openat(2) calls with their file name, flags and result.
 *
 * Attach: tracepoints syscalls/sys_enter_openat and syscalls/sys_exit_openat.
 * Filter: `target_pid` (const volatile, tgid; 0 = every process).
 * Output: ringbuf `events` carrying `struct open_event` records, two per call:
 *   - kind OPEN_ENTER at entry: pid, tid, flags, comm, filename (read from user memory), ret = 0;
 *   - kind OPEN_EXIT at exit: pid, tid, flags and filename of the matching entry, ret = the syscall result
 *     (fd or -errno).
 * The entry stashes flags and the user pointer of the file name in hash map `inflight`, keyed by thread id,
 * and the exit pairs with it and deletes it; an exit without an entry (the call began before attach) is
 * dropped and counted in `unpaired[0]`.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define TASK_COMM_LEN 16
#define FNAME_LEN 128

enum open_event_kind {
	OPEN_ENTER = 0,
	OPEN_EXIT = 1,
};

/* Ringbuf record, 168 bytes, no implicit padding. */
struct open_event {
	u32 kind;
	u32 pid;
	u32 tid;
	s32 flags;
	s64 ret;
	char comm[TASK_COMM_LEN];
	char filename[FNAME_LEN];
};

struct inflight_open {
	const char *filename;
	s32 flags;
	u32 pad;
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
	__type(value, struct inflight_open);
} inflight SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, u64);
} unpaired SEC(".maps");

/*
 * Fills the fields both event kinds share. A real (noinline) subprogram: besides the bpf-to-bpf call it
 * puts `struct open_event` into the object's BTF (as its parameter type), so tools can decode ringbuf
 * records by name.
 */
static __noinline void fill_event(struct open_event *e, u32 kind, u64 pid_tgid, s32 flags, const char *filename)
{
	e->kind = kind;
	e->pid = pid_tgid >> 32;
	e->tid = (u32)pid_tgid;
	e->flags = flags;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	/* Ringbuf memory is not zeroed and the _str read does not pad: clear the name first so records
	 * compare equal field by field (on a fault the helper zeroes the buffer itself). */
	__builtin_memset(e->filename, 0, sizeof(e->filename));
	bpf_probe_read_user_str(e->filename, sizeof(e->filename), filename);
}

SEC("tracepoint/syscalls/sys_enter_openat")
int openat_enter(struct trace_event_raw_sys_enter *ctx)
{
	u64 pid_tgid = bpf_get_current_pid_tgid();
	struct inflight_open pending = {};
	struct open_event *e;
	u32 tid = (u32)pid_tgid;

	if (target_pid && (pid_tgid >> 32) != (u32)target_pid)
		return 0;

	/* openat(int dfd, const char *filename, int flags, umode_t mode) */
	pending.filename = (const char *)ctx->args[1];
	pending.flags = (s32)ctx->args[2];
	bpf_map_update_elem(&inflight, &tid, &pending, BPF_ANY);

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	fill_event(e, OPEN_ENTER, pid_tgid, pending.flags, pending.filename);
	e->ret = 0;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_openat")
int openat_exit(struct trace_event_raw_sys_exit *ctx)
{
	u64 pid_tgid = bpf_get_current_pid_tgid();
	struct inflight_open *pending;
	struct open_event *e;
	u32 tid = (u32)pid_tgid;
	u32 zero = 0;
	u64 *missed;

	if (target_pid && (pid_tgid >> 32) != (u32)target_pid)
		return 0;

	pending = bpf_map_lookup_elem(&inflight, &tid);
	if (!pending) {
		missed = bpf_map_lookup_elem(&unpaired, &zero);
		if (missed)
			__sync_fetch_and_add(missed, 1);
		return 0;
	}

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (e) {
		fill_event(e, OPEN_EXIT, pid_tgid, pending->flags, pending->filename);
		e->ret = ctx->ret;
		bpf_ringbuf_submit(e, 0);
	}
	bpf_map_delete_elem(&inflight, &tid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
