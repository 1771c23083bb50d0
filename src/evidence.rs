//! Evidence: what a rehearsal leaves for people who do not trust rollproof —
//! the proof report and its renderings, the verifier, the seal manifest and
//! its checker, attestations, and the blocker map the evidence is attached to.

pub mod attest;
pub mod blockers;
pub mod canonical;
pub mod promote;
pub mod redact;
pub mod render;
pub mod report;
pub mod seal;
pub mod sign;
pub mod verify;
