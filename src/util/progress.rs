//! Progress bars on stderr, only when a person is watching: on a TTY and not
//! in CI (hyperfine's rule). Otherwise the bars are hidden and cost nothing.

use indicatif::{HumanCount, ProgressBar, ProgressDrawTarget, ProgressStyle};
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
        // indicatif's {per_sec} prints "104,452.143/s": a whole number of
        // rows with its unit reads better ("104,452 rows/s").
        let style = style.with_key(
            "rows_per_sec",
            |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{} rows/s", HumanCount(s.per_sec().max(0.0) as u64));
            },
        );
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
        "rollproof: {msg} [{bar:30}] {human_pos}/{human_len} rows {rows_per_sec} eta {eta}",
        message,
    )
}

/// A bar counting steps (a migrations folder).
pub fn steps_bar(total: u64, message: &str) -> ProgressBar {
    bar(
        total,
        "rollproof: {msg} [{bar:30}] {pos}/{len} steps eta {eta}",
        message,
    )
}
