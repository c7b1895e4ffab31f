/* Runs every program of a linked bpfc object on the contexts in a case file and prints one result line
 * per program — the bpf_conformance contract in plain C, so objects built for another architecture can
 * be checked under qemu-user without a Rust runtime for that target.
 *
 * Case file: u32 count, then per case u32 length and that many bytes (little-endian).
 * Output per case: "<index> <status> <r0> <trap code> <trap pc> <trap detail> <memory hex or ->".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpfc.h"

/* uBPF's helper 5 ("unwind"): returns r1 and stops the program with r0 = 0 when r1 is 0. */
static uint64_t unwind(struct bpfc_env *env, uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5) {
    (void)r2; (void)r3; (void)r4; (void)r5;
    if (r1 == 0) {
        env->status = BPFC_STATUS_EXIT;
        env->exit_value = 0;
    }
    return r1;
}

static int inside(uint64_t addr, uint64_t len, uint64_t start, uint64_t end) {
    return addr >= start && addr <= end && len <= end - addr;
}

/* The checked-mode access check: stack area, or the context. */
static uint64_t check(struct bpfc_env *env, uint64_t addr, uint64_t info) {
    uint64_t size = BPFC_ACCESS_SIZE(info);
    int ok = inside(addr, size, env->stack_base, env->stack_top) ||
             (env->ctx && inside(addr, size, env->ctx, env->ctx + env->ctx_len) &&
              (!(info & BPFC_ACCESS_WRITE) || env->ctx_writable));
    if (ok && (info & BPFC_ACCESS_ATOMIC) && addr % size != 0) {
        env->trap.code = BPFC_TRAP_MISALIGNED;
        env->trap.pc = BPFC_ACCESS_PC(info);
        env->trap.detail = addr;
        env->trap.access = info & 0x1ffu;
        env->status = BPFC_STATUS_TRAP;
        return 0;
    }
    if (ok) return 1;
    env->trap.code = BPFC_TRAP_OUT_OF_BOUNDS;
    env->trap.pc = BPFC_ACCESS_PC(info);
    env->trap.detail = addr;
    env->trap.access = info & 0x1ffu;
    env->status = BPFC_STATUS_TRAP;
    return 0;
}

static uint32_t read_u32(FILE *f) {
    uint8_t b[4];
    if (fread(b, 1, 4, f) != 4) { fprintf(stderr, "harness: truncated case file\n"); exit(2); }
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

int main(int argc, char **argv) {
    static bpfc_helper_fn helpers[BPFC_HELPER_TABLE_LEN];
    static _Alignas(16) uint8_t stack[BPFC_STACK_AREA];
    if (argc != 2) { fprintf(stderr, "usage: %s CASES\n", argv[0]); return 2; }
    FILE *f = fopen(argv[1], "rb");
    if (!f) { perror(argv[1]); return 2; }
    if (memcmp(bpfc_object.magic, "BPFCOBJ", 8) != 0 || bpfc_object.abi_version != BPFC_ABI_VERSION) {
        fprintf(stderr, "harness: object descriptor mismatch\n");
        return 2;
    }
    helpers[5] = unwind;
    uint32_t count = read_u32(f);
    if (count != bpfc_object.prog_count) { fprintf(stderr, "harness: %u cases for %llu programs\n", count, (unsigned long long)bpfc_object.prog_count); return 2; }
    for (uint32_t i = 0; i < count; i++) {
        uint32_t len = read_u32(f);
        uint8_t *mem = malloc(len ? len : 1);
        if (len && fread(mem, 1, len, f) != len) { fprintf(stderr, "harness: truncated case %u\n", i); return 2; }
        struct bpfc_env env;
        memset(&env, 0, sizeof env);
        memset(stack, 0, sizeof stack);
        env.version = BPFC_ABI_VERSION;
        env.helpers = helpers;
        env.stack_base = (uint64_t)(uintptr_t)stack;
        env.stack_top = env.stack_base + BPFC_STACK_AREA;
        env.ctx = len ? (uint64_t)(uintptr_t)mem : 0;
        env.ctx_len = len;
        env.ctx_writable = 1;
        env.check = check;
        env.budget = 1000000;
        uint64_t r0 = bpfc_object.progs[i].entry(env.ctx, &env);
        if (env.status == BPFC_STATUS_EXIT) r0 = env.exit_value;
        printf("%u %llu %llu %u %u %llu ", i, (unsigned long long)env.status, (unsigned long long)r0, env.trap.code,
               env.trap.pc, (unsigned long long)env.trap.detail);
        if (len == 0) printf("-");
        for (uint32_t j = 0; j < len; j++) printf("%02x", mem[j]);
        printf("\n");
        free(mem);
    }
    return 0;
}
