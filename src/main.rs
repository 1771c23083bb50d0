//! The `rollproof` binary: parse the command line, run it, map the outcome to
//! a documented exit code. Everything else lives in the library.

fn main() -> std::process::ExitCode {
    // Behave like a Unix filter: `rollproof … | head` ends quietly instead of
    // panicking on a closed pipe (Rust ignores SIGPIPE by default).
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of one signal at start-up,
    // before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let status = rollproof::cli::main(std::env::args_os());
    std::process::ExitCode::from(status as u8)
}
