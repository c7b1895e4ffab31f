// SPDX-License-Identifier: GPL-2.0
/*
 * runqlat: run-queue latency (time from wakeup to running) as a log2 histogram.
 *
 * Attach: tracepoints sched/sched_wakeup (the woken task's tid is in the record) and sched/sched_switch (the
 *         task switched in is next_pid).
 * Filter: `target_pid` (const volatile) compared with the woken/switched-in task's thread id, because in
 *         both tracepoints the current task is not the one measured (it is the waker, or the task switched
 *         out). For a single-threaded target the thread id is its pid. 0 = every task.
 * Output: array `hist`, 32 slots of u64: slot k counts latencies d with floor(log2(d)) == k (d in ns; d = 0
 *         and d = 1 both land in slot 0; slot 31 also takes anything larger); array `stats` with
 *         [0] = wakeups recorded, [1] = latencies measured, [2] = sum of latencies in ns.
 * The log2 is computed by a bpf_loop callback that shifts the value right until it is 1. The slot count of
 * `hist` is timing-dependent; stats[0] and stats[1] are not (see README.md).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define MAX_SLOTS 32

const volatile int target_pid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, u32);
	__type(value, u64);
} wakeup_ts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_SLOTS);
	__type(key, u32);
	__type(value, u64);
} hist SEC(".maps");

enum runqlat_stat {
	RQ_STAT_WAKEUPS = 0,
	RQ_STAT_MEASURED = 1,
	RQ_STAT_SUM_NS = 2,
	RQ_NR_STATS,
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, RQ_NR_STATS);
	__type(key, u32);
	__type(value, u64);
} stats SEC(".maps");

struct log2_state {
	u64 value;
	u32 bits;
};

/* bpf_loop callback: one step of floor(log2). Returning 1 stops the loop. */
static long log2_step(u32 index, struct log2_state *st)
{
	if ((st->value >> 1) == 0)
		return 1;
	st->value >>= 1;
	st->bits++;
	return 0;
}

static __always_inline void stat_add(u32 index, u64 delta)
{
	u64 *v = bpf_map_lookup_elem(&stats, &index);

	if (v)
		__sync_fetch_and_add(v, delta);
}

SEC("tracepoint/sched/sched_wakeup")
int on_wakeup(struct trace_event_raw_sched_wakeup_template *ctx)
{
	u32 tid = ctx->pid;
	u64 now;

	if (target_pid && tid != (u32)target_pid)
		return 0;
	now = bpf_ktime_get_ns();
	bpf_map_update_elem(&wakeup_ts, &tid, &now, BPF_ANY);
	stat_add(RQ_STAT_WAKEUPS, 1);
	return 0;
}

SEC("tracepoint/sched/sched_switch")
int on_switch(struct trace_event_raw_sched_switch *ctx)
{
	struct log2_state st = {};
	u32 tid = ctx->next_pid;
	u64 *tsp, delta, *slot_count;
	u32 slot;

	if (target_pid && tid != (u32)target_pid)
		return 0;
	tsp = bpf_map_lookup_elem(&wakeup_ts, &tid);
	if (!tsp)
		return 0;
	delta = bpf_ktime_get_ns() - *tsp;
	bpf_map_delete_elem(&wakeup_ts, &tid);

	st.value = delta;
	bpf_loop(64, log2_step, &st, 0);
	slot = st.bits;
	if (slot >= MAX_SLOTS)
		slot = MAX_SLOTS - 1;
	slot_count = bpf_map_lookup_elem(&hist, &slot);
	if (slot_count)
		__sync_fetch_and_add(slot_count, 1);
	stat_add(RQ_STAT_MEASURED, 1);
	stat_add(RQ_STAT_SUM_NS, delta);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
