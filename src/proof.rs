//! The proof rules, pure and free of I/O: phases → checks → verdict
//! (`verdict`), and the consistency rules the verifier applies to a
//! recorded report (`rules`); a migrations step's rules (`migrations`).

pub mod judge;
pub mod migrations;
pub mod rules;
pub mod scripts;
pub mod verdict;
