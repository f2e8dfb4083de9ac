//! BTF and .BTF.ext: zero-copy reading, lazy indexes, validation, a builder, and CO-RE resolution.
