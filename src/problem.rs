//! Located configuration problems, shared by every compile pass
//! (signatures, playbooks) and printed by `podmedic check` as
//! `file:line:col: message`.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::sanitize::escaped_line;

/// One thing wrong with a configuration file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file, as given to the loader.
    pub file: PathBuf,
    /// 1-based line; 0 when unknown.
    pub line: u64,
    /// 1-based column; 0 when unknown.
    pub column: u64,
    /// What is wrong.
    pub message: String,
    /// How to fix it, when there is an obvious way.
    pub hint: Option<String>,
}

impl Problem {
    /// A problem at a location in `file`.
    pub fn new(file: &Path, line: u64, column: u64, message: impl Into<String>) -> Self {
        Problem { file: file.to_owned(), line, column, message: message.into(), hint: None }
    }

    /// Adds a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// A problem with the file as a whole (unreadable, not YAML, ...).
    pub fn whole_file(file: &Path, message: impl Into<String>) -> Self {
        Self::new(file, 0, 0, message)
    }

    /// A problem at a span recorded by the YAML loader.
    pub fn at(file: &Path, loc: &serde_saphyr::Location, message: impl Into<String>) -> Self {
        Self::new(file, loc.line(), loc.column(), message)
    }
}

/// Always one line: messages quote the file's own text (names, values),
/// which may hold newlines or control characters; those are escaped
/// (`\n`, `\u{1b}`) so that every problem stays one `file:line:col:` line.
impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = self.file.display().to_string();
        write!(f, "{}:{}:{}: {}", escaped_line(&file), self.line, self.column, escaped_line(&self.message))?;
        if let Some(hint) = &self.hint {
            write!(f, " (hint: {})", escaped_line(hint))?;
        }
        Ok(())
    }
}

/// Every problem found in one compile pass; never empty.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Problems(pub Vec<Problem>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

/// The `.yaml`/`.yml` files of a directory, sorted, or the path itself when
/// it is a file.
pub fn yaml_files(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    if path.is_file() {
        return Ok(vec![path.to_owned()]);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path)? {
        let p = entry?.path();
        if p.is_file() && matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
            files.push(p);
        }
    }
    files.sort();
    Ok(files)
}

/// Reads every `.yaml` file under `paths` as `(file, text)`, with a problem
/// for each path or file that cannot be read (the loaders' shared first step).
pub fn read_yaml_texts(paths: &[impl AsRef<Path>]) -> (Vec<(PathBuf, String)>, Vec<Problem>) {
    let (mut texts, mut problems) = (Vec::new(), Vec::new());
    for path in paths {
        let path = path.as_ref();
        match yaml_files(path) {
            Ok(files) => {
                for file in files {
                    match std::fs::read_to_string(&file) {
                        Ok(t) => texts.push((file, t)),
                        Err(e) => problems.push(Problem::whole_file(&file, format!("cannot read: {e}"))),
                    }
                }
            }
            Err(e) => problems.push(Problem::whole_file(path, format!("cannot read: {e}"))),
        }
    }
    (texts, problems)
}

/// The result of compiling after reading: every problem of both steps.
pub fn with_read_problems<T>(read: Vec<Problem>, compiled: Result<T, Problems>) -> Result<T, Problems> {
    match compiled {
        Ok(v) if read.is_empty() => Ok(v),
        Ok(_) => Err(Problems(read)),
        Err(Problems(more)) => Err(Problems(read.into_iter().chain(more).collect())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `playbooks_yaml` fuzz target: a parameter name quoted
    /// from a multi-line YAML value split a problem over several lines.
    #[test]
    fn a_problem_quoting_multi_line_text_stays_one_line() {
        let p = Problem::new(Path::new("b.yaml"), 3, 7, "uses unknown parameter `new\nneeds: [x]\r\u{1b}[31m`")
            .hint("did you mean `a\nb`?");
        let shown = Problems(vec![p.clone(), p]).to_string();
        assert_eq!(shown.lines().count(), 2, "{shown}");
        assert!(shown.lines().all(|l| l.starts_with("b.yaml:3:7: ")), "{shown}");
        assert!(shown.contains("`new\\nneeds: [x]\\r\\u{1b}[31m`") && shown.contains("`a\\nb`"), "{shown}");
    }
}
