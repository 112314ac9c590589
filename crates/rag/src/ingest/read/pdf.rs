//! PDF: the text of each page, with its page number; lines count within the page.
//!
//! lopdf parses leniently (it repairs damaged cross-reference tables, as viewers do) and bounds
//! how far a stream may inflate, so a small hostile file cannot exhaust memory.

use lopdf::Document as Pdf;

use super::text::paragraphs;
use super::{Builder, FileKind, Read, ReadError};

pub(super) fn read(file: &str, bytes: &[u8]) -> Read {
    let invalid = |cause: String| ReadError::Invalid {
        file: file.into(),
        format: FileKind::Pdf,
        cause,
    };
    let encrypted = || ReadError::Encrypted {
        file: file.into(),
        format: FileKind::Pdf,
    };
    // Viewers accept a header anywhere in the first KiB; without one this is not a PDF at all,
    // and lopdf's error for it would be less clear.
    let head = bytes.get(..bytes.len().min(1024)).unwrap_or_default();
    if !head.windows(5).any(|window| window == b"%PDF-") {
        return Err(invalid("no %PDF- header".into()));
    }
    let pdf = Pdf::load_mem(bytes).map_err(|error| match error {
        lopdf::Error::InvalidPassword | lopdf::Error::Decryption(_) => encrypted(),
        other => invalid(format!("{other}; the file may be damaged or truncated")),
    })?;
    // Loading tries the empty user password; a document still encrypted after it needs a real
    // one.
    if pdf.is_encrypted() {
        return Err(encrypted());
    }
    let pages = pdf.get_pages();
    if pages.is_empty() {
        return Err(invalid("it has no pages; the file may be truncated".into()));
    }
    let mut builder = Builder::default();
    let mut failures = Vec::new();
    let mut any_text = false;
    for &number in pages.keys() {
        builder.page(number);
        match pdf.extract_text(&[number]) {
            Ok(text) => {
                let text = text.replace('\r', "\n").replace('\0', "");
                any_text |= !text.trim().is_empty();
                paragraphs(&text, 1, |paragraph, start, end| {
                    builder.text(paragraph, start, end);
                });
            }
            Err(error) => failures.push((number, error.to_string())),
        }
    }
    if failures.len() == pages.len()
        && let Some((_, first)) = failures.first()
    {
        return Err(invalid(format!(
            "no page's text could be extracted: {first}"
        )));
    }
    for (number, error) in failures {
        builder.warnings.push(format!(
            "{file}: page {number}: its text could not be extracted ({error})"
        ));
    }
    if !any_text {
        builder.warnings.push(format!(
            "{file}: no extractable text; it may be scanned images, which need OCR first"
        ));
    }
    Ok(builder.finish())
}
