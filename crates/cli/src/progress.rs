//! A progress bar on stderr for long runs; hidden when stderr is not a
//! terminal (pipes, CI logs) or when there is a single item.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

/// A bar counting `len` items, or a hidden one.
pub(crate) fn bar(len: usize, what: &'static str) -> ProgressBar {
    if len < 2 || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(u64::try_from(len).unwrap_or(u64::MAX));
    // The template is a literal; fall back to the default style if it ever
    // failed to parse.
    if let Ok(style) =
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} ({elapsed}, eta {eta})")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(what);
    bar
}
