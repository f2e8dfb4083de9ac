//! The bpf() system call: loading programs, maps and BTF into the running kernel. The only crate with unsafe code.
