//! Turning free text into FTS5 queries that cannot be syntax errors.

use std::collections::HashSet;

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// More terms than this add nothing to ranking and only slow the query down.
const MAX_TERMS: usize = 32;

/// Splits free text into words the way the unicode61 tokenizer would (letters and digits), so
/// operators, quotes, `*`, `:` and parentheses never reach FTS5 as syntax.
pub(crate) fn query_terms(text: &str) -> Vec<String> {
    let mut terms = Vec::new();
    let mut seen = HashSet::new();
    let mut current = String::new();
    let mut flush = |current: &mut String, terms: &mut Vec<String>| {
        if !current.is_empty() {
            let word = std::mem::take(current);
            if terms.len() < MAX_TERMS && seen.insert(word.to_lowercase()) {
                terms.push(word);
            }
        }
    };
    for character in text.nfc() {
        // A combining mark left after NFC belongs to the word it follows.
        if character.is_alphanumeric() || (is_combining_mark(character) && !current.is_empty()) {
            current.push(character);
        } else {
            flush(&mut current, &mut terms);
        }
    }
    flush(&mut current, &mut terms);
    terms
}

/// Quotes a term as an FTS5 string, so words such as NOT or OR are matched as plain text.
fn quoted(term: &str) -> String {
    format!("\"{}\"", term.replace('"', "\"\""))
}

/// A query matching documents that contain every term.
pub(crate) fn all_terms_query(terms: &[String]) -> String {
    terms
        .iter()
        .map(|term| quoted(term))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A query matching documents that contain at least one term.
pub(crate) fn any_term_query(terms: &[String]) -> String {
    terms
        .iter()
        .map(|term| quoted(term))
        .collect::<Vec<_>>()
        .join(" OR ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_text_becomes_plain_terms() {
        let cases: [(&str, &[&str]); 9] = [
            ("contrato de servicios", &["contrato", "de", "servicios"]),
            ("\"", &[]),
            ("*", &[]),
            ("NOT", &["NOT"]),
            ("a:b", &["a", "b"]),
            ("(factura OR -pago*)", &["factura", "OR", "pago"]),
            ("Facturación facturación", &["Facturación"]),
            ("cafe\u{301}", &["café"]),
            ("   ", &[]),
        ];
        for (input, expected) in cases {
            assert_eq!(query_terms(input), expected, "input {input:?}");
        }
    }

    #[test]
    fn queries_quote_every_term() {
        let terms = vec!["NOT".to_owned(), "factura".to_owned()];
        assert_eq!(all_terms_query(&terms), "\"NOT\" \"factura\"");
        assert_eq!(any_term_query(&terms), "\"NOT\" OR \"factura\"");
    }

    #[test]
    fn term_count_is_capped() {
        let text = (0..100)
            .map(|n| format!("w{n}"))
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(query_terms(&text).len(), MAX_TERMS);
    }
}
