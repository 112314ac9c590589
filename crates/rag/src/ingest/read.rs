//! Reading one file into text blocks that remember where they came from.
//!
//! Every format ends up as a [`Document`]: a list of [`Block`]s (a paragraph, a code block, a
//! heading) with the heading path above them, the page, and the lines they span, so that chunks
//! can be cited. Readers never panic on bad input: a damaged or encrypted file is a [`ReadError`]
//! naming the file and the cause, and a parser that panics anyway is caught and reported the same
//! way, so one bad file never stops a folder.

mod docx;
mod html;
mod markdown;
mod pdf;
mod text;

use std::fmt;
use std::path::Path;

use sha2::{Digest, Sha256};

/// The formats ingestion reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FileKind {
    /// Plain text (`.txt`).
    Text,
    /// Markdown (`.md`, `.markdown`).
    Markdown,
    /// HTML (`.html`, `.htm`).
    Html,
    /// PDF (`.pdf`).
    Pdf,
    /// Word (`.docx`).
    Docx,
}

impl FileKind {
    /// The extensions read, lower-case, without the dot.
    pub const EXTENSIONS: &'static [&'static str] =
        &["txt", "md", "markdown", "html", "htm", "pdf", "docx"];

    /// The format for a path's extension (case-insensitive), if supported.
    pub fn from_path(path: &Path) -> Option<FileKind> {
        let extension = path.extension()?.to_str()?.to_ascii_lowercase();
        match extension.as_str() {
            "txt" => Some(FileKind::Text),
            "md" | "markdown" => Some(FileKind::Markdown),
            "html" | "htm" => Some(FileKind::Html),
            "pdf" => Some(FileKind::Pdf),
            "docx" => Some(FileKind::Docx),
            _ => None,
        }
    }

    /// The format's name in messages: "text", "Markdown", "HTML", "PDF", "DOCX".
    pub fn name(self) -> &'static str {
        match self {
            FileKind::Text => "text",
            FileKind::Markdown => "Markdown",
            FileKind::Html => "HTML",
            FileKind::Pdf => "PDF",
            FileKind::Docx => "DOCX",
        }
    }
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A run of text that stays together unless it is too long for one chunk.
///
/// Line `k` (0-based) of `text` is line `line_start + k` of the source where the format has
/// lines (text, Markdown); elsewhere lines are approximate and `line_end` is the bound: HTML
/// counts source lines of the markup, PDF counts lines of the page's extracted text, and DOCX
/// counts paragraphs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The text, without leading or trailing blank lines.
    pub text: String,
    /// The heading path above it, e.g. `Install > Linux`.
    pub heading: Option<String>,
    /// 1-based page (PDF).
    pub page: Option<u32>,
    /// 1-based first line.
    pub line_start: u32,
    /// 1-based last line.
    pub line_end: u32,
    /// Ordinal of the section (a heading or a page starts a new one); blocks of different
    /// sections never share a chunk, even when two sections have the same heading.
    pub section: u32,
}

/// A file's text, in reading order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// The blocks.
    pub blocks: Vec<Block>,
    /// SHA-256 (hex) of the file's raw bytes.
    pub content_hash: String,
    /// Problems that did not stop the file, e.g. a PDF page whose text could not be extracted.
    pub warnings: Vec<String>,
}

/// Why a file could not be read; each message names the file and the cause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// The file system refused.
    #[error("could not read {file}: {cause}")]
    Io {
        /// The file.
        file: String,
        /// The operating system's reason.
        cause: String,
    },
    /// The bytes are not a valid file of the format its extension claims.
    #[error("could not read {file}: not a valid {format} ({cause})")]
    Invalid {
        /// The file.
        file: String,
        /// The format expected.
        format: FileKind,
        /// What is wrong.
        cause: String,
    },
    /// The file is password-protected.
    #[error(
        "could not read {file}: the {format} is encrypted (password-protected); save an unprotected copy to ingest it"
    )]
    Encrypted {
        /// The file.
        file: String,
        /// Its format.
        format: FileKind,
    },
    /// A text format holding binary data.
    #[error("could not read {file}: it holds binary data, not {format}")]
    Binary {
        /// The file.
        file: String,
        /// The format expected.
        format: FileKind,
    },
    /// The extension is not one ingestion reads.
    #[error(
        "could not read {file}: unsupported file type; supported extensions: txt, md, markdown, html, htm, pdf, docx"
    )]
    Unsupported {
        /// The file.
        file: String,
    },
    /// The file grew past the limit since it was planned.
    #[error("could not read {file}: it is {}, over the {} limit (RAG_MAX_FILE_BYTES)", super::format_bytes(*bytes), super::format_bytes(*limit))]
    TooLarge {
        /// The file.
        file: String,
        /// Its size.
        bytes: u64,
        /// The limit.
        limit: u64,
    },
    /// The file no longer resolves inside the roots (replaced by a symlink since it was planned).
    #[error("could not read {file}: it no longer resolves inside RAG_INGEST_ROOTS")]
    OutsideRoots {
        /// The file.
        file: String,
    },
    /// The format's parser failed unexpectedly on this file.
    #[error("could not read {file}: the {format} reader failed on this file ({cause})")]
    ReaderFailed {
        /// The file.
        file: String,
        /// Its format.
        format: FileKind,
        /// The failure.
        cause: String,
    },
}

/// Reads a file whole, choosing the reader by extension. No size limit applies here:
/// [`super::prepare`] is the bounded path.
pub fn read_file(path: &Path) -> Result<Document, ReadError> {
    let shown = path.display().to_string();
    let Some(kind) = FileKind::from_path(path) else {
        return Err(ReadError::Unsupported { file: shown });
    };
    let bytes = std::fs::read(path).map_err(|error| ReadError::Io {
        file: shown.clone(),
        cause: error.to_string(),
    })?;
    read_bytes(&shown, kind, &bytes)
}

/// Reads a file's bytes as `kind`; `file` names it in errors.
pub fn read_bytes(file: &str, kind: FileKind, bytes: &[u8]) -> Result<Document, ReadError> {
    // The readers are written not to panic, but lopdf and zip parse hostile input in code this
    // crate does not control; catching a panic here keeps one bad file from ending a folder's
    // ingestion (and the blocking thread running it).
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match kind {
        FileKind::Text => text::read(file, bytes),
        FileKind::Markdown => markdown::read(file, bytes),
        FileKind::Html => html::read(file, bytes),
        FileKind::Pdf => pdf::read(file, bytes),
        FileKind::Docx => docx::read(file, bytes),
    }));
    let (blocks, warnings) = match outcome {
        Ok(result) => result?,
        Err(payload) => {
            let cause = payload
                .downcast_ref::<&str>()
                .map(|message| (*message).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unexpected internal error".into());
            return Err(ReadError::ReaderFailed {
                file: file.into(),
                format: kind,
                cause,
            });
        }
    };
    Ok(Document {
        blocks,
        content_hash: content_hash(bytes),
        warnings,
    })
}

/// SHA-256 of `bytes`, as 64 lower-case hex digits.
pub fn content_hash(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut hex = String::with_capacity(64);
    for byte in digest.iter() {
        hex.push(hex_digit(byte >> 4));
        hex.push(hex_digit(byte & 0x0f));
    }
    hex
}

fn hex_digit(nibble: u8) -> char {
    char::from_digit(u32::from(nibble), 16).unwrap_or('0')
}

/// What a reader returns: blocks and warnings.
type Read = Result<(Vec<Block>, Vec<String>), ReadError>;

/// Decodes a text file: a BOM wins, then UTF-8, then `fallback` (a charset the document declares)
/// or Windows-1252, the usual encoding of old Western text files, rather than replacement
/// characters. Line endings become `\n`. NUL bytes mean binary data mislabelled as text.
fn decode_text(
    file: &str,
    format: FileKind,
    bytes: &[u8],
    declared: Option<&'static encoding_rs::Encoding>,
) -> Result<String, ReadError> {
    let decoded: String = if let Some((encoding, bom)) = encoding_rs::Encoding::for_bom(bytes) {
        let rest = bytes.get(bom..).unwrap_or_default();
        encoding.decode_without_bom_handling(rest).0.into_owned()
    } else if let Some(encoding) = declared.filter(|e| *e != encoding_rs::UTF_8) {
        encoding.decode_without_bom_handling(bytes).0.into_owned()
    } else {
        match std::str::from_utf8(bytes) {
            Ok(text) => text.to_owned(),
            Err(_) => encoding_rs::WINDOWS_1252
                .decode_without_bom_handling(bytes)
                .0
                .into_owned(),
        }
    };
    if decoded.contains('\0') {
        return Err(ReadError::Binary {
            file: file.into(),
            format,
        });
    }
    Ok(normalize_newlines(&decoded))
}

fn normalize_newlines(text: &str) -> String {
    if !text.contains('\r') {
        return text.to_owned();
    }
    text.replace("\r\n", "\n").replace('\r', "\n")
}

/// Collects blocks with their section, heading path and page, for every reader.
///
/// A heading opens a section; its own text becomes the section's first block, so the words of a
/// heading are searchable and a chunk starting there cites the heading's line. A section holding
/// nothing but its heading is dropped (its title still appears in the heading path of the
/// sections below it), unless the document has nothing else.
#[derive(Debug, Default)]
struct Builder {
    blocks: Vec<Block>,
    warnings: Vec<String>,
    section: u32,
    page: Option<u32>,
    path: Vec<(u8, String)>,
    pending: Option<Block>,
}

impl Builder {
    /// A heading of `level` (1 is the outermost; 0 is above it, for a document title).
    fn heading(&mut self, level: u8, title: &str, text: String, line_start: u32, line_end: u32) {
        let title = collapse_whitespace(title);
        if title.is_empty() {
            return;
        }
        while self.path.last().is_some_and(|(open, _)| *open >= level) {
            self.path.pop();
        }
        self.path.push((level, title));
        self.section += 1;
        let text = text.trim().to_owned();
        self.pending = Some(Block {
            text,
            heading: self.heading_path(),
            page: self.page,
            line_start,
            line_end: line_end.max(line_start),
            section: self.section,
        });
    }

    /// A new page: a new section, with no heading carried over (PDF has none).
    fn page(&mut self, page: u32) {
        self.page = Some(page);
        self.path.clear();
        self.pending = None;
        self.section += 1;
    }

    /// Body text. Leading and trailing blank lines are dropped with their line numbers.
    fn text(&mut self, text: &str, line_start: u32, line_end: u32) {
        let Some((text, skipped_before, skipped_after)) = trim_blank_lines(text) else {
            return;
        };
        if let Some(heading) = self.pending.take() {
            self.blocks.push(heading);
        }
        let line_start = line_start.saturating_add(skipped_before);
        // Callers give the range of `text` as passed; only trimmed blank lines come off it.
        let line_end = line_end.saturating_sub(skipped_after).max(line_start);
        self.blocks.push(Block {
            text: text.to_owned(),
            heading: self.heading_path(),
            page: self.page,
            line_start,
            line_end,
            section: self.section,
        });
    }

    fn heading_path(&self) -> Option<String> {
        if self.path.is_empty() {
            return None;
        }
        Some(
            self.path
                .iter()
                .map(|(_, title)| title.as_str())
                .collect::<Vec<_>>()
                .join(" > "),
        )
    }

    fn finish(mut self) -> (Vec<Block>, Vec<String>) {
        if self.blocks.is_empty()
            && let Some(heading) = self.pending.take()
            && !heading.text.is_empty()
        {
            self.blocks.push(heading);
        }
        (self.blocks, self.warnings)
    }
}

/// Drops leading and trailing lines that are blank; returns the rest and how many lines were
/// dropped before and after, or `None` if nothing is left.
fn trim_blank_lines(text: &str) -> Option<(&str, u32, u32)> {
    let mut start = 0;
    let mut before = 0u32;
    loop {
        let rest = text.get(start..)?;
        match rest.find('\n') {
            Some(newline) if rest.get(..newline)?.trim().is_empty() => {
                start += newline + 1;
                before += 1;
            }
            _ => break,
        }
    }
    let rest = text.get(start..)?;
    if rest.trim().is_empty() {
        return None;
    }
    let mut end = rest.len();
    let mut after = 0u32;
    while let Some(newline) = rest.get(..end)?.rfind('\n') {
        if rest.get(newline + 1..end)?.trim().is_empty() {
            end = newline;
            after += 1;
        } else {
            break;
        }
    }
    let kept = rest.get(..end)?;
    Some((kept.trim_end(), before, after))
}

/// Runs of whitespace become one space; ends trimmed.
fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// 1-based line of each byte offset, for formats whose parsers report offsets.
struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(at, _)| at + 1));
        LineIndex { starts }
    }

    fn line(&self, offset: usize) -> u32 {
        let index = match self.starts.binary_search(&offset) {
            Ok(exact) => exact,
            Err(after) => after.saturating_sub(1),
        };
        u32::try_from(index + 1).unwrap_or(u32::MAX)
    }
}
