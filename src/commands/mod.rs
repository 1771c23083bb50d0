//! One module per subcommand: each defines `Args` (clap) and `run`.
//! Only these modules print; the library beneath them returns data.

pub mod apply_worker;
pub mod attach;
pub mod blockers;
pub mod check;
pub mod fidelity;
pub mod generate;
pub mod guard;
pub mod hash;
pub mod intake;
pub mod migrations;
pub mod profile;
pub mod promote;
pub mod rehearse;
pub mod report;
pub mod seal;
pub mod verify;
