// SPDX-License-Identifier: MIT OR Apache-2.0
/*
 * Oracle for bpfcheck-obj: opens a BPF object with the system libbpf, loads
 * it (libbpf < 1.5 has no bpf_object__prepare, and keeps the relocated
 * instructions after load) and prints what libbpf built.
 *
 * Output:
 *   "btf HEX"        the object's BTF after libbpf's fix-ups;
 *   "map NAME TYPE KEY_SIZE VALUE_SIZE MAX_ENTRIES FLAGS" per map;
 *   "prog NAME TYPE EXPECTED_ATTACH_TYPE FLAGS" per loaded program, each
 *   followed by "code dst src off imm" lines.
 * Map fds in ld_imm64 are replaced by the map's index in libbpf's map
 * order, which is how bpfcheck's fd-free load requests refer to maps.
 * When a program fails to load, only the BTF line is printed and the exit
 * status is 3 -- unless a second argument "--any" is given: then the
 * programs are printed all the same (libbpf 1.1 relocates every program,
 * CO-RE included, before loading any, and keeps the instructions when a
 * load fails), which shows how it poisoned a reachable failed CO-RE
 * relocation that the verifier then refused.
 *
 * "--each": every autoload program is loaded on its own (the object is
 * reopened with only that program's autoload on, and with pinning
 * cleared: pinning is what a loader does with a map after creating it,
 * not part of any load request), and printed as
 *   "prog NAME TYPE EXPECTED_ATTACH_TYPE FLAGS VERDICT ERRNO"
 * with VERDICT "accepted" or "rejected" (the kernel answered
 * BPF_PROG_LOAD) or "unprepared" (libbpf failed before asking the kernel:
 * then ERRNO is libbpf's and "why TEXT" follows with its last warning),
 * then the instruction lines (none for an unprepared program).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>
#include <bpf/btf.h>
#include <linux/bpf.h>

/* The fds libbpf created maps with, from its debug messages: after a
 * failed load libbpf has closed them, and the instructions still hold them. */
#define MAX_CREATED 256
static struct {
	int fd;
	char name[64];
} created[MAX_CREATED];
static int n_created;

static int map_index(struct bpf_object *obj, int fd)
{
	struct bpf_map *map;
	const char *name = NULL;
	int i = 0;

	bpf_object__for_each_map(map, obj) {
		if (bpf_map__fd(map) == fd)
			return i;
		i++;
	}
	for (i = n_created - 1; i >= 0; i--)
		if (created[i].fd == fd) {
			name = created[i].name;
			break;
		}
	if (!name)
		return -1;
	i = 0;
	bpf_object__for_each_map(map, obj) {
		if (strcmp(bpf_map__name(map), name) == 0)
			return i;
		i++;
	}
	return -1;
}

static void print_insns(struct bpf_object *obj, struct bpf_program *prog)
{
	const struct bpf_insn *insns = bpf_program__insns(prog);
	size_t i, n = bpf_program__insn_cnt(prog);

	for (i = 0; i < n; i++) {
		struct bpf_insn in = insns[i];

		if (in.code == (BPF_LD | BPF_IMM | BPF_DW) &&
		    (in.src_reg == BPF_PSEUDO_MAP_FD || in.src_reg == BPF_PSEUDO_MAP_VALUE))
			in.imm = map_index(obj, in.imm);
		printf("%u %u %u %d %d\n", in.code, in.dst_reg, in.src_reg, in.off, in.imm);
	}
}

/* What libbpf said while loading one program: whether it reached the
 * kernel's verifier, whether it failed only to fill a PROG_ARRAY slot
 * (after the program loaded: the slot names a program whose autoload is
 * off here), and its first warning. */
static int reached_kernel;
static int slot_failed;
static char last_warn[512];

static int capture(enum libbpf_print_level level, const char *fmt, va_list args)
{
	char line[sizeof(last_warn)];

	vsnprintf(line, sizeof(line), fmt, args);
	if (getenv("DUMP_INSNS_VERBOSE"))
		fputs(line, stderr);
	if (strstr(line, "BPF program load failed") || strstr(line, "-- BEGIN PROG LOAD LOG --"))
		reached_kernel = 1;
	if (n_created < MAX_CREATED &&
	    sscanf(line, "libbpf: map '%63[^']': created successfully, fd=%d",
		   created[n_created].name, &created[n_created].fd) == 2)
		n_created++;
	if (strstr(line, "failed to initialize slot"))
		slot_failed = 1;
	if (level == LIBBPF_WARN && !last_warn[0] && !reached_kernel) {
		char *nl = strchr(line, '\n');

		if (nl)
			*nl = 0;
		strcpy(last_warn, line);
	}
	return 0;
}

static int each(const char *path)
{
	struct bpf_object *obj;
	struct bpf_program *prog, *p;
	struct bpf_map *map;
	int n = 0, k, i;

	libbpf_set_print(capture);
	obj = bpf_object__open_file(path, NULL);
	if (!obj) {
		printf("open-failed %d %s\n", errno, last_warn);
		return 1;
	}
	bpf_object__for_each_map(map, obj)
		printf("map %s %u %u %u %u %u\n", bpf_map__name(map), bpf_map__type(map),
		       bpf_map__key_size(map), bpf_map__value_size(map),
		       bpf_map__max_entries(map), bpf_map__map_flags(map));
	bpf_object__for_each_program(prog, obj)
		n++;
	bpf_object__close(obj);
	for (k = 0; k < n; k++) {
		struct bpf_program *target = NULL;
		int err;

		obj = bpf_object__open_file(path, NULL);
		if (!obj)
			return 1;
		i = 0;
		bpf_object__for_each_program(p, obj) {
			if (i++ == k && bpf_program__autoload(p))
				target = p;
			else
				bpf_program__set_autoload(p, false);
		}
		if (!target) {
			bpf_object__close(obj);
			continue;
		}
		bpf_object__for_each_map(map, obj)
			bpf_map__set_pin_path(map, NULL);
		reached_kernel = 0;
		slot_failed = 0;
		n_created = 0;
		last_warn[0] = 0;
		err = bpf_object__load(obj);
		if (err && slot_failed && !reached_kernel)
			err = 0;
		printf("prog %s %u %u %u %s %d\n", bpf_program__name(target),
		       bpf_program__type(target), bpf_program__expected_attach_type(target),
		       bpf_program__flags(target),
		       err == 0 ? "accepted" : reached_kernel ? "rejected" : "unprepared",
		       err < 0 ? -err : 0);
		if (err == 0 || reached_kernel)
			print_insns(obj, target);
		else
			printf("why %s\n", last_warn);
		bpf_object__close(obj);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct bpf_program *prog;
	struct bpf_object *obj;
	const struct btf *btf;
	struct bpf_map *map;
	__u32 btf_sz;
	size_t i, n;
	int loaded, any;

	if (argc == 3 && strcmp(argv[2], "--each") == 0)
		return each(argv[1]);
	any = argc == 3 && strcmp(argv[2], "--any") == 0;
	if (argc != 2 && !any) {
		fprintf(stderr, "usage: %s OBJ [--any|--each]\n", argv[0]);
		return 2;
	}
	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj) {
		fprintf(stderr, "open failed\n");
		return 1;
	}
	/* BTF fix-ups happen at open and at BTF load: print the BTF even if a
	 * program then fails to load.
	 */
	loaded = bpf_object__load(obj) == 0;
	btf = bpf_object__btf(obj);
	if (btf) {
		const unsigned char *raw = btf__raw_data(btf, &btf_sz);

		printf("btf ");
		for (i = 0; i < btf_sz; i++)
			printf("%02x", raw[i]);
		printf("\n");
	}
	if (!loaded) {
		fprintf(stderr, "load failed\n");
		if (!any)
			return 3;
	}
	bpf_object__for_each_map(map, obj)
		printf("map %s %u %u %u %u %u\n", bpf_map__name(map), bpf_map__type(map),
		       bpf_map__key_size(map), bpf_map__value_size(map),
		       bpf_map__max_entries(map), bpf_map__map_flags(map));
	bpf_object__for_each_program(prog, obj) {
		const struct bpf_insn *insns = bpf_program__insns(prog);

		if (!bpf_program__autoload(prog))
			continue;
		n = bpf_program__insn_cnt(prog);
		printf("prog %s %u %u %u\n", bpf_program__name(prog), bpf_program__type(prog),
		       bpf_program__expected_attach_type(prog), bpf_program__flags(prog));
		for (i = 0; i < n; i++) {
			struct bpf_insn in = insns[i];

			if (in.code == (BPF_LD | BPF_IMM | BPF_DW) &&
			    (in.src_reg == BPF_PSEUDO_MAP_FD || in.src_reg == BPF_PSEUDO_MAP_VALUE))
				in.imm = map_index(obj, in.imm);
			printf("%u %u %u %d %d\n", in.code, in.dst_reg, in.src_reg, in.off, in.imm);
		}
	}
	bpf_object__close(obj);
	return loaded ? 0 : 3;
}
