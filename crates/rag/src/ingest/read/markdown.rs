//! Markdown: sections split on headings (ATX `#` and setext underlines), each block carrying its
//! heading path; fenced code blocks and front matter stay whole, and a `#` inside them is not a
//! heading.
//!
//! A line-based reader rather than a full CommonMark parser: ingestion needs only headings,
//! paragraphs and fences, with exact line numbers, and this keeps the text verbatim.

use super::{Builder, FileKind, Read, decode_text};

pub(super) fn read(file: &str, bytes: &[u8]) -> Read {
    let text = decode_text(file, FileKind::Markdown, bytes, None)?;
    let lines: Vec<&str> = text.split('\n').collect();
    let mut builder = Builder::default();
    let mut paragraph: Option<usize> = None;
    let mut index = 0;

    let flush = |builder: &mut Builder, paragraph: &mut Option<usize>, end: usize| {
        if let Some(start) = paragraph.take() {
            emit(builder, &lines, start, end);
        }
    };

    // YAML or TOML front matter: metadata, kept as one block so its closing `---` is not read as
    // a setext underline.
    if let Some(first) = lines.first().map(|line| line.trim_end())
        && (first == "---" || first == "+++")
        && let Some(close) = lines
            .iter()
            .skip(1)
            .position(|line| {
                let line = line.trim_end();
                line == first || (first == "---" && line == "...")
            })
            .map(|at| at + 1)
    {
        emit(&mut builder, &lines, 0, close + 1);
        index = close + 1;
    }

    while let Some(&line) = lines.get(index) {
        if let Some((marker, width)) = fence_open(line) {
            flush(&mut builder, &mut paragraph, index);
            // An unclosed fence runs to the end of the file, as CommonMark says.
            let close = (index + 1..lines.len())
                .find(|&at| {
                    lines
                        .get(at)
                        .is_some_and(|l| fence_closes(l, marker, width))
                })
                .unwrap_or(lines.len().saturating_sub(1));
            emit(&mut builder, &lines, index, close + 1);
            index = close + 1;
            continue;
        }
        if let Some((level, title)) = atx_heading(line) {
            flush(&mut builder, &mut paragraph, index);
            let number = line_number(index);
            builder.heading(level, &clean_inline(title), line.to_owned(), number, number);
            index += 1;
            continue;
        }
        if let Some(level) = setext_underline(line)
            && let Some(start) = paragraph
        {
            // The paragraph above the underline is the heading's title.
            let title_lines = lines.get(start..index).unwrap_or_default();
            let title = title_lines
                .iter()
                .map(|l| l.trim())
                .collect::<Vec<_>>()
                .join(" ");
            let text = lines.get(start..=index).unwrap_or_default().join("\n");
            builder.heading(
                level,
                &clean_inline(&title),
                text,
                line_number(start),
                line_number(index),
            );
            paragraph = None;
            index += 1;
            continue;
        }
        if line.trim().is_empty() || thematic_break(line) {
            flush(&mut builder, &mut paragraph, index);
        } else if paragraph.is_none() {
            paragraph = Some(index);
        }
        index += 1;
    }
    flush(&mut builder, &mut paragraph, lines.len());
    Ok(builder.finish())
}

fn line_number(index: usize) -> u32 {
    u32::try_from(index + 1).unwrap_or(u32::MAX)
}

/// Lines `start..end` (0-based, end exclusive) as one block.
fn emit(builder: &mut Builder, lines: &[&str], start: usize, end: usize) {
    let Some(slice) = lines.get(start..end.min(lines.len())) else {
        return;
    };
    if slice.is_empty() {
        return;
    }
    builder.text(
        &slice.join("\n"),
        line_number(start),
        line_number(start + slice.len() - 1),
    );
}

/// Up to three spaces of indentation, as CommonMark allows before block markers.
fn unindent(line: &str) -> Option<&str> {
    let indent = line.len() - line.trim_start_matches(' ').len();
    (indent <= 3).then(|| line.get(indent..)).flatten()
}

/// ```` ``` ```` or `~~~` (three or more): the marker and its width.
fn fence_open(line: &str) -> Option<(char, usize)> {
    let rest = unindent(line)?;
    let marker = rest.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let width = rest.chars().take_while(|c| *c == marker).count();
    if width < 3 {
        return None;
    }
    // A backtick fence's info string may not contain backticks (it would be inline code).
    let info = rest.get(width..).unwrap_or_default();
    if marker == '`' && info.contains('`') {
        return None;
    }
    Some((marker, width))
}

fn fence_closes(line: &str, marker: char, width: usize) -> bool {
    let Some(rest) = unindent(line) else {
        return false;
    };
    let run = rest.chars().take_while(|c| *c == marker).count();
    run >= width && rest.get(run..).is_some_and(|tail| tail.trim().is_empty())
}

/// `## Title ##` → (2, "Title").
fn atx_heading(line: &str) -> Option<(u8, &str)> {
    let rest = unindent(line)?;
    let level = rest.chars().take_while(|c| *c == '#').count();
    if !(1..=6).contains(&level) {
        return None;
    }
    let after = rest.get(level..)?;
    if !(after.is_empty() || after.starts_with([' ', '\t'])) {
        return None;
    }
    let mut title = after.trim();
    // An optional closing run of `#`, preceded by a space (or making up the whole title).
    let without_closing = title.trim_end_matches('#');
    if without_closing.is_empty() {
        title = "";
    } else if without_closing.ends_with([' ', '\t']) {
        title = without_closing.trim_end();
    }
    u8::try_from(level).ok().map(|level| (level, title))
}

/// `===` (level 1) or `---` (level 2) under a paragraph.
fn setext_underline(line: &str) -> Option<u8> {
    let rest = unindent(line)?.trim_end();
    let first = rest.chars().next()?;
    if (first == '=' || first == '-') && rest.chars().all(|c| c == first) {
        return Some(if first == '=' { 1 } else { 2 });
    }
    None
}

/// `***`, `- - -`, `___`: a separator, not text.
fn thematic_break(line: &str) -> bool {
    let Some(rest) = unindent(line) else {
        return false;
    };
    let Some(marker) = rest.trim().chars().next() else {
        return false;
    };
    matches!(marker, '*' | '-' | '_')
        && rest
            .chars()
            .filter(|c| !c.is_whitespace())
            .all(|c| c == marker)
        && rest.chars().filter(|c| *c == marker).count() >= 3
}

/// A heading's plain title for the heading path: links and images become their text, code and
/// emphasis markers go, and backslash escapes are resolved.
fn clean_inline(title: &str) -> String {
    let mut out = String::with_capacity(title.len());
    let mut chars = title.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    out.push(next);
                }
            }
            '`' | '*' => {}
            '!' if chars.peek() == Some(&'[') => {}
            '[' => {}
            ']' if chars.peek() == Some(&'(') => {
                // Skip the link destination.
                let mut depth = 0usize;
                for d in chars.by_ref() {
                    match d {
                        '(' => depth += 1,
                        ')' => {
                            depth = depth.saturating_sub(1);
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                }
            }
            ']' => {}
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heading_syntax_follows_commonmark() {
        let cases = [
            ("# Title", Some((1, "Title"))),
            ("### Deep ###", Some((3, "Deep"))),
            ("   ## Indented", Some((2, "Indented"))),
            ("    # Code, not heading", None),
            ("#NoSpace", None),
            ("####### Seven", None),
            ("## C# #", Some((2, "C#"))),
            ("#", Some((1, ""))),
        ];
        for (line, expected) in cases {
            assert_eq!(atx_heading(line), expected, "{line:?}");
        }
        assert_eq!(
            clean_inline("Use `cargo` and [the **book**](https://x/(y))"),
            "Use cargo and the book"
        );
        assert_eq!(fence_open("```rust"), Some(('`', 3)));
        assert_eq!(fence_open("~~~~"), Some(('~', 4)));
        assert_eq!(fence_open("``"), None);
        assert!(fence_closes("````", '`', 3));
        assert!(!fence_closes("``", '`', 3));
        assert!(thematic_break("* * *"));
        assert!(!thematic_break("- item"));
    }
}
