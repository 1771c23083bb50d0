//! JSON text as Directus stores it: Directus re-serialises every JSON value
//! with JavaScript's `JSON.stringify`, so the surrogate writes the same
//! text. Two things differ from `serde_json`'s output: a number is written
//! the way ECMAScript's `Number::toString` writes it (`2.0` → `2`,
//! `0.00001` → `0.00001`, `1e21` → `1e+21`), and nothing else. Strings are
//! escaped alike by both (`"`, `\`, `\b \f \n \r \t`, other control
//! characters as lowercase `\u00xx`; non-ASCII as is), and key order is
//! the insertion order (the crate's `preserve_order`).

use serde_json::Value;

/// `JSON.stringify(v)` for a value parsed from (or built as) JSON.
pub fn stringify(v: &Value) -> String {
    let mut out = String::new();
    write(&mut out, v);
    out
}

/// JSON text re-serialised as JavaScript would store it; text that is not
/// JSON is returned unchanged (Directus would refuse it; the caller's
/// business).
pub fn restringify(text: &str) -> String {
    match serde_json::from_str::<Value>(text) {
        Ok(v) => stringify(&v),
        Err(_) => text.to_string(),
    }
}

fn write(out: &mut String, v: &Value) {
    match v {
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => out.push_str(&i.to_string()),
            (_, Some(u), _) => out.push_str(&u.to_string()),
            (_, _, Some(f)) => out.push_str(&number(f)),
            _ => out.push_str(&n.to_string()),
        },
        Value::Array(items) => {
            out.push('[');
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(out, x);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, x)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write(out, x);
            }
            out.push('}');
        }
        // null, booleans and strings: serde_json writes them as JavaScript does.
        other => out.push_str(&other.to_string()),
    }
}

/// ECMAScript `Number::toString(x)` for a finite `x` (JSON has no other):
/// the shortest digits that round-trip (Rust's `{:e}` gives the same
/// shortest digits), laid out by the specification's rules.
pub fn number(x: f64) -> String {
    if x == 0.0 {
        return "0".into(); // -0 too: JSON.stringify(-0) is "0"
    }
    if !x.is_finite() {
        return "null".into(); // JSON.stringify(NaN) is "null"
    }
    let sci = format!("{:e}", x.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let k = digits.len() as i64;
    // x = 0.digits × 10^n
    let n = exp.parse::<i64>().unwrap_or(0) + 1;
    let sign = if x < 0.0 { "-" } else { "" };
    let body = if k <= n && n <= 21 {
        format!("{digits}{}", "0".repeat((n - k) as usize))
    } else if 0 < n && n <= 21 {
        format!("{}.{}", &digits[..n as usize], &digits[n as usize..])
    } else if -6 < n && n <= 0 {
        format!("0.{}{digits}", "0".repeat((-n) as usize))
    } else {
        let e = n - 1;
        let e = if e >= 0 {
            format!("+{e}")
        } else {
            e.to_string()
        };
        if k == 1 {
            format!("{digits}e{e}")
        } else {
            format!("{}.{}e{e}", &digits[..1], &digits[1..])
        }
    };
    format!("{sign}{body}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_as_javascript_writes_them() {
        // Each pair: the f64, and what node's String(x) prints.
        for (x, js) in [
            (2.0, "2"),
            (-2.0, "-2"),
            (0.5, "0.5"),
            (12.34567, "12.34567"),
            (0.00001, "0.00001"),
            (0.000001, "0.000001"),
            (1e-7, "1e-7"),
            (1.5e-7, "1.5e-7"),
            (123456789012345680000.0, "123456789012345680000"),
            (1e21, "1e+21"),
            (1.25e22, "1.25e+22"),
            (-0.0, "0"),
            (0.1 + 0.2, "0.30000000000000004"),
        ] {
            assert_eq!(number(x), js, "{x:?}");
        }
    }

    #[test]
    fn documents_as_json_stringify_writes_them() {
        let v = json!({"rev": 2.0, "lat": -12.5, "tiny": 0.00001, "n": 7,
                       "s": "a\"b\\c\n\u{1}é", "a": [1.0, null, true], "o": {}});
        assert_eq!(
            stringify(&v),
            r#"{"rev":2,"lat":-12.5,"tiny":0.00001,"n":7,"s":"a\"b\\c\n\u0001é","a":[1,null,true],"o":{}}"#
        );
        assert_eq!(
            restringify(r#"{"rev": 2.0, "k": [ 1e2 ]}"#),
            r#"{"rev":2,"k":[100]}"#
        );
        assert_eq!(restringify("not json"), "not json");
    }
}
