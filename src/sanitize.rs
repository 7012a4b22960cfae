//! Making untrusted text safe for each place podmedic shows it (pure).
//!
//! Log lines are partly written by strangers: serving engines echo users'
//! prompts. Whatever a log line says reaches a Kubernetes Event, a JSON
//! line, a terminal, a Slack message and a generic webhook's Markdown. Each
//! of those interprets something: terminals and log viewers obey control
//! characters, Slack's mrkdwn makes links, mentions and bold text, Markdown
//! makes links, images, headings and code fences. The functions here render
//! text inert for one of those channels each:
//!
//! | channel | function | what it neutralises |
//! |---|---|---|
//! | Events, log fields, terminals, one-line fields | [`one_line`] | control characters (newlines included), bidirectional overrides |
//! | Slack mrkdwn, inline | [`slack_inline`] | `&` `<` `>` (links, `<!channel>`), `@here`/`@channel` mentions, `*` `_` `~` `` ` `` formatting |
//! | Slack mrkdwn, inside a code block | [`slack_code`] | `&` `<` `>`, mentions, runs of backticks (fence breakouts) |
//! | Markdown (CommonMark/GFM, Mattermost), inline | [`markdown_inline`] | every ASCII punctuation (links, images, emphasis, headings, HTML), mentions, bare URLs |
//! | Markdown, inside a fenced code block | [`markdown_code`] | runs of backticks, mentions |
//!
//! The diagnosis applies [`one_line`] to every text it takes from a log
//! (evidence lines, captured values, hence the summary), so nothing a log
//! says can add lines to an Event note or a terminal report.

use std::borrow::Cow;

/// U+2060 WORD JOINER: invisible, and breaks `@here`, `://` and backtick
/// runs apart. Untrusted text never carries it ([`is_unsafe`] removes it).
const JOINER: char = '\u{2060}';

/// Characters a terminal, a log viewer or a chat client may act on rather
/// than show: C0/C1 controls (newline, tab, escape, backspace, ...), DEL,
/// line and paragraph separators, bidirectional marks, overrides and
/// isolates (which reorder what is shown), zero-width characters and the
/// byte-order mark.
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}'
                | '\u{2029}'
                | '\u{200b}'..='\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{2069}'
                | '\u{feff}'
        )
}

/// `s` on one line: every character [`is_unsafe`] says is unsafe becomes a
/// space (so `a\nb` stays two words). Borrowed when nothing changes.
pub fn one_line(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(s.chars().map(|c| if is_unsafe(c) { ' ' } else { c }).collect())
}

/// `s` on one line with nothing lost: line breaks become `\n`, `\r`, `\t`
/// and every other unsafe character its `\u{..}` escape (for diagnostics
/// such as `podmedic check`, which quote a file's own text). Borrowed when
/// nothing changes.
pub fn escaped_line(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_unsafe(c) => out.extend(c.escape_unicode()),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// `s` keeping its newlines (as `\n`), every other unsafe character a space.
pub fn multi_line(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c == '\n' {
                c
            } else if is_unsafe(c) {
                ' '
            } else {
                c
            }
        })
        .collect()
}

/// Whether `@` at byte `at` of `s` starts a mention (`@here`, `@alice`).
fn mention_at(s: &str, at: usize) -> bool {
    s[at + 1..].chars().next().is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '-' || c == '.')
}

/// Escapes for Slack mrkdwn (`&`, `<`, `>`) and breaks mentions and backtick
/// runs; `inline` also defuses the formatting characters.
fn slack(s: &str, inline: bool) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut prev: Option<char> = None;
    for (i, c) in s.char_indices() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '@' if mention_at(s, i) => {
                out.push('@');
                out.push(JOINER);
            }
            '`' if !inline && prev == Some('`') => {
                out.push(JOINER);
                out.push('`');
            }
            // Look-alikes that mrkdwn does not format.
            '*' if inline => out.push('\u{2217}'),
            '~' if inline => out.push('\u{223c}'),
            '`' if inline => out.push('\u{02cb}'),
            '_' if inline && !(prev.is_some_and(char::is_alphanumeric) && next_is_alnum(s, i)) => out.push('\u{ff3f}'),
            c => out.push(c),
        }
        prev = Some(c);
    }
    out
}

fn next_is_alnum(s: &str, at: usize) -> bool {
    s[at..].chars().nth(1).is_some_and(char::is_alphanumeric)
}

/// Untrusted text for Slack mrkdwn outside code: one line, `&<>` escaped
/// (no `<http://…|link>`, no `<!channel>`), `@here`/`@channel`/`@user`
/// broken with an invisible joiner, and `*` `~` `` ` `` and word-edge `_`
/// replaced by look-alikes (no bold, strike or code can be forged).
/// Messages carrying it should also set `"verbatim": true`.
pub fn slack_inline(s: &str) -> String {
    slack(&one_line(s), true)
}

/// Untrusted text for a Slack mrkdwn code block (between ```` ``` ````):
/// newlines kept, other control characters a space, `&<>` escaped,
/// mentions broken, and no two backticks adjacent, so the text cannot close
/// the block.
pub fn slack_code(s: &str) -> String {
    slack(&multi_line(s), false)
}

/// Untrusted text for Markdown outside code (CommonMark, GitHub, Mattermost):
/// one line; every ASCII punctuation character backslash-escaped (no link,
/// image, emphasis, heading, list, table, HTML or autolink `<…>`); mentions
/// broken; bare `scheme://` and `www.` URLs broken so they are not linked.
pub fn markdown_inline(s: &str) -> String {
    let s = one_line(s);
    let mut out = String::with_capacity(s.len() + 16);
    for (i, c) in s.char_indices() {
        match c {
            '@' if mention_at(&s, i) => {
                out.push_str("\\@");
                out.push(JOINER);
            }
            ':' if s[i..].starts_with("://") => {
                out.push_str("\\:");
                out.push(JOINER);
            }
            'w' | 'W' if s[i..].get(..4).is_some_and(|w| w.eq_ignore_ascii_case("www.")) => {
                out.push(c);
                out.push(JOINER);
            }
            c if c.is_ascii_punctuation() => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// Untrusted text for a Markdown fenced code block (between ```` ``` ````):
/// newlines kept, other control characters a space, no two backticks
/// adjacent (so the text cannot close the fence), mentions broken.
pub fn markdown_code(s: &str) -> String {
    let s = multi_line(s);
    let mut out = String::with_capacity(s.len() + 8);
    let mut prev = None;
    for (i, c) in s.char_indices() {
        match c {
            '`' if prev == Some('`') => {
                out.push(JOINER);
                out.push('`');
            }
            '@' if mention_at(&s, i) => {
                out.push('@');
                out.push(JOINER);
            }
            c => out.push(c),
        }
        prev = Some(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn one_line_removes_controls_and_bidi() {
        assert_eq!(one_line("a\nb\r\tc\x1b[31md\x08"), "a b  c [31md ");
        assert_eq!(one_line("x\u{202e}gnp.exe"), "x gnp.exe");
        assert!(matches!(one_line("plain text"), Cow::Borrowed(_)));
        assert_eq!(multi_line("a\nb\rc"), "a\nb c");
    }

    #[test]
    fn slack_inline_cannot_link_mention_or_format() {
        let hostile = "<!channel> <http://evil.example|click> @here @channel *APPROVED* by ~x~ `y` _z_ a&b";
        let s = slack_inline(hostile);
        for bad in ["<", ">", "@here", "@channel", "*", "`", "~", " _z_"] {
            assert!(!s.contains(bad), "{bad:?} in {s:?}");
        }
        assert!(s.contains("a&amp;b") && s.contains("&lt;!channel&gt;"), "{s}");
        // Identifiers stay readable.
        assert_eq!(slack_inline("gpu_memory_utilization 0.9"), "gpu_memory_utilization 0.9");
        assert_eq!(slack_inline("line one\nline two"), "line one line two");
    }

    #[test]
    fn code_cannot_close_its_fence() {
        for s in [slack_code("a```b````c\n```"), markdown_code("a```b````c\n```")] {
            assert!(!s.contains("``"), "{s:?}");
            assert_eq!(s.matches('\n').count(), 1);
        }
        assert!(!slack_code("ping @here").contains("@here"));
    }

    #[test]
    fn markdown_inline_cannot_link_image_mention_or_format() {
        let hostile = "![x](http://evil/i.png) [APPROVED](http://evil) **APPROVED** # h <b>x</b> @channel @alice www.evil.com http://evil.com | t |\n\n**APPROVED by sre**";
        let s = markdown_inline(hostile);
        assert!(!s.contains('\n'));
        for bad in ["![", "](", "**", "<b>", "@channel", "@alice", "www.", "://", " # "] {
            assert!(!s.contains(bad), "{bad:?} in {s:?}");
        }
        assert_eq!(markdown_inline("lower max_model_len"), "lower max\\_model\\_len");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Whatever the input, the outputs hold no unsafe character (bar the
        /// joiner podmedic adds itself) and code cannot close its fence.
        #[test]
        fn outputs_are_inert(s in "\\PC{0,80}|[\\x00-\\x7f]{0,80}|.{0,40}") {
            let ok = |t: &str, newlines: bool| t.chars().all(|c| c == JOINER || (newlines && c == '\n') || !is_unsafe(c));
            prop_assert!(ok(&one_line(&s), false));
            prop_assert!(ok(&escaped_line(&s), false));
            prop_assert!(ok(&slack_inline(&s), false));
            prop_assert!(ok(&markdown_inline(&s), false));
            let sc = slack_code(&s);
            let mc = markdown_code(&s);
            prop_assert!(ok(&sc, true) && !sc.contains("``"));
            prop_assert!(ok(&mc, true) && !mc.contains("``"));
            prop_assert!(!slack_inline(&s).contains('<'));
        }
    }
}
