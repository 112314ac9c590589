//! Turning free text into FTS5 queries that cannot be syntax errors.

use std::collections::HashSet;

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// More terms than this add nothing to ranking and only slow the query down.
const MAX_TERMS: usize = 32;

/// The FTS5 query for free text: every word as a quoted term, ORed, so a chunk needs only one of
/// them and BM25 ranks chunks with more (and rarer) ones first. A word that the tokenizer splits
/// (`INV-2024-0042`, `e-mail`) is also added as a phrase, so the exact sequence outranks chunks
/// that merely share its parts. `None` when the text has no words at all (only punctuation).
///
/// Only letters and digits reach the query, each inside double quotes, so operators (`AND`,
/// `NEAR`), `*`, `^`, `:`, `-`, parentheses and quotes in the input are never FTS5 syntax.
pub(super) fn any_term_query(text: &str) -> Option<String> {
    let terms = any_terms(text);
    if terms.is_empty() {
        return None;
    }
    Some(
        terms
            .iter()
            .map(|term| quoted(term))
            .collect::<Vec<_>>()
            .join(" OR "),
    )
}

/// The terms of [`any_term_query`], in its order: phrases (a split word's tokens, joined by
/// spaces) and single words, each of which FTS5 reads as one quoted phrase.
pub(super) fn any_terms(text: &str) -> Vec<String> {
    let mut terms: Vec<String> = Vec::new();
    let mut seen = HashSet::new();
    let mut add = |term: String, terms: &mut Vec<String>| {
        if terms.len() < MAX_TERMS && seen.insert(term.to_lowercase()) {
            terms.push(term);
        }
    };
    let words: Vec<&str> = text.split_whitespace().collect();
    // Words that are function words once stripped of punctuation ("the", "¿cuándo") add nothing.
    let content: Vec<&str> = {
        let stripped: Vec<String> = words.iter().map(|w| tokens(w).join(" ")).collect();
        let kept = crate::store::stopwords::content_words(&stripped);
        words
            .iter()
            .zip(&stripped)
            .filter(|(_, s)| kept.contains(s))
            .map(|(w, _)| *w)
            .collect()
    };
    for word in content {
        let tokens = tokens(word);
        if tokens.len() > 1 {
            add(tokens.join(" "), &mut terms);
        }
        for token in tokens {
            add(token, &mut terms);
        }
    }
    terms
}

/// Splits a word into runs of letters and digits, the way the unicode61 tokenizer would.
fn tokens(word: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    for character in word.nfc() {
        // A combining mark left after NFC belongs to the token it follows.
        if character.is_alphanumeric() || (is_combining_mark(character) && !current.is_empty()) {
            current.push(character);
        } else if !current.is_empty() {
            tokens.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    tokens
}

/// Quotes a term as an FTS5 string, so words such as NOT or OR are matched as plain text.
pub(super) fn quoted(term: &str) -> String {
    format!("\"{}\"", term.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_text_becomes_quoted_terms() {
        let cases: [(&str, Option<&str>); 10] = [
            ("contrato servicios", Some("\"contrato\" OR \"servicios\"")),
            (
                "INV-2024-0042",
                Some("\"INV 2024 0042\" OR \"INV\" OR \"2024\" OR \"0042\""),
            ),
            ("\"", None),
            ("*", None),
            ("   ", None),
            ("NOT", Some("\"NOT\"")),
            ("a:b", Some("\"a b\" OR \"a\" OR \"b\"")),
            (
                // "or" is a function word (see store::stopwords): only the content words remain.
                "(factura OR -pago*)",
                Some("\"factura\" OR \"pago\""),
            ),
            ("Facturación facturación", Some("\"Facturación\"")),
            ("cafe\u{301}", Some("\"café\"")),
        ];
        for (input, expected) in cases {
            assert_eq!(
                any_term_query(input).as_deref(),
                expected,
                "input {input:?}"
            );
        }
    }

    #[test]
    fn term_count_is_capped() {
        let text = (0..100)
            .map(|n| format!("w{n}"))
            .collect::<Vec<_>>()
            .join(" ");
        let query = any_term_query(&text).unwrap_or_default();
        assert_eq!(query.matches(" OR ").count() + 1, MAX_TERMS);
    }
}
