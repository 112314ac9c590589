//! HTML: the visible text, one block per block-level element, headings from `h1`–`h6`.
//!
//! html5gum is a WHATWG-conformant tokenizer: it copes with any tag soup a browser copes with,
//! decodes character references, and reads `<script>`/`<style>` bodies as raw text (its naive
//! state switching), so markup inside them never leaks out. A tokenizer is enough here because
//! only the order of text and tags matters, not the repaired tree.

use html5gum::{DefaultEmitter, Token, Tokenizer};

use super::{Builder, FileKind, LineIndex, Read, collapse_whitespace, decode_text};

/// Elements whose content is never shown as text.
const INVISIBLE: &[&[u8]] = &[
    b"script",
    b"style",
    b"noscript",
    b"template",
    b"title",
    b"svg",
    b"math",
    b"iframe",
    b"object",
    b"canvas",
];

/// Elements that end the current block; everything else (a, span, b, em, code, …) is inline.
const BLOCKS: &[&[u8]] = &[
    b"address",
    b"article",
    b"aside",
    b"blockquote",
    b"body",
    b"caption",
    b"center",
    b"dd",
    b"details",
    b"dialog",
    b"dir",
    b"div",
    b"dl",
    b"dt",
    b"fieldset",
    b"figcaption",
    b"figure",
    b"footer",
    b"form",
    b"header",
    b"hgroup",
    b"hr",
    b"html",
    b"legend",
    b"li",
    b"main",
    b"menu",
    b"nav",
    b"ol",
    b"p",
    b"pre",
    b"section",
    b"summary",
    b"table",
    b"tbody",
    b"tfoot",
    b"thead",
    b"tr",
    b"ul",
    b"option",
];

/// Elements without content, which never get an end tag.
const VOID: &[&[u8]] = &[
    b"area", b"base", b"br", b"col", b"embed", b"hr", b"img", b"input", b"link", b"meta",
    b"source", b"track", b"wbr",
];

/// Elements whose end tag may be left out: skipping one marked `hidden` could swallow the rest of
/// the page, so the `hidden` attribute is honoured only on the others.
const OPTIONAL_END: &[&[u8]] = &[
    b"p",
    b"li",
    b"dt",
    b"dd",
    b"tr",
    b"td",
    b"th",
    b"thead",
    b"tbody",
    b"tfoot",
    b"option",
    b"optgroup",
    b"rt",
    b"rp",
    b"colgroup",
    b"caption",
    b"html",
    b"head",
    b"body",
];

pub(super) fn read(file: &str, bytes: &[u8]) -> Read {
    let text = decode_text(file, FileKind::Html, bytes, declared_charset(bytes))?;
    let lines = LineIndex::new(&text);
    let mut reader = HtmlReader {
        builder: Builder::default(),
        lines: &lines,
        skip: None,
        pre: 0,
        heading: None,
        current: Pending::default(),
    };
    let mut emitter = DefaultEmitter::<usize>::new_with_span();
    emitter.naively_switch_states(true);
    for token in Tokenizer::new_with_emitter(text.as_str(), emitter) {
        // Reading from a `&str` cannot fail (the error type is `Infallible`).
        let Ok(token) = token;
        reader.token(token);
    }
    reader.close_heading();
    reader.flush();
    Ok(reader.builder.finish())
}

/// A `<meta charset=…>` or `http-equiv` declaration in the first KiB, as browsers look for it.
fn declared_charset(bytes: &[u8]) -> Option<&'static encoding_rs::Encoding> {
    let head = bytes.get(..bytes.len().min(1024))?.to_ascii_lowercase();
    let at = head.windows(8).position(|window| window == b"charset=")? + 8;
    let rest = head.get(at..)?;
    let rest = rest
        .strip_prefix(b"\"")
        .or_else(|| rest.strip_prefix(b"'"))
        .unwrap_or(rest);
    let end = rest
        .iter()
        .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b':' | b'.')))
        .unwrap_or(rest.len());
    encoding_rs::Encoding::for_label(rest.get(..end)?)
}

#[derive(Default)]
struct Pending {
    text: String,
    first: Option<usize>,
    last: usize,
}

impl Pending {
    fn push(&mut self, text: &str, start: usize, end: usize, verbatim: bool) {
        if verbatim {
            self.text.push_str(text);
        } else {
            // Whitespace between inline pieces matters ("a <b>b</b>"), runs of it do not.
            for c in text.chars() {
                if c.is_whitespace() {
                    if !self.text.is_empty() && !self.text.ends_with([' ', '\n']) {
                        self.text.push(' ');
                    }
                } else {
                    self.text.push(c);
                }
            }
        }
        // The block's lines are those of its first and last visible characters, not of the
        // whitespace (often a newline) that starts or ends a text token.
        if let Some(lead) = text.find(|c: char| !c.is_whitespace()) {
            self.first.get_or_insert(start + lead);
            let trail = text.len() - text.trim_end().len();
            self.last = end.saturating_sub(trail).max(start + lead + 1);
        }
    }
}

struct HtmlReader<'a> {
    builder: Builder,
    lines: &'a LineIndex,
    /// Inside an invisible element: its name and how many of it are open.
    skip: Option<(Vec<u8>, usize)>,
    /// How many `<pre>` are open: their whitespace is kept.
    pre: usize,
    /// Inside `<hN>`: N and the title so far.
    heading: Option<(u8, Pending)>,
    current: Pending,
}

impl HtmlReader<'_> {
    fn token(&mut self, token: Token<usize>) {
        match token {
            Token::StartTag(tag) => {
                let name = tag.name.0.as_slice();
                if let Some((skipped, depth)) = &mut self.skip {
                    if skipped.as_slice() == name && !tag.self_closing && !VOID.contains(&name) {
                        *depth += 1;
                    }
                    return;
                }
                let hidden = tag.attributes.contains_key(b"hidden".as_slice())
                    && !VOID.contains(&name)
                    && !OPTIONAL_END.contains(&name);
                if (INVISIBLE.contains(&name) || hidden) && !tag.self_closing {
                    self.skip = Some((name.to_vec(), 1));
                    return;
                }
                self.start(name, tag.span.start);
            }
            Token::EndTag(tag) => {
                let name = tag.name.0.as_slice();
                if let Some((skipped, depth)) = &mut self.skip {
                    if skipped.as_slice() == name {
                        *depth -= 1;
                        if *depth == 0 {
                            self.skip = None;
                        }
                    }
                    return;
                }
                self.end(name);
            }
            Token::String(text) => {
                if self.skip.is_some() {
                    return;
                }
                let value = String::from_utf8_lossy(&text.value.0);
                let verbatim = self.pre > 0;
                match &mut self.heading {
                    Some((_, title)) => title.push(&value, text.span.start, text.span.end, false),
                    None => self
                        .current
                        .push(&value, text.span.start, text.span.end, verbatim),
                }
            }
            Token::Comment(_) | Token::Doctype(_) | Token::Error(_) => {}
        }
    }

    fn start(&mut self, name: &[u8], offset: usize) {
        if self.heading.is_some() && BLOCKS.contains(&name) {
            // A heading left open (`<h2>Title<p>…`) ends at the next block rather than
            // swallowing the page.
            self.close_heading();
        }
        if let Some(level) = heading_level(name) {
            self.close_heading();
            self.flush();
            self.heading = Some((level, Pending::default()));
            return;
        }
        match name {
            b"br" => {
                let target = match &mut self.heading {
                    Some((_, title)) => title,
                    None => &mut self.current,
                };
                if !target.text.is_empty() && self.pre == 0 {
                    let trimmed = target.text.trim_end_matches(' ').len();
                    target.text.truncate(trimmed);
                    target.text.push('\n');
                }
            }
            // Cells stay on their row's line, so a table row reads as one record.
            b"td" | b"th" if self.heading.is_none() && !self.current.text.trim().is_empty() => {
                self.current.push(" | ", offset, offset, true);
            }
            _ if BLOCKS.contains(&name) => {
                self.flush();
                if name == b"pre" {
                    self.pre += 1;
                }
            }
            _ => {}
        }
    }

    fn end(&mut self, name: &[u8]) {
        if heading_level(name).is_some() {
            self.close_heading();
            return;
        }
        if BLOCKS.contains(&name) {
            self.flush();
            if name == b"pre" {
                self.pre = self.pre.saturating_sub(1);
            }
        }
    }

    fn close_heading(&mut self) {
        if let Some((level, title)) = self.heading.take()
            && let Some(first) = title.first
        {
            let start = self.lines.line(first);
            let end = self.lines.line(title.last.saturating_sub(1).max(first));
            let text = collapse_whitespace(&title.text);
            self.builder.heading(level, &text, text.clone(), start, end);
        }
    }

    fn flush(&mut self) {
        let pending = std::mem::take(&mut self.current);
        let Some(first) = pending.first else {
            return;
        };
        let text = if self.pre > 0 {
            pending.text
        } else {
            // `<br>` newlines survive; spaces around them do not.
            pending
                .text
                .split('\n')
                .map(str::trim)
                .collect::<Vec<_>>()
                .join("\n")
                .trim_matches('\n')
                .to_owned()
        };
        let start = self.lines.line(first);
        let end = self.lines.line(pending.last.saturating_sub(1).max(first));
        self.builder.text(&text, start, end);
    }
}

fn heading_level(name: &[u8]) -> Option<u8> {
    match name {
        [b'h', digit @ b'1'..=b'6'] => Some(digit - b'0'),
        _ => None,
    }
}
