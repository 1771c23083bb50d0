//! TOML errors as people read them: ``line L, column C (`the line`): message``,
//! on one line, without repeating the file name (the caller's error names it
//! once) and without the multi-line excerpt toml's `Display` draws — the
//! offending line is quoted instead, so a message like "expected u64" still
//! says which key it is about.

/// One-line description of a TOML parse error in `text`.
pub fn describe(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim().replace('\n', " ");
    match e.span() {
        Some(span) => {
            let (line, column) = line_col(text, span.start);
            let source = text.lines().nth(line - 1).unwrap_or("").trim();
            if source.is_empty() {
                format!("line {line}, column {column}: {message}")
            } else {
                let source: String = source.chars().take(80).collect();
                format!("line {line}, column {column} (`{source}`): {message}")
            }
        }
        None => message,
    }
}

/// 1-based line and column (in characters) of byte offset `at` in `text`.
pub fn line_col(text: &str, at: usize) -> (usize, usize) {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[start..].chars().count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_line_and_column_of_the_error() {
        assert_eq!(line_col("ab\ncdé f", 0), (1, 1));
        assert_eq!(line_col("ab\ncdé f", 3), (2, 1));
        // column counts characters, not bytes
        assert_eq!(line_col("ab\ncdé f", 7), (2, 4));
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct T {
            a: u32,
        }
        let text = "a = 1\nb = 2\n";
        let e = toml::from_str::<T>(text).unwrap_err();
        let d = describe(text, &e);
        assert!(
            d.starts_with("line 2, column 1 (`b = 2`): unknown field `b`"),
            "{d}"
        );
        assert!(!d.contains('\n'));
    }
}
