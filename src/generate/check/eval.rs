//! Evaluate a parsed CHECK expression on one generated row, with SQL's
//! three-valued logic (a CHECK passes when it is TRUE or NULL). Anything
//! the evaluator cannot model answers "not evaluable", never a guess: the
//! database then has the last word.

use super::parse::{Expr, Lit, Op};
use std::borrow::Cow;
use std::cmp::Ordering;

/// A value during evaluation.
#[derive(Debug, Clone, PartialEq)]
pub enum V<'a> {
    Null,
    Int(i64),
    Real(f64),
    Text(Cow<'a, str>),
    Bool(bool),
}

/// "This expression cannot be judged here."
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotEvaluable;

type R<'a> = Result<V<'a>, NotEvaluable>;

/// Whether the CHECK passes on the row: `Ok(true)` when TRUE or NULL.
pub fn passes<'a>(e: &Expr, row: &dyn Fn(&str) -> Option<V<'a>>) -> Result<bool, NotEvaluable> {
    match eval(e, row)? {
        V::Null => Ok(true),
        V::Bool(b) => Ok(b),
        V::Int(i) => Ok(i != 0),
        V::Real(f) => Ok(f != 0.0),
        V::Text(_) => Err(NotEvaluable),
    }
}

fn truth(v: &V<'_>) -> Result<Option<bool>, NotEvaluable> {
    match v {
        V::Null => Ok(None),
        V::Bool(b) => Ok(Some(*b)),
        V::Int(i) => Ok(Some(*i != 0)),
        V::Real(f) => Ok(Some(*f != 0.0)),
        V::Text(_) => Err(NotEvaluable),
    }
}

fn boolean<'a>(b: Option<bool>) -> V<'a> {
    b.map_or(V::Null, V::Bool)
}

fn eval<'a>(e: &Expr, row: &dyn Fn(&str) -> Option<V<'a>>) -> R<'a> {
    match e {
        Expr::Col(c) => row(c).ok_or(NotEvaluable),
        Expr::Lit(l) => Ok(match l {
            Lit::Null => V::Null,
            Lit::Int(i) => V::Int(*i),
            Lit::Real(f) => V::Real(*f),
            Lit::Text(s) => V::Text(Cow::Owned(s.clone())),
            Lit::Bool(b) => V::Bool(*b),
        }),
        Expr::Not(x) => Ok(boolean(truth(&eval(x, row)?)?.map(|b| !b))),
        Expr::Neg(x) => match eval(x, row)? {
            V::Int(i) => i.checked_neg().map(V::Int).ok_or(NotEvaluable),
            V::Real(f) => Ok(V::Real(-f)),
            V::Null => Ok(V::Null),
            _ => Err(NotEvaluable),
        },
        Expr::Bin(Op::And, a, b) => logic(true, eval(a, row), eval(b, row)),
        Expr::Bin(Op::Or, a, b) => logic(false, eval(a, row), eval(b, row)),
        Expr::Bin(op, a, b) => binary(*op, eval(a, row)?, eval(b, row)?),
        Expr::IsNull(x, negated) => Ok(V::Bool((eval(x, row)? == V::Null) != *negated)),
        Expr::In(x, list, negated) => {
            let v = eval(x, row)?;
            if v == V::Null {
                return Ok(V::Null);
            }
            let mut saw_null = false;
            for item in list {
                match compare(&v, &eval(item, row)?)? {
                    Some(Ordering::Equal) => return Ok(V::Bool(!negated)),
                    None => saw_null = true,
                    _ => {}
                }
            }
            Ok(if saw_null { V::Null } else { V::Bool(*negated) })
        }
        Expr::Between(x, lo, hi, negated) => {
            let v = eval(x, row)?;
            let ge = binary(Op::Ge, v.clone(), eval(lo, row)?)?;
            let le = binary(Op::Le, v, eval(hi, row)?)?;
            let both = logic(true, Ok(ge), Ok(le))?;
            Ok(boolean(truth(&both)?.map(|b| b != *negated)))
        }
        Expr::Func(name, args) => function(name, args, row),
        Expr::Matches(x, p, icase) => match eval(x, row)? {
            V::Null => Ok(V::Null),
            V::Text(t) => {
                let re = super::regex::compiled(p, *icase).ok_or(NotEvaluable)?;
                Ok(V::Bool(re.is_match(&t)))
            }
            _ => Err(NotEvaluable),
        },
        Expr::Unknown => Err(NotEvaluable),
    }
}

/// AND (`and` = true) / OR with three-valued logic; a decisive side wins
/// even when the other cannot be evaluated.
fn logic<'a>(and: bool, a: R<'a>, b: R<'a>) -> R<'a> {
    let decisive = !and; // AND is decided by a false side, OR by a true one
    let ta = a.and_then(|v| truth(&v));
    let tb = b.and_then(|v| truth(&v));
    if ta == Ok(Some(decisive)) || tb == Ok(Some(decisive)) {
        return Ok(V::Bool(decisive));
    }
    let (ta, tb) = (ta?, tb?);
    Ok(match (ta, tb) {
        (Some(x), Some(y)) => V::Bool(if and { x && y } else { x || y }),
        _ => V::Null,
    })
}

fn number(v: &V<'_>) -> Option<f64> {
    match v {
        V::Int(i) => Some(*i as f64),
        V::Real(f) => Some(*f),
        V::Bool(b) => Some(f64::from(u8::from(*b))),
        _ => None,
    }
}

/// SQL comparison: `None` when either side is NULL.
fn compare(a: &V<'_>, b: &V<'_>) -> Result<Option<Ordering>, NotEvaluable> {
    match (a, b) {
        (V::Null, _) | (_, V::Null) => Ok(None),
        (V::Int(x), V::Int(y)) => Ok(Some(x.cmp(y))),
        (V::Text(x), V::Text(y)) => Ok(Some(x.as_bytes().cmp(y.as_bytes()))),
        _ => match (number(a), number(b)) {
            (Some(x), Some(y)) => x.partial_cmp(&y).map(Some).ok_or(NotEvaluable),
            _ => Err(NotEvaluable),
        },
    }
}

fn binary<'a>(op: Op, a: V<'a>, b: V<'a>) -> R<'a> {
    if let Some(want) = match op {
        Op::Eq => Some([Ordering::Equal, Ordering::Equal]),
        Op::Ne => None,
        Op::Lt => Some([Ordering::Less, Ordering::Less]),
        Op::Le => Some([Ordering::Less, Ordering::Equal]),
        Op::Gt => Some([Ordering::Greater, Ordering::Greater]),
        Op::Ge => Some([Ordering::Greater, Ordering::Equal]),
        _ => None,
    } {
        return Ok(boolean(compare(&a, &b)?.map(|o| want.contains(&o))));
    }
    if op == Op::Ne {
        return Ok(boolean(compare(&a, &b)?.map(|o| o != Ordering::Equal)));
    }
    if a == V::Null || b == V::Null {
        return Ok(V::Null);
    }
    if op == Op::Concat {
        return match (text_of(&a), text_of(&b)) {
            (Some(x), Some(y)) => Ok(V::Text(Cow::Owned(format!("{x}{y}")))),
            _ => Err(NotEvaluable),
        };
    }
    if let (V::Int(x), V::Int(y)) = (&a, &b) {
        let r = match op {
            Op::Add => x.checked_add(*y),
            Op::Sub => x.checked_sub(*y),
            Op::Mul => x.checked_mul(*y),
            Op::Div => x.checked_div(*y),
            Op::Rem => x.checked_rem(*y),
            _ => None,
        };
        return r.map(V::Int).ok_or(NotEvaluable);
    }
    let (Some(x), Some(y)) = (number(&a), number(&b)) else {
        return Err(NotEvaluable);
    };
    match op {
        Op::Add => Ok(V::Real(x + y)),
        Op::Sub => Ok(V::Real(x - y)),
        Op::Mul => Ok(V::Real(x * y)),
        Op::Div if y != 0.0 => Ok(V::Real(x / y)),
        _ => Err(NotEvaluable),
    }
}

fn text_of(v: &V<'_>) -> Option<String> {
    match v {
        V::Text(s) => Some(s.to_string()),
        V::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

fn function<'a>(name: &str, args: &[Expr], row: &dyn Fn(&str) -> Option<V<'a>>) -> R<'a> {
    let arg = |i: usize| args.get(i).ok_or(NotEvaluable).and_then(|a| eval(a, row));
    match (name, args.len()) {
        ("length" | "char_length" | "character_length", 1) => Ok(match arg(0)? {
            V::Null => V::Null,
            V::Text(s) => V::Int(s.chars().count() as i64),
            V::Int(i) => V::Int(i.to_string().len() as i64),
            _ => return Err(NotEvaluable),
        }),
        ("octet_length", 1) => Ok(match arg(0)? {
            V::Null => V::Null,
            V::Text(s) => V::Int(s.len() as i64),
            _ => return Err(NotEvaluable),
        }),
        ("lower" | "upper" | "trim" | "ltrim" | "rtrim", 1) => Ok(match arg(0)? {
            V::Null => V::Null,
            V::Text(s) => V::Text(Cow::Owned(match name {
                "lower" => s.to_ascii_lowercase(),
                "upper" => s.to_ascii_uppercase(),
                "trim" => s.trim_matches(' ').to_string(),
                "ltrim" => s.trim_start_matches(' ').to_string(),
                _ => s.trim_end_matches(' ').to_string(),
            })),
            _ => return Err(NotEvaluable),
        }),
        ("abs", 1) => match arg(0)? {
            V::Int(i) => i.checked_abs().map(V::Int).ok_or(NotEvaluable),
            V::Real(f) => Ok(V::Real(f.abs())),
            V::Null => Ok(V::Null),
            _ => Err(NotEvaluable),
        },
        ("coalesce" | "ifnull", n) if n >= 1 => {
            for i in 0..n {
                let v = arg(i)?;
                if v != V::Null {
                    return Ok(v);
                }
            }
            Ok(V::Null)
        }
        ("json_valid", 1) => Ok(match arg(0)? {
            V::Null => V::Null,
            V::Text(s) => V::Bool(serde_json::from_str::<serde_json::Value>(&s).is_ok()),
            _ => V::Bool(false),
        }),
        _ => Err(NotEvaluable),
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse::parse;
    use super::*;
    use crate::schema::Dialect;

    fn check(expr: &str, vals: &[(&str, V<'static>)]) -> Result<bool, NotEvaluable> {
        let e = parse(expr, Dialect::Sqlite);
        let row = |c: &str| vals.iter().find(|(n, _)| *n == c).map(|(_, v)| v.clone());
        passes(&e, &row)
    }

    fn t(s: &'static str) -> V<'static> {
        V::Text(Cow::Borrowed(s))
    }

    #[test]
    fn three_valued_logic_and_common_shapes() {
        assert_eq!(check("x IN ('a','b')", &[("x", t("a"))]), Ok(true));
        assert_eq!(check("x IN ('a','b')", &[("x", t("c"))]), Ok(false));
        assert_eq!(check("x IN ('a','b')", &[("x", V::Null)]), Ok(true));
        assert_eq!(check("q BETWEEN 1 AND 5", &[("q", V::Int(6))]), Ok(false));
        assert_eq!(check("length(c) <= 3", &[("c", t("abcd"))]), Ok(false));
        assert_eq!(
            check(
                "(a IS NULL) <> (b IS NULL)",
                &[("a", V::Null), ("b", V::Int(1))]
            ),
            Ok(true)
        );
        assert_eq!(
            check(
                "(a IS NULL) <> (b IS NULL)",
                &[("a", V::Null), ("b", V::Null)]
            ),
            Ok(false)
        );
        assert_eq!(
            check("lo < hi", &[("lo", V::Int(3)), ("hi", V::Real(2.5))]),
            Ok(false)
        );
        assert_eq!(check("x GLOB 'a*'", &[("x", t("a"))]), Err(NotEvaluable));
        // A decisive side wins over an unknown one.
        assert_eq!(
            check("x GLOB 'a*' OR y > 0", &[("x", t("a")), ("y", V::Int(1))]),
            Ok(true)
        );
        assert_eq!(
            check("x GLOB 'a*' AND y > 0", &[("x", t("a")), ("y", V::Int(0))]),
            Ok(false)
        );
        assert_eq!(check("missing > 0", &[]), Err(NotEvaluable));
        assert_eq!(check("json_valid(j)", &[("j", t("{\"a\":1}"))]), Ok(true));
        assert_eq!(check("price >= 0", &[("price", V::Real(-0.5))]), Ok(false));
    }
}
