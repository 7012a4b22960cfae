//! [`Secret`]: a string that never shows itself in logs, `Debug` output or
//! metrics.

use std::fmt;
use std::path::Path;

/// A secret value (signing secret, bot token, webhook URL with a token in
/// it). `Debug` prints `[redacted]`; there is no `Display`; the value is
/// only reachable through [`Secret::expose`], at the point of use.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// Reads a secret from a file (e.g. a mounted Kubernetes Secret), without
    /// the trailing newline editors and `kubectl create secret --from-file`
    /// leave. An empty file is an error.
    pub fn from_file(path: &Path) -> Result<Self, SecretFileError> {
        let raw = std::fs::read_to_string(path)
            .map_err(|source| SecretFileError::Read { path: path.display().to_string(), source })?;
        let value = raw.trim_end_matches(['\r', '\n']);
        if value.trim().is_empty() {
            return Err(SecretFileError::Empty(path.display().to_string()));
        }
        Ok(Secret(value.to_owned()))
    }

    /// The value. Call it where the secret is used, never to log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the value is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_owned()))
    }
}

/// A secret file that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SecretFileError {
    /// The file could not be read.
    #[error("cannot read secret file {path}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file holds nothing but whitespace.
    #[error("secret file {0} is empty")]
    Empty(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted_and_files_lose_their_newline() {
        let s = Secret::new("xoxb-very-secret");
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(format!("{:?}", Some(s.clone())), "Some([redacted])");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "xoxb-very-secret\n").unwrap();
        assert_eq!(Secret::from_file(&path).unwrap(), s);
        std::fs::write(&path, "\n").unwrap();
        assert!(matches!(Secret::from_file(&path), Err(SecretFileError::Empty(_))));
        let missing = Secret::from_file(&dir.path().join("missing")).unwrap_err();
        assert!(missing.to_string().contains("cannot read secret file"), "{missing}");
    }
}
