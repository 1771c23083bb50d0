//! rollproof: rehearse risky database changes on production-shaped
//! surrogates and prove, with SHA-256 evidence, that rollback restores the
//! database exactly. See README.md and MISSION words: surrogate, profile,
//! scenario, proof report, seal manifest, blocker map, grant.

pub mod attest;
pub mod backend;
pub mod blockers;
pub mod canonical;
pub mod cli;
pub mod commands;
pub mod diff;
pub mod exit;
pub mod faults;
pub mod fidelity;
pub mod fsutil;
pub mod generate;
pub mod grant;
pub mod guard;
pub mod hash;
pub mod intake;
pub mod logical;
pub mod pg;
pub mod profile;
pub mod profile_extract;
pub mod progress;
pub mod provenance;
pub mod rehearse;
pub mod render;
pub mod report;
pub mod scenario;
pub mod seal;
pub mod secrets;
pub mod sha3sum;
pub mod snapshot;
pub mod stats;
pub mod surface;
pub mod timefmt;
pub mod verify;
