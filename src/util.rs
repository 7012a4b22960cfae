//! Small helpers shared by several modules.

/// The candidate closest to `given` by edit distance, if it is close enough to
/// be a likely typo (used for "did you mean" hints).
pub fn closest<'a>(given: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (given.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .map(|c| {
            // A prefix of the candidate (or the reverse) is a likely slip too.
            let prefix = given.len() >= 3 && (c.starts_with(given) || given.starts_with(c));
            (if prefix { 1 } else { strsim::damerau_levenshtein(given, c) }, c)
        })
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// `s` cut to at most `max` bytes on a char boundary, with `…` appended when cut.
pub fn truncate(s: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if s.len() <= max {
        return s.into();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end]).into()
}

/// An error and its sources, joined with `: ` (for logs).
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// Every line of `s` prefixed with `prefix`.
pub fn indent(s: &str, prefix: &str) -> String {
    s.lines().map(|l| format!("{prefix}{l}")).collect::<Vec<_>>().join("\n")
}

/// JSON text with object keys sorted at every level and integral numbers
/// written as integers: the same value gives the same text whichever way
/// it travelled (the API server re-encodes custom resources with sorted
/// keys, and writes `1.0` as `1`).
pub fn canonical_json(v: &serde_json::Value) -> String {
    fn write(v: &serde_json::Value, out: &mut String) {
        use serde_json::Value;
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                out.push('{');
                for (i, k) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(k.clone()).to_string());
                    out.push(':');
                    write(&m[k], out);
                }
                out.push('}');
            }
            Value::Array(a) => {
                out.push('[');
                for (i, x) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(x, out);
                }
                out.push(']');
            }
            Value::Number(n) => match n.as_f64() {
                Some(f) if !n.is_i64() && !n.is_u64() && f.fract() == 0.0 && f.abs() < 9.0e15 => {
                    out.push_str(&format!("{}", f as i64));
                }
                _ => out.push_str(&n.to_string()),
            },
            other => out.push_str(&other.to_string()),
        }
    }
    let mut out = String::new();
    write(v, &mut out);
    out
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_finds_typos_only() {
        let c = ["set-arg", "set-env", "rollback"];
        assert_eq!(closest("set_arg", c), Some("set-arg"));
        assert_eq!(closest("rolback", c), Some("rollback"));
        assert_eq!(closest("delete-namespace", c), None);
    }

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "h…");
        assert_eq!(truncate("abc", 3), "abc");
    }

    #[test]
    fn canonical_json_ignores_key_order_and_integral_floats() {
        let a: serde_json::Value = serde_json::from_str(r#"{"b": [1.0, {"y": 2, "x": "é\n"}], "a": 0.5}"#).unwrap();
        let b: serde_json::Value = serde_json::from_str(r#"{"a": 0.5, "b": [1, {"x": "é\n", "y": 2.0}]}"#).unwrap();
        assert_eq!(canonical_json(&a), canonical_json(&b));
        assert_eq!(canonical_json(&a), r#"{"a":0.5,"b":[1,{"x":"é\n","y":2}]}"#);
        assert_ne!(canonical_json(&a), canonical_json(&serde_json::json!({"a": 0.5})));
    }
}
