/* A C program that runs a bpfc-built native object through the runtime's C API (include/bpfc.h):
 * syscount's program on the raw_syscalls:sys_enter records of the `workload syscalls` run (the same events
 * as examples/events/syscalls.jsonl), then prints its `counts` map as "id => count", sorted by id.
 *
 *   bpfc build examples/syscount.bpf.o -o syscount.native.o
 *   cc -Iinclude examples/c_harness.c syscount.native.o target/debug/libbpfc_runtime.a -lpthread -ldl -lm
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpfc.h"

/* raw_syscalls:sys_enter: common fields (8 bytes), long id, unsigned long args[6]. */
struct sys_enter_record {
    uint16_t common_type;
    uint8_t common_flags;
    uint8_t common_preempt_count;
    int32_t common_pid;
    int64_t id;
    uint64_t args[6];
};

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

int main(void) {
    static const long ids[] = {39, 110, 110, 102, 102, 102, 104, 104, 104, 104, 231};
    struct bpfc_runtime *rt = bpfc_runtime_open(&bpfc_object);
    if (!rt) {
        fprintf(stderr, "c_harness: cannot bind the object\n");
        return 2;
    }
    struct bpfc_event ev;
    memset(&ev, 0, sizeof ev);
    ev.pid = ev.tid = 4242;
    memcpy(ev.comm, "workload", 8);
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        struct sys_enter_record rec;
        memset(&rec, 0, sizeof rec);
        rec.common_pid = 4242;
        rec.id = ids[i];
        ev.time_ns = 1000000000ull + 1000 * i;
        uint64_t r0 = 0;
        int rc = bpfc_runtime_run(rt, "count_sys_enter", &rec, sizeof rec, &ev, &r0);
        if (rc != 0) {
            fprintf(stderr, "c_harness: run %zu failed: %d\n", i, rc);
            return 1;
        }
    }
    uint32_t keys[1024], key, n = 0;
    const void *prev = NULL;
    while (n < 1024 && bpfc_runtime_map_next_key(rt, "counts", prev, &key) == 0) {
        keys[n++] = key;
        prev = &keys[n - 1];
    }
    qsort(keys, n, sizeof keys[0], cmp_u32);
    for (uint32_t i = 0; i < n; i++) {
        uint64_t v = 0;
        if (bpfc_runtime_map_lookup(rt, "counts", &keys[i], &v) != 0) return 1;
        printf("%u => %llu\n", keys[i], (unsigned long long)v);
    }
    bpfc_runtime_close(rt);
    return 0;
}
