/* One program per rejection class of bpfcheck's catalogue, each wrong in
 * the way real programs usually are. Built by build.sh; the running
 * kernel's answers are recorded in recorded.json. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct val {
	struct bpf_spin_lock lock;
	__u32 slots[8];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, struct val);
} vals SEC(".maps");

SEC("xdp")
int missing_null_check(struct xdp_md *ctx)
{
	__u32 key = 0;
	struct val *v = bpf_map_lookup_elem(&vals, &key);

	return v->slots[0];
}

SEC("xdp")
int helper_arg_type(struct xdp_md *ctx)
{
	void *key = (void *)(long)bpf_get_prandom_u32();
	struct val *v = bpf_map_lookup_elem(&vals, key);

	return v ? XDP_DROP : XDP_PASS;
}

SEC("xdp")
int packet_range(struct xdp_md *ctx)
{
	__u8 *data = (void *)(long)ctx->data;

	return data[12] == 0x08 ? XDP_PASS : XDP_DROP;
}

SEC("xdp")
int reordered_bound_check(struct xdp_md *ctx)
{
	__u32 key = 0;
	int i = bpf_get_prandom_u32();
	struct val *v = bpf_map_lookup_elem(&vals, &key);

	if (!v || i >= 8)
		return XDP_PASS;
	return v->slots[i];
}

SEC("xdp")
int unbounded_index(struct xdp_md *ctx)
{
	__u32 key = 0;
	__u32 i = bpf_get_prandom_u32();
	struct val *v = bpf_map_lookup_elem(&vals, &key);

	if (!v || i > 8)
		return XDP_PASS;
	return v->slots[i];
}

SEC("xdp")
int stack_bounds(struct xdp_md *ctx)
{
	volatile char buf[16] = {};
	__u32 i = bpf_get_prandom_u32() & 31;

	buf[i] = 1;
	return buf[0];
}

SEC("xdp")
int uninit_register(struct xdp_md *ctx)
{
	int r;

	asm volatile("%[r] = r3" : [r] "=r"(r));
	return r;
}

SEC("tc")
int reference_leak(struct __sk_buff *skb)
{
	struct bpf_sock_tuple t = {};
	struct bpf_sock *sk;

	sk = bpf_sk_lookup_tcp(skb, &t, sizeof(t.ipv4), BPF_F_CURRENT_NETNS, 0);
	if (!sk)
		return TC_ACT_OK;
	return sk->mark ? TC_ACT_SHOT : TC_ACT_OK;
}

SEC("tc")
int lock_across_call(struct __sk_buff *skb)
{
	__u32 key = 0;
	struct val *v = bpf_map_lookup_elem(&vals, &key);

	if (!v)
		return TC_ACT_OK;
	bpf_spin_lock(&v->lock);
	v->slots[1] = bpf_get_prandom_u32();
	bpf_spin_unlock(&v->lock);
	return TC_ACT_OK;
}

SEC("xdp")
int infinite_loop(struct xdp_md *ctx)
{
	volatile int spin = 1;

	while (spin)
		;
	return XDP_PASS;
}

SEC("xdp")
int too_complex(struct xdp_md *ctx)
{
	__u32 sum = 0;

#pragma clang loop unroll(disable)
	for (int i = 0; i < 1000000; i++)
		sum += bpf_get_prandom_u32() & 1;
	return sum;
}

SEC("xdp")
int helper_not_allowed(struct xdp_md *ctx)
{
	__u8 b = 0;

	bpf_skb_load_bytes(ctx, 0, &b, 1);
	return b ? XDP_PASS : XDP_DROP;
}
