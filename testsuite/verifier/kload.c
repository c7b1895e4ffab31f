// kload: loads one BPF program into this machine's kernel and prints the kernel verifier's verdict.
// Used by testsuite/tests/verifier_kernel.rs to judge bpfc's verifier against the kernel's until
// bpfc_runtime::sys::bpf lands. Input on stdin (all numbers decimal):
//   prog_type N
//   map TYPE KEY_SIZE VALUE_SIZE MAX_ENTRIES FLAGS      (zero or more, in map index order)
//   funcs OFF...                                        (optional: first insn of every function; a minimal
//                                                        BTF with one `static int fN(void)` each is loaded
//                                                        and passed as func_info, which the kernel requires
//                                                        for callbacks)
//   insns HEX                                           (bytecode; maps referenced as lddw src=5/6 by index)
// Output: "ACCEPT" or "REJECT errno" on the first line, then the kernel's verifier log.
// Exit status: 0 verdict printed, 2 setup failure (map creation, bad input).
#include <errno.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static long sys_bpf(int cmd, union bpf_attr *attr) { return syscall(__NR_bpf, cmd, attr, sizeof(*attr)); }

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

struct btf_hdr {
    uint16_t magic;
    uint8_t version, flags;
    uint32_t hdr_len, type_off, type_len, str_off, str_len;
};

// Loads BTF with `int`, `int (void)` and one static FUNC per function; returns the fd.
static int load_btf(int nfuncs) {
    static unsigned char buf[1 << 16];
    uint32_t types[4096];
    char strs[8192];
    int nt = 0, ns = 0;
    strs[ns++] = 0;
    int int_name = ns;
    ns += sprintf(strs + ns, "int") + 1;
    // [1] INT "int" size 4, signed 32 bits.
    types[nt++] = int_name; types[nt++] = 1u << 24; types[nt++] = 4; types[nt++] = (1u << 24) | 32;
    // [2] FUNC_PROTO int (void).
    types[nt++] = 0; types[nt++] = 13u << 24; types[nt++] = 1;
    for (int i = 0; i < nfuncs && nt + 3 < 4096 && ns < 8000; i++) {
        int name = ns;
        ns += sprintf(strs + ns, "f%d", i) + 1;
        // [3 + i] FUNC "fi" -> 2, static linkage.
        types[nt++] = name; types[nt++] = 12u << 24; types[nt++] = 2;
    }
    struct btf_hdr h = {0xeB9F, 1, 0, sizeof h, 0, nt * 4, nt * 4, ns};
    memcpy(buf, &h, sizeof h);
    memcpy(buf + sizeof h, types, nt * 4);
    memcpy(buf + sizeof h + nt * 4, strs, ns);
    static char log[1 << 16];
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.btf = (uint64_t)(uintptr_t)buf;
    a.btf_size = sizeof h + nt * 4 + ns;
    a.btf_log_buf = (uint64_t)(uintptr_t)log;
    a.btf_log_size = sizeof log;
    a.btf_log_level = 1;
    int fd = sys_bpf(BPF_BTF_LOAD, &a);
    if (fd < 0) printf("SETUP btf: %s\n%s\n", strerror(errno), log);
    return fd;
}

int main(void) {
    static char line[1 << 20];
    static unsigned char code[1 << 19];
    static char log[1 << 24];
    int fds[64];
    int nmaps = 0;
    unsigned prog_type = 0;
    size_t len = 0;
    uint32_t func_info[2 * 256];
    int nfuncs = 0;
    while (fgets(line, sizeof line, stdin)) {
        if (strncmp(line, "funcs", 5) == 0) {
            char *p = line + 5;
            while (nfuncs < 256) {
                char *end;
                unsigned long off = strtoul(p, &end, 10);
                if (end == p) break;
                func_info[2 * nfuncs] = (uint32_t)off;
                func_info[2 * nfuncs + 1] = 3 + nfuncs;
                nfuncs++;
                p = end;
            }
            continue;
        }
        unsigned t, k, v, e, f;
        if (sscanf(line, "prog_type %u", &prog_type) == 1) continue;
        if (sscanf(line, "map %u %u %u %u %u", &t, &k, &v, &e, &f) == 5) {
            union bpf_attr a;
            memset(&a, 0, sizeof a);
            a.map_type = t;
            a.key_size = k;
            a.value_size = v;
            a.max_entries = e;
            a.map_flags = f;
            int fd = sys_bpf(BPF_MAP_CREATE, &a);
            if (fd < 0 || nmaps >= 64) {
                printf("SETUP map %d: %s\n", nmaps, strerror(errno));
                return 2;
            }
            fds[nmaps++] = fd;
            continue;
        }
        if (strncmp(line, "insns ", 6) == 0) {
            for (char *p = line + 6; p[0] && p[1]; ) {
                if (hexval(p[0]) < 0) { p++; continue; }
                if (len >= sizeof code || hexval(p[1]) < 0) return 2;
                code[len++] = (unsigned char)(hexval(p[0]) * 16 + hexval(p[1]));
                p += 2;
            }
        }
    }
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.prog_type = prog_type;
    a.insns = (uint64_t)(uintptr_t)code;
    a.insn_cnt = len / 8;
    a.license = (uint64_t)(uintptr_t) "GPL";
    a.log_buf = (uint64_t)(uintptr_t)log;
    a.log_size = sizeof log;
    a.log_level = 1;
    a.fd_array = (uint64_t)(uintptr_t)fds;
    if (nfuncs > 0) {
        int btf = load_btf(nfuncs);
        if (btf < 0) return 2;
        a.prog_btf_fd = btf;
        a.func_info_rec_size = 8;
        a.func_info = (uint64_t)(uintptr_t)func_info;
        a.func_info_cnt = nfuncs;
    }
    int fd = sys_bpf(BPF_PROG_LOAD, &a);
    if (fd < 0 && errno == ENOSPC) {
        // Log buffer too small: retry without a log for the verdict.
        a.log_buf = 0;
        a.log_size = 0;
        a.log_level = 0;
        fd = sys_bpf(BPF_PROG_LOAD, &a);
    }
    if (fd >= 0) {
        printf("ACCEPT\n");
    } else {
        printf("REJECT %d\n", errno);
    }
    fputs(log, stdout);
    return 0;
}
