//! The `rollproof` binary: parse the command line, run it, map the outcome to
//! a documented exit code. Everything else lives in the library.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = rollproof::cli::Cli::parse();
    let status = match rollproof::cli::run(cli) {
        Ok(status) => status,
        Err(err) => {
            eprintln!("rollproof: error: {err:#}");
            rollproof::exit::Status::for_error(&err)
        }
    };
    std::process::ExitCode::from(status as u8)
}
