//! Small shared utilities: atomic file writes, timestamps, progress bars.

pub mod fsutil;
pub mod progress;
pub mod timefmt;
pub mod tomlerr;
