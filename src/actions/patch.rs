//! JSON Patch (RFC 6902) over `serde_json::Value`: the diff of two objects as
//! patch operations, their inverse, and applying them.
//!
//! A rendered step carries two patches: the forward one, with a `test` op in
//! front of every value it replaces or removes (so it fails cleanly when the
//! object changed since the proposal), and the inverse one, which holds the
//! prior values and restores them (the revert).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One JSON Patch operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "op", rename_all = "lowercase", deny_unknown_fields)]
pub enum PatchOp {
    /// Adds a member or inserts an array element.
    Add {
        /// JSON Pointer.
        path: String,
        /// The new value.
        value: Value,
    },
    /// Removes a member or an array element.
    Remove {
        /// JSON Pointer.
        path: String,
    },
    /// Replaces an existing value.
    Replace {
        /// JSON Pointer.
        path: String,
        /// The new value.
        value: Value,
    },
    /// Fails the patch unless the value at `path` equals `value`.
    Test {
        /// JSON Pointer.
        path: String,
        /// The expected value.
        value: Value,
    },
}

/// Why a patch could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// The pointer names nothing in the object.
    #[error("path `{0}` does not exist")]
    NoSuchPath(String),
    /// A `test` op found another value.
    #[error("test failed at `{0}`: the object changed since the patch was made")]
    TestFailed(String),
    /// The pointer is malformed or indexes a scalar.
    #[error("invalid path `{0}`")]
    InvalidPath(String),
}

/// Escapes one reference token (`~` → `~0`, `/` → `~1`).
pub fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

/// Joins a pointer and a token.
pub fn join(base: &str, token: &str) -> String {
    format!("{base}/{}", escape(token))
}

fn split(path: &str) -> Result<(String, String), PatchError> {
    let at = path.rfind('/').ok_or_else(|| PatchError::InvalidPath(path.to_owned()))?;
    Ok((path[..at].to_owned(), unescape(&path[at + 1..])))
}

/// The value at a JSON Pointer.
pub fn get<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    v.pointer(path)
}

fn parent_mut<'a>(root: &'a mut Value, path: &str) -> Result<(&'a mut Value, String), PatchError> {
    let (parent, last) = split(path)?;
    let p = root.pointer_mut(&parent).ok_or_else(|| PatchError::NoSuchPath(parent.clone()))?;
    Ok((p, last))
}

fn index(token: &str, len: usize, allow_end: bool, path: &str) -> Result<usize, PatchError> {
    if allow_end && token == "-" {
        return Ok(len);
    }
    let i: usize = token.parse().map_err(|_| PatchError::InvalidPath(path.to_owned()))?;
    if i > len || (!allow_end && i == len) {
        return Err(PatchError::NoSuchPath(path.to_owned()));
    }
    Ok(i)
}

/// Applies `ops` in order to a copy of `v`; all or nothing.
pub fn apply(v: &Value, ops: &[PatchOp]) -> Result<Value, PatchError> {
    let mut out = v.clone();
    for op in ops {
        apply_one(&mut out, op)?;
    }
    Ok(out)
}

fn apply_one(root: &mut Value, op: &PatchOp) -> Result<(), PatchError> {
    match op {
        PatchOp::Test { path, value } => match root.pointer(path) {
            Some(found) if found == value => Ok(()),
            Some(_) => Err(PatchError::TestFailed(path.clone())),
            None => Err(PatchError::NoSuchPath(path.clone())),
        },
        PatchOp::Add { path, value } => {
            if path.is_empty() {
                *root = value.clone();
                return Ok(());
            }
            let (parent, last) = parent_mut(root, path)?;
            match parent {
                Value::Object(m) => {
                    m.insert(last, value.clone());
                    Ok(())
                }
                Value::Array(a) => {
                    let i = index(&last, a.len(), true, path)?;
                    a.insert(i, value.clone());
                    Ok(())
                }
                _ => Err(PatchError::InvalidPath(path.clone())),
            }
        }
        PatchOp::Remove { path } => {
            let (parent, last) = parent_mut(root, path)?;
            match parent {
                Value::Object(m) => {
                    m.shift_remove(&last).map(|_| ()).ok_or_else(|| PatchError::NoSuchPath(path.clone()))
                }
                Value::Array(a) => {
                    let i = index(&last, a.len(), false, path)?;
                    a.remove(i);
                    Ok(())
                }
                _ => Err(PatchError::InvalidPath(path.clone())),
            }
        }
        PatchOp::Replace { path, value } => {
            let target = root.pointer_mut(path).ok_or_else(|| PatchError::NoSuchPath(path.clone()))?;
            *target = value.clone();
            Ok(())
        }
    }
}

/// The forward patch from `before` to `after` (with `test` guards) and its
/// inverse (which restores `before`), itself guarded: it first tests that
/// every value the forward patch wrote is still there, so it fails rather
/// than overwrite a later change.
pub fn diff(before: &Value, after: &Value) -> (Vec<PatchOp>, Vec<PatchOp>) {
    let mut fwd = Vec::new();
    let mut inv = Vec::new();
    diff_at("", before, after, &mut fwd, &mut inv);
    inv.reverse();
    let mut guards: Vec<PatchOp> = Vec::new();
    for op in &fwd {
        if let PatchOp::Add { path, .. } | PatchOp::Replace { path, .. } = op
            && let Some(v) = after.pointer(path)
            && !guards.iter().any(|g| matches!(g, PatchOp::Test { path: p, .. } if p == path))
        {
            guards.push(PatchOp::Test { path: path.clone(), value: v.clone() });
        }
    }
    guards.extend(inv);
    (fwd, guards)
}

fn diff_at(path: &str, a: &Value, b: &Value, fwd: &mut Vec<PatchOp>, inv: &mut Vec<PatchOp>) {
    if a == b {
        return;
    }
    match (a, b) {
        (Value::Object(ma), Value::Object(mb)) => {
            for (k, va) in ma {
                let p = join(path, k);
                match mb.get(k) {
                    Some(vb) => diff_at(&p, va, vb, fwd, inv),
                    None => {
                        fwd.push(PatchOp::Test { path: p.clone(), value: va.clone() });
                        fwd.push(PatchOp::Remove { path: p.clone() });
                        inv.push(PatchOp::Add { path: p, value: va.clone() });
                    }
                }
            }
            for (k, vb) in mb {
                if !ma.contains_key(k) {
                    let p = join(path, k);
                    fwd.push(PatchOp::Add { path: p.clone(), value: vb.clone() });
                    inv.push(PatchOp::Remove { path: p });
                }
            }
        }
        (Value::Array(xa), Value::Array(xb)) => {
            let common = xa.len().min(xb.len());
            for i in 0..common {
                diff_at(&format!("{path}/{i}"), &xa[i], &xb[i], fwd, inv);
            }
            for (i, v) in xb.iter().enumerate().skip(common) {
                let p = format!("{path}/{i}");
                fwd.push(PatchOp::Add { path: p.clone(), value: v.clone() });
                inv.push(PatchOp::Remove { path: p });
            }
            for i in (common..xa.len()).rev() {
                let p = format!("{path}/{i}");
                fwd.push(PatchOp::Test { path: p.clone(), value: xa[i].clone() });
                fwd.push(PatchOp::Remove { path: p.clone() });
                inv.push(PatchOp::Add { path: p, value: xa[i].clone() });
            }
        }
        _ => {
            fwd.push(PatchOp::Test { path: path.to_owned(), value: a.clone() });
            fwd.push(PatchOp::Replace { path: path.to_owned(), value: b.clone() });
            inv.push(PatchOp::Replace { path: path.to_owned(), value: a.clone() });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn diff_round_trips_and_escapes_slashes() {
        let a = json!({"limits": {"memory": "1Gi", "cpu": "1"}, "args": ["a", "b", "c"], "x": 1});
        let b = json!({"limits": {"memory": "2Gi", "nvidia.com/gpu": "1"}, "args": ["a", "z"], "y": [1]});
        let (fwd, inv) = diff(&a, &b);
        assert_eq!(apply(&a, &fwd).unwrap(), b);
        assert_eq!(apply(&b, &inv).unwrap(), a);
        assert!(fwd.iter().any(|o| matches!(o, PatchOp::Add { path, .. } if path == "/limits/nvidia.com~1gpu")));
    }

    #[test]
    fn the_inverse_refuses_to_overwrite_a_later_change() {
        let a = json!({"args": ["--max-model-len", "32768", "--gpu-memory-utilization", "0.9"]});
        let b = json!({"args": ["--max-model-len", "20144", "--gpu-memory-utilization", "0.9"]});
        let (_, inv) = diff(&a, &b);
        assert_eq!(apply(&b, &inv).unwrap(), a);
        // A human inserted an argument before ours: the revert fails instead
        // of writing 32768 into another flag's slot.
        let edited =
            json!({"args": ["--enforce-eager", "--max-model-len", "20144", "--gpu-memory-utilization", "0.9"]});
        assert!(matches!(apply(&edited, &inv), Err(PatchError::TestFailed(_))));
    }

    #[test]
    fn tests_guard_against_concurrent_changes() {
        let a = json!({"n": 1});
        let (fwd, _) = diff(&a, &json!({"n": 2}));
        assert_eq!(apply(&json!({"n": 5}), &fwd), Err(PatchError::TestFailed("/n".into())));
    }
}
