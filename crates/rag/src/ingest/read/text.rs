//! Plain text: one block per paragraph (lines between blank lines).

use super::{Builder, FileKind, Read, decode_text};

pub(super) fn read(file: &str, bytes: &[u8]) -> Read {
    let text = decode_text(file, FileKind::Text, bytes, None)?;
    let mut builder = Builder::default();
    paragraphs(&text, 1, |paragraph, start, end| {
        builder.text(paragraph, start, end);
    });
    Ok(builder.finish())
}

/// Calls `emit(text, first_line, last_line)` for each run of non-blank lines of `text`, whose
/// first line is line `first_line`.
pub(super) fn paragraphs(text: &str, first_line: u32, mut emit: impl FnMut(&str, u32, u32)) {
    let mut start: Option<(usize, u32)> = None;
    let mut offset = 0;
    let mut line = first_line;
    let mut last_end = 0;
    for raw in text.split('\n') {
        let blank = raw.trim().is_empty();
        match (blank, start) {
            (false, None) => start = Some((offset, line)),
            (true, Some((from, from_line))) => {
                emit(
                    text.get(from..last_end).unwrap_or_default(),
                    from_line,
                    line.saturating_sub(1),
                );
                start = None;
            }
            _ => {}
        }
        offset += raw.len() + 1;
        if !blank {
            last_end = offset - 1;
        }
        line = line.saturating_add(1);
    }
    if let Some((from, from_line)) = start {
        emit(
            text.get(from..last_end).unwrap_or_default(),
            from_line,
            line.saturating_sub(1),
        );
    }
}
