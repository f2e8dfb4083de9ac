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
 */
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>
#include <bpf/btf.h>
#include <linux/bpf.h>

static int map_index(struct bpf_object *obj, int fd)
{
	struct bpf_map *map;
	int i = 0;

	bpf_object__for_each_map(map, obj) {
		if (bpf_map__fd(map) == fd)
			return i;
		i++;
	}
	return -1;
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

	any = argc == 3 && strcmp(argv[2], "--any") == 0;
	if (argc != 2 && !any) {
		fprintf(stderr, "usage: %s OBJ [--any]\n", argv[0]);
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
