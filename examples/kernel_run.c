// SPDX-License-Identifier: GPL-2.0
/*
 * kernel_run: run one example object in the kernel on a workload process and print what it recorded. This
 * is the reference side of the kernel-vs-bpfc comparison and how the expected results in README.md were
 * obtained.
 *
 *   kernel_run OBJECT.bpf.o -- COMMAND [ARGS...]
 *
 * COMMAND must stop itself with SIGSTOP before its measured part (workload --stop MODE,
 * uprobe_target --stop). kernel_run starts it, waits until it is stopped, writes its pid into the object's
 * `target_pid` (.rodata), loads the object with libbpf, attaches every program (tracepoint, raw_tp, uprobe
 * and uretprobe; uprobe sections name "BINARY:FUNCTION", a relative BINARY being relative to the object's
 * directory; bare "tracepoint" sections are tail-call targets and kprobes cannot attach on kernels without
 * kprobes, both reported and skipped), sends SIGCONT, drains the ringbuf map `events` while the command runs
 * and, after it exits, prints every map:
 *
 *   target_pid <pid> harness_pid <pid>               (first line)
 *   event <n> <hex bytes>
 *   map <name> <type> key <hex> value <hex>          (per-CPU maps: value is the sum over CPUs for 8-byte
 *                                                    values, else the CPU values concatenated; prog arrays
 *                                                    and maps of maps: value "<id>", since their values
 *                                                    are kernel object ids)
 *
 * Keys and values are printed in the map's iteration order; compare them as sets.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

static int nr_events;

static void print_hex(const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t i;

	for (i = 0; i < len; i++)
		printf("%02x", p[i]);
}

static int on_event(void *ctx, void *data, size_t len)
{
	(void)ctx;
	printf("event %d ", nr_events++);
	print_hex(data, len);
	printf("\n");
	return 0;
}

/* Sets the .rodata variable target_pid, found through the object's BTF. */
static int set_target_pid(struct bpf_object *obj, int pid)
{
	struct btf *btf = bpf_object__btf(obj);
	const struct btf_var_secinfo *vsi;
	const struct btf_type *sec;
	struct bpf_map *map;
	const void *initial;
	size_t size;
	char *data;
	int id, i, err;

	bpf_object__for_each_map(map, obj) {
		const char *name = bpf_map__name(map);
		size_t n = strlen(name);

		if (n >= 7 && strcmp(name + n - 7, ".rodata") == 0)
			break;
	}
	if (!map || !btf)
		return -ENOENT;
	id = btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC);
	if (id < 0)
		return id;
	sec = btf__type_by_id(btf, id);
	initial = bpf_map__initial_value(map, &size);
	if (!initial)
		return -ENOENT;
	data = malloc(size);
	if (!data)
		return -ENOMEM;
	memcpy(data, initial, size);
	vsi = btf_var_secinfos(sec);
	for (i = 0; i < btf_vlen(sec); i++, vsi++) {
		const struct btf_type *var = btf__type_by_id(btf, vsi->type);

		if (strcmp(btf__name_by_offset(btf, var->name_off), "target_pid") == 0) {
			if (vsi->offset + sizeof(int) > size) {
				free(data);
				return -E2BIG;
			}
			memcpy(data + vsi->offset, &pid, sizeof(int));
			err = bpf_map__set_initial_value(map, data, size);
			free(data);
			return err;
		}
	}
	free(data);
	return -ENOENT;
}

/* Directory of the object file: uprobe sections name their binary relative to it. */
static char obj_dir[4096] = ".";

static struct bpf_link *attach(struct bpf_program *prog, int pid)
{
	const char *sec = bpf_program__section_name(prog);
	bool ret = strncmp(sec, "uretprobe/", 10) == 0;

	if (ret || strncmp(sec, "uprobe/", 7) == 0) {
		LIBBPF_OPTS(bpf_uprobe_opts, opts);
		char spec[4096 + 256], *colon;
		const char *target = strchr(sec, '/') + 1;

		if (target[0] == '/')
			snprintf(spec, sizeof(spec), "%s", target);
		else
			snprintf(spec, sizeof(spec), "%s/%s", obj_dir, target);
		colon = strrchr(spec, ':');
		if (!colon)
			return NULL;
		*colon = '\0';
		opts.func_name = colon + 1;
		opts.retprobe = ret;
		return bpf_program__attach_uprobe_opts(prog, pid, spec, 0, &opts);
	}
	return bpf_program__attach(prog);
}

static void dump_map(struct bpf_map *map)
{
	int fd = bpf_map__fd(map), ncpu = libbpf_num_possible_cpus();
	enum bpf_map_type type = bpf_map__type(map);
	unsigned int ksz = bpf_map__key_size(map), vsz = bpf_map__value_size(map);
	bool percpu = type == BPF_MAP_TYPE_PERCPU_ARRAY || type == BPF_MAP_TYPE_PERCPU_HASH ||
		      type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
	size_t stride = (vsz + 7) / 8 * 8, vlen = percpu ? stride * ncpu : vsz;
	unsigned char *key = calloc(1, ksz), *next = calloc(1, ksz), *val = calloc(1, vlen);
	bool first = true;

	if (type == BPF_MAP_TYPE_RINGBUF)
		goto out;
	while (bpf_map_get_next_key(fd, first ? NULL : key, next) == 0) {
		first = false;
		memcpy(key, next, ksz);
		if (bpf_map_lookup_elem(fd, key, val) != 0)
			continue;
		printf("map %s %s key ", bpf_map__name(map), libbpf_bpf_map_type_str(type));
		print_hex(key, ksz);
		printf(" value ");
		if (type == BPF_MAP_TYPE_PROG_ARRAY || type == BPF_MAP_TYPE_ARRAY_OF_MAPS ||
		    type == BPF_MAP_TYPE_HASH_OF_MAPS) {
			printf("<id>");
		} else if (percpu && vsz == 8) {
			unsigned long long sum = 0, v;
			int c;

			for (c = 0; c < ncpu; c++) {
				memcpy(&v, val + c * stride, 8);
				sum += v;
			}
			print_hex(&sum, 8);
		} else {
			print_hex(val, vlen);
		}
		printf("\n");
	}
out:
	free(key);
	free(next);
	free(val);
}

int main(int argc, char **argv)
{
	struct ring_buffer *rb = NULL;
	struct bpf_program *prog;
	struct bpf_object *obj;
	struct bpf_map *map;
	int status, pid, err;

	if (argc < 4 || strcmp(argv[2], "--") != 0) {
		fprintf(stderr, "usage: kernel_run OBJECT.bpf.o -- COMMAND [ARGS...]\n");
		return 2;
	}
	snprintf(obj_dir, sizeof(obj_dir), "%s", argv[1]);
	if (strrchr(obj_dir, '/'))
		*strrchr(obj_dir, '/') = '\0';
	else
		snprintf(obj_dir, sizeof(obj_dir), ".");
	pid = fork();
	if (pid < 0)
		return perror("fork"), 1;
	if (pid == 0) {
		execvp(argv[3], argv + 3);
		perror("execvp");
		_exit(127);
	}
	if (waitpid(pid, &status, WUNTRACED) < 0 || !WIFSTOPPED(status)) {
		fprintf(stderr, "kernel_run: %s did not stop itself (use --stop)\n", argv[3]);
		return 1;
	}

	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj)
		return fprintf(stderr, "kernel_run: cannot open %s\n", argv[1]), kill(pid, SIGKILL), 1;
	err = set_target_pid(obj, pid);
	if (err)
		return fprintf(stderr, "kernel_run: no target_pid in .rodata (%d)\n", err), kill(pid, SIGKILL), 1;
	err = bpf_object__load(obj);
	if (err)
		return fprintf(stderr, "kernel_run: load failed (%d)\n", err), kill(pid, SIGKILL), 1;
	bpf_object__for_each_program(prog, obj) {
		const char *sec = bpf_program__section_name(prog);

		if (strcmp(sec, "tracepoint") == 0 || strcmp(sec, "tp") == 0) {
			fprintf(stderr, "kernel_run: %s: tail-call target, not attached\n", bpf_program__name(prog));
			continue;
		}
		if (!attach(prog, pid))
			fprintf(stderr, "kernel_run: %s (%s): attach failed: %s\n", bpf_program__name(prog), sec,
				strerror(errno));
	}
	map = bpf_object__find_map_by_name(obj, "events");
	if (map && bpf_map__type(map) == BPF_MAP_TYPE_RINGBUF)
		rb = ring_buffer__new(bpf_map__fd(map), on_event, NULL, NULL);

	printf("target_pid %d harness_pid %d\n", pid, (int)getpid());
	fflush(stdout);
	kill(pid, SIGCONT);
	for (;;) {
		int w = waitpid(pid, &status, WNOHANG);

		if (rb)
			ring_buffer__poll(rb, 20);
		else
			usleep(20000);
		if (w == pid && (WIFEXITED(status) || WIFSIGNALED(status)))
			break;
	}
	if (rb)
		ring_buffer__consume(rb);
	fprintf(stderr, "kernel_run: pid %d exited with status %d\n", pid, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	bpf_object__for_each_map(map, obj)
		dump_map(map);
	ring_buffer__free(rb);
	bpf_object__close(obj);
	return 0;
}
