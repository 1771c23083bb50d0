//! Progress bars on stderr, only when a person is watching: on a TTY and not
//! in CI (hyperfine's rule). Otherwise the bars are hidden and cost nothing.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

fn visible() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("CI").is_none()
}

fn bar(total: u64, template: &str, message: &str) -> ProgressBar {
    if !visible() {
        return ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
    }
    let bar = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(message.to_string());
    bar
}

/// A bar counting bytes (hashing, copying).
pub fn bytes_bar(total: u64, message: &str) -> ProgressBar {
    bar(
        total,
        "rollproof: {msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        message,
    )
}

/// A bar counting rows (generation, apply).
pub fn rows_bar(total: u64, message: &str) -> ProgressBar {
    bar(
        total,
        "rollproof: {msg} [{bar:30}] {human_pos}/{human_len} rows {per_sec} eta {eta}",
        message,
    )
}
