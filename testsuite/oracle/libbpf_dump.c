/* Oracle for bpfc's linker: opens and loads a BPF object with the system libbpf, then prints what libbpf
 * handed the kernel: every map (object order, with its fd and the kernel's view of it) and every program's
 * final instructions (after CO-RE, map/global-data relocation and subprogram linking). Built and run by
 * testsuite/tests/elf_oracle.rs. Output lines:
 *   map <index> <fd> <type> <key_size> <value_size> <max_entries> <flags> <kernel name>
 *   prog <name> <insn count>
 *   <16 hex digits: the 8 instruction bytes>   (one line per slot)
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int print_fn(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, args);
}

int main(int argc, char **argv)
{
	struct bpf_object *obj;
	struct bpf_program *prog;
	struct bpf_map *map;
	int idx = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: %s OBJ\n", argv[0]);
		return 2;
	}
	libbpf_set_print(print_fn);
	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj || libbpf_get_error(obj)) {
		fprintf(stderr, "open %s failed\n", argv[1]);
		return 3;
	}
	if (bpf_object__load(obj)) {
		fprintf(stderr, "load %s failed\n", argv[1]);
		return 4;
	}
	bpf_object__for_each_map(map, obj) {
		struct bpf_map_info info;
		__u32 len = sizeof(info);
		int fd = bpf_map__fd(map);

		memset(&info, 0, sizeof(info));
		if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
			fprintf(stderr, "map info failed\n");
			return 5;
		}
		printf("map %d %d %u %u %u %u %u %s\n", idx++, fd, info.type, info.key_size, info.value_size,
		       info.max_entries, info.map_flags, info.name);
	}
	bpf_object__for_each_program(prog, obj) {
		const struct bpf_insn *insns = bpf_program__insns(prog);
		size_t n = bpf_program__insn_cnt(prog);

		printf("prog %s %zu\n", bpf_program__name(prog), n);
		for (size_t i = 0; i < n; i++) {
			const unsigned char *b = (const unsigned char *)&insns[i];
			for (int k = 0; k < 8; k++)
				printf("%02x", b[k]);
			printf("\n");
		}
	}
	bpf_object__close(obj);
	return 0;
}
