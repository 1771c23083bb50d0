//! A parser for the boolean expressions inside `CHECK ( … )`, in both
//! dialects' spellings: SQLite as written by hand, PostgreSQL as
//! `pg_get_constraintdef` prints it (`(status)::text = ANY
//! ((ARRAY['a'::character varying, …])::text[])`). What it does not know
//! becomes [`Expr::Unknown`]: the engine then leaves that part to the
//! database, which rejects the row and makes the engine draw again.

use crate::schema::Dialect;
use crate::schema::tokens::{Kind, Token, tokenize};

/// A literal value.
#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Bool(bool),
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    And,
    Or,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Concat,
}

/// An expression tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A column, by name as written (unquoted).
    Col(String),
    Lit(Lit),
    Not(Box<Expr>),
    Neg(Box<Expr>),
    Bin(Op, Box<Expr>, Box<Expr>),
    /// `e IS NULL` (false) / `e IS NOT NULL` (true).
    IsNull(Box<Expr>, bool),
    /// `e [NOT] IN (…)`, also `e = ANY (ARRAY[…])`, `e <> ALL (ARRAY[…])`.
    In(Box<Expr>, Vec<Expr>, bool),
    /// `e [NOT] BETWEEN lo AND hi`.
    Between(Box<Expr>, Box<Expr>, Box<Expr>, bool),
    /// A function call, name lowercased.
    Func(String, Vec<Expr>),
    /// PostgreSQL's `e ~ 'pattern'` (`~*`: case-insensitive).
    Matches(Box<Expr>, String, bool),
    /// Something this parser does not model.
    Unknown,
}

/// Parse a CHECK expression; whatever cannot be read becomes `Unknown`.
pub fn parse(sql: &str, dialect: Dialect) -> Expr {
    let Ok(toks) = tokenize(sql, dialect) else {
        return Expr::Unknown;
    };
    let code: Vec<Token<'_>> = toks.into_iter().filter(|t| t.is_code()).collect();
    let mut p = Parser { t: &code, i: 0 };
    match p.or() {
        Some(e) if p.i == code.len() => e,
        _ => Expr::Unknown,
    }
}

struct Parser<'a, 'b> {
    t: &'b [Token<'a>],
    i: usize,
}

impl<'a> Parser<'a, '_> {
    fn peek(&self, k: usize) -> Option<Token<'a>> {
        self.t.get(self.i + k).copied()
    }

    fn word(&mut self, w: &str) -> bool {
        if self.peek(0).is_some_and(|t| t.is_word(w)) {
            self.i += 1;
            return true;
        }
        false
    }

    /// Match a (possibly two-character) operator.
    fn op(&mut self, s: &str) -> bool {
        let mut chars = s.chars();
        let (a, b) = (chars.next(), chars.next());
        let Some(a) = a else { return false };
        let first = self
            .peek(0)
            .is_some_and(|t| t.kind == Kind::Punct && t.text.starts_with(a));
        if !first {
            return false;
        }
        match b {
            None => {
                // A lone `<` must not swallow the `<` of `<=` / `<>`.
                let next = self.peek(1).map(|t| t.text).unwrap_or("");
                let joins = matches!(
                    (s, next),
                    ("<", "=" | ">") | (">", "=") | ("=", "=") | ("|", "|") | (":", ":")
                );
                if joins
                    && self
                        .peek(1)
                        .is_some_and(|t| t.start == self.t[self.i].start + 1)
                {
                    return false;
                }
                self.i += 1;
                true
            }
            Some(b) => {
                let second = self.peek(1).is_some_and(|t| {
                    t.kind == Kind::Punct
                        && t.text.starts_with(b)
                        && t.start == self.t[self.i].start + 1
                });
                if second {
                    self.i += 2;
                }
                second
            }
        }
    }

    fn or(&mut self) -> Option<Expr> {
        let mut e = self.and()?;
        while self.word("OR") {
            e = Expr::Bin(Op::Or, Box::new(e), Box::new(self.and()?));
        }
        Some(e)
    }

    fn and(&mut self) -> Option<Expr> {
        let mut e = self.not()?;
        while self.word("AND") {
            e = Expr::Bin(Op::And, Box::new(e), Box::new(self.not()?));
        }
        Some(e)
    }

    fn not(&mut self) -> Option<Expr> {
        if self.word("NOT") {
            return Some(Expr::Not(Box::new(self.not()?)));
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Option<Expr> {
        let left = self.additive()?;
        if self.word("IS") {
            let negated = self.word("NOT");
            if self.word("NULL") {
                return Some(Expr::IsNull(Box::new(left), negated));
            }
            // `a IS b` is null-safe equality: not modelled.
            self.additive()?;
            return Some(Expr::Unknown);
        }
        if self.word("NOTNULL") {
            return Some(Expr::IsNull(Box::new(left), true));
        }
        if self.word("ISNULL") {
            return Some(Expr::IsNull(Box::new(left), false));
        }
        let negated = self.word("NOT");
        if self.word("IN") {
            let list = self.list()?;
            return Some(Expr::In(Box::new(left), list, negated));
        }
        if self.word("BETWEEN") {
            let lo = self.additive()?;
            if !self.word("AND") {
                return None;
            }
            let hi = self.additive()?;
            return Some(Expr::Between(
                Box::new(left),
                Box::new(lo),
                Box::new(hi),
                negated,
            ));
        }
        if ["LIKE", "GLOB", "ILIKE", "REGEXP", "MATCH", "SIMILAR"]
            .iter()
            .any(|w| self.word(w))
        {
            self.word("TO");
            self.additive()?;
            if self.word("ESCAPE") {
                self.additive()?;
            }
            return Some(Expr::Unknown);
        }
        if negated {
            return None;
        }
        let op = if self.op("<=") {
            Op::Le
        } else if self.op(">=") {
            Op::Ge
        } else if self.op("<>") || self.op("!=") {
            Op::Ne
        } else if self.op("==") || self.op("=") {
            Op::Eq
        } else if self.op("<") {
            Op::Lt
        } else if self.op(">") {
            Op::Gt
        } else if self.peek(0).is_some_and(|t| t.is_punct("~")) {
            // PostgreSQL regular expressions: `~` and `~*` against a
            // literal pattern are modelled (check::regex); `!~` is not.
            self.i += 1;
            let icase = self.op("*");
            return Some(match self.additive()? {
                Expr::Lit(Lit::Text(p)) => Expr::Matches(Box::new(left), p, icase),
                _ => Expr::Unknown,
            });
        } else {
            return Some(left);
        };
        // PostgreSQL: `x = ANY (ARRAY[…])`, `x <> ALL (ARRAY[…])`.
        if self.word("ANY") || self.word("SOME") {
            let list = self.array_operand()?;
            return Some(match op {
                Op::Eq => Expr::In(Box::new(left), list, false),
                _ => Expr::Unknown,
            });
        }
        if self.word("ALL") {
            let list = self.array_operand()?;
            return Some(match op {
                Op::Ne => Expr::In(Box::new(left), list, true),
                _ => Expr::Unknown,
            });
        }
        let right = self.additive()?;
        Some(Expr::Bin(op, Box::new(left), Box::new(right)))
    }

    /// `( ARRAY[ … ] )` with optional casts around it.
    fn array_operand(&mut self) -> Option<Vec<Expr>> {
        if !self.op("(") {
            return None;
        }
        let mut depth = 0;
        while self.op("(") {
            depth += 1;
        }
        if !self.word("ARRAY") || !self.op("[") {
            return None;
        }
        let mut items = vec![self.or()?];
        while self.op(",") {
            items.push(self.or()?);
        }
        if !self.op("]") {
            return None;
        }
        for _ in 0..depth {
            if !self.op(")") {
                return None;
            }
            self.casts();
        }
        self.casts();
        self.op(")").then_some(items)
    }

    fn list(&mut self) -> Option<Vec<Expr>> {
        if !self.op("(") {
            return None;
        }
        let mut items = vec![self.or()?];
        while self.op(",") {
            items.push(self.or()?);
        }
        self.op(")").then_some(items)
    }

    fn additive(&mut self) -> Option<Expr> {
        let mut e = self.multiplicative()?;
        loop {
            let op = if self.op("||") {
                Op::Concat
            } else if self.op("+") {
                Op::Add
            } else if self.op("-") {
                Op::Sub
            } else {
                return Some(e);
            };
            e = Expr::Bin(op, Box::new(e), Box::new(self.multiplicative()?));
        }
    }

    fn multiplicative(&mut self) -> Option<Expr> {
        let mut e = self.unary()?;
        loop {
            let op = if self.op("*") {
                Op::Mul
            } else if self.op("/") {
                Op::Div
            } else if self.op("%") {
                Op::Rem
            } else {
                return Some(e);
            };
            e = Expr::Bin(op, Box::new(e), Box::new(self.unary()?));
        }
    }

    fn unary(&mut self) -> Option<Expr> {
        if self.op("-") {
            return Some(match self.unary()? {
                Expr::Lit(Lit::Int(i)) => Expr::Lit(Lit::Int(-i)),
                Expr::Lit(Lit::Real(f)) => Expr::Lit(Lit::Real(-f)),
                e => Expr::Neg(Box::new(e)),
            });
        }
        if self.op("+") {
            return self.unary();
        }
        let e = self.primary()?;
        self.casts();
        if self.word("COLLATE") {
            self.i += 1;
        }
        Some(e)
    }

    /// Skip PostgreSQL `::type` casts (with `character varying`, `[]`,
    /// `(n)` suffixes); values keep their own type.
    fn casts(&mut self) {
        while self.op("::") {
            while self
                .peek(0)
                .is_some_and(|t| matches!(t.kind, Kind::Word | Kind::QuotedIdent))
            {
                self.i += 1;
            }
            if self.peek(0).is_some_and(|t| t.is_punct("(")) {
                while self.peek(0).is_some_and(|t| !t.is_punct(")")) {
                    self.i += 1;
                }
                self.i += 1;
            }
            while self.peek(0).is_some_and(|t| t.is_punct("["))
                && self.peek(1).is_some_and(|t| t.is_punct("]"))
            {
                self.i += 2;
            }
        }
    }

    fn primary(&mut self) -> Option<Expr> {
        let t = self.peek(0)?;
        self.i += 1;
        match t.kind {
            Kind::Number => Some(Expr::Lit(number(t.text)?)),
            Kind::String => Some(Expr::Lit(Lit::Text(unquote(t.text)?))),
            Kind::QuotedIdent => Some(Expr::Col(t.ident())),
            Kind::Punct if t.text == "(" => {
                let e = self.or()?;
                if self.op(",") {
                    // A row value `(a, b)`: not modelled.
                    while !self.op(")") {
                        self.i += 1;
                        self.peek(0)?;
                    }
                    return Some(Expr::Unknown);
                }
                self.op(")").then_some(e)
            }
            Kind::Word => self.word_primary(t),
            _ => None,
        }
    }

    fn word_primary(&mut self, t: Token<'_>) -> Option<Expr> {
        let upper = t.text.to_ascii_uppercase();
        match upper.as_str() {
            "NULL" => return Some(Expr::Lit(Lit::Null)),
            "TRUE" => return Some(Expr::Lit(Lit::Bool(true))),
            "FALSE" => return Some(Expr::Lit(Lit::Bool(false))),
            "CAST" => {
                if !self.op("(") {
                    return None;
                }
                let e = self.or()?;
                if !self.word("AS") {
                    return None;
                }
                let mut depth = 0;
                while let Some(t) = self.peek(0) {
                    if t.is_punct("(") {
                        depth += 1;
                    } else if t.is_punct(")") {
                        if depth == 0 {
                            break;
                        }
                        depth -= 1;
                    }
                    self.i += 1;
                }
                return self.op(")").then_some(e);
            }
            "CASE" | "EXISTS" | "SELECT" => return None,
            _ => {}
        }
        if self.peek(0).is_some_and(|n| n.is_punct("(")) {
            self.i += 1;
            let mut args = Vec::new();
            if !self.op(")") {
                self.word("DISTINCT");
                if self.op("*") {
                    args.push(Expr::Unknown);
                } else {
                    args.push(self.or()?);
                }
                while self.op(",") {
                    args.push(self.or()?);
                }
                if !self.op(")") {
                    return None;
                }
            }
            return Some(Expr::Func(t.text.to_ascii_lowercase(), args));
        }
        // A qualified column `t.c`: keep the column.
        if self.peek(0).is_some_and(|n| n.is_punct(".")) {
            self.i += 1;
            let c = self.peek(0)?;
            self.i += 1;
            return Some(Expr::Col(c.ident()));
        }
        Some(Expr::Col(t.text.to_string()))
    }
}

fn number(text: &str) -> Option<Lit> {
    if let Ok(i) = text.parse::<i64>() {
        return Some(Lit::Int(i));
    }
    if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        return i64::from_str_radix(hex, 16).ok().map(Lit::Int);
    }
    text.parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .map(Lit::Real)
}

/// The value of a string literal (`'it''s'`; PostgreSQL `E'…'` only when
/// it has no backslash escapes).
fn unquote(text: &str) -> Option<String> {
    let inner = if let Some(rest) = text.strip_prefix(['E', 'e']) {
        if rest.contains('\\') {
            return None;
        }
        rest
    } else {
        text
    };
    let inner = inner.strip_prefix('\'')?.strip_suffix('\'')?;
    Some(inner.replace("''", "'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(c: &str) -> Box<Expr> {
        Box::new(Expr::Col(c.into()))
    }
    fn text(s: &str) -> Expr {
        Expr::Lit(Lit::Text(s.into()))
    }

    #[test]
    fn sqlite_shapes() {
        assert_eq!(
            parse("status IN ('a', 'b')", Dialect::Sqlite),
            Expr::In(col("status"), vec![text("a"), text("b")], false)
        );
        assert_eq!(
            parse("qty BETWEEN 1 AND 10", Dialect::Sqlite),
            Expr::Between(
                col("qty"),
                Box::new(Expr::Lit(Lit::Int(1))),
                Box::new(Expr::Lit(Lit::Int(10))),
                false
            )
        );
        assert_eq!(
            parse("length(code) <= 8", Dialect::Sqlite),
            Expr::Bin(
                Op::Le,
                Box::new(Expr::Func("length".into(), vec![Expr::Col("code".into())])),
                Box::new(Expr::Lit(Lit::Int(8)))
            )
        );
        assert_eq!(
            parse("(a IS NULL) <> (b IS NULL)", Dialect::Sqlite),
            Expr::Bin(
                Op::Ne,
                Box::new(Expr::IsNull(col("a"), false)),
                Box::new(Expr::IsNull(col("b"), false))
            )
        );
        assert_eq!(
            parse("x >= -2.5", Dialect::Sqlite),
            Expr::Bin(Op::Ge, col("x"), Box::new(Expr::Lit(Lit::Real(-2.5))))
        );
        assert_eq!(parse("name GLOB '[A-Z]*'", Dialect::Sqlite), Expr::Unknown);
        assert_eq!(parse("a <", Dialect::Sqlite), Expr::Unknown);
    }

    #[test]
    fn postgres_constraintdef_shapes() {
        let e = parse(
            "((status)::text = ANY ((ARRAY['new'::character varying, 'done'::character varying])::text[]))",
            Dialect::Postgres,
        );
        assert_eq!(
            e,
            Expr::In(col("status"), vec![text("new"), text("done")], false)
        );
        let e = parse(
            "((price >= (0)::numeric) AND (price < 1000.5))",
            Dialect::Postgres,
        );
        assert_eq!(
            e,
            Expr::Bin(
                Op::And,
                Box::new(Expr::Bin(
                    Op::Ge,
                    col("price"),
                    Box::new(Expr::Lit(Lit::Int(0)))
                )),
                Box::new(Expr::Bin(
                    Op::Lt,
                    col("price"),
                    Box::new(Expr::Lit(Lit::Real(1000.5)))
                ))
            )
        );
        let e = parse("(char_length((name)::text) <= 50)", Dialect::Postgres);
        assert!(matches!(e, Expr::Bin(Op::Le, _, _)), "{e:?}");
        assert_eq!(
            parse("(email ~* '^[a-z]+@'::text)", Dialect::Postgres),
            Expr::Matches(col("email"), "^[a-z]+@".into(), true)
        );
        assert_eq!(
            parse("(code ~ '^[A-Z]{3}$'::text)", Dialect::Postgres),
            Expr::Matches(col("code"), "^[A-Z]{3}$".into(), false)
        );
        // Only a literal pattern is modelled.
        assert_eq!(parse("(code ~ other)", Dialect::Postgres), Expr::Unknown);
    }
}
