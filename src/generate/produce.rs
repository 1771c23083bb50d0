//! Making rows from the plan: the planner thread's work. Every value comes
//! from the plan and the seeded streams alone, never from the database, so
//! rows are made on one thread while another writes them, and the output
//! is the same as if one thread did both.
//!
//! A row is made, its cross-column rules applied (`(a IS NULL) <> (b IS
//! NULL)`, `lo < hi`), and every CHECK the engine models evaluated; a row
//! that fails one is made again from a retry stream keyed by (table, row,
//! attempt), a bounded number of times, then the CHECK is named in the
//! error. Keys, foreign keys and group positions stay as they were: only
//! drawn values change, so children of the row still find it.

use super::GenerateError;
use super::batch::{Batch, Val};
use super::check::eval::{self, V};
use super::keys::{self, mix, uniform, value_rng};
use super::make::make;
use super::plan::{Choice, FkPlan, Plan, Rule, Source, TablePlan};
use super::types::Class;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use std::borrow::Cow;
use std::cmp::Ordering;
use std::sync::mpsc::SyncSender;

/// Draws per row before a CHECK is declared unsatisfiable.
pub const ATTEMPTS: u64 = 64;
/// Rows per batch sent to the writer.
pub const BATCH_ROWS: usize = 1024;
/// Text bytes after which a batch is sent early.
const BATCH_TEXT: usize = 1 << 20;
const NULL_SALT: u64 = 0x6e75_6c6c_6e75_6c6c;
const FILL_SALT: u64 = 0x6669_6c6c_6669_6c6c;
const RETRY_SALT: u64 = 0x7265_7472_7972_6574;

/// Which row is being made: its index, the parent each foreign key
/// picked, and its position among the grouping parent's children.
#[derive(Debug, Clone, Copy)]
pub struct At<'c> {
    pub i: u64,
    pub choices: &'c [Option<u64>],
    pub pos: u64,
}

/// Row maker over a plan.
pub struct Producer<'p> {
    pub plan: &'p Plan,
}

/// Walks the parents of a grouping key: parent `j` gets `count_j`
/// children, in proportion to its drawn weight, exactly `rows` in all.
struct GroupWalk {
    key: u64,
    table: Vec<(u64, u64)>,
    parents: u64,
    rows: u128,
    total: u128,
    cum: u128,
    next: u64,
    current: u64,
    left: u64,
    pos: u64,
    uniform: bool,
}

impl GroupWalk {
    fn new(f: &FkPlan, table: &[(u64, u64)], rows: u64) -> GroupWalk {
        let mut g = GroupWalk {
            key: f.key,
            table: table.to_vec(),
            parents: f.parents,
            rows: rows as u128,
            total: 0,
            cum: 0,
            next: 0,
            current: 0,
            left: 0,
            pos: 0,
            uniform: false,
        };
        g.total = (0..f.parents).map(|j| g.weight(j) as u128).sum();
        if g.total == 0 {
            g.uniform = true;
            g.total = f.parents as u128;
        }
        g
    }

    /// Children drawn for parent `j` (a pure function of j).
    fn weight(&self, j: u64) -> u64 {
        if self.uniform {
            return 1;
        }
        let x = mix(self.key, j) >> 32;
        self.table
            .iter()
            .find(|(_, t)| x < *t)
            .or(self.table.last())
            .map_or(1, |(c, _)| *c)
    }

    /// (parent, position among its children) of the next child.
    fn next(&mut self) -> (u64, u64) {
        while self.left == 0 && self.next < self.parents {
            let j = self.next;
            self.next += 1;
            let before = self.rows * self.cum / self.total;
            self.cum += self.weight(j) as u128;
            let after = self.rows * self.cum / self.total;
            self.current = j;
            self.left = (after - before) as u64;
            self.pos = 0;
        }
        self.left = self.left.saturating_sub(1);
        self.pos += 1;
        (self.current, self.pos - 1)
    }
}

fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

impl Producer<'_> {
    /// The parent row `f` picks for child row `i` (random-access choices).
    pub fn choice_at(&self, f: &FkPlan, i: u64) -> Option<u64> {
        if f.parents == 0 || (f.null > 0.0 && unit(mix(f.key ^ NULL_SALT, i)) < f.null) {
            return None;
        }
        let n = f.parents;
        Some(match &f.choice {
            Choice::Uniform | Choice::Group(_) => uniform(mix(f.key, i), n),
            Choice::Perm(p) => p.at(i),
            Choice::PairA { perm, n: na } => perm.at(i % na),
            Choice::PairB { n_a, n: nb } => ((i / n_a) + mix(f.key, i % n_a) % nb) % nb,
            Choice::Earlier if i == 0 => return (f.null == 0.0).then_some(0),
            Choice::Earlier => uniform(mix(f.key, i), i.min(n)),
        })
    }

    /// Column `c` of table `t` at row `j`, recomputed (`None`: the rowid).
    pub fn value_at(&self, t: usize, c: Option<usize>, j: u64, b: &mut Batch, depth: u32) -> Val {
        let tp = &self.plan.tables[t];
        let Some(c) = c else {
            return Val::Int(j as i64 + 1);
        };
        let col = &tp.cols[c];
        match col.source {
            Source::RowNumber => Val::Int(j as i64 + 1),
            Source::Fk { fk, part } if depth < 32 => {
                let f = &tp.fks[fk];
                match self.choice_at(f, j) {
                    Some(p) => self.value_at(
                        f.parent,
                        f.parent_cols.get(part).copied().flatten(),
                        p,
                        b,
                        depth + 1,
                    ),
                    None => Val::Null,
                }
            }
            Source::Unique => make(&col.shape, &mut value_rng(col.key, j), Some(j), b),
            _ => make(&col.shape, &mut value_rng(col.key, j), None, b),
        }
    }

    /// Make every row of table `t`, sending full batches; false when the
    /// writer hung up.
    pub fn table(&self, t: usize, tx: &SyncSender<Batch>) -> Result<bool, GenerateError> {
        let tp = &self.plan.tables[t];
        let width = tp.cols.len();
        let mut rng = keys::value_rng(tp.key, u64::MAX);
        let mut walks: Vec<Option<GroupWalk>> = tp
            .fks
            .iter()
            .map(|f| match &f.choice {
                Choice::Group(table) => Some(GroupWalk::new(f, table, self.grouped_rows(tp, f))),
                _ => None,
            })
            .collect();
        let text_cap = 1 << 16;
        let mut b = Batch::new(t, 0, BATCH_ROWS * width, text_cap);
        let mut choices = vec![None; tp.fks.len()];
        let mut pos = 0u64;
        for i in 0..tp.rows {
            for (k, f) in tp.fks.iter().enumerate() {
                choices[k] = match walks[k].as_mut() {
                    Some(w) if !self.grouped_null(tp, f, i) => {
                        let (p, at) = w.next();
                        pos = at;
                        Some(p)
                    }
                    Some(_) => None,
                    None => self.choice_at(f, i),
                };
            }
            let at = At {
                i,
                choices: &choices,
                pos,
            };
            self.row(tp, at, &mut rng, &mut b)?;
            if b.vals.len() >= BATCH_ROWS * width || b.text.len() >= BATCH_TEXT {
                let next = Batch::new(
                    t,
                    i + 1,
                    BATCH_ROWS * width,
                    b.text.capacity().max(text_cap),
                );
                if tx.send(std::mem::replace(&mut b, next)).is_err() {
                    return Ok(false);
                }
            }
        }
        if !b.vals.is_empty() && tx.send(b).is_err() {
            return Ok(false);
        }
        Ok(true)
    }

    /// Rows of `tp` with a non-NULL grouping key.
    fn grouped_rows(&self, tp: &TablePlan, f: &FkPlan) -> u64 {
        tp.rows - (tp.rows as f64 * f.null).round() as u64
    }

    /// NULL grouping keys are spread evenly over the rows.
    fn grouped_null(&self, tp: &TablePlan, f: &FkPlan, i: u64) -> bool {
        let nulls = (tp.rows as f64 * f.null).round() as u128;
        let n = tp.rows as u128;
        nulls > 0 && ((i as u128 + 1) * nulls / n) > (i as u128 * nulls / n)
    }

    /// Make row `i` into `b` (retrying failed CHECKs).
    fn row(
        &self,
        tp: &TablePlan,
        at: At<'_>,
        rng: &mut ChaCha8Rng,
        b: &mut Batch,
    ) -> Result<(), GenerateError> {
        let i = at.i;
        let mark = b.mark();
        self.values(tp, at, rng, b);
        let mut failed = self.settle(tp, i, mark.0, rng, b);
        let mut attempt = 1;
        while let Some(label) = failed {
            if attempt >= ATTEMPTS {
                return Err(GenerateError::Unsatisfiable {
                    table: tp.name.clone(),
                    constraint: label.to_string(),
                    problem: format!(
                        "no value drawn for row {} satisfied it in {ATTEMPTS} attempts",
                        i + 1
                    ),
                });
            }
            b.undo(mark);
            let mut retry = value_rng(tp.key ^ RETRY_SALT, i.wrapping_mul(ATTEMPTS) + attempt);
            self.values(tp, at, &mut retry, b);
            failed = self.settle(tp, i, mark.0, &mut retry, b);
            attempt += 1;
        }
        Ok(())
    }

    /// Write the row's values (one per column).
    pub fn values(&self, tp: &TablePlan, at: At<'_>, rng: &mut ChaCha8Rng, b: &mut Batch) {
        let At { i, choices, pos } = at;
        for col in &tp.cols {
            let null = |rng: &mut ChaCha8Rng| col.null > 0.0 && rng.random_bool(col.null.min(1.0));
            let v = match col.source {
                Source::RowNumber => Val::Int(i as i64 + 1),
                Source::Unique if null(rng) => Val::Null,
                Source::Unique => make(&col.shape, &mut value_rng(col.key, i), Some(i), b),
                Source::Pool(_) | Source::Drawn if null(rng) => Val::Null,
                Source::Pool(n) => {
                    let k = uniform(rng.random::<u64>(), n);
                    make(&col.shape, &mut value_rng(col.key, k), None, b)
                }
                Source::Drawn => make(&col.shape, rng, None, b),
                Source::Fk { fk, part } => {
                    let f = &tp.fks[fk];
                    match choices[fk] {
                        Some(j) => self.value_at(
                            f.parent,
                            f.parent_cols.get(part).copied().flatten(),
                            j,
                            b,
                            0,
                        ),
                        None => Val::Null,
                    }
                }
                Source::GroupPos => match col.shape.class {
                    Class::Int { .. } => Val::Int(pos as i64 + 1),
                    _ => b.push_text(&(pos + 1).to_string()),
                },
            };
            b.vals.push(v);
        }
    }

    /// Apply the row rules, then evaluate the modelled CHECKs: the label
    /// of the first that fails, if any.
    pub fn settle<'a>(
        &self,
        tp: &'a TablePlan,
        i: u64,
        start: usize,
        rng: &mut ChaCha8Rng,
        b: &mut Batch,
    ) -> Option<&'a str> {
        for rule in &tp.rules {
            self.apply(tp, rule, i, start, rng, b);
        }
        let vals = &b.vals[start..];
        for chk in &tp.checks {
            let row = |name: &str| -> Option<V<'_>> {
                let c = tp
                    .cols
                    .iter()
                    .position(|c| c.name.eq_ignore_ascii_case(name))?;
                Some(match vals[c] {
                    Val::Null => V::Null,
                    Val::Int(x) => V::Int(x),
                    Val::Real(x) => V::Real(x),
                    Val::Bool(x) => V::Bool(x),
                    Val::Dec(x) => match tp.cols[c].shape.class {
                        Class::Decimal { scale, .. } => {
                            V::Real(x as f64 / 10f64.powi(scale as i32))
                        }
                        _ => V::Int(x),
                    },
                    Val::Text(s) => V::Text(Cow::Borrowed(b.str(s))),
                    Val::Blob(_) => return None,
                })
            };
            if eval::passes(&chk.expr, &row) == Ok(false) {
                return Some(&chk.label);
            }
        }
        None
    }

    fn apply(
        &self,
        tp: &TablePlan,
        rule: &Rule,
        i: u64,
        start: usize,
        rng: &mut ChaCha8Rng,
        b: &mut Batch,
    ) {
        let is_null = |b: &Batch, c: usize| b.vals[start + c] == Val::Null;
        match rule {
            Rule::OneNull(x, y) => match (is_null(b, *x), is_null(b, *y)) {
                (true, true) => self.fill(tp, *x, i, start, rng, b),
                (false, false) => {
                    let drop = if tp.cols[*y].not_null { *x } else { *y };
                    b.vals[start + drop] = Val::Null;
                }
                _ => {}
            },
            Rule::SomeValue(cols) => {
                if cols.iter().all(|&c| is_null(b, c))
                    && let Some(&c) = cols.first()
                {
                    self.fill(tp, c, i, start, rng, b);
                }
            }
            Rule::Before { lo, hi, strict } => {
                let (l, h) = (b.vals[start + lo], b.vals[start + hi]);
                match order(b, l, h) {
                    Some(Ordering::Greater) => {
                        b.vals[start + lo] = h;
                        b.vals[start + hi] = l;
                    }
                    Some(Ordering::Equal) if *strict => {
                        b.vals[start + hi] = match h {
                            Val::Int(x) => Val::Int(x.saturating_add(1)),
                            Val::Dec(x) => Val::Dec(x.saturating_add(1)),
                            Val::Real(x) => Val::Real(x + x.abs().max(1.0) * 1e-9),
                            other => other,
                        };
                    }
                    _ => {}
                }
            }
            Rule::Differ(..) => {} // judged by the CHECK itself: a retry draws again
        }
    }

    /// Give column `c` of the row a non-NULL value.
    fn fill(
        &self,
        tp: &TablePlan,
        c: usize,
        i: u64,
        start: usize,
        rng: &mut ChaCha8Rng,
        b: &mut Batch,
    ) {
        let col = &tp.cols[c];
        let v = match col.source {
            Source::Fk { fk, part } => {
                let f = &tp.fks[fk];
                if f.parents == 0 {
                    return;
                }
                let j = uniform(mix(f.key ^ FILL_SALT, i), f.parents);
                self.value_at(
                    f.parent,
                    f.parent_cols.get(part).copied().flatten(),
                    j,
                    b,
                    0,
                )
            }
            Source::Unique => make(&col.shape, &mut value_rng(col.key, i), Some(i), b),
            _ => make(&col.shape, rng, None, b),
        };
        b.vals[start + c] = v;
    }
}

/// Order of two values of one column (`None`: NULL or not comparable).
fn order(b: &Batch, x: Val, y: Val) -> Option<Ordering> {
    match (x, y) {
        (Val::Int(a), Val::Int(c)) | (Val::Dec(a), Val::Dec(c)) => Some(a.cmp(&c)),
        (Val::Real(a), Val::Real(c)) => a.partial_cmp(&c),
        (Val::Text(a), Val::Text(c)) => Some(b.str(a).cmp(b.str(c))),
        _ => None,
    }
}
