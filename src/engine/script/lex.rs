//! Statement boundaries the way the database's own shell finds them, over
//! the shared SQL lexer (`schema::tokens`, which knows quotes, `E'…'`
//! escapes, dollar quotes and nested comments): SQLite's `sqlite3_complete`
//! state machine (complete.c, ported state for state), and psql's rule
//! (psqlscan.l: a `;` ends a statement outside parentheses and outside the
//! `BEGIN … END` body of a `CREATE [OR REPLACE] FUNCTION|PROCEDURE`).
//! Positions are byte offsets into the script.

use super::Dialect;
use crate::schema::tokens::{Kind, LexError, Token, tokenize};

fn is_semi(t: &Token<'_>) -> bool {
    t.is_punct(";")
}

/// Statement spans (start of the first code token, end after the `;` or the
/// last code token) of a SQLite script, by `sqlite3_complete`'s machine.
fn split_sqlite(tokens: &[Token<'_>]) -> Vec<(usize, usize)> {
    // States and token classes of complete.c.
    const TRANS: [[u8; 8]; 8] = [
        // SEMI WS OTHER EXPLAIN CREATE TEMP TRIGGER END
        [1, 0, 2, 3, 4, 2, 2, 2], // 0 NOTHING
        [1, 1, 2, 3, 4, 2, 2, 2], // 1 START
        [1, 2, 2, 2, 2, 2, 2, 2], // 2 NORMAL
        [1, 3, 3, 2, 4, 2, 2, 2], // 3 EXPLAIN
        [1, 4, 2, 2, 2, 4, 5, 2], // 4 CREATE
        [6, 5, 5, 5, 5, 5, 5, 5], // 5 TRIGGER
        [6, 6, 5, 5, 5, 5, 5, 7], // 6 SEMI
        [1, 7, 5, 5, 5, 5, 5, 5], // 7 END
    ];
    let mut out = Vec::new();
    let mut state = 0u8;
    let mut begun: Option<usize> = None;
    let mut last = 0;
    for t in tokens {
        let class = match t.kind {
            _ if is_semi(t) => 0,
            Kind::Space | Kind::Comment => 1,
            Kind::Word => match t.text.to_ascii_lowercase().as_str() {
                "explain" => 3,
                "create" => 4,
                "temp" | "temporary" => 5,
                "trigger" => 6,
                "end" => 7,
                _ => 2,
            },
            _ => 2,
        };
        let prev = state;
        state = TRANS[prev as usize][class];
        if class != 1 {
            begun.get_or_insert(t.start);
            last = t.start + t.text.len();
        }
        // A statement ends at a `;` that brings the machine back to START,
        // unless it was empty (`;;`).
        if class == 0
            && state == 1
            && let Some(b) = begun.take()
            && prev > 1
        {
            out.push((b, last));
        }
    }
    if let Some(b) = begun {
        out.push((b, last));
    }
    out
}

/// Statement spans of a PostgreSQL script, split as psql splits them.
fn split_postgres(tokens: &[Token<'_>]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut begun: Option<usize> = None;
    let mut last = 0;
    let (mut parens, mut begins) = (0i64, 0i64);
    // psqlscan.l remembers the first letters of a statement's leading
    // CREATE / OR / REPLACE / FUNCTION / PROCEDURE words.
    let mut idents: Vec<u8> = Vec::new();
    let mut routine = false;
    for t in tokens {
        if !t.is_code() {
            continue;
        }
        if !is_semi(t) {
            begun.get_or_insert(t.start);
        }
        last = t.start + t.text.len();
        match t.kind {
            _ if t.is_punct("(") => parens += 1,
            _ if t.is_punct(")") => parens -= 1,
            _ if is_semi(t) && parens == 0 && begins == 0 => {
                if let Some(b) = begun.take() {
                    out.push((b, last));
                }
                idents.clear();
                routine = false;
            }
            Kind::Word => {
                let w = t.text.to_ascii_lowercase();
                if idents.len() < 4 {
                    let mark = match w.as_str() {
                        "create" | "function" | "procedure" | "or" | "replace" => w.as_bytes()[0],
                        _ => 0,
                    };
                    idents.push(mark);
                    routine = matches!(
                        idents.as_slice(),
                        [b'c', b'f', ..] | [b'c', b'p', ..] | [b'c', b'o', b'r', b'f' | b'p', ..]
                    );
                }
                if routine && parens == 0 {
                    match w.as_str() {
                        "begin" => begins += 1,
                        "case" if begins >= 1 => begins += 1,
                        "end" if begins > 0 => begins -= 1,
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    if let Some(b) = begun {
        out.push((b, last));
    }
    out
}

/// Statement spans of `script`.
pub(super) fn spans(script: &str, dialect: Dialect) -> Result<Vec<(usize, usize)>, LexError> {
    let tokens = tokenize(script, dialect)?;
    Ok(match dialect {
        Dialect::Sqlite => split_sqlite(&tokens),
        Dialect::Postgres => split_postgres(&tokens),
    })
}

/// Every unquoted word of a statement, lowercased, in order, and whether
/// the first code token is a word at all (a statement can start with `(`).
fn words_of(stmt: &str, dialect: Dialect) -> Vec<(bool, String)> {
    tokenize(stmt, dialect)
        .map(|tokens| {
            tokens
                .iter()
                .filter(|t| t.is_code())
                .map(|t| (t.kind == Kind::Word, t.text.to_ascii_lowercase()))
                .collect()
        })
        .unwrap_or_default()
}

/// The first `n` unquoted words of a statement, lowercased, stopping at the
/// first code token that is not a word.
pub(super) fn leading_words(stmt: &str, dialect: Dialect, n: usize) -> Vec<String> {
    words_of(stmt, dialect)
        .into_iter()
        .take_while(|(word, _)| *word)
        .take(n)
        .map(|(_, w)| w)
        .collect()
}

/// Every unquoted word of a statement, lowercased.
pub(super) fn words(stmt: &str, dialect: Dialect) -> Vec<String> {
    words_of(stmt, dialect)
        .into_iter()
        .filter(|(word, _)| *word)
        .map(|(_, w)| w)
        .collect()
}
