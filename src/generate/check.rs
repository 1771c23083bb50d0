//! CHECK constraints: read each one (parse), turn the common shapes into
//! hints the value makers follow from the first draw, and evaluate every
//! row against them before it is written.
//!
//! Shapes recognised (anywhere among a CHECK's top-level `AND`s, also
//! behind `col IS NULL OR …`): `col IN (…)` / `= ANY (ARRAY[…])`,
//! `col BETWEEN a AND b`, comparisons of a column with a constant,
//! `length(col)` / `char_length` / `octet_length` compared with a number,
//! `col <> ''`, `col IS NOT NULL`, `(a IS NULL) <> (b IS NULL)`,
//! `a IS NOT NULL OR b IS NOT NULL`, `a < b` / `a <= b` between columns,
//! `a <> b`, `col = lower(col)` / `upper`, `json_valid(col)`, and
//! PostgreSQL's `col ~ 'pattern'` / `~*` (values are drawn from an anchored
//! pattern, [`regex`]). A CHECK of
//! another shape is still evaluated when the evaluator models all of it;
//! otherwise only the database judges it (the writer then draws again).

pub mod eval;
pub mod parse;
pub mod regex;

use crate::schema::{Dialect, Table};
use parse::{Expr, Lit, Op};
use std::collections::BTreeMap;

/// One CHECK, parsed, with the words an error names it by.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// `constraint NAME` or `CHECK (expr)`.
    pub label: String,
    pub expr: Expr,
}

/// What the CHECKs say about one column (bounds are inclusive unless the
/// `_strict` flag says otherwise).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Hints {
    pub allowed: Option<Vec<Lit>>,
    pub min: Option<f64>,
    pub min_strict: bool,
    pub max: Option<f64>,
    pub max_strict: bool,
    /// Bounds given as text (dates, codes): `col >= '2000-01-01'`.
    pub text_min: Option<String>,
    pub text_max: Option<String>,
    pub min_len: Option<u64>,
    pub max_len: Option<u64>,
    pub not_null: bool,
    pub lower: bool,
    pub upper: bool,
    pub json: bool,
    /// `col ~ 'pattern'` (pattern, case-insensitive).
    pub pattern: Option<(String, bool)>,
}

/// A rule across columns of one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowRule {
    /// Exactly one of the two is NULL.
    OneNull(String, String),
    /// At least one of them is not NULL.
    SomeValue(Vec<String>),
    /// `lo < hi` (strict) or `lo <= hi`.
    Before {
        lo: String,
        hi: String,
        strict: bool,
    },
    /// `a <> b`.
    Differ(String, String),
}

/// Every CHECK of a table, read.
#[derive(Debug, Clone, Default)]
pub struct TableChecks {
    pub checks: Vec<Parsed>,
    /// Per column (lowercased name).
    pub hints: BTreeMap<String, Hints>,
    pub rules: Vec<RowRule>,
}

impl TableChecks {
    /// Read the CHECK constraints of `table`.
    pub fn read(table: &Table, dialect: Dialect) -> TableChecks {
        let mut out = TableChecks::default();
        for c in &table.checks {
            let expr = parse::parse(&c.expr, dialect);
            let label = match &c.name {
                Some(n) => format!("constraint {n} (CHECK ({}))", c.expr),
                None => format!("CHECK ({})", c.expr),
            };
            for part in conjuncts(&expr) {
                out.learn(part);
            }
            out.checks.push(Parsed { label, expr });
        }
        out
    }

    /// Hints for column `name` (case-insensitive).
    pub fn hints(&self, name: &str) -> Hints {
        self.hints
            .get(&name.to_ascii_lowercase())
            .cloned()
            .unwrap_or_default()
    }

    fn hint(&mut self, col: &str) -> &mut Hints {
        self.hints.entry(col.to_ascii_lowercase()).or_default()
    }

    fn learn(&mut self, e: &Expr) {
        // `col IS NULL OR cond`: cond holds for every non-NULL value.
        if let Expr::Bin(Op::Or, a, b) = e {
            match (a.as_ref(), b.as_ref()) {
                (Expr::IsNull(x, false), other) | (other, Expr::IsNull(x, false))
                    if matches!(x.as_ref(), Expr::Col(_)) =>
                {
                    for part in conjuncts(other) {
                        self.learn(part);
                    }
                    return;
                }
                (Expr::IsNull(x, true), Expr::IsNull(y, true)) => {
                    if let (Some(x), Some(y)) = (col(x), col(y)) {
                        self.rules.push(RowRule::SomeValue(vec![x, y]));
                    }
                    return;
                }
                _ => return,
            }
        }
        match e {
            Expr::In(x, list, false) => {
                if let Some(c) = col(x) {
                    let lits: Option<Vec<Lit>> = list.iter().map(lit).collect();
                    if let Some(lits) = lits {
                        self.hint(&c).allowed = Some(lits);
                    }
                }
            }
            Expr::Between(x, lo, hi, false) => {
                if let Some(c) = length_of(x) {
                    let (lo, hi) = (int(lo), int(hi));
                    let h = self.hint(&c);
                    h.min_len = lo.map(|v| v.max(0) as u64).or(h.min_len);
                    h.max_len = hi.map(|v| v.max(0) as u64).or(h.max_len);
                } else if let Some(c) = col(x) {
                    self.bound(&c, Op::Ge, lo);
                    self.bound(&c, Op::Le, hi);
                }
            }
            Expr::IsNull(x, true) => {
                if let Some(c) = col(x) {
                    self.hint(&c).not_null = true;
                }
            }
            Expr::Func(f, args) if f == "json_valid" && args.len() == 1 => {
                if let Some(c) = col(&args[0]) {
                    self.hint(&c).json = true;
                }
            }
            Expr::Matches(x, p, icase) => {
                if let Some(c) = col(x) {
                    self.hint(&c).pattern = Some((p.clone(), *icase));
                }
            }
            Expr::Bin(op, a, b) => self.comparison(*op, a, b),
            _ => {}
        }
    }

    fn comparison(&mut self, op: Op, a: &Expr, b: &Expr) {
        if let (Expr::IsNull(x, nx), Expr::IsNull(y, ny)) = (a, b)
            && op == Op::Ne
            && nx == ny
            && let (Some(x), Some(y)) = (col(x), col(y))
        {
            self.rules.push(RowRule::OneNull(x, y));
            return;
        }
        if let (Some(x), Some(y)) = (col(a), col(b)) {
            let rule = match op {
                Op::Lt => RowRule::Before {
                    lo: x,
                    hi: y,
                    strict: true,
                },
                Op::Le => RowRule::Before {
                    lo: x,
                    hi: y,
                    strict: false,
                },
                Op::Gt => RowRule::Before {
                    lo: y,
                    hi: x,
                    strict: true,
                },
                Op::Ge => RowRule::Before {
                    lo: y,
                    hi: x,
                    strict: false,
                },
                Op::Ne => RowRule::Differ(x, y),
                _ => return,
            };
            self.rules.push(rule);
            return;
        }
        // col = lower(col)
        if op == Op::Eq
            && let (Some(c), Expr::Func(f, args)) = (col(a), b)
            && args.len() == 1
            && col(&args[0]).is_some_and(|x| x.eq_ignore_ascii_case(&c))
        {
            match f.as_str() {
                "lower" => self.hint(&c).lower = true,
                "upper" => self.hint(&c).upper = true,
                _ => {}
            }
            return;
        }
        // constant on the left: flip
        let (op, a, b) = if col(a).is_none() && length_of(a).is_none() {
            (flip(op), b, a)
        } else {
            (op, a, b)
        };
        if let Some(c) = length_of(a) {
            if let Some(n) = int(b) {
                let n = n.max(0) as u64;
                let h = self.hint(&c);
                match op {
                    Op::Le => h.max_len = Some(h.max_len.map_or(n, |m| m.min(n))),
                    Op::Lt => {
                        h.max_len = Some(
                            h.max_len
                                .map_or(n.saturating_sub(1), |m| m.min(n.saturating_sub(1))),
                        )
                    }
                    Op::Ge => h.min_len = Some(h.min_len.map_or(n, |m| m.max(n))),
                    Op::Gt => h.min_len = Some(h.min_len.map_or(n + 1, |m| m.max(n + 1))),
                    Op::Eq => {
                        h.min_len = Some(n);
                        h.max_len = Some(n);
                    }
                    _ => {}
                }
            }
            return;
        }
        if let Some(c) = col(a) {
            if op == Op::Ne && matches!(b, Expr::Lit(Lit::Text(s)) if s.is_empty()) {
                let h = self.hint(&c);
                h.min_len = Some(h.min_len.unwrap_or(0).max(1));
                return;
            }
            if op == Op::Eq {
                if let Some(l) = lit(b) {
                    self.hint(&c).allowed = Some(vec![l]);
                }
                return;
            }
            self.bound(&c, op, b);
        } else if let Expr::Func(f, args) = a
            && f == "trim"
            && op == Op::Ne
            && args.len() == 1
            && let Some(c) = col(&args[0])
        {
            let h = self.hint(&c);
            h.min_len = Some(h.min_len.unwrap_or(0).max(1));
        }
    }

    fn bound(&mut self, c: &str, op: Op, value: &Expr) {
        let h = self.hint(c);
        match lit(value) {
            Some(Lit::Int(_) | Lit::Real(_)) => {
                let v = match lit(value) {
                    Some(Lit::Int(i)) => i as f64,
                    Some(Lit::Real(f)) => f,
                    _ => return,
                };
                match op {
                    Op::Ge | Op::Gt if h.min.is_none_or(|m| v >= m) => {
                        h.min = Some(v);
                        h.min_strict = op == Op::Gt;
                    }
                    Op::Le | Op::Lt if h.max.is_none_or(|m| v <= m) => {
                        h.max = Some(v);
                        h.max_strict = op == Op::Lt;
                    }
                    _ => {}
                }
            }
            Some(Lit::Text(s)) => match op {
                Op::Ge | Op::Gt => h.text_min = Some(s),
                Op::Le | Op::Lt => h.text_max = Some(s),
                _ => {}
            },
            _ => {}
        }
    }
}

/// The top-level `AND`ed parts of an expression.
pub fn conjuncts(e: &Expr) -> Vec<&Expr> {
    match e {
        Expr::Bin(Op::And, a, b) => {
            let mut v = conjuncts(a);
            v.extend(conjuncts(b));
            v
        }
        other => vec![other],
    }
}

/// Column names an expression mentions.
pub fn columns_in(e: &Expr, out: &mut Vec<String>) {
    match e {
        Expr::Col(c) => out.push(c.clone()),
        Expr::Not(x) | Expr::Neg(x) | Expr::IsNull(x, _) => columns_in(x, out),
        Expr::Bin(_, a, b) => {
            columns_in(a, out);
            columns_in(b, out);
        }
        Expr::In(x, l, _) => {
            columns_in(x, out);
            l.iter().for_each(|i| columns_in(i, out));
        }
        Expr::Between(x, a, b, _) => {
            columns_in(x, out);
            columns_in(a, out);
            columns_in(b, out);
        }
        Expr::Func(_, args) => args.iter().for_each(|a| columns_in(a, out)),
        Expr::Matches(x, _, _) => columns_in(x, out),
        Expr::Lit(_) | Expr::Unknown => {}
    }
}

/// True when the whole expression can be evaluated (no unknown part).
pub fn is_modelled(e: &Expr) -> bool {
    match e {
        Expr::Unknown => false,
        Expr::Col(_) | Expr::Lit(_) => true,
        Expr::Not(x) | Expr::Neg(x) | Expr::IsNull(x, _) => is_modelled(x),
        Expr::Bin(_, a, b) => is_modelled(a) && is_modelled(b),
        Expr::In(x, l, _) => is_modelled(x) && l.iter().all(is_modelled),
        Expr::Between(x, a, b, _) => is_modelled(x) && is_modelled(a) && is_modelled(b),
        Expr::Func(_, args) => args.iter().all(is_modelled),
        Expr::Matches(x, p, icase) => is_modelled(x) && regex::compiled(p, *icase).is_some(),
    }
}

fn col(e: &Expr) -> Option<String> {
    match e {
        Expr::Col(c) => Some(c.clone()),
        _ => None,
    }
}

fn lit(e: &Expr) -> Option<Lit> {
    match e {
        Expr::Lit(Lit::Null) => None,
        Expr::Lit(l) => Some(l.clone()),
        _ => None,
    }
}

fn int(e: &Expr) -> Option<i64> {
    match e {
        Expr::Lit(Lit::Int(i)) => Some(*i),
        _ => None,
    }
}

/// `length(col)` and its spellings → col.
fn length_of(e: &Expr) -> Option<String> {
    match e {
        Expr::Func(f, args)
            if args.len() == 1
                && matches!(
                    f.as_str(),
                    "length" | "char_length" | "character_length" | "octet_length"
                ) =>
        {
            match &args[0] {
                Expr::Col(c) => Some(c.clone()),
                Expr::Func(g, inner) if g == "trim" && inner.len() == 1 => col(&inner[0]),
                _ => None,
            }
        }
        _ => None,
    }
}

fn flip(op: Op) -> Op {
    match op {
        Op::Lt => Op::Gt,
        Op::Le => Op::Ge,
        Op::Gt => Op::Lt,
        Op::Ge => Op::Le,
        o => o,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Check;

    fn table(checks: &[&str]) -> Table {
        Table {
            namespace: None,
            name: "t".into(),
            columns: Vec::new(),
            primary_key: Vec::new(),
            primary_key_name: None,
            uniques: Vec::new(),
            foreign_keys: Vec::new(),
            checks: checks
                .iter()
                .map(|e| Check {
                    name: None,
                    column: None,
                    expr: e.to_string(),
                })
                .collect(),
            without_rowid: false,
            strict: false,
            virtual_module: None,
            sql: None,
        }
    }

    #[test]
    fn common_shapes_become_hints_and_rules() {
        let t = TableChecks::read(
            &table(&[
                "status IN ('new', 'paid') AND qty BETWEEN 1 AND 99",
                "price >= 0",
                "length(code) <= 8 AND code <> ''",
                "(a IS NULL) <> (b IS NULL)",
                "starts_at < ends_at",
                "note IS NULL OR length(note) > 3",
                "0 < weight",
                "email = lower(email)",
            ]),
            Dialect::Sqlite,
        );
        let s = t.hints("STATUS");
        assert_eq!(
            s.allowed,
            Some(vec![Lit::Text("new".into()), Lit::Text("paid".into())])
        );
        let q = t.hints("qty");
        assert_eq!((q.min, q.max), (Some(1.0), Some(99.0)));
        assert_eq!(t.hints("price").min, Some(0.0));
        let c = t.hints("code");
        assert_eq!((c.min_len, c.max_len), (Some(1), Some(8)));
        assert_eq!(t.hints("note").min_len, Some(4));
        let w = t.hints("weight");
        assert_eq!((w.min, w.min_strict), (Some(0.0), true));
        assert!(t.hints("email").lower);
        assert!(t.rules.contains(&RowRule::OneNull("a".into(), "b".into())));
        assert!(t.rules.contains(&RowRule::Before {
            lo: "starts_at".into(),
            hi: "ends_at".into(),
            strict: true
        }));
        assert_eq!(t.checks.len(), 8);
    }
}
