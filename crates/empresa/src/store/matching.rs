//! Name normalization and fuzzy company-name matching.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// A fuzzy candidate must score at least this much to be accepted as the match.
const FUZZY_ACCEPT_SCORE: f64 = 0.85;
/// ...and beat the runner-up by at least this much, so "Empresa Z" matches neither X nor Y.
const FUZZY_MIN_LEAD: f64 = 0.05;
/// Names scoring below this are not worth suggesting.
const SUGGESTION_MIN_SCORE: f64 = 0.5;
/// How many suggestions a lookup returns at most.
pub(crate) const MAX_SUGGESTIONS: usize = 5;
/// Shorter queries would make every name containing a common letter pair look related.
const MIN_CONTAINMENT_LENGTH: usize = 3;

/// Folds a name to the key used for uniqueness and comparison: lowercase, accents removed,
/// and everything but letters and digits dropped, so "Émpresa  X," and "empresa x" agree.
pub(crate) fn normalize_name(text: &str) -> String {
    folded_words(text).concat()
}

/// The words of a name, lowercase and without accents, split at anything but letters and digits.
fn folded_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    for character in text.nfkd() {
        if is_combining_mark(character) {
            continue;
        }
        if character.is_alphanumeric() {
            // Lowercasing can reintroduce a combining mark (for instance 'İ').
            current.extend(
                character
                    .to_lowercase()
                    .filter(|lower| !is_combining_mark(*lower)),
            );
        } else if !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// Legal forms, folded and without spaces, that may end a company name ("S.A.", "S.L.", "Ltda.").
const LEGAL_FORMS: &[&str] = &[
    "sa",
    "sl",
    "slu",
    "sll",
    "sac",
    "saa",
    "sas",
    "srl",
    "sadecv",
    "sapidecv",
    "srldecv",
    "decv",
    "spa",
    "ltda",
    "ltd",
    "limitada",
    "eirl",
    "inc",
    "llc",
    "corp",
    "gmbh",
    "sociedadanonima",
];

/// The words of a name without a trailing legal form, which should not decide a match.
fn core_words(words: &[String]) -> &[String] {
    const LONGEST_FORM_WORDS: usize = 5;
    for suffix_length in (1..=LONGEST_FORM_WORDS.min(words.len().saturating_sub(1))).rev() {
        let (core, suffix) = words.split_at(words.len() - suffix_length);
        if LEGAL_FORMS.contains(&suffix.concat().as_str()) {
            return core;
        }
    }
    words
}

/// Words a single typo cannot explain: a letter or two ("X" vs "Y") or a number ("2" vs "3")
/// usually is what tells two companies apart.
fn is_distinguishing(word: &str) -> bool {
    word.chars().count() <= 2 || word.chars().any(char::is_numeric)
}

/// Whether two distinguishing words can be the same word: equal, or (for letters only) one is the
/// other with one more character at the end, as in "Xx" typed for "X".
fn words_correspond(left: &str, right: &str) -> bool {
    if left == right {
        return true;
    }
    let has_digit = |word: &str| word.chars().any(char::is_numeric);
    if has_digit(left) || has_digit(right) {
        return false;
    }
    let (short, long) = if left.len() <= right.len() {
        (left, right)
    } else {
        (right, left)
    };
    long.chars().count() == short.chars().count() + 1 && long.starts_with(short)
}

/// Whether every distinguishing word of each name has a counterpart in the other, so that
/// "Empresa X" never fuzzy-matches "Empresa Y" however close the spellings are.
fn distinguishing_words_agree(query_words: &[String], candidate_words: &[String]) -> bool {
    let query = core_words(query_words);
    let candidate = core_words(candidate_words);
    let covered = |from: &[String], into: &[String]| {
        from.iter()
            .filter(|word| is_distinguishing(word))
            .all(|word| into.iter().any(|other| words_correspond(word, other)))
    };
    covered(query, candidate) && covered(candidate, query)
}

/// A stored company name, as the matcher sees it.
#[derive(Debug, Clone)]
pub(crate) struct NameCandidate {
    pub id: i64,
    pub name: String,
    pub name_norm: String,
}

/// What fuzzy matching concluded.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FuzzyOutcome {
    /// The accepted match, if one candidate was close enough and clearly ahead.
    pub matched_id: Option<i64>,
    /// Other close names, best first, without the matched one.
    pub suggestions: Vec<(i64, String, f64)>,
}

/// Spelling similarity of two normalized names in 0..=1.
fn spelling_similarity(left: &str, right: &str) -> f64 {
    // Jaro-Winkler alone forgives too much at the end of short names; Levenshtein keeps it honest.
    0.5 * strsim::jaro_winkler(left, right) + 0.5 * strsim::normalized_levenshtein(left, right)
}

/// How well one name contains the other, in 0..=1, so "valle" suggests "Café del Valle".
fn containment_score(query: &str, candidate: &str) -> f64 {
    let query_length = query.chars().count();
    let candidate_length = candidate.chars().count();
    if query_length < MIN_CONTAINMENT_LENGTH || candidate_length < MIN_CONTAINMENT_LENGTH {
        return 0.0;
    }
    let ratio = |short: usize, long: usize| short as f64 / long.max(1) as f64;
    if candidate.starts_with(query) {
        0.65 + 0.3 * ratio(query_length, candidate_length)
    } else if candidate.contains(query) {
        0.6 + 0.3 * ratio(query_length, candidate_length)
    } else if query.contains(candidate) {
        0.6 + 0.3 * ratio(candidate_length, query_length)
    } else {
        0.0
    }
}

/// Scores every candidate against the query, accepts the best one only if it is close, clearly
/// ahead of the runner-up and agrees on distinguishing words, and lists the other close names as
/// suggestions.
pub(crate) fn fuzzy_match(query: &str, candidates: &[NameCandidate]) -> FuzzyOutcome {
    let query_norm = normalize_name(query);
    let query_words = folded_words(query);
    let mut scored: Vec<(f64, f64, &NameCandidate)> = candidates
        .iter()
        .map(|candidate| {
            let spelling = spelling_similarity(&query_norm, &candidate.name_norm);
            let suggestion = spelling.max(containment_score(&query_norm, &candidate.name_norm));
            (spelling, suggestion, candidate)
        })
        .collect();

    scored.sort_by(|left, right| {
        right
            .0
            .total_cmp(&left.0)
            .then_with(|| left.2.name_norm.cmp(&right.2.name_norm))
    });
    let best = scored.iter().find(|(_, _, candidate)| {
        distinguishing_words_agree(&query_words, &folded_words(&candidate.name))
    });
    let matched_id = best.and_then(|(best_score, _, best_candidate)| {
        // The runner-up may be a vetoed name: being that close to it still makes the match doubtful.
        let runner_up = scored
            .iter()
            .find(|(_, _, other)| other.id != best_candidate.id)
            .map_or(0.0, |(score, _, _)| *score);
        (*best_score >= FUZZY_ACCEPT_SCORE && best_score - runner_up >= FUZZY_MIN_LEAD)
            .then_some(best_candidate.id)
    });

    scored.sort_by(|left, right| {
        right
            .1
            .total_cmp(&left.1)
            .then_with(|| left.2.name_norm.cmp(&right.2.name_norm))
    });
    let suggestions = scored
        .iter()
        .filter(|(_, suggestion, candidate)| {
            *suggestion >= SUGGESTION_MIN_SCORE && Some(candidate.id) != matched_id
        })
        .take(MAX_SUGGESTIONS)
        .map(|(_, suggestion, candidate)| {
            (
                candidate.id,
                candidate.name.clone(),
                round_score(*suggestion),
            )
        })
        .collect();

    FuzzyOutcome {
        matched_id,
        suggestions,
    }
}

/// Three decimals are plenty for a model to compare suggestions, and keep the output tidy.
fn round_score(score: f64) -> f64 {
    (score.clamp(0.0, 1.0) * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalization_ignores_case_accents_punctuation_and_spaces() {
        let cases = [
            ("Empresa X", "empresax"),
            ("EMPRESA  X", "empresax"),
            ("Émpresa X", "empresax"),
            ("  empresa-x. ", "empresax"),
            (
                "Panadería La Espiga de Oro S.L.",
                "panaderialaespigadeorosl",
            ),
            ("Compañía Ñandú", "companianandu"),
            // Decomposed accents (e + U+0301) fold the same as precomposed ones.
            ("Cafe\u{301} del Valle", "cafedelvalle"),
            ("!!!", ""),
            ("3M España", "3mespana"),
        ];
        for (input, expected) in cases {
            assert_eq!(normalize_name(input), expected, "input {input:?}");
        }
    }

    fn candidates(names: &[&str]) -> Vec<NameCandidate> {
        names
            .iter()
            .zip(1..)
            .map(|(name, id)| NameCandidate {
                id,
                name: (*name).to_owned(),
                name_norm: normalize_name(name),
            })
            .collect()
    }

    #[test]
    fn legal_forms_do_not_count_as_distinguishing_words() {
        let words = |text: &str| folded_words(text);
        let cases = [
            ("Fintech Pampa S.A.", vec!["fintech", "pampa"]),
            (
                "Soluciones Médicas del Norte S.A. de C.V.",
                vec!["soluciones", "medicas", "del", "norte"],
            ),
            (
                "Textiles Río de la Plata S.R.L.",
                vec!["textiles", "rio", "de", "la", "plata"],
            ),
            ("S.A.", vec!["s", "a"]),
            ("Empresa X", vec!["empresa", "x"]),
        ];
        for (name, expected) in cases {
            let all = words(name);
            assert_eq!(core_words(&all), expected.as_slice(), "name {name:?}");
        }
    }

    #[test]
    fn fuzzy_match_accepts_only_clear_winners() {
        let directory = candidates(&[
            "Empresa X",
            "Empresa Y",
            "Café del Valle Ltda.",
            "Acme",
            "Fintech Pampa S.A.",
            "Distribuidora 24",
        ]);
        // (query, expected matched id)
        let cases = [
            ("Empresa Xx", Some(1)),
            ("Emprsa Y", Some(2)),
            ("Empresa Z", None),
            ("Cafe del Vale Ltda", Some(3)),
            ("Acne", None),
            ("zzzz", None),
            ("Fintech Pampa", Some(5)),
            ("Fintek Pampa S.A.", Some(5)),
            ("Distribuidora 25", None),
            ("Distribuidra 24", Some(6)),
        ];
        for (query, expected) in cases {
            let outcome = fuzzy_match(query, &directory);
            assert_eq!(outcome.matched_id, expected, "query {query:?}: {outcome:?}");
        }
        // With its twin gone, "Empresa X" still must not become "Empresa Y".
        let without_x = candidates(&["Empresa Y", "Acme"]);
        let outcome = fuzzy_match("Empresa X", &without_x);
        assert_eq!(outcome.matched_id, None);
        assert_eq!(outcome.suggestions[0].1, "Empresa Y");
    }

    #[test]
    fn suggestions_are_sorted_capped_and_include_containment() {
        let directory = candidates(&[
            "Empresa X",
            "Empresa Y",
            "Empresa Z",
            "Empresa W",
            "Empresa V",
            "Empresa U",
            "Café del Valle Ltda.",
        ]);
        let outcome = fuzzy_match("empresa", &directory);
        assert_eq!(outcome.matched_id, None);
        assert_eq!(outcome.suggestions.len(), MAX_SUGGESTIONS);
        assert!(
            outcome
                .suggestions
                .windows(2)
                .all(|pair| pair[0].2 >= pair[1].2)
        );
        assert!(
            outcome
                .suggestions
                .iter()
                .all(|(_, name, score)| name.starts_with("Empresa") && (0.0..=1.0).contains(score))
        );

        let outcome = fuzzy_match("valle", &directory);
        assert_eq!(
            outcome.suggestions.first().map(|s| s.1.as_str()),
            Some("Café del Valle Ltda.")
        );
    }
}
