//! Context access of the tracing program types whose context is plain
//! memory the kernel hands over (kernel/trace/bpf_trace.c): kprobes see
//! `struct pt_regs`, tracepoints their event record, raw tracepoints the
//! array of `u64` arguments, perf events `struct bpf_perf_event_data`.
//! All of them are read-only and every readable byte loads a scalar, except
//! the buffer pointer of a writable raw tracepoint.

use super::ctx::Verdict;

/// `sizeof(struct pt_regs)` on x86-64 (21 registers of 8 bytes).
const PT_REGS_SIZE: i32 = 168;
/// `PERF_MAX_TRACE_SIZE`.
const PERF_MAX_TRACE_SIZE: i32 = 8192;
/// `MAX_BPF_FUNC_ARGS` arguments of 8 bytes.
const RAW_TP_ARGS_SIZE: i32 = 12 * 8;

/// `struct bpf_perf_event_data`: the registers, then two 8-byte fields.
mod perf {
    use std::ops::Range;
    pub(super) const SAMPLE_PERIOD: Range<i32> = 168..176;
    pub(super) const ADDR: Range<i32> = 176..184;
    pub(super) const SIZE: i32 = 184;
}

fn aligned_read(off: i32, size: i32, write: bool) -> bool {
    !write && off % size == 0
}

fn scalar_if(ok: bool) -> Verdict {
    Verdict::scalar_if(ok)
}

/// `kprobe_prog_is_valid_access`: any aligned read inside the registers;
/// aligned writes too where the kernel lets kprobes write their context
/// (`kprobe_write_ctx`, 7.x).
pub(super) fn kprobe_access(off: i32, size: i32, write: bool, writable: bool) -> Verdict {
    scalar_if(
        (0..PT_REGS_SIZE).contains(&off)
            && aligned_read(off, size, write && !writable)
            && off + size <= PT_REGS_SIZE,
    )
}

/// `tp_prog_is_valid_access`: the record past its 8-byte common header.
/// The end is not checked against the access size, only the start.
pub(super) fn tracepoint_access(off: i32, size: i32, write: bool) -> Verdict {
    scalar_if((8..PERF_MAX_TRACE_SIZE).contains(&off) && aligned_read(off, size, write))
}

/// `raw_tp_prog_is_valid_access` (`bpf_tracing_ctx_access`): aligned reads
/// starting inside the argument array.
pub(super) fn raw_tp_access(off: i32, size: i32, write: bool) -> Verdict {
    scalar_if((0..RAW_TP_ARGS_SIZE).contains(&off) && aligned_read(off, size, write))
}

/// `raw_tp_writable_prog_is_valid_access`: the first word is the pointer to
/// the tracepoint's writable buffer, to be read whole.
pub(super) fn raw_tp_writable_access(off: i32, size: i32, write: bool) -> Verdict {
    if off == 0 {
        if size != 8 || write {
            return Verdict::Invalid;
        }
        return match raw_tp_access(off, size, write) {
            Verdict::Scalar => Verdict::TpBuffer,
            v => v,
        };
    }
    raw_tp_access(off, size, write)
}

/// `pe_prog_is_valid_access` on a 64-bit kernel: whole registers, narrow
/// reads of `sample_period` and `addr`.
pub(super) fn perf_event_access(off: i32, size: i32, write: bool) -> Verdict {
    if !(0..perf::SIZE).contains(&off) || !aligned_read(off, size, write) {
        return Verdict::Invalid;
    }
    if perf::SAMPLE_PERIOD.contains(&off) || perf::ADDR.contains(&off) {
        // `bpf_ctx_narrow_access_ok` for an 8-byte field.
        return scalar_if(size.count_ones() == 1 && size <= 8);
    }
    scalar_if(size == 8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kprobe_rules() {
        assert_eq!(kprobe_access(160, 8, false, false), Verdict::Scalar);
        assert_eq!(kprobe_access(167, 1, false, false), Verdict::Scalar);
        assert_eq!(kprobe_access(168, 8, false, false), Verdict::Invalid);
        assert_eq!(kprobe_access(4, 8, false, false), Verdict::Invalid);
        assert_eq!(kprobe_access(0, 8, true, false), Verdict::Invalid);
        assert_eq!(kprobe_access(0, 8, true, true), Verdict::Scalar);
        assert_eq!(kprobe_access(4, 8, true, true), Verdict::Invalid);
        assert_eq!(kprobe_access(-8, 8, false, false), Verdict::Invalid);
    }

    #[test]
    fn tracepoint_rules() {
        assert_eq!(tracepoint_access(8, 8, false), Verdict::Scalar);
        assert_eq!(tracepoint_access(8190, 2, false), Verdict::Scalar);
        assert_eq!(tracepoint_access(8184, 8, false), Verdict::Scalar);
        assert_eq!(tracepoint_access(8192, 1, false), Verdict::Invalid);
        assert_eq!(tracepoint_access(4, 4, false), Verdict::Invalid);
        assert_eq!(tracepoint_access(8, 8, true), Verdict::Invalid);
    }

    #[test]
    fn raw_tp_rules() {
        assert_eq!(raw_tp_access(88, 8, false), Verdict::Scalar);
        assert_eq!(raw_tp_access(4, 4, false), Verdict::Scalar);
        assert_eq!(raw_tp_access(96, 8, false), Verdict::Invalid);
        assert_eq!(raw_tp_access(0, 8, true), Verdict::Invalid);
        assert_eq!(raw_tp_writable_access(0, 4, false), Verdict::Invalid);
        assert_eq!(raw_tp_writable_access(8, 4, false), Verdict::Scalar);
        assert_eq!(raw_tp_writable_access(0, 8, false), Verdict::TpBuffer);
    }

    #[test]
    fn perf_event_rules() {
        assert_eq!(perf_event_access(160, 8, false), Verdict::Scalar);
        assert_eq!(perf_event_access(0, 4, false), Verdict::Invalid);
        assert_eq!(perf_event_access(168, 4, false), Verdict::Scalar);
        assert_eq!(perf_event_access(172, 4, false), Verdict::Scalar);
        assert_eq!(perf_event_access(183, 1, false), Verdict::Scalar);
        assert_eq!(perf_event_access(184, 8, false), Verdict::Invalid);
        assert_eq!(perf_event_access(176, 8, true), Verdict::Invalid);
    }
}
