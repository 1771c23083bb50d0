//! Small shared utilities: atomic file writes and bounded reads, timestamps,
//! progress bars, owners of leftovers and cleanup on interruption.

pub mod cleanup;
pub mod fsutil;
pub mod owner;
pub mod progress;
pub mod timefmt;
pub mod tomlerr;
