//! Engine versions: parsing what banners, image tags and the table write
//! (`0.14.0`, `v0.34.0`, `0.5.15.post1`, `0.13.0rc2.dev12+gabc`, llama.cpp's
//! build number `b4567`), and ordering them as the engines' releases are
//! ordered.

use std::cmp::Ordering;
use std::fmt;

/// A release version: numeric components, then an optional pre-release or
/// post-release marker. `0.14` equals `0.14.0`; `0.14.0rc1` and
/// `0.14.0.dev3` come before `0.14.0`; `0.5.15.post1` comes after `0.5.15`.
#[derive(Debug, Clone)]
pub struct Version {
    /// Numeric components, trailing zeros removed (`0.14.0` → `[0, 14]`).
    parts: Vec<u64>,
    /// -1 for a pre-release (`rc`, `dev`, `a`, `b`, `alpha`, `beta`), +1 for a
    /// post-release (`post`), 0 for a plain release.
    phase: i8,
    /// The pre/post-release number (`rc2` → 2).
    phase_no: u64,
    /// The text as written, without a leading `v`/`b` (for display).
    text: String,
}

impl Version {
    /// Parses a version. Accepts a leading `v` (image tags) or `b`
    /// (llama.cpp builds); rejects text with no leading digit, more than 6
    /// components, or components over 10 digits.
    pub fn parse(s: &str) -> Option<Self> {
        let t = s.trim();
        let t = t.strip_prefix(['v', 'V', 'b']).unwrap_or(t);
        if !t.starts_with(|c: char| c.is_ascii_digit()) || t.len() > 64 {
            return None;
        }
        // The release part: digits and dots.
        let end = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
        // A trailing dot belongs to a marker (`0.5.15.post1`).
        let end = if t[..end].ends_with('.') { end - 1 } else { end };
        let (release, rest) = t.split_at(end);
        let mut parts = Vec::new();
        for p in release.split('.') {
            if p.is_empty() || p.len() > 10 {
                return None;
            }
            parts.push(p.parse().ok()?);
        }
        if parts.len() > 6 {
            return None;
        }
        while parts.len() > 1 && parts.last() == Some(&0) {
            parts.pop();
        }
        // A marker right after the release (`rc1`, `.post1`, `.dev3`, `-rc2`);
        // anything else (`+gabc`, `-cu129`) is a build label and ignored.
        let sep = rest.len() - rest.trim_start_matches(['.', '-', '_']).len();
        let marker = rest[sep..].to_ascii_lowercase();
        let (phase, phase_no, marker_len) =
            [("post", 1i8), ("rc", -1), ("dev", -2), ("alpha", -3), ("beta", -2), ("a", -3), ("b", -2)]
                .iter()
                .find_map(|(m, ph)| {
                    let after = marker.strip_prefix(m)?;
                    let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
                    // `a`/`b` only count when a number follows (`1.0a1`), not `amd64`.
                    if m.len() == 1 && digits.is_empty() {
                        return None;
                    }
                    Some((*ph, digits.parse().unwrap_or(0), m.len() + digits.len()))
                })
                .unwrap_or((0, 0, 0));
        let text = if phase == 0 { release.to_owned() } else { format!("{release}{}", &rest[..sep + marker_len]) };
        Some(Version { parts, phase, phase_no, text })
    }

    /// The numeric components as written (trailing zeros dropped).
    pub fn parts(&self) -> &[u64] {
        &self.parts
    }

    /// Whether this is a pre-release (`rc`, `dev`, alpha, beta).
    pub fn is_prerelease(&self) -> bool {
        self.phase < 0
    }

    /// The text as parsed, without a leading `v`/`b`.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        let n = self.parts.len().max(other.parts.len());
        for i in 0..n {
            let (a, b) = (self.parts.get(i).copied().unwrap_or(0), other.parts.get(i).copied().unwrap_or(0));
            match a.cmp(&b) {
                Ordering::Equal => {}
                o => return o,
            }
        }
        (self.phase, self.phase_no).cmp(&(other.phase, other.phase_no))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl serde::Serialize for Version {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

/// A half-open range of releases: `since` included, `until` (the first
/// release without it) excluded; either end may be open.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Range {
    /// First release in the range.
    pub since: Option<Version>,
    /// First release after the range.
    pub until: Option<Version>,
}

impl Range {
    /// Every version.
    pub const ALL: Range = Range { since: None, until: None };

    /// Whether `v` is in the range. A pre-release of `since` counts as in
    /// (a `0.14.0rc1` image already has what 0.14.0 has), and a pre-release
    /// of `until` as out.
    pub fn contains(&self, v: &Version) -> bool {
        let release = |x: &Version| Version { phase: 0, phase_no: 0, ..x.clone() };
        let v_rel = release(v);
        self.since.as_ref().is_none_or(|s| v_rel >= release(s))
            && self.until.as_ref().is_none_or(|u| v_rel < release(u))
    }

    /// `>=0.14.0, <0.18.0`, `>=0.14.0`, `<0.18.0` or `all releases`.
    pub fn describe(&self) -> String {
        match (&self.since, &self.until) {
            (None, None) => "all releases".into(),
            (Some(s), None) => format!(">={s}"),
            (None, Some(u)) => format!("<{u}"),
            (Some(s), Some(u)) => format!(">={s}, <{u}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap_or_else(|| panic!("{s} does not parse"))
    }

    #[test]
    fn versions_order_like_releases() {
        assert!(v("0.13.0") < v("0.14.0"));
        assert!(v("0.9.2") < v("0.10.0"));
        assert_eq!(v("0.14"), v("0.14.0"));
        assert_eq!(v("v0.34.0").as_str(), "0.34.0");
        assert!(v("0.14.0rc1") < v("0.14.0"));
        assert!(v("0.14.0rc1") > v("0.13.0"));
        assert!(v("0.13.0rc2.dev12+gabc") < v("0.13.0"));
        assert!(v("0.5.15.post1") > v("0.5.15"));
        assert!(v("0.5.15.post1") < v("0.5.16"));
        assert_eq!(v("b4567").parts(), &[4567]);
        assert_eq!(v("3.3.4-cu124"), v("3.3.4"));
    }

    #[test]
    fn non_versions_are_refused() {
        for s in ["", "latest", "server-cuda", "main", "v", "1..2", "99999999999.1", "1.2.3.4.5.6.7"] {
            assert!(Version::parse(s).is_none(), "{s}");
        }
    }

    #[test]
    fn ranges_are_half_open() {
        let r = Range { since: Some(v("0.14.0")), until: Some(v("0.18.0")) };
        assert!(!r.contains(&v("0.13.0")));
        assert!(r.contains(&v("0.14.0")));
        assert!(r.contains(&v("0.14.0rc1")));
        assert!(r.contains(&v("0.17.1")));
        assert!(!r.contains(&v("0.18.0")));
        assert!(!r.contains(&v("0.18.0rc1")));
        assert!(Range::ALL.contains(&v("0.1.0")));
        assert_eq!(r.describe(), ">=0.14.0, <0.18.0");
    }
}
