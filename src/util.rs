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
}
