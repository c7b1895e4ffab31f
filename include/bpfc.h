/* bpfc.h — the native object ABI of bpfc, for C code that links or loads a `bpfc build` object.
 *
 * Mirrors runtime/src/abi.rs (ABI version 1); docs/abi.md explains every field. A program entry is
 *   uint64_t bpfc_prog_<name>(uint64_t ctx, struct bpfc_env *env);
 * and every object exports `const struct bpfc_object bpfc_object` describing its programs and maps.
 * All structures use the C layout of the target (64-bit pointers); the static assertions below pin the
 * offsets generated code relies on.
 */
#ifndef BPFC_H
#define BPFC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BPFC_ABI_VERSION 2u
#define BPFC_STACK_SIZE 512u
#define BPFC_MAX_FRAMES 8u
#define BPFC_STACK_AREA (BPFC_STACK_SIZE * BPFC_MAX_FRAMES)
#define BPFC_MAX_TAIL_CALLS 33u
#define BPFC_HELPER_TABLE_LEN 256u

/* env->status */
#define BPFC_STATUS_RUNNING 0u
#define BPFC_STATUS_EXIT 1u
#define BPFC_STATUS_TAIL_CALL 2u
#define BPFC_STATUS_TRAP 3u

/* env->trap.code */
enum bpfc_trap_code {
    BPFC_TRAP_OUT_OF_BOUNDS = 1,
    BPFC_TRAP_CALL_DEPTH = 2,
    BPFC_TRAP_BUDGET = 3,
    BPFC_TRAP_UNKNOWN_HELPER = 4,
    BPFC_TRAP_UNSUPPORTED = 5,
    BPFC_TRAP_HELPER_FAULT = 6,
    BPFC_TRAP_FELL_OFF_END = 7,
    BPFC_TRAP_MISALIGNED = 8,
    BPFC_TRAP_BAD_CALL_TARGET = 9,
};

/* Bits of the `info` argument of a bpfc_check_fn. */
#define BPFC_ACCESS_SIZE(info) ((info) & 0xffu)
#define BPFC_ACCESS_WRITE (1u << 8)
#define BPFC_ACCESS_ATOMIC (1u << 9)
#define BPFC_ACCESS_PC(info) ((uint32_t)((info) >> 32))

struct bpfc_env;

typedef uint64_t (*bpfc_helper_fn)(struct bpfc_env *env, uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4,
                                   uint64_t r5);
typedef uint64_t (*bpfc_check_fn)(struct bpfc_env *env, uint64_t addr, uint64_t info);
typedef uint64_t (*bpfc_entry_fn)(uint64_t ctx, struct bpfc_env *env);

struct bpfc_trap {
    uint32_t code;
    uint32_t pc;
    uint64_t detail;
    uint64_t access;
};

struct bpfc_region {
    uint64_t start;
    uint64_t end;
    uint64_t writable;
};

struct bpfc_event {
    uint32_t tid;
    uint32_t pid;
    uint32_t uid;
    uint32_t gid;
    uint32_t cpu;
    uint32_t pad;
    uint64_t time_ns;
    uint8_t comm[16];
};

/* The per-invocation block: fill it, then call an entry. */
struct bpfc_env {
    uint64_t version;
    const bpfc_helper_fn *helpers; /* BPFC_HELPER_TABLE_LEN entries, NULL where unbound */
    void *const *maps;             /* per map index: the runtime's map handle */
    uint8_t *const *map_values;    /* per map index: value 0 of array-like maps */
    uint64_t stack_top;            /* r10 of the entry frame */
    uint64_t stack_base;           /* stack_top - BPFC_STACK_AREA */
    uint64_t ctx;
    uint64_t ctx_len;
    uint64_t ctx_writable;
    const struct bpfc_region *regions;
    uint64_t region_count;
    bpfc_check_fn check; /* used by code built with --checked */
    uint64_t status;
    uint64_t exit_value;
    uint64_t tail_call_target;
    uint64_t tail_call_count;
    uint64_t budget; /* instructions left, charged per basic block by --checked code */
    struct bpfc_trap trap;
    struct bpfc_event event;
    void *host;
    uint64_t callback_fp; /* frame top for the next BPF callback */
};

struct bpfc_prog_desc {
    const char *name;
    const char *section;
    uint32_t prog_type;
    uint32_t insn_count;
    bpfc_entry_fn entry;
    uint64_t callback_count;
    const bpfc_helper_fn *callbacks; /* trampolines of functions the program takes the address of */
};

struct bpfc_map_desc {
    const char *name;
    uint32_t map_type;
    uint32_t key_size;
    uint32_t value_size;
    uint32_t max_entries;
    uint32_t flags;
    int32_t inner_map;
    const uint8_t *init;
    uint64_t init_len;
};

struct bpfc_object {
    uint8_t magic[8]; /* "BPFCOBJ\0" */
    uint32_t abi_version;
    uint32_t checked;
    uint64_t prog_count;
    const struct bpfc_prog_desc *progs;
    uint64_t map_count;
    const struct bpfc_map_desc *maps;
    uint64_t helper_count;
    const uint32_t *helpers;
    const char *license;
};

extern const struct bpfc_object bpfc_object;

/* The runtime's C API (link with libbpfc_runtime.a from `cargo build -p bpfc-runtime`, plus -lpthread -ldl
 * -lm): bind an object linked into this program, run its programs, read its maps. Errors are negative
 * errno values; bpfc_runtime_run returns a positive enum bpfc_trap_code when the program trapped. */
struct bpfc_runtime;
struct bpfc_runtime *bpfc_runtime_open(const struct bpfc_object *obj);
void bpfc_runtime_close(struct bpfc_runtime *rt);
int bpfc_runtime_run(struct bpfc_runtime *rt, const char *prog, void *ctx, size_t ctx_len,
                     const struct bpfc_event *event, uint64_t *r0);
int bpfc_runtime_map_lookup(struct bpfc_runtime *rt, const char *map, const void *key, void *value);
int bpfc_runtime_map_next_key(struct bpfc_runtime *rt, const char *map, const void *key, void *next);

#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
_Static_assert(offsetof(struct bpfc_env, helpers) == 8, "env layout");
_Static_assert(offsetof(struct bpfc_env, stack_top) == 32, "env layout");
_Static_assert(offsetof(struct bpfc_env, ctx_len) == 56, "env layout");
_Static_assert(offsetof(struct bpfc_env, check) == 88, "env layout");
_Static_assert(offsetof(struct bpfc_env, status) == 96, "env layout");
_Static_assert(offsetof(struct bpfc_env, budget) == 128, "env layout");
_Static_assert(offsetof(struct bpfc_env, trap) == 136, "env layout");
_Static_assert(sizeof(struct bpfc_prog_desc) == 48, "prog desc layout");
_Static_assert(offsetof(struct bpfc_env, callback_fp) == 216, "env layout");
_Static_assert(sizeof(struct bpfc_map_desc) == 48, "map desc layout");
_Static_assert(sizeof(struct bpfc_object) == 72, "object layout");
#endif

#ifdef __cplusplus
}
#endif
#endif /* BPFC_H */
