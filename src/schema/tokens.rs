//! A small SQL lexer shared by everything that must look inside SQL text
//! without executing it: CHECK and AUTOINCREMENT detection in `CREATE TABLE`
//! statements, and splitting a script into statements (with line numbers)
//! for runners that report which statement failed.
//!
//! It knows what makes naive scanning lie: string literals (`'it''s'`,
//! PostgreSQL `E'…'`), quoted identifiers (`"…"`, `[…]`, `` `…` ``),
//! PostgreSQL dollar quoting (`$tag$ … $tag$`), `--` and `/* */` comments
//! (nested on PostgreSQL), and bodies that contain semicolons (SQLite
//! `CREATE TRIGGER … BEGIN … END`, PostgreSQL `BEGIN ATOMIC … END`).

use super::Dialect;

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A bare word: keyword or unquoted identifier.
    Word,
    /// A quoted identifier; `text` keeps the quotes.
    QuotedIdent,
    /// A string literal (including dollar-quoted); `text` keeps the quotes.
    String,
    /// A number.
    Number,
    /// One punctuation character (`(`, `)`, `,`, `;`, …) or operator run.
    Punct,
    /// A comment.
    Comment,
    /// Whitespace.
    Space,
}

/// One token: its kind and where it is in the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token<'a> {
    /// What it is.
    pub kind: Kind,
    /// The exact source text.
    pub text: &'a str,
    /// Byte offset in the source.
    pub start: usize,
}

impl Token<'_> {
    /// True for a bare word equal to `kw`, ignoring ASCII case.
    pub fn is_word(&self, kw: &str) -> bool {
        self.kind == Kind::Word && self.text.eq_ignore_ascii_case(kw)
    }

    /// True for the punctuation `p`.
    pub fn is_punct(&self, p: &str) -> bool {
        self.kind == Kind::Punct && self.text == p
    }

    /// True for tokens that carry meaning (not space, not comment).
    pub fn is_code(&self) -> bool {
        !matches!(self.kind, Kind::Space | Kind::Comment)
    }

    /// The identifier this token names: a bare word as written, a quoted
    /// identifier without its quotes (doubled quotes undone).
    pub fn ident(&self) -> String {
        if self.kind != Kind::QuotedIdent {
            return self.text.to_string();
        }
        let inner = &self.text[1..self.text.len() - 1];
        match self.text.as_bytes()[0] {
            b'"' => inner.replace("\"\"", "\""),
            b'`' => inner.replace("``", "`"),
            _ => inner.to_string(),
        }
    }
}

/// Why a text could not be lexed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unterminated {what} starting at line {line}")]
pub struct LexError {
    /// What was left open: "string literal", "quoted identifier", "comment".
    pub what: &'static str,
    /// 1-based line where it starts.
    pub line: usize,
}

/// Lex `sql` into tokens; every byte of the input belongs to one token.
pub fn tokenize(sql: &str, dialect: Dialect) -> Result<Vec<Token<'_>>, LexError> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let start = i;
        let c = b[i];
        let kind = match c {
            b' ' | b'\t' | b'\r' | b'\n' | 0x0b | 0x0c => {
                while i < b.len() && b[i].is_ascii_whitespace() {
                    i += 1;
                }
                Kind::Space
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                Kind::Comment
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i = block_comment_end(b, i, dialect == Dialect::Postgres)
                    .ok_or_else(|| err("comment", sql, start))?;
                Kind::Comment
            }
            b'\'' => {
                i = quoted_end(b, i, b'\'', false)
                    .ok_or_else(|| err("string literal", sql, start))?;
                Kind::String
            }
            b'E' | b'e'
                if dialect == Dialect::Postgres
                    && b.get(i + 1) == Some(&b'\'')
                    && !prev_is_word_char(b, i) =>
            {
                i = quoted_end(b, i + 1, b'\'', true)
                    .ok_or_else(|| err("string literal", sql, start))?;
                Kind::String
            }
            b'"' | b'`' => {
                i = quoted_end(b, i, c, false)
                    .ok_or_else(|| err("quoted identifier", sql, start))?;
                Kind::QuotedIdent
            }
            b'[' if dialect == Dialect::Sqlite => {
                i = sql[i..]
                    .find(']')
                    .map(|p| i + p + 1)
                    .ok_or_else(|| err("quoted identifier", sql, start))?;
                Kind::QuotedIdent
            }
            b'$' if dialect == Dialect::Postgres => match dollar_tag(b, i) {
                Some(tag_end) => {
                    let tag = &sql[i..tag_end];
                    i = sql[tag_end..]
                        .find(tag)
                        .map(|p| tag_end + p + tag.len())
                        .ok_or_else(|| err("dollar-quoted string", sql, start))?;
                    Kind::String
                }
                None => {
                    i += 1;
                    while i < b.len() && b[i].is_ascii_digit() {
                        i += 1;
                    }
                    Kind::Punct
                }
            },
            c if c.is_ascii_digit() => {
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.') {
                    i += 1;
                }
                Kind::Number
            }
            c if is_word_start(c) => {
                while i < b.len() && is_word_char(b[i]) {
                    i += 1;
                }
                Kind::Word
            }
            _ => {
                // One (possibly multi-byte UTF-8) character.
                i += sql[i..].chars().next().map_or(1, char::len_utf8);
                Kind::Punct
            }
        };
        out.push(Token {
            kind,
            text: &sql[start..i],
            start,
        });
    }
    Ok(out)
}

fn err(what: &'static str, sql: &str, at: usize) -> LexError {
    LexError {
        what,
        line: line_of(sql, at),
    }
}

/// 1-based line number of byte offset `at`.
pub fn line_of(sql: &str, at: usize) -> usize {
    sql.as_bytes()[..at.min(sql.len())]
        .iter()
        .filter(|&&c| c == b'\n')
        .count()
        + 1
}

fn is_word_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c >= 0x80
}

fn is_word_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80
}

fn prev_is_word_char(b: &[u8], i: usize) -> bool {
    i > 0 && is_word_char(b[i - 1])
}

/// End (exclusive) of a quoted run starting at `i` with `q`; a doubled quote
/// is an escaped one; with `backslash`, `\x` escapes too (PostgreSQL E'').
fn quoted_end(b: &[u8], i: usize, q: u8, backslash: bool) -> Option<usize> {
    let mut j = i + 1;
    while j < b.len() {
        if backslash && b[j] == b'\\' {
            j += 2;
            continue;
        }
        if b[j] == q {
            if b.get(j + 1) == Some(&q) {
                j += 2;
                continue;
            }
            return Some(j + 1);
        }
        j += 1;
    }
    None
}

fn block_comment_end(b: &[u8], i: usize, nested: bool) -> Option<usize> {
    let mut depth = 0usize;
    let mut j = i;
    while j + 1 < b.len() {
        if b[j] == b'/' && b[j + 1] == b'*' && (nested || depth == 0) {
            depth += 1;
            j += 2;
        } else if b[j] == b'*' && b[j + 1] == b'/' {
            depth -= 1;
            j += 2;
            if depth == 0 {
                return Some(j);
            }
        } else {
            j += 1;
        }
    }
    None
}

/// `$tag$` at `i`: the end (exclusive) of the opening tag, or None when `$`
/// starts a positional parameter (`$1`) or is a lone character.
fn dollar_tag(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    if j < b.len() && b[j].is_ascii_digit() {
        return None;
    }
    while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] >= 0x80) {
        j += 1;
    }
    (j < b.len() && b[j] == b'$').then_some(j + 1)
}

/// One statement of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement<'a> {
    /// 1-based position among the script's statements.
    pub index: usize,
    /// 1-based line of its first code token.
    pub line: usize,
    /// Its text, from the first code token through the terminating `;`
    /// (when there is one).
    pub text: &'a str,
}

/// Split a script into statements at top-level semicolons. Comment-only
/// and empty pieces are dropped. Semicolons inside literals, comments,
/// dollar quotes, trigger bodies (`CREATE TRIGGER … BEGIN … END`), SQL-body
/// routines (`BEGIN ATOMIC … END`) and `CASE … END` do not split.
pub fn statements(sql: &str, dialect: Dialect) -> Result<Vec<Statement<'_>>, LexError> {
    let toks = tokenize(sql, dialect)?;
    let mut out = Vec::new();
    let mut first: Option<usize> = None; // byte offset of the statement's first code token
    let mut words: Vec<&Token<'_>> = Vec::new(); // code tokens so far (for the body rules)
    let mut depth = 0usize; // open BEGIN/CASE blocks inside a body
    for t in &toks {
        if !t.is_code() {
            continue;
        }
        if first.is_none() {
            first = Some(t.start);
        }
        if t.is_punct(";") && depth == 0 {
            let start = first.take().unwrap_or(t.start);
            push_statement(&mut out, sql, start, t.start + 1);
            words.clear();
            continue;
        }
        if t.kind == Kind::Word {
            let opens =
                (t.is_word("BEGIN") && opens_body(&words)) || (t.is_word("CASE") && depth > 0);
            if opens {
                depth += 1;
            } else if t.is_word("END") && depth > 0 {
                depth -= 1;
            }
        }
        words.push(t);
    }
    if let Some(start) = first {
        push_statement(&mut out, sql, start, sql.len());
    }
    Ok(out)
}

fn push_statement<'a>(out: &mut Vec<Statement<'a>>, sql: &'a str, start: usize, end: usize) {
    let text = sql[start..end].trim_end();
    if text == ";" {
        return;
    }
    out.push(Statement {
        index: out.len() + 1,
        line: line_of(sql, start),
        text,
    });
}

/// Whether a `BEGIN` after these code tokens opens a body rather than a
/// transaction: inside `CREATE [TEMP] TRIGGER …`, or `BEGIN ATOMIC` (which
/// the caller sees as BEGIN after a routine header).
fn opens_body(before: &[&Token<'_>]) -> bool {
    if before.is_empty() {
        return false; // a plain `BEGIN;` / `BEGIN TRANSACTION`
    }
    let head: Vec<&&Token<'_>> = before.iter().take(4).collect();
    let is_create = head.first().is_some_and(|t| t.is_word("CREATE"));
    let trigger = head.iter().any(|t| t.is_word("TRIGGER"));
    let routine = head
        .iter()
        .any(|t| t.is_word("FUNCTION") || t.is_word("PROCEDURE"));
    // Nested BEGIN inside an open body is handled by depth > 0 at the caller
    // only for trigger bodies; routines use BEGIN ATOMIC once.
    is_create && (trigger || routine)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(sql: &str, d: Dialect) -> Vec<String> {
        statements(sql, d)
            .unwrap()
            .into_iter()
            .map(|s| s.text.to_string())
            .collect()
    }

    #[test]
    fn semicolons_in_literals_comments_and_quotes_do_not_split() {
        let sql = "INSERT INTO t VALUES ('a;b'); -- c;d\n/* e;f */ SELECT \"g;h\" FROM [i;j];";
        assert_eq!(
            texts(sql, Dialect::Sqlite),
            vec![
                "INSERT INTO t VALUES ('a;b');",
                "SELECT \"g;h\" FROM [i;j];"
            ]
        );
    }

    #[test]
    fn trigger_bodies_and_case_keep_their_semicolons() {
        let sql = "CREATE TRIGGER tr AFTER INSERT ON t BEGIN\n  UPDATE t SET x = CASE WHEN 1 THEN 2 ELSE 3 END;\n  DELETE FROM u;\nEND;\nBEGIN;\nCOMMIT;";
        let s = statements(sql, Dialect::Sqlite).unwrap();
        assert_eq!(s.len(), 3, "{s:?}");
        assert!(s[0].text.ends_with("END;"));
        assert_eq!((s[1].text, s[1].line), ("BEGIN;", 5));
        assert_eq!((s[2].index, s[2].line), (3, 6));
    }

    #[test]
    fn postgres_dollar_quotes_and_begin_atomic() {
        let sql = "CREATE FUNCTION f() RETURNS int AS $fn$ BEGIN RETURN 1; END $fn$ LANGUAGE plpgsql;\nCREATE FUNCTION g() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END;\nSELECT $1, E'x\\';y';";
        let s = texts(sql, Dialect::Postgres);
        assert_eq!(s.len(), 3, "{s:?}");
        assert!(s[1].ends_with("END;"));
        assert_eq!(s[2], "SELECT $1, E'x\\';y';");
    }

    #[test]
    fn unterminated_literal_is_an_error_with_its_line() {
        let e = statements("SELECT 1;\nSELECT 'oops;", Dialect::Sqlite).unwrap_err();
        assert_eq!((e.what, e.line), ("string literal", 2));
    }

    #[test]
    fn comment_only_script_has_no_statements_and_last_needs_no_semicolon() {
        assert!(texts("-- nothing\n/* here */\n;", Dialect::Sqlite).is_empty());
        assert_eq!(texts("SELECT 1", Dialect::Sqlite), vec!["SELECT 1"]);
    }

    #[test]
    fn quoted_identifiers_unquote() {
        let t = tokenize("\"a\"\"b\" [c d] `e`", Dialect::Sqlite).unwrap();
        let ids: Vec<String> = t
            .iter()
            .filter(|t| t.is_code())
            .map(|t| t.ident())
            .collect();
        assert_eq!(ids, vec!["a\"b", "c d", "e"]);
    }
}
