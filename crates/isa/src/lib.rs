//! The BPF instruction set: one opcode table drives decoding, encoding, validation and the kernel's disassembly text.
