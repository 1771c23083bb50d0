//! The SQLite engine: the rehearsal backend on a workspace file, and what it
//! measures with — the canonical logical hash, snapshots and restores, the
//! shell's `.sha3sum` digest, row-level diffs, free-space residue — and the
//! sandbox and statement runner for user change scripts.

pub mod backend;
pub mod diff;
pub mod fingerprint;
pub mod freespace;
pub mod header;
pub mod logical;
pub mod sandbox;
pub mod script;
pub mod sha3sum;
pub mod snapshot;

pub use backend::SqliteBackend;
