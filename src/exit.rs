//! Exit codes: small, distinct and documented (README "Exit codes").
//!
//! Check-style commands follow ripgrep / `b3sum --check`: 0 clean, 1 the check
//! found a problem, 2 the input could not be used. Guard refusals get their own
//! code so automation can tell "unsafe, refused" from "broken input".

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Status {
    /// The command did what was asked; a proof or check passed.
    Success = 0,
    /// A proof failed, a check found drift, a map or report is invalid.
    Failed = 1,
    /// Bad input: unreadable, malformed or missing files, wrong arguments.
    BadInput = 2,
    /// The guard refused: the target or action is not allowed (default HOLD).
    Refused = 3,
}

impl Status {
    /// The exit status for an error: a guard refusal anywhere in the cause
    /// chain wins, then a [`Failed`] outcome; everything else is bad input
    /// (the caller gave us something we could not use).
    pub fn for_error(err: &anyhow::Error) -> Status {
        let has = |f: fn(&(dyn std::error::Error + 'static)) -> bool| err.chain().any(f);
        if has(|c| c.downcast_ref::<crate::guard::Refusal>().is_some()) {
            Status::Refused
        } else if has(|c| c.downcast_ref::<Failed>().is_some()) {
            Status::Failed
        } else {
            Status::BadInput
        }
    }

    /// The `kind` of an error in `--json` output: `failed`, `bad-input` or
    /// `refused` (the rows of the exit-code table).
    pub fn kind(self) -> &'static str {
        match self {
            Status::Success => "ok",
            Status::Failed => "failed",
            Status::BadInput => "bad-input",
            Status::Refused => "refused",
        }
    }
}

/// An outcome that is a failed check rather than an unusable input (exit
/// 1): a report that does not verify, a proof that did not hold. Commands
/// return it as an error so that `--json` and the exit code come from one
/// place (`main`).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Failed(pub String);

impl Failed {
    /// A failure with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Failed(message.into())
    }
}

/// The JSON a command taking `--json` prints on stdout when it ends in an
/// error: `{ "ok": false, "error": …, "kind": … }`.
pub fn error_json(err: &anyhow::Error) -> serde_json::Value {
    serde_json::json!({
        "ok": false,
        "error": describe(err),
        "kind": Status::for_error(err).kind(),
    })
}

/// Report an error the one way every command does: a `rollproof: error:`
/// line on stderr, and with `--json` the [`error_json`] object on stdout.
/// Returns the exit status.
pub fn report_error(err: &anyhow::Error, json: bool) -> Status {
    eprintln!("rollproof: error: {}", describe(err));
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&error_json(err)).unwrap_or_default()
        );
    }
    Status::for_error(err)
}

/// One line for an error and its causes, each cause once: typed errors
/// often repeat their source in their own message, and `{:#}` would then
/// print it twice.
pub fn describe(err: &anyhow::Error) -> String {
    let mut line = err.to_string();
    for cause in err.chain().skip(1) {
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
    }
    line
}

/// Text for `--help` and the README.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success: the proof passed, the check is clean, the map is valid
  1  failed: a proof failed, a check found drift, a report or map is invalid
  2  bad input: unreadable, malformed or missing input; wrong arguments
  3  refused by the guard: target or action not allowed (default HOLD)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_prints_each_cause_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let err = anyhow::Error::new(crate::hash::HashError {
            path: "x.db".into(),
            source: io,
        })
        .context("could not hash");
        assert_eq!(
            describe(&err),
            "could not hash: cannot read x.db to hash it: no such file"
        );
        let refused = anyhow::Error::new(crate::guard::Refusal::new("HOLD")).context("attach");
        assert_eq!(describe(&refused), "attach: refused by guard: HOLD");
        assert_eq!(Status::for_error(&refused), Status::Refused);
    }
}
