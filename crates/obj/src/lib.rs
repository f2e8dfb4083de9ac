//! clang/libbpf ELF objects turned into the load requests libbpf would make.
