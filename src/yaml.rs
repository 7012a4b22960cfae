//! The one YAML loader. Everything podmedic reads as YAML (signatures,
//! playbooks, workloads) goes through [`from_str`], so parser options
//! (strict YAML 1.2 booleans: `y`/`n`/`on` stay strings) and error shape
//! are the same everywhere.

use serde::de::DeserializeOwned;

/// A YAML document that could not be read into the expected shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{column}: {message}")]
pub struct YamlError {
    /// 1-based line, 0 when the parser could not tell.
    pub line: u64,
    /// 1-based column, 0 when the parser could not tell.
    pub column: u64,
    /// What is wrong, without the location.
    pub message: String,
}

/// Deserialises one YAML document with podmedic's parser options.
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, YamlError> {
    let options = serde_saphyr::options! { strict_booleans: true };
    serde_saphyr::from_str_with_options(text, options).map_err(|err| {
        let (line, column) = err.location().map(|l| (l.line(), l.column())).unwrap_or((0, 0));
        let message = err.without_snippet().to_string();
        // The plain rendering may repeat the location; keep only the first line.
        let mut message = message.lines().next().unwrap_or("invalid YAML").trim().to_owned();
        if let Some(at) = message.rfind(" at line ") {
            message.truncate(at);
        }
        YamlError { line, column, message }
    })
}

/// Serialises a value as YAML (for dry-run output and generated manifests).
pub fn to_string<T: serde::Serialize>(value: &T) -> Result<String, YamlError> {
    serde_saphyr::to_string(value).map_err(|err| YamlError { line: 0, column: 0, message: err.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Doc {
        name: String,
        #[serde(default)]
        flag: Option<bool>,
    }

    #[test]
    fn strict_booleans_keep_yes_no_as_strings() {
        let d: Doc = from_str("name: n\nflag: true\n").unwrap();
        assert_eq!(d.name, "n");
        assert_eq!(d.flag, Some(true));
        assert!(from_str::<Doc>("name: x\nflag: yes\n").is_err());
    }

    #[test]
    fn errors_carry_line_and_column() {
        let err = from_str::<Doc>("name: a\nbogus: 1\n").unwrap_err();
        assert_eq!(err.line, 2, "{err:?}");
        assert!(err.message.contains("bogus"), "{err:?}");
        let err = from_str::<Doc>("name: [unclosed\n").unwrap_err();
        assert!(err.line >= 1, "{err:?}");
    }
}
