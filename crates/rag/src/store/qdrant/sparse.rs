//! BM25 as Qdrant sparse vectors, computed here: Qdrant only multiplies by IDF (the `Idf` modifier of the
//! `bm25` vector), so the term-frequency half of BM25 lives in the stored document vectors.
//!
//! - Tokens: Unicode words (UAX #29), lowercased, accents folded (canonical decomposition without its combining
//!   marks), so `Café`, `CAFE` and `café` are one term.
//! - Term index: FNV-1a (64-bit) of the token's UTF-8 bytes, folded to 32 bits (high half XOR low half). It is
//!   stable across processes, platforms and releases, so vectors written by one server match queries of another.
//!   Two tokens may share an index (about one pair in a 100,000-word vocabulary); they then count as one term.
//! - Document value: `tf · (k1 + 1) / (tf + k1 · (1 − b + b · len / avg_len))`, with `k1` = 1.2, `b` = 0.75 and
//!   a constant `avg_len` (tokens), recorded in the collection's metadata when it is created.
//! - Query value: 1 per distinct term, so the score is Σ idf(term) · document value: BM25.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;
use unicode_segmentation::UnicodeSegmentation;

/// A sparse vector: sorted distinct indices and their values.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct SparseVector {
    /// Term indices, ascending.
    pub indices: Vec<u32>,
    /// One value per index.
    pub values: Vec<f32>,
}

impl SparseVector {
    /// Whether it has no term (nothing to store or to search for).
    pub(crate) fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }
}

/// The BM25 parameters of a collection, kept in its metadata so that a later change of defaults never mixes two
/// encodings in one collection.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct Bm25Params {
    /// Term-frequency saturation.
    pub k1: f32,
    /// Length normalisation.
    pub b: f32,
    /// The document length (in tokens) that counts as average.
    pub avg_len: f32,
}

impl Default for Bm25Params {
    /// k1 = 1.2 and b = 0.75, the usual BM25 values; 150 tokens as the average length, about what ingestion's
    /// default 1,000-character chunks hold (memories are shorter, and get a slight boost for it).
    fn default() -> Self {
        Bm25Params {
            k1: 1.2,
            b: 0.75,
            avg_len: 150.0,
        }
    }
}

/// The terms of `text`, in order: Unicode words, lowercased, accents folded.
pub(crate) fn tokenize(text: &str) -> Vec<String> {
    text.unicode_words()
        .map(|word| {
            word.to_lowercase()
                .nfd()
                .filter(|c| !is_combining_mark(*c))
                .collect::<String>()
        })
        .filter(|token| !token.is_empty())
        .collect()
}

/// The sparse index of a token.
pub(crate) fn term_index(token: &str) -> u32 {
    const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
    let hash = token.bytes().fold(FNV_OFFSET, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(FNV_PRIME)
    });
    ((hash >> 32) ^ (hash & 0xffff_ffff)) as u32
}

/// Term frequencies by index, so that colliding tokens add up instead of repeating an index (Qdrant refuses
/// duplicate indices).
fn frequencies(tokens: &[String]) -> BTreeMap<u32, u32> {
    let mut counts = BTreeMap::new();
    for token in tokens {
        *counts.entry(term_index(token)).or_insert(0) += 1;
    }
    counts
}

/// The stored vector of a document: BM25's saturated, length-normalised term frequency per term.
pub(crate) fn encode_document(text: &str, params: &Bm25Params) -> SparseVector {
    let tokens = tokenize(text);
    let length = tokens.len() as f32;
    let norm = params.k1 * (1.0 - params.b + params.b * length / params.avg_len.max(1.0));
    let (indices, values) = frequencies(&tokens)
        .into_iter()
        .map(|(index, tf)| {
            let tf = tf as f32;
            (index, tf * (params.k1 + 1.0) / (tf + norm))
        })
        .unzip();
    SparseVector { indices, values }
}

/// The query vector: 1 for each distinct term.
pub(crate) fn encode_query(text: &str) -> SparseVector {
    // Function words would give chunks a lexical rank on "the" alone (see store::stopwords).
    let tokens = crate::store::stopwords::content_words(&tokenize(text));
    let indices: Vec<u32> = frequencies(&tokens).into_keys().collect();
    let values = vec![1.0; indices.len()];
    SparseVector { indices, values }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_lowercase_unicode_words_without_accents() {
        assert_eq!(
            tokenize("Café, CAFE et café!"),
            ["cafe", "cafe", "et", "cafe"]
        );
        assert_eq!(tokenize("INV-2024-0042"), ["inv", "2024", "0042"]);
        assert_eq!(
            tokenize("Ærø Straße İstanbul"),
            ["ærø", "straße", "istanbul"]
        );
        assert_eq!(tokenize("naïve façade"), ["naive", "facade"]);
        assert_eq!(tokenize("🦀 rust"), ["rust"]);
        for nothing in ["", "  ", "\u{301}", "*", "\"\"", "\u{0}", "-"] {
            assert!(tokenize(nothing).is_empty(), "{nothing:?}");
        }
    }

    #[test]
    fn term_indices_are_stable() {
        // Fixed values: a change here would orphan every stored vector, so it must be deliberate.
        // FNV-1a 64 of "a" is 0xaf63dc4c8601ec8c (the published test vector), folded: 0xaf63dc4c ^ 0x8601ec8c.
        assert_eq!(term_index("a"), 0x2962_30c0);
        assert_eq!(term_index("apple"), 0xaff4_9f1b);
        assert_eq!(term_index("cafe"), 0x5d60_edb8);
        assert_eq!(term_index(""), 0xcbf2_9ce4 ^ 0x8422_2325);
        assert_eq!(term_index("cafe"), term_index(&tokenize("CAFÉ")[0]));
        assert_ne!(term_index("cafe"), term_index("cafes"));
    }

    #[test]
    fn documents_get_saturated_length_normalised_frequencies() {
        let params = Bm25Params {
            k1: 1.2,
            b: 0.75,
            avg_len: 4.0,
        };
        // 4 tokens = the average length, so norm = k1: tf 2 gives 2 · 2.2 / (2 + 1.2), tf 1 gives 2.2 / 2.2.
        let vector = encode_document("apple apple pie tart", &params);
        assert_eq!(vector.indices.len(), 3);
        assert!(vector.indices.windows(2).all(|pair| pair[0] < pair[1]));
        let value = |token: &str| {
            let position = vector
                .indices
                .iter()
                .position(|i| *i == term_index(token))
                .unwrap();
            vector.values[position]
        };
        assert!((value("apple") - 4.4 / 3.2).abs() < 1e-6);
        assert!((value("pie") - 1.0).abs() < 1e-6);
        // The same term weighs less in a longer document, and saturates as it repeats.
        let long = encode_document("pie and a lot of other words here", &params);
        let long_pie = long.values[long
            .indices
            .iter()
            .position(|i| *i == term_index("pie"))
            .unwrap()];
        assert!(long_pie < value("pie"));
        let many = encode_document(&"apple ".repeat(100), &params);
        assert!(many.values[0] < params.k1 + 1.0);
        assert!(encode_document("", &params).is_empty());
    }

    #[test]
    fn queries_weigh_each_distinct_term_once() {
        let query = encode_query("Apple apple PIE");
        assert_eq!(query.indices.len(), 2);
        assert_eq!(query.values, [1.0, 1.0]);
        assert!(encode_query("?!").is_empty());
    }
}
