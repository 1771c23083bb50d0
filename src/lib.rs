//! rollproof: rehearse risky database changes on production-shaped
//! surrogates and prove, with SHA-256 evidence, that rollback restores the
//! database exactly. See README.md and MISSION words: surrogate, profile,
//! scenario, proof report, seal manifest, blocker map, grant.

pub mod cli;
pub mod commands;
pub mod exit;
pub mod fsutil;
pub mod generate;
pub mod guard;
pub mod hash;
pub mod logical;
pub mod profile;
pub mod progress;
pub mod surface;
pub mod timefmt;
