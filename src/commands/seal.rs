//! `rollproof seal` — placeholder until its issue lands (refuses to run).

use crate::exit::Status;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Arguments (not yet defined).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    pub rest: Vec<String>,
}

pub fn run(_args: Args) -> anyhow::Result<Status> {
    anyhow::bail!("'seal' is not available in this build yet")
}
