//! DOCX: paragraphs of `word/document.xml`, with headings from the Heading (and Title) styles.
//!
//! A DOCX is a zip; only `word/document.xml` and `word/styles.xml` are read. Style ids are
//! localized (`Heading1`, `berschrift1`, `Titre1`…) but style names are not (`heading 1`), so
//! `styles.xml` maps ids to names and outline levels. "Lines" are paragraph numbers.

use std::collections::HashMap;
use std::io::{Cursor, Read as _};

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use super::{Block, Builder, FileKind, Read, ReadError, collapse_whitespace};

/// The most a part may inflate to: a real document.xml is a few MiB; this stops zip bombs.
const MAX_PART_BYTES: u64 = 256 * 1024 * 1024;

pub(super) fn read(file: &str, bytes: &[u8]) -> Read {
    let invalid = |cause: String| ReadError::Invalid {
        file: file.into(),
        format: FileKind::Docx,
        cause,
    };
    // Word saves password-protected documents as an OLE compound file holding the encrypted
    // package, not as a zip; old binary .doc files renamed .docx look the same.
    if bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        return Err(ReadError::Encrypted {
            file: file.into(),
            format: FileKind::Docx,
        });
    }
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|error| invalid(format!("not a zip archive: {error}")))?;
    let document = part(&mut archive, "word/document.xml")
        .map_err(|error| invalid(format!("word/document.xml: {error}")))?
        .ok_or_else(|| invalid("word/document.xml is missing".into()))?;
    // Styles are optional: without them, style ids like `Heading1` still give levels.
    let styles = match part(&mut archive, "word/styles.xml") {
        Ok(Some(xml)) => parse_styles(&xml),
        _ => HashMap::new(),
    };
    paragraphs(&document, &styles).map_err(|error| invalid(format!("word/document.xml: {error}")))
}

fn part(
    archive: &mut zip::ZipArchive<Cursor<&[u8]>>,
    name: &str,
) -> Result<Option<String>, String> {
    let entry = match archive.by_name(name) {
        Ok(entry) => entry,
        Err(zip::result::ZipError::FileNotFound) => return Ok(None),
        Err(error) => return Err(error.to_string()),
    };
    if entry.encrypted() {
        return Err("the part is encrypted".into());
    }
    let mut xml = Vec::new();
    // The declared size can lie; the limit is enforced on what is actually inflated.
    entry
        .take(MAX_PART_BYTES + 1)
        .read_to_end(&mut xml)
        .map_err(|error| error.to_string())?;
    if xml.len() as u64 > MAX_PART_BYTES {
        return Err("the part inflates beyond 256 MiB".into());
    }
    String::from_utf8(xml)
        .map(Some)
        .map_err(|_| "the XML is not UTF-8".into())
}

/// Heading level by style id: 0 for Title, N for "heading N" or outline level N-1.
fn parse_styles(xml: &str) -> HashMap<String, u8> {
    let mut levels = HashMap::new();
    let mut reader = Reader::from_str(xml);
    let mut current: Option<String> = None;
    let mut level: Option<u8> = None;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) if e.local_name().as_ref() == b"style" => {
                current = attribute(&e, b"styleId");
                level = None;
            }
            Ok(Event::Start(e) | Event::Empty(e)) if current.is_some() => {
                match e.local_name().as_ref() {
                    b"name" => {
                        if let Some(name) = attribute(&e, b"val") {
                            level = level.or_else(|| level_from_name(&name));
                        }
                    }
                    b"outlineLvl" => {
                        if let Some(outline) =
                            attribute(&e, b"val").and_then(|v| v.parse::<u8>().ok())
                            && outline < 9
                        {
                            level = level.or(Some(outline + 1));
                        }
                    }
                    _ => {}
                }
            }
            Ok(Event::End(e)) if e.local_name().as_ref() == b"style" => {
                if let (Some(id), Some(found)) = (current.take(), level.take()) {
                    levels.insert(id, found);
                }
            }
            Ok(Event::Eof) | Err(_) => break,
            Ok(_) => {}
        }
    }
    levels
}

/// "heading 2" → 2, "Title" → 0; also style ids like "Heading2" when styles.xml is missing.
fn level_from_name(name: &str) -> Option<u8> {
    let lower = name.to_ascii_lowercase();
    if lower == "title" {
        return Some(0);
    }
    let digits = lower.strip_prefix("heading")?.trim();
    digits.parse::<u8>().ok().filter(|n| (1..=9).contains(n))
}

#[derive(Default)]
struct Paragraph {
    text: String,
    style: Option<String>,
    outline: Option<u8>,
}

fn paragraphs(
    xml: &str,
    styles: &HashMap<String, u8>,
) -> Result<(Vec<Block>, Vec<String>), String> {
    let mut builder = Builder::default();
    let mut reader = Reader::from_str(xml);
    // Text boxes nest paragraphs inside a paragraph's run: the outer one waits on the stack.
    let mut open: Vec<Paragraph> = Vec::new();
    let mut number: u32 = 0;
    let mut in_text = false;
    // `w:tab` is a tab character only inside a run; in paragraph properties it is a tab stop.
    let mut runs = 0usize;
    // Inside `mc:Fallback`: a second rendering of content already read from `mc:Choice`.
    let mut fallback = 0usize;
    loop {
        let event = reader.read_event().map_err(|error| {
            format!("malformed XML at byte {}: {error}", reader.error_position())
        })?;
        match event {
            Event::Start(e) => match e.local_name().as_ref() {
                b"Fallback" => fallback += 1,
                _ if fallback > 0 => {}
                b"p" => open.push(Paragraph::default()),
                b"r" => runs += 1,
                b"t" => in_text = true,
                other => properties(other, &e, runs > 0, open.last_mut()),
            },
            Event::Empty(e) if fallback == 0 => match e.local_name().as_ref() {
                // An empty paragraph still counts, so numbers match what Word shows.
                b"p" => number = number.saturating_add(1),
                other => properties(other, &e, runs > 0, open.last_mut()),
            },
            Event::End(e) => match e.local_name().as_ref() {
                b"Fallback" => fallback = fallback.saturating_sub(1),
                _ if fallback > 0 => {}
                b"r" => runs = runs.saturating_sub(1),
                b"t" => in_text = false,
                b"p" => {
                    if let Some(paragraph) = open.pop() {
                        number = number.saturating_add(1);
                        finish(&mut builder, paragraph, number, styles);
                    }
                }
                _ => {}
            },
            Event::Text(text) if in_text && fallback == 0 => {
                if let (Some(paragraph), Ok(decoded)) = (open.last_mut(), text.decode()) {
                    paragraph.text.push_str(&decoded);
                }
            }
            Event::CData(text) if in_text && fallback == 0 => {
                if let (Some(paragraph), Ok(decoded)) = (open.last_mut(), text.decode()) {
                    paragraph.text.push_str(&decoded);
                }
            }
            Event::GeneralRef(reference) if in_text && fallback == 0 => {
                if let Some(paragraph) = open.last_mut() {
                    let resolved = match reference.resolve_char_ref() {
                        Ok(Some(c)) => Some(c.to_string()),
                        _ => reference.decode().ok().and_then(|name| {
                            quick_xml::escape::resolve_predefined_entity(&name).map(str::to_owned)
                        }),
                    };
                    if let Some(resolved) = resolved {
                        paragraph.text.push_str(&resolved);
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(builder.finish())
}

/// Paragraph properties and run content that are not text elements.
fn properties(name: &[u8], e: &BytesStart<'_>, in_run: bool, paragraph: Option<&mut Paragraph>) {
    let Some(paragraph) = paragraph else {
        return;
    };
    match name {
        b"pStyle" => paragraph.style = attribute(e, b"val"),
        b"outlineLvl" => {
            paragraph.outline = attribute(e, b"val")
                .and_then(|v| v.parse::<u8>().ok())
                .filter(|level| *level < 9)
                .map(|level| level + 1);
        }
        b"tab" if in_run => paragraph.text.push('\t'),
        b"br" | b"cr" if in_run => paragraph.text.push('\n'),
        b"noBreakHyphen" if in_run => paragraph.text.push('-'),
        _ => {}
    }
}

fn finish(builder: &mut Builder, paragraph: Paragraph, number: u32, styles: &HashMap<String, u8>) {
    let level = paragraph.outline.or_else(|| {
        let style = paragraph.style.as_deref()?;
        styles
            .get(style)
            .copied()
            .or_else(|| level_from_name(style))
    });
    match level {
        Some(level) if !paragraph.text.trim().is_empty() => {
            let title = collapse_whitespace(&paragraph.text);
            builder.heading(level, &title, title.clone(), number, number);
        }
        _ => {
            let text = paragraph
                .text
                .split('\n')
                .map(str::trim_end)
                .collect::<Vec<_>>()
                .join("\n")
                .trim_matches('\n')
                .to_owned();
            // The paragraph is one "line"; a soft break inside it does not add one.
            builder.text(&text, number, number);
        }
    }
}

fn attribute(e: &BytesStart<'_>, local: &[u8]) -> Option<String> {
    e.attributes().flatten().find_map(|attr| {
        (attr.key.local_name().as_ref() == local)
            .then(|| attr.unescape_value().ok().map(|v| v.into_owned()))
            .flatten()
    })
}
