//! Reading and setting a server flag in a container spec, wherever it is
//! written: `args`/`command` arrays (`--flag value` or `--flag=value`), a
//! shell script string (`command: ["/bin/sh", "-c", "python -m vllm ... --max-model-len 32768"]`),
//! or an environment variable the server also reads (TGI's `MAX_TOTAL_TOKENS`).

use regex::Regex;
use serde_json::{Map, Value, json};

/// Why a flag could not be set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgError {
    /// The container runs a shell script that does not name a known server
    /// launcher, so there is no safe place to add the flag.
    #[error("cannot tell where to add `{flag}` in the container's shell script: no known server launcher in it")]
    NoLauncher {
        /// The flag.
        flag: String,
    },
    /// `args`, `command` or `env` is not what Kubernetes allows.
    #[error("the container's `{0}` is not a list")]
    NotAList(&'static str),
}

/// Launchers after which a flag may be appended in a shell script.
const LAUNCHERS: &str = r"vllm\s+serve\b|vllm\.entrypoints\.[A-Za-z0-9_.]+|text-generation-launcher\b|sglang\.launch_server\b|llama-server\b|tritonserver\b";

fn flag_regex(flag: &str) -> Regex {
    // A flag token: at a word start, followed by `=` or blanks (line
    // continuations included), then a quoted or bare value.
    Regex::new(&format!(
        r#"(?P<pre>(?:^|[\s;&|(]))(?P<flag>{})(?P<sep>=|(?:[ \t]|\\\r?\n)+)(?P<value>"[^"]*"|'[^']*'|[^\s;&|)]+)"#,
        regex::escape(flag)
    ))
    .expect("escaped flag is a valid regex")
}

fn unquote(v: &str) -> &str {
    let b = v.as_bytes();
    if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] { &v[1..v.len() - 1] } else { v }
}

fn is_script(s: &str) -> bool {
    s.contains(char::is_whitespace)
}

fn strings(container: &Value, key: &str) -> Vec<String> {
    container
        .get(key)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// The value of `flag` in a list of argv tokens (last occurrence wins, as
/// argparse and clap do).
fn find_in_tokens(tokens: &[String], flag: &str) -> Option<String> {
    let eq = format!("{flag}=");
    let mut found = None;
    for (i, t) in tokens.iter().enumerate() {
        if t == flag {
            if let Some(v) = tokens.get(i + 1).filter(|v| !v.starts_with("--")) {
                found = Some(v.clone());
            }
        } else if let Some(v) = t.strip_prefix(&eq) {
            found = Some(v.to_owned());
        } else if is_script(t)
            && let Some(c) = flag_regex(flag).captures_iter(t).last()
        {
            found = Some(unquote(&c["value"]).to_owned());
        }
    }
    found
}

/// The value of env var `name` (literal `value` only).
pub fn get_env(container: &Value, name: &str) -> Option<String> {
    container
        .get("env")?
        .as_array()?
        .iter()
        .rev()
        .find(|e| e.get("name").and_then(Value::as_str) == Some(name))?
        .get("value")?
        .as_str()
        .map(str::to_owned)
}

/// Sets env var `name` to `value`, replacing a `valueFrom`.
pub fn set_env(container: &mut Value, name: &str, value: &str) -> Result<(), ArgError> {
    let obj = container.as_object_mut().ok_or(ArgError::NotAList("env"))?;
    let env = obj.entry("env").or_insert_with(|| json!([]));
    let list = env.as_array_mut().ok_or(ArgError::NotAList("env"))?;
    let mut hit = false;
    for e in list.iter_mut() {
        if e.get("name").and_then(Value::as_str) == Some(name)
            && let Some(m) = e.as_object_mut()
        {
            m.shift_remove("valueFrom");
            m.insert("value".into(), Value::String(value.to_owned()));
            hit = true;
        }
    }
    if !hit {
        let mut m = Map::new();
        m.insert("name".into(), Value::String(name.to_owned()));
        m.insert("value".into(), Value::String(value.to_owned()));
        list.push(Value::Object(m));
    }
    Ok(())
}

/// The current value of `flag` in the container: from `command`/`args`
/// (arrays or shell scripts), else from the env var `env_alias`.
pub fn get_flag(container: &Value, flag: &str, env_alias: Option<&str>) -> Option<String> {
    let mut tokens = strings(container, "command");
    tokens.extend(strings(container, "args"));
    find_in_tokens(&tokens, flag).or_else(|| env_alias.and_then(|e| get_env(container, e)))
}

fn replace_in_tokens(list: &mut [Value], flag: &str, value: &str) -> bool {
    let eq = format!("{flag}=");
    let mut hit = false;
    let mut i = 0;
    while i < list.len() {
        let Some(t) = list[i].as_str().map(str::to_owned) else {
            i += 1;
            continue;
        };
        if t == flag {
            if list.get(i + 1).and_then(Value::as_str).is_some_and(|v| !v.starts_with("--")) {
                list[i + 1] = Value::String(value.to_owned());
                hit = true;
                i += 1;
            }
        } else if t.starts_with(&eq) {
            list[i] = Value::String(format!("{flag}={value}"));
            hit = true;
        } else if is_script(&t) {
            let re = flag_regex(flag);
            if re.is_match(&t) {
                let new = re.replace_all(&t, |c: &regex::Captures<'_>| {
                    format!("{}{}{}{}", &c["pre"], &c["flag"], &c["sep"], shell_quote(value))
                });
                list[i] = Value::String(new.into_owned());
                hit = true;
            }
        }
        i += 1;
    }
    hit
}

fn shell_quote(v: &str) -> String {
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:/=+,".contains(&b)) {
        v.to_owned()
    } else {
        format!("'{}'", v.replace('\'', r"'\''"))
    }
}

/// Where in a shell script the launcher's command ends (before trailing
/// blanks), so that a flag appended there belongs to the server's command.
fn launcher_end(script: &str) -> Option<usize> {
    let re = Regex::new(LAUNCHERS).expect("launcher regex is valid");
    let m = re.find_iter(script).last()?;
    let bytes = script.as_bytes();
    let mut i = m.end();
    let mut quote: Option<u8> = None;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None => match b {
                b'"' | b'\'' => quote = Some(b),
                b'\\' => i += 1, // an escaped character, a continued line included
                b';' | b'&' | b'|' | b'\n' | b')' | b'#' => break,
                _ => {}
            },
        }
        i += 1;
    }
    let mut end = i.min(bytes.len());
    while end > m.end() && matches!(bytes[end - 1], b' ' | b'\t' | b'\r') {
        end -= 1;
    }
    Some(end)
}

/// Sets `flag` to `value` everywhere it is written; when it is written
/// nowhere, adds it: to the env var `env_alias` when that is set, else
/// after the launcher in the shell script, else at the end of `args`.
pub fn set_flag(container: &mut Value, flag: &str, value: &str, env_alias: Option<&str>) -> Result<(), ArgError> {
    let mut hit = false;
    for key in ["command", "args"] {
        if let Some(v) = container.get_mut(key) {
            let list = v.as_array_mut().ok_or(ArgError::NotAList(if key == "args" { "args" } else { "command" }))?;
            hit |= replace_in_tokens(list, flag, value);
        }
    }
    if let Some(alias) = env_alias
        && get_env(container, alias).is_some()
    {
        set_env(container, alias, value)?;
        hit = true;
    }
    if hit {
        return Ok(());
    }
    // Not written anywhere: add it.
    for key in ["args", "command"] {
        if let Some(list) = container.get_mut(key).and_then(Value::as_array_mut)
            && let Some(slot) = list.iter_mut().rev().find(|v| v.as_str().is_some_and(is_script))
        {
            let script = slot.as_str().unwrap_or_default().to_owned();
            let end = launcher_end(&script).ok_or_else(|| ArgError::NoLauncher { flag: flag.to_owned() })?;
            let new = format!("{} {flag} {}{}", &script[..end], shell_quote(value), &script[end..]);
            *slot = Value::String(new);
            return Ok(());
        }
    }
    let obj = container.as_object_mut().ok_or(ArgError::NotAList("args"))?;
    let args = obj.entry("args").or_insert_with(|| json!([]));
    let list = args.as_array_mut().ok_or(ArgError::NotAList("args"))?;
    list.push(Value::String(flag.to_owned()));
    list.push(Value::String(value.to_owned()));
    Ok(())
}

/// Whether `flag` is written anywhere in the container's `command`/`args`:
/// as a token, as `--flag=value`, or inside a shell script.
pub fn has_flag(container: &Value, flag: &str) -> bool {
    let eq = format!("{flag}=");
    let mut tokens = strings(container, "command");
    tokens.extend(strings(container, "args"));
    tokens.iter().any(|t| t == flag || t.starts_with(&eq) || (is_script(t) && bare_flag_regex(flag).is_match(t)))
}

fn bare_flag_regex(flag: &str) -> Regex {
    Regex::new(&format!(r"(?:^|[\s;&|(]){}(?:$|[\s=;&|)])", regex::escape(flag)))
        .expect("escaped flag is a valid regex")
}

/// A flag token with its value, if any, in a shell script. A following
/// token counts as its value unless it starts with `-`.
fn flag_and_value_regex(flag: &str) -> Regex {
    Regex::new(&format!(
        r#"(?P<pre>^|[\s;&|(]){}(?:=(?:"[^"]*"|'[^']*'|[^\s;&|)]*)|(?:[ \t]|\\\r?\n)+(?:"[^"]*"|'[^']*'|[^\s;&|)\-][^\s;&|)]*))?(?P<post>$|[\s;&|)])"#,
        regex::escape(flag)
    ))
    .expect("escaped flag is a valid regex")
}

/// Removes `flag` (with its value: `--flag v`, `--flag=v`, a value being
/// the next token unless it starts with `-`) from `command`, `args` and
/// shell scripts, and the env var `env_alias`. Returns whether anything
/// was removed.
pub fn remove_flag(container: &mut Value, flag: &str, env_alias: Option<&str>) -> Result<bool, ArgError> {
    // `--swap-space=4` as an engine printed it names the flag `--swap-space`.
    let flag = flag.split('=').next().unwrap_or(flag).trim();
    let eq = format!("{flag}=");
    let mut hit = false;
    for key in ["command", "args"] {
        let Some(v) = container.get_mut(key) else { continue };
        let list = v.as_array_mut().ok_or(ArgError::NotAList(if key == "args" { "args" } else { "command" }))?;
        let mut out: Vec<Value> = Vec::with_capacity(list.len());
        let mut i = 0;
        while i < list.len() {
            let t = list[i].as_str().unwrap_or_default().to_owned();
            if t == flag {
                hit = true;
                let value_next = list.get(i + 1).and_then(Value::as_str).is_some_and(|n| !n.starts_with('-'));
                i += if value_next { 2 } else { 1 };
                continue;
            }
            if t.starts_with(&eq) {
                hit = true;
                i += 1;
                continue;
            }
            if is_script(&t) {
                let re = flag_and_value_regex(flag);
                if re.is_match(&t) {
                    hit = true;
                    let new = re.replace_all(&t, |c: &regex::Captures<'_>| {
                        let pre = &c["pre"];
                        let pre = if pre.trim().is_empty() { "" } else { pre };
                        format!("{pre}{}", &c["post"])
                    });
                    out.push(Value::String(new.into_owned()));
                    i += 1;
                    continue;
                }
            }
            out.push(list[i].clone());
            i += 1;
        }
        *list = out;
    }
    if let Some(alias) = env_alias
        && let Some(env) = container.get_mut("env").and_then(Value::as_array_mut)
    {
        let before = env.len();
        env.retain(|e| e.get("name").and_then(Value::as_str) != Some(alias));
        hit |= env.len() != before;
    }
    Ok(hit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(c: Value, flag: &str, v: &str) -> Value {
        let mut c = c;
        set_flag(&mut c, flag, v, None).unwrap();
        c
    }

    #[test]
    fn replaces_space_and_equals_forms() {
        let c = json!({"args": ["--model", "m", "--max-model-len", "32768", "--gpu-memory-utilization=0.9"]});
        assert_eq!(get_flag(&c, "--max-model-len", None).as_deref(), Some("32768"));
        let c = set(c, "--max-model-len", "20128");
        let c = set(c, "--gpu-memory-utilization", "0.95");
        assert_eq!(c["args"], json!(["--model", "m", "--max-model-len", "20128", "--gpu-memory-utilization=0.95"]));
    }

    #[test]
    fn edits_shell_scripts_in_place_or_after_the_launcher() {
        let c = json!({"command": ["/bin/sh", "-c", "huggingface-cli login --token $T && exec python -m vllm.entrypoints.openai.api_server --model m \\\n  --max-model-len 32768 --port 8000"]});
        assert_eq!(get_flag(&c, "--max-model-len", None).as_deref(), Some("32768"));
        let c2 = set(c.clone(), "--max-model-len", "16384");
        assert!(c2["command"][2].as_str().unwrap().contains("\\\n  --max-model-len 16384 --port 8000"));
        let c3 = set(c, "--block-size", "32");
        assert!(c3["command"][2].as_str().unwrap().ends_with("--port 8000 --block-size 32"), "{}", c3["command"][2]);
        let c = json!({"command": ["bash", "-c"], "args": ["vllm serve m --port 8000; echo done"]});
        let c = set(c, "--max-num-seqs", "64");
        assert_eq!(c["args"][0], "vllm serve m --port 8000 --max-num-seqs 64; echo done");
    }

    #[test]
    fn unknown_scripts_are_refused_and_plain_containers_get_args() {
        let mut c = json!({"command": ["sh", "-c", "./start.sh --port 1"]});
        assert!(set_flag(&mut c, "--max-model-len", "1", None).is_err());
        let c = set(json!({"image": "vllm/vllm-openai"}), "--max-model-len", "4096");
        assert_eq!(c["args"], json!(["--max-model-len", "4096"]));
    }

    #[test]
    fn flags_are_found_and_removed_with_their_values() {
        let mut c = json!({"args": ["--model", "m", "--swap-space", "4", "--enforce-eager", "--port=8000"]});
        assert!(has_flag(&c, "--enforce-eager") && has_flag(&c, "--port") && !has_flag(&c, "--swap"));
        assert!(remove_flag(&mut c, "--swap-space", None).unwrap());
        assert!(remove_flag(&mut c, "--enforce-eager", None).unwrap());
        assert!(remove_flag(&mut c, "--port", None).unwrap());
        assert!(!remove_flag(&mut c, "--port", None).unwrap());
        assert_eq!(c["args"], json!(["--model", "m"]));
        let mut c = json!({"command": ["sh", "-c", "vllm serve m --swap-space 4 --disable-log-requests --port 8000"]});
        assert!(has_flag(&c, "--disable-log-requests"));
        remove_flag(&mut c, "--swap-space", None).unwrap();
        remove_flag(&mut c, "--disable-log-requests", None).unwrap();
        assert_eq!(c["command"][2], "vllm serve m --port 8000");
        let mut c = json!({"env": [{"name": "MAX_INPUT_LENGTH", "value": "1024"}]});
        assert!(remove_flag(&mut c, "--max-input-length", Some("MAX_INPUT_LENGTH")).unwrap());
        assert_eq!(c["env"], json!([]));
    }

    #[test]
    fn env_aliases_are_read_and_set() {
        let mut c = json!({"env": [{"name": "MAX_TOTAL_TOKENS", "value": "8192"}]});
        assert_eq!(get_flag(&c, "--max-total-tokens", Some("MAX_TOTAL_TOKENS")).as_deref(), Some("8192"));
        set_flag(&mut c, "--max-total-tokens", "4096", Some("MAX_TOTAL_TOKENS")).unwrap();
        assert_eq!(c, json!({"env": [{"name": "MAX_TOTAL_TOKENS", "value": "4096"}]}));
    }
}
