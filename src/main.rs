//! The `rollproof` binary: parse the command line, run it, map the outcome to
//! a documented exit code. Everything else lives in the library.

use clap::Parser;

fn main() -> std::process::ExitCode {
    // Behave like a Unix filter: `rollproof … | head` ends quietly instead of
    // panicking on a closed pipe (Rust ignores SIGPIPE by default).
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of one signal at start-up,
    // before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = rollproof::cli::Cli::parse();
    let status = match rollproof::cli::run(cli) {
        Ok(status) => status,
        Err(err) => {
            eprintln!("rollproof: error: {}", rollproof::exit::describe(&err));
            rollproof::exit::Status::for_error(&err)
        }
    };
    std::process::ExitCode::from(status as u8)
}
