//! The fail-closed guard. Every write to a database asks it first; anything it
//! cannot prove safe is refused. The default state is HOLD.

/// A refusal by the guard. Commands map it to exit code 3.
#[derive(Debug, thiserror::Error)]
#[error("refused by guard: {reason}")]
pub struct Refusal {
    /// Why the guard said no, and what would make it say yes.
    pub reason: String,
}

impl Refusal {
    pub fn new(reason: impl Into<String>) -> Self {
        Refusal {
            reason: reason.into(),
        }
    }
}
