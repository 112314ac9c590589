//! Function words left out of lexical queries. Reciprocal rank fusion uses ranks, not scores, so a
//! chunk that matches a query only on "the" or "de" would otherwise take the top lexical rank and
//! be pulled up in hybrid results past the chunk the vectors rightly found. Documents are indexed
//! whole; only queries drop these words, and a query made of nothing else keeps them.

/// English and Spanish function words (lowercase, accents included and folded).
const STOPWORDS: &[&str] = &[
    // English
    "a", "about", "after", "all", "also", "am", "an", "and", "any", "are", "as", "at", "be", "been",
    "before", "being", "between", "both", "but", "by", "can", "could", "did", "do", "does", "each",
    "for", "from", "had", "has", "have", "having", "he", "her", "here", "him", "his", "how", "i",
    "if", "in", "into", "is", "it", "its", "just", "may", "me", "might", "more", "most", "must",
    "my", "of", "on", "or", "other", "our", "over", "shall", "she", "should", "so", "some", "such",
    "than", "that", "the", "their", "them", "then", "there", "these", "they", "this", "those",
    "through", "to", "too", "under", "very", "was", "we", "were", "what", "when", "where", "which",
    "who", "whom", "whose", "why", "will", "with", "would", "you", "your", // Spanish
    "al", "como", "con", "cual", "cuando", "de", "del", "donde", "el", "ella", "ellos", "en",
    "era", "es", "esa", "ese", "eso", "esta", "este", "esto", "fue", "ha", "han", "hay", "la",
    "las", "le", "les", "lo", "los", "mas", "mi", "muy", "para", "pero", "por", "que", "quien",
    "se", "ser", "sin", "sobre", "son", "su", "sus", "tambien", "tu", "un", "una", "unas", "unos",
    "y", "ya",
];

/// Whether `word` (any case, accents allowed) is a function word.
pub(crate) fn is_stopword(word: &str) -> bool {
    use unicode_normalization::UnicodeNormalization;
    use unicode_normalization::char::is_combining_mark;
    let folded: String = word
        .nfd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect();
    STOPWORDS.contains(&folded.as_str())
}

/// `words` without function words, unless that would leave nothing.
pub(crate) fn content_words<T: AsRef<str> + Clone>(words: &[T]) -> Vec<T> {
    let kept: Vec<T> = words
        .iter()
        .filter(|w| !is_stopword(w.as_ref()))
        .cloned()
        .collect();
    if kept.is_empty() {
        words.to_vec()
    } else {
        kept
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_lowercase_folded_and_has_no_duplicates() {
        let mut unique = STOPWORDS.to_vec();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), STOPWORDS.len());
        assert!(
            STOPWORDS
                .iter()
                .all(|w| w.chars().all(|c| c.is_ascii_lowercase()))
        );
    }

    #[test]
    fn function_words_are_dropped_unless_nothing_else_is_left() {
        let cases: [(&[&str], &[&str]); 4] = [
            (&["When", "is", "the", "meeting"], &["meeting"]),
            (&["¿Cuándo", "es", "la", "reunión"], &["¿Cuándo", "reunión"]),
            (&["the", "of"], &["the", "of"]),
            (&["INV", "2024", "0042"], &["INV", "2024", "0042"]),
        ];
        for (words, expected) in cases {
            assert_eq!(content_words(words), expected.to_vec(), "{words:?}");
        }
        assert!(is_stopword("Cuándo") && is_stopword("cuando") && is_stopword("THE"));
    }
}
