//! rollproof: rehearse risky database changes on production-shaped
//! surrogates and prove, with SHA-256 evidence, that rollback restores the
//! database exactly. See README.md and MISSION words: surrogate, profile,
//! scenario, proof report, seal manifest, blocker map, grant.
//!
//! Layers (docs/ARCHITECTURE.md): a schema is data (`schema`, `profile`,
//! `generate`, `surface`); an engine runs it (`engine::{sqlite,postgres}`);
//! a proof judges it (`proof`, pure); evidence carries it (`evidence`).
//! `guard` is called where databases and files are opened for writing;
//! `rehearse` is the pipeline; `cli` and `commands` are the edges.

pub mod clean;
pub mod cli;
pub mod commands;
pub mod engine;
pub mod evidence;
pub mod exit;
pub mod generate;
pub mod guard;
pub mod hash;
pub mod intake;
pub mod migrations;
pub mod profile;
pub mod proof;
pub mod rehearse;
pub mod schema;
pub mod surface;
pub mod util;
