//! The lexical index: a collection's FTS5 postings held in memory and scored term at a time, so
//! a search touches only the chunks that hold a query term instead of having FTS5 compute
//! `bm25()` for every matching row (which took 44 ms at 100k chunks; see `derived` for when it is
//! built, kept in step and trusted).
//!
//! The ranking is FTS5's, exactly (the `lexicon_matches_fts5` test compares top-k and scores):
//!
//! - the tokens come from FTS5 itself: the postings are read from the collection's own index
//!   through an `fts5vocab` table, and new texts and query terms are tokenised by an in-memory
//!   FTS5 table with the same `unicode61 remove_diacritics 2` tokenizer, so no Unicode table of
//!   ours can disagree with SQLite's;
//! - the score is FTS5's `bm25()` (k1 1.2, b 0.75, IDF `ln((N - n + 0.5) / (n + 0.5))` floored
//!   at 1e-6, average length over the whole table), computed with the same operations in the
//!   same order, so equal to the last bit;
//! - a query phrase of several tokens (a word the tokenizer splits, such as `INV-2024-0042` or
//!   `T-cell`) is matched on the tokens' positions, which the postings keep as LEB128 gaps (they
//!   took the index from 62 to 94 MiB at 100k SciFact chunks): the chunks in every token's
//!   postings, walked from the shortest, holding the tokens at consecutive positions, counted as
//!   FTS5 counts a phrase's instances, with the phrase's own IDF. FTS5 answered phrases before,
//!   walking every row holding one and computing `bm25()` for it: that was lexical search's
//!   tail (p99 9–14 ms at 100k chunks, 3–4 ms on positions).
//!
//! Long queries do not walk every posting of every term (MaxScore pruning, which at a million
//! chunks skips most of the postings of common words):
//!
//! - each single-token term has an upper bound on its share of any chunk's score: its IDF times
//!   `k1 + 1` times the largest term-frequency factor among its postings (kept per term at the
//!   build's average length, and scaled when the average has grown since);
//! - phrases are added whole first, then the tokens from the highest bound down; before a token
//!   whose postings outnumber the chunks touched so far, once the best partial score passes the
//!   sum of the bounds of the tokens left, the k-th best partial score among the chunks `allowed`
//!   admits (a lower bound on the final k-th score, every share being positive) is compared with
//!   that sum: once it is certainly above, no chunk untouched so far can reach the top `depth`;
//! - from there the tokens left are only looked up (galloping through their ascending slots) for
//!   the candidates that still could, and a candidate is dropped as soon as its partial score
//!   plus the bounds left is certainly below the k-th best;
//! - the partial scores were summed in another order than FTS5's, so the candidates near the
//!   k-th are scored again term by term in the query's order, and ranked by those scores.
//!
//! "Certainly" means with a relative slack ([`PRUNING_SLACK`]) far wider than the few ulps a
//! different order of summing moves a score by, so the ranking is the exhaustive one, bit for
//! bit (the `pruned_search_matches_exhaustive` test compares the two).

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use rusqlite::Connection;

use super::derived::{self, Change, Derived, Snapshot};
use super::error::Context;
use super::filter::Admitted;
use super::fts;
use super::schema;
use crate::store::StoreError;

/// FTS5's `bm25()` constants (fts5_aux.c).
const K1: f64 = 1.2;
/// See [`K1`].
const B: f64 = 0.75;
/// FTS5's floor for an IDF that would be zero or negative (a term in half the rows or more).
const MIN_IDF: f64 = 1e-6;
/// Query terms remembered with their tokens, per collection, before the memory is cleared.
const MAX_REMEMBERED_TERMS: usize = 10_000;
/// Every this many listings of a token, where its positions start is kept, so finding one
/// listing's positions decodes those of at most this many before it.
const CHECKPOINT: usize = 16;
/// Relative slack on every pruning comparison: a score summed in another order than FTS5's is
/// off by a few ulps (under 1e-14 relative for 32 terms), so a chunk is set aside only when it is
/// below the k-th best by more than this.
const PRUNING_SLACK: f64 = 1e-9;

/// One collection's postings.
pub(super) struct Lexicon {
    /// The collection's `vector_generation` the postings reflect.
    generation: i64,
    /// Token → term number.
    terms: HashMap<Box<str>, u32>,
    /// Term number → its postings.
    postings: Vec<Postings>,
    /// Slot → chunk pk; 0 (never a pk) for a replaced or deleted chunk.
    pk_of: Vec<i64>,
    /// Slot → the chunk's length in tokens.
    length_of: Vec<u32>,
    /// Chunk pk → its live slot.
    slot_of: HashMap<i64, u32>,
    /// Tokens in the live chunks.
    live_tokens: u64,
    /// The slots of replaced and deleted chunks (still listed in the postings), ascending.
    tombstones: BTreeSet<u32>,
    /// The average chunk length when the index was built, against which each term's
    /// [`Postings::peak`] is kept.
    reference_length: f64,
    /// FTS5's tokenizer, for texts written and for queries.
    tokenizer: Mutex<Tokenizer>,
    /// Rankings answered from the postings.
    searches: AtomicU64,
    /// Rankings that skipped postings (see the module's doc).
    pruned: AtomicU64,
}

/// What a collection's lexical index holds, for tests, the bench and operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LexicalInfo {
    /// Chunks in the index.
    pub live: usize,
    /// Bytes it holds in memory, roughly (postings, slots and the term dictionary).
    pub bytes: usize,
    /// Lexical rankings it has answered since the store opened (the rest went to FTS5).
    pub searches: u64,
}

/// The chunks holding one token: slots ascending, each with the token's count in it.
#[derive(Default)]
struct Postings {
    /// Slots.
    slots: Vec<u32>,
    /// The count in each slot, [`u8::MAX`] meaning "look in `large`".
    counts: Vec<u8>,
    /// Counts of 255 and more, by slot (rare).
    large: HashMap<u32, u32>,
    /// The largest term-frequency factor of BM25 ([`frequency_factor`]) among the slots, at the
    /// lexicon's reference length: a chunk removed since leaves it an upper bound still.
    peak: f64,
    /// The token's positions in each listed chunk, ascending, as LEB128 gaps (the first from
    /// 0), one chunk after another: phrases are matched on them.
    positions: Vec<u8>,
    /// Where in `positions` the listings numbered by multiples of [`CHECKPOINT`] start.
    checkpoints: Vec<usize>,
}

impl Postings {
    /// Adds a chunk holding the token at these positions (ascending).
    fn push(&mut self, slot: u32, positions: &[u32]) {
        if self.slots.len().is_multiple_of(CHECKPOINT) {
            self.checkpoints.push(self.positions.len());
        }
        let mut last = 0;
        for &position in positions {
            write_gap(&mut self.positions, position.saturating_sub(last));
            last = position;
        }
        self.slots.push(slot);
        let count = u32::try_from(positions.len()).unwrap_or(u32::MAX);
        match u8::try_from(count) {
            Ok(small) if small < u8::MAX => self.counts.push(small),
            _ => {
                self.counts.push(u8::MAX);
                self.large.insert(slot, count);
            }
        }
    }

    /// The count at position `index`.
    fn count(&self, index: usize) -> u32 {
        match self.counts.get(index) {
            Some(&u8::MAX) => self
                .slots
                .get(index)
                .and_then(|slot| self.large.get(slot))
                .copied()
                .unwrap_or(u32::from(u8::MAX)),
            Some(&count) => u32::from(count),
            None => 0,
        }
    }

    /// Raises [`Postings::peak`] to cover a chunk of `length` tokens holding the token `count`
    /// times.
    fn cover(&mut self, count: u32, length: u32, reference_length: f64) {
        let factor = frequency_factor(f64::from(count), f64::from(length), reference_length);
        if factor > self.peak {
            self.peak = factor;
        }
    }

    /// Bytes held, roughly.
    fn bytes(&self) -> usize {
        self.slots.capacity() * 4
            + self.counts.capacity()
            + self.large.len() * 16
            + self.positions.capacity()
            + self.checkpoints.capacity() * 8
    }

    /// Gives back the room grown past the listings.
    fn shrink_to_fit(&mut self) {
        self.slots.shrink_to_fit();
        self.counts.shrink_to_fit();
        self.positions.shrink_to_fit();
        self.checkpoints.shrink_to_fit();
    }
}

/// Reads a token's positions listing by listing. Going forward it decodes on from the listing
/// last read (or from a later checkpoint), so walking a whole postings list decodes each gap
/// once instead of up to [`CHECKPOINT`] times; going back it starts again from a checkpoint.
struct PositionReader<'a> {
    /// The token's postings.
    postings: &'a Postings,
    /// The listing whose positions start at `at`.
    listing: usize,
    /// Where in `postings.positions` that listing's positions start.
    at: usize,
}

impl<'a> PositionReader<'a> {
    /// A reader at the first listing.
    fn new(postings: &'a Postings) -> PositionReader<'a> {
        PositionReader {
            postings,
            listing: 0,
            at: 0,
        }
    }

    /// The token's positions in the chunk listed at `index`, into `into` (cleared first).
    fn read(&mut self, index: usize, into: &mut Vec<u32>) {
        into.clear();
        let block = index / CHECKPOINT;
        if index < self.listing || block > self.listing / CHECKPOINT {
            let Some(&start) = self.postings.checkpoints.get(block) else {
                return;
            };
            self.listing = block * CHECKPOINT;
            self.at = start;
        }
        let bytes = self.postings.positions.as_slice();
        while self.listing < index {
            for _ in 0..self.postings.count(self.listing) {
                self.at += read_gap(bytes.get(self.at..).unwrap_or_default()).1;
            }
            self.listing += 1;
        }
        let mut position = 0u32;
        for _ in 0..self.postings.count(index) {
            let (gap, used) = read_gap(bytes.get(self.at..).unwrap_or_default());
            self.at += used;
            position = position.saturating_add(gap);
            into.push(position);
        }
        self.listing = index + 1;
    }
}

/// An in-memory FTS5 table with the collections' tokenizer, and the tokens of query terms seen.
struct Tokenizer {
    /// The in-memory database holding `q` and its instance vocabulary `qv`.
    connection: Connection,
    /// Query term → its tokens.
    remembered: HashMap<String, Vec<Box<str>>>,
}

impl Tokenizer {
    /// A fresh tokenizer.
    fn new() -> Result<Tokenizer, StoreError> {
        let connection =
            Connection::open_in_memory().context(|| "could not open the tokenizer database")?;
        connection
            .execute_batch(
                "CREATE VIRTUAL TABLE q USING fts5 (text, tokenize = 'unicode61 remove_diacritics 2');
                 CREATE VIRTUAL TABLE qv USING fts5vocab (q, 'instance');",
            )
            .context(|| "could not create the tokenizer table")?;
        Ok(Tokenizer {
            connection,
            remembered: HashMap::new(),
        })
    }

    /// Each text's tokens in order, as FTS5 indexes them.
    fn tokenize(&self, texts: &[&str]) -> Result<Vec<Vec<Box<str>>>, StoreError> {
        let failed = || "could not tokenise texts for the lexical index";
        let transaction = self.connection.unchecked_transaction().context(failed)?;
        {
            let mut insert = transaction
                .prepare_cached("INSERT INTO q (rowid, text) VALUES (?, ?)")
                .context(failed)?;
            for (row, text) in texts.iter().enumerate() {
                insert
                    .execute(rusqlite::params![row as i64, text])
                    .context(failed)?;
            }
        }
        let mut tokens: Vec<Vec<(i64, Box<str>)>> = vec![Vec::new(); texts.len()];
        transaction
            .prepare_cached("SELECT doc, offset, term FROM qv")
            .and_then(|mut statement| {
                let mut rows = statement.query([])?;
                while let Some(row) = rows.next()? {
                    let doc: i64 = row.get(0)?;
                    let offset: i64 = row.get(1)?;
                    let term = row.get_ref(2)?.as_str()?;
                    if let Some(list) = usize::try_from(doc).ok().and_then(|d| tokens.get_mut(d)) {
                        list.push((offset, term.into()));
                    }
                }
                Ok(())
            })
            .context(failed)?;
        transaction.execute("DELETE FROM q", []).context(failed)?;
        transaction.commit().context(failed)?;
        Ok(tokens
            .into_iter()
            .map(|mut list| {
                list.sort_by_key(|(offset, _)| *offset);
                list.into_iter().map(|(_, term)| term).collect()
            })
            .collect())
    }

    /// The tokens of each query term, remembered.
    fn query_tokens(&mut self, terms: &[String]) -> Result<Vec<Vec<Box<str>>>, StoreError> {
        let unknown: Vec<&str> = terms
            .iter()
            .filter(|term| !self.remembered.contains_key(*term))
            .map(String::as_str)
            .collect();
        if !unknown.is_empty() {
            let tokenized = self.tokenize(&unknown)?;
            if self.remembered.len() + unknown.len() > MAX_REMEMBERED_TERMS {
                self.remembered.clear();
            }
            for (term, tokens) in unknown.iter().zip(tokenized) {
                self.remembered.insert((*term).to_owned(), tokens);
            }
        }
        Ok(terms
            .iter()
            .map(|term| self.remembered.get(term).cloned().unwrap_or_default())
            .collect())
    }
}

thread_local! {
    /// Each search thread's score per slot (zero between searches), so a search allocates and
    /// clears only what it touches.
    static SCORES: RefCell<Vec<f64>> = const { RefCell::new(Vec::new()) };
}

/// A query's terms resolved against the postings, in the query's order.
struct Query<'a> {
    /// Each term, in the query's order (FTS5's order of summing).
    terms: Vec<Resolved<'a>>,
    /// The average chunk length BM25 uses.
    average_length: f64,
}

/// One query term, as the postings answer it.
enum Resolved<'a> {
    /// No live chunk holds it (no token, or a token no live chunk holds).
    Nowhere,
    /// A single token.
    Token(Token<'a>),
    /// Several tokens, asked of FTS5: each live chunk holding the phrase and its share, by slot
    /// ascending.
    Phrase(Vec<(u32, f64)>),
}

/// A single-token query term.
struct Token<'a> {
    /// Its postings.
    postings: &'a Postings,
    /// FTS5's IDF for it.
    idf: f64,
    /// At least the largest share of the score it gives any chunk.
    bound: f64,
}

/// What a ranking keeps: `depth` chunks that `allowed` admits.
#[derive(Clone, Copy)]
struct Wanted<'a> {
    /// The chunks admitted; `None` for all.
    allowed: Option<&'a Admitted>,
    /// How many.
    depth: usize,
}

impl Lexicon {
    /// The best `depth` chunks for `text` by FTS5's BM25 (best first, ties to the lower pk),
    /// restricted to `allowed`, if the postings reflect `generation`; `None` when they do not
    /// (ask FTS5 then).
    pub(super) fn search(
        &self,
        generation: i64,
        text: &str,
        allowed: Option<&Admitted>,
        depth: usize,
    ) -> Result<Option<Vec<(i64, f64)>>, StoreError> {
        if self.generation != generation {
            return Ok(None);
        }
        self.searches.fetch_add(1, Ordering::Relaxed);
        let terms = fts::any_terms(text);
        if terms.is_empty() || self.live() == 0 || depth == 0 {
            return Ok(Some(Vec::new()));
        }
        let query = self.resolve(&terms)?;
        let wanted = Wanted { allowed, depth };
        let ranking = SCORES.with_borrow_mut(|scores| {
            if scores.len() < self.pk_of.len() {
                scores.resize(self.pk_of.len(), 0.0);
            }
            let mut touched: Vec<u32> = Vec::new();
            let ranking = self.rank(&query, wanted, scores, &mut touched);
            for slot in touched {
                if let Some(score) = scores.get_mut(slot as usize) {
                    *score = 0.0;
                }
            }
            ranking
        });
        Ok(Some(ranking))
    }

    /// Each query term's postings, IDF and bound, or its rows when it is a phrase.
    fn resolve(&self, terms: &[String]) -> Result<Query<'_>, StoreError> {
        let tokens = self
            .tokenizer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .query_tokens(terms)?;
        let live = self.live();
        let average_length = self.live_tokens as f64 / live as f64;
        // The peaks were taken at the reference length; a longer average makes every chunk
        // relatively shorter, which raises the factor by at most the ratio.
        let drift = (average_length / self.reference_length).max(1.0);
        let mut resolved = Vec::with_capacity(terms.len());
        for tokens in &tokens {
            resolved.push(match tokens.as_slice() {
                [] => Resolved::Nowhere,
                [token] => match self.postings_of(token) {
                    Some(postings) => match self.holding(postings) {
                        0 => Resolved::Nowhere,
                        holding => {
                            let idf = idf(live, holding);
                            let factor = (postings.peak * drift).min(1.0);
                            Resolved::Token(Token {
                                postings,
                                idf,
                                bound: idf * (K1 + 1.0) * factor * (1.0 + PRUNING_SLACK),
                            })
                        }
                    },
                    None => Resolved::Nowhere,
                },
                phrase => {
                    let found = self.phrase_counts(phrase);
                    if found.is_empty() {
                        Resolved::Nowhere
                    } else {
                        let idf = idf(live, found.len());
                        Resolved::Phrase(
                            found
                                .into_iter()
                                .map(|(slot, count)| {
                                    let length = f64::from(self.length_of[slot as usize]);
                                    (slot, share(idf, f64::from(count), length, average_length))
                                })
                                .collect(),
                        )
                    }
                }
            });
        }
        Ok(Query {
            terms: resolved,
            average_length,
        })
    }

    /// The live chunks holding the phrase of `tokens` (at consecutive positions), each with the
    /// times it does, slots ascending: what FTS5 matches for a quoted phrase, and its instance
    /// count. The chunks are those in every token's postings, walked from the shortest.
    fn phrase_counts(&self, tokens: &[Box<str>]) -> Vec<(u32, u32)> {
        let mut lists: Vec<(u32, &Postings)> = Vec::with_capacity(tokens.len());
        for (offset, token) in tokens.iter().enumerate() {
            let Some(postings) = self.postings_of(token) else {
                return Vec::new();
            };
            lists.push((offset as u32, postings));
        }
        lists.sort_by_key(|(_, postings)| postings.slots.len());
        let Some((&(first_offset, first), others)) = lists.split_first() else {
            return Vec::new();
        };
        let mut cursors = vec![0; others.len()];
        let mut first_reader = PositionReader::new(first);
        let mut readers: Vec<PositionReader<'_>> = others
            .iter()
            .map(|(_, postings)| PositionReader::new(postings))
            .collect();
        let (mut starts, mut positions) = (Vec::new(), Vec::new());
        let mut found = Vec::new();
        'chunks: for (index, &slot) in first.slots.iter().enumerate() {
            if !self.is_live(slot) {
                continue;
            }
            for (cursor, (_, postings)) in cursors.iter_mut().zip(others) {
                *cursor = seek(&postings.slots, *cursor, slot);
                if postings.slots.get(*cursor) != Some(&slot) {
                    continue 'chunks;
                }
            }
            first_reader.read(index, &mut positions);
            starts.clear();
            starts.extend(positions.iter().filter_map(|p| p.checked_sub(first_offset)));
            for ((&cursor, reader), &(offset, _)) in cursors.iter().zip(&mut readers).zip(others) {
                reader.read(cursor, &mut positions);
                keep_followed(&mut starts, &positions, offset);
                if starts.is_empty() {
                    continue 'chunks;
                }
            }
            found.push((slot, starts.len() as u32));
        }
        found
    }

    /// The live chunks holding the phrase `term`, with its share of their score, from FTS5 (the
    /// tests' oracle for [`Lexicon::phrase_counts`]).
    #[cfg(test)]
    fn phrase_rows(
        &self,
        (connection, collection_id): (&Connection, i64),
        term: &str,
    ) -> Result<Vec<(u32, f64)>, StoreError> {
        let failed = || "the full-text search of a phrase failed";
        let fts = schema::fts_table(collection_id);
        let mut statement = connection
            .prepare_cached(&format!(
                "SELECT rowid, -bm25({fts}) FROM {fts} WHERE {fts} MATCH ?"
            ))
            .context(failed)?;
        let mut rows = statement.query([fts::quoted(term)]).context(failed)?;
        let mut found = Vec::new();
        while let Some(row) = rows.next().context(failed)? {
            let pk: i64 = row.get(0).context(|| "a phrase's row is unreadable")?;
            let share: f64 = row.get(1).context(|| "a phrase's row is unreadable")?;
            if let Some(&slot) = self.slot_of.get(&pk) {
                found.push((slot, share));
            }
        }
        Ok(found)
    }

    /// How many live chunks `postings` lists.
    fn holding(&self, postings: &Postings) -> usize {
        let listed = postings.slots.len();
        if self.tombstones.is_empty() {
            return listed;
        }
        // Look the tombstones up in the postings when that is cheaper than walking them.
        let lookups = self
            .tombstones
            .len()
            .saturating_mul(listed.max(2).ilog2() as usize + 1);
        if lookups < listed {
            let mut at = 0;
            let mut dead = 0;
            for &slot in &self.tombstones {
                at = seek(&postings.slots, at, slot);
                if postings.slots.get(at) == Some(&slot) {
                    dead += 1;
                }
            }
            listed - dead
        } else {
            postings
                .slots
                .iter()
                .filter(|slot| self.is_live(**slot))
                .count()
        }
    }

    /// The ranking, pruned (see the module's doc): phrases whole, then tokens from the highest
    /// bound down until the tokens left cannot bring in a new chunk, then those only for the
    /// candidates left; the best candidates scored again in the query's order.
    fn rank(
        &self,
        query: &Query<'_>,
        wanted: Wanted<'_>,
        scores: &mut [f64],
        touched: &mut Vec<u32>,
    ) -> Vec<(i64, f64)> {
        // The best partial score so far, which the k-th best cannot pass.
        let mut highest = 0.0_f64;
        for term in &query.terms {
            if let Resolved::Phrase(rows) = term {
                for &(slot, share) in rows {
                    highest = highest.max(add_share(slot, share, scores, touched));
                }
            }
        }
        let mut tokens: Vec<&Token<'_>> = query
            .terms
            .iter()
            .filter_map(|term| match term {
                Resolved::Token(token) => Some(token),
                _ => None,
            })
            .collect();
        tokens.sort_by(|a, b| b.bound.total_cmp(&a.bound));
        // `left[i]`: the most the tokens from the i-th on can add to a chunk's score.
        let mut left = vec![0.0; tokens.len() + 1];
        for index in (0..tokens.len()).rev() {
            left[index] = left[index + 1] + tokens[index].bound;
        }
        let mut narrowed = None;
        for (index, token) in tokens.iter().enumerate() {
            // Finding the k-th best costs a pass over the chunks touched: worth it only before
            // a token with more postings than that, and when even the best could pass.
            if certainly_below(left[index], highest)
                && touched.len() <= token.postings.slots.len()
                && let Some(threshold) = self.kth_best(scores, touched, wanted)
                && certainly_below(left[index], threshold)
            {
                let candidates = self.narrow(
                    query,
                    (&tokens[index..], &left[index..]),
                    threshold,
                    wanted,
                    scores,
                    touched,
                );
                narrowed = Some(candidates);
                break;
            }
            highest = highest.max(self.add_postings(token, query.average_length, scores, touched));
        }
        if narrowed.is_some() {
            self.pruned.fetch_add(1, Ordering::Relaxed);
        }
        let pool = narrowed.as_deref().unwrap_or(touched);
        self.best_exact(query, pool, wanted, scores)
    }

    /// Adds a token's share to every live chunk holding it; answers the highest score it made.
    fn add_postings(
        &self,
        token: &Token<'_>,
        average_length: f64,
        scores: &mut [f64],
        touched: &mut Vec<u32>,
    ) -> f64 {
        let all_live = self.tombstones.is_empty();
        let mut highest = 0.0_f64;
        for (index, &slot) in token.postings.slots.iter().enumerate() {
            if !all_live && !self.is_live(slot) {
                continue;
            }
            let count = f64::from(token.postings.count(index));
            let length = f64::from(self.length_of[slot as usize]);
            let score = add_share(
                slot,
                share(token.idf, count, length, average_length),
                scores,
                touched,
            );
            highest = highest.max(score);
        }
        highest
    }

    /// The touched chunks that can still reach the top `depth` once `tokens` (with `left`, the
    /// most each suffix of them can add) are added, given a k-th best partial score of
    /// `threshold`: slots ascending, each token looked up for them only, the hopeless dropped
    /// as the k-th best rises. Stops early when no more than `depth` are left.
    fn narrow(
        &self,
        query: &Query<'_>,
        (tokens, left): (&[&Token<'_>], &[f64]),
        threshold: f64,
        wanted: Wanted<'_>,
        scores: &mut [f64],
        touched: &[u32],
    ) -> Vec<u32> {
        let score = |scores: &[f64], slot: u32| scores.get(slot as usize).copied().unwrap_or(0.0);
        let mut candidates: Vec<u32> = touched
            .iter()
            .copied()
            .filter(|&slot| !certainly_below(score(scores, slot) + left[0], threshold))
            .filter(|&slot| self.admits(slot, wanted.allowed))
            .collect();
        candidates.sort_unstable();
        let admitted = Wanted {
            allowed: None,
            depth: wanted.depth,
        };
        for (index, token) in tokens.iter().enumerate() {
            if candidates.len() <= wanted.depth {
                break;
            }
            let mut at = 0;
            for &slot in &candidates {
                at = seek(&token.postings.slots, at, slot);
                if token.postings.slots.get(at) == Some(&slot) {
                    let count = f64::from(token.postings.count(at));
                    let length = f64::from(self.length_of[slot as usize]);
                    let share = share(token.idf, count, length, query.average_length);
                    if let Some(score) = scores.get_mut(slot as usize) {
                        *score += share;
                    }
                }
            }
            let Some(threshold) = self.kth_best(scores, &candidates, admitted) else {
                break;
            };
            let after = left[index + 1];
            candidates.retain(|&slot| !certainly_below(score(scores, slot) + after, threshold));
        }
        candidates
    }

    /// The best `depth` of `pool` that `allowed` admits, by their exact scores: those whose
    /// partial score is near the k-th best or above, scored again in the query's order.
    fn best_exact(
        &self,
        query: &Query<'_>,
        pool: &[u32],
        wanted: Wanted<'_>,
        scores: &[f64],
    ) -> Vec<(i64, f64)> {
        let threshold = self.kth_best(scores, pool, wanted);
        let mut ranked: Vec<Ranked> = pool
            .iter()
            .filter(|&&slot| {
                threshold.is_none_or(|threshold| {
                    !certainly_below(scores.get(slot as usize).copied().unwrap_or(0.0), threshold)
                })
            })
            .filter(|&&slot| self.admits(slot, wanted.allowed))
            .filter_map(|&slot| {
                let pk = *self.pk_of.get(slot as usize)?;
                Some(Ranked {
                    score: self.exact_score(query, slot),
                    pk,
                })
            })
            .collect();
        ranked.sort_unstable_by(|a, b| b.cmp(a));
        ranked.truncate(wanted.depth);
        ranked
            .into_iter()
            .map(|ranked| (ranked.pk, ranked.score))
            .collect()
    }

    /// Chunk `slot`'s score, summed as FTS5 sums it: each term's share in the query's order.
    fn exact_score(&self, query: &Query<'_>, slot: u32) -> f64 {
        let mut score = 0.0;
        for term in &query.terms {
            match term {
                Resolved::Nowhere => {}
                Resolved::Token(token) => {
                    if let Ok(index) = token.postings.slots.binary_search(&slot) {
                        let count = f64::from(token.postings.count(index));
                        let length = f64::from(self.length_of[slot as usize]);
                        score += share(token.idf, count, length, query.average_length);
                    }
                }
                Resolved::Phrase(rows) => {
                    if let Ok(index) = rows.binary_search_by_key(&slot, |(slot, _)| *slot) {
                        score += rows[index].1;
                    }
                }
            }
        }
        score
    }

    /// The `depth`-th best score among `slots` that `allowed` admits; `None` when fewer are.
    fn kth_best(&self, scores: &[f64], slots: &[u32], wanted: Wanted<'_>) -> Option<f64> {
        let kept = self.top(scores, slots, wanted);
        match kept.peek() {
            Some(Reverse(worst)) if kept.len() == wanted.depth => Some(worst.score),
            _ => None,
        }
    }

    /// The best `depth` of `slots` that `allowed` admits: score descending, then pk. Kept in a
    /// heap of `depth` (the worst on top), so the slots are never all sorted.
    fn top(
        &self,
        scores: &[f64],
        slots: &[u32],
        wanted: Wanted<'_>,
    ) -> BinaryHeap<Reverse<Ranked>> {
        let mut kept: BinaryHeap<Reverse<Ranked>> = BinaryHeap::with_capacity(wanted.depth + 1);
        for &slot in slots {
            let Some(&pk) = self.pk_of.get(slot as usize) else {
                continue;
            };
            let score = scores.get(slot as usize).copied().unwrap_or(0.0);
            let candidate = Ranked { score, pk };
            if kept.len() == wanted.depth {
                match kept.peek() {
                    Some(Reverse(worst)) if candidate > *worst => {}
                    _ => continue,
                }
            }
            if wanted.allowed.is_some_and(|allowed| !allowed.contains(&pk)) {
                continue;
            }
            kept.push(Reverse(candidate));
            if kept.len() > wanted.depth {
                kept.pop();
            }
        }
        kept
    }

    /// Whether `allowed` admits the chunk in `slot`.
    fn admits(&self, slot: u32, allowed: Option<&Admitted>) -> bool {
        allowed.is_none_or(|allowed| {
            self.pk_of
                .get(slot as usize)
                .is_some_and(|pk| allowed.contains(pk))
        })
    }

    /// The same ranking as [`Lexicon::search`], exhaustively: every posting of every term
    /// added in the query's order, as before pruning, and phrases asked of FTS5 (through `fts`:
    /// a connection and the collection's id) instead of matched on positions (the tests' oracle
    /// for both).
    #[cfg(test)]
    pub(super) fn search_exhaustive(
        &self,
        fts: (&Connection, i64),
        text: &str,
        allowed: Option<&Admitted>,
        depth: usize,
    ) -> Result<Vec<(i64, f64)>, StoreError> {
        let terms = fts::any_terms(text);
        if terms.is_empty() || self.live() == 0 || depth == 0 {
            return Ok(Vec::new());
        }
        let tokens = self
            .tokenizer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .query_tokens(&terms)?;
        let live = self.live();
        let average_length = self.live_tokens as f64 / live as f64;
        let mut scores = vec![0.0; self.pk_of.len()];
        let mut touched = Vec::new();
        for (term, tokens) in terms.iter().zip(&tokens) {
            match tokens.as_slice() {
                [] => {}
                [token] => {
                    let Some(postings) = self.postings_of(token) else {
                        continue;
                    };
                    let holding = postings
                        .slots
                        .iter()
                        .filter(|slot| self.is_live(**slot))
                        .count();
                    let idf = idf(live, holding);
                    for (index, &slot) in postings.slots.iter().enumerate() {
                        if !self.is_live(slot) {
                            continue;
                        }
                        let count = f64::from(postings.count(index));
                        let length = f64::from(self.length_of[slot as usize]);
                        add_share(
                            slot,
                            share(idf, count, length, average_length),
                            &mut scores,
                            &mut touched,
                        );
                    }
                }
                _ => {
                    for (slot, share) in self.phrase_rows(fts, term)? {
                        add_share(slot, share, &mut scores, &mut touched);
                    }
                }
            }
        }
        let kept = self.top(&scores, &touched, Wanted { allowed, depth });
        Ok(kept
            .into_sorted_vec()
            .into_iter()
            .map(|Reverse(ranked)| (ranked.pk, ranked.score))
            .collect())
    }

    /// Rankings that skipped postings since the store opened.
    #[cfg(test)]
    pub(super) fn pruned_searches(&self) -> u64 {
        self.pruned.load(Ordering::Relaxed)
    }

    /// The postings of `token`, if any chunk ever held it.
    fn postings_of(&self, token: &str) -> Option<&Postings> {
        self.terms
            .get(token)
            .and_then(|number| self.postings.get(*number as usize))
    }

    /// Whether `slot` holds a live chunk.
    fn is_live(&self, slot: u32) -> bool {
        self.pk_of.get(slot as usize).is_some_and(|pk| *pk != 0)
    }

    /// Live chunks.
    fn live(&self) -> usize {
        self.slot_of.len()
    }

    /// What the index holds.
    pub(super) fn info(&self) -> LexicalInfo {
        let postings: usize = self.postings.iter().map(Postings::bytes).sum();
        let terms: usize = self.terms.keys().map(|term| term.len() + 24).sum();
        LexicalInfo {
            live: self.live(),
            bytes: postings + terms + self.pk_of.capacity() * 12 + self.slot_of.capacity() * 16,
            searches: self.searches.load(Ordering::Relaxed),
        }
    }

    /// Makes chunk `pk`'s slot a tombstone.
    fn remove(&mut self, pk: i64) {
        if let Some(slot) = self.slot_of.remove(&pk) {
            if let Some(entry) = self.pk_of.get_mut(slot as usize) {
                *entry = 0;
            }
            self.tombstones.insert(slot);
            let length = self.length_of.get(slot as usize).copied().unwrap_or(0);
            self.live_tokens -= u64::from(length);
        }
    }

    /// Adds chunk `pk` with these tokens.
    fn add(&mut self, pk: i64, tokens: &[Box<str>]) -> Result<(), StoreError> {
        let slot = u32::try_from(self.pk_of.len())
            .map_err(|_| StoreError::Backend("the lexical index is full".to_owned()))?;
        let length = u32::try_from(tokens.len()).unwrap_or(u32::MAX);
        let mut positions: HashMap<&str, Vec<u32>> = HashMap::new();
        for (position, token) in tokens.iter().enumerate() {
            let position = u32::try_from(position).unwrap_or(u32::MAX);
            positions.entry(token).or_default().push(position);
        }
        for (token, positions) in positions {
            let number = match self.terms.get(token) {
                Some(number) => *number as usize,
                None => {
                    let number = self.postings.len();
                    self.terms.insert(token.into(), number as u32);
                    self.postings.push(Postings::default());
                    number
                }
            };
            if let Some(postings) = self.postings.get_mut(number) {
                postings.push(slot, &positions);
                let count = u32::try_from(positions.len()).unwrap_or(u32::MAX);
                postings.cover(count, length, self.reference_length);
            }
        }
        self.pk_of.push(pk);
        self.length_of.push(length);
        self.slot_of.insert(pk, slot);
        self.live_tokens += u64::from(length);
        Ok(())
    }
}

/// A chunk's score, ordered as FTS5's `ORDER BY bm25(), pk` ranks: a higher score is better,
/// and between equal scores the lower pk.
#[derive(Debug, Clone, Copy)]
struct Ranked {
    /// BM25, positive.
    score: f64,
    /// The chunk.
    pk: i64,
}

impl Ord for Ranked {
    fn cmp(&self, other: &Ranked) -> std::cmp::Ordering {
        self.score
            .total_cmp(&other.score)
            .then(other.pk.cmp(&self.pk))
    }
}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Ranked) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Ranked) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Ranked {}

/// FTS5's IDF of a phrase held by `holding` of `rows` rows.
fn idf(rows: usize, holding: usize) -> f64 {
    let idf = (((rows as i64 - holding as i64) as f64 + 0.5) / (holding as f64 + 0.5)).ln();
    if idf <= 0.0 { MIN_IDF } else { idf }
}

/// One phrase's share of FTS5's BM25 for a row of `length` tokens holding it `count` times, with
/// fts5_aux.c's operations in its order.
fn share(idf: f64, count: f64, length: f64, average_length: f64) -> f64 {
    idf * ((count * (K1 + 1.0)) / (count + K1 * (1.0 - B + B * length / average_length)))
}

/// BM25's term-frequency factor, below 1: [`share`] is `idf * (k1 + 1)` times it. It grows with
/// `count` and shrinks as `length` grows against `average_length`.
fn frequency_factor(count: f64, length: f64, average_length: f64) -> f64 {
    count / (count + K1 * (1.0 - B + B * length / average_length))
}

/// Whether `value` is below `threshold` by more than [`PRUNING_SLACK`] (both positive).
fn certainly_below(value: f64, threshold: f64) -> bool {
    value * (1.0 + PRUNING_SLACK) < threshold * (1.0 - PRUNING_SLACK)
}

/// Adds `share` to the score of `slot`, noting the slot when it is touched for the first time;
/// answers the new score.
fn add_share(slot: u32, share: f64, scores: &mut [f64], touched: &mut Vec<u32>) -> f64 {
    match scores.get_mut(slot as usize) {
        Some(score) => {
            if *score == 0.0 {
                touched.push(slot);
            }
            *score += share;
            *score
        }
        None => 0.0,
    }
}

/// The first position at or after `from` in `slots` (ascending) holding `slot` or a later one:
/// galloping, so looking up ascending slots costs the log of the gaps between them.
fn seek(slots: &[u32], from: usize, slot: u32) -> usize {
    let (mut low, mut high, mut stride) = (from, from, 1);
    // Everything before `low` is below `slot`; `high` is past the end or at `slot` or above.
    while let Some(&at) = slots.get(high) {
        if at >= slot {
            break;
        }
        low = high + 1;
        high += stride;
        stride *= 2;
    }
    let high = high.min(slots.len());
    low + slots
        .get(low..high)
        .map_or(0, |between| between.partition_point(|&at| at < slot))
}

/// Appends `gap` as LEB128: seven bits a byte, low bits first, the high bit set on all but the
/// last byte.
fn write_gap(bytes: &mut Vec<u8>, mut gap: u32) {
    while gap >= 0x80 {
        bytes.push((gap & 0x7f) as u8 | 0x80);
        gap >>= 7;
    }
    bytes.push(gap as u8);
}

/// The LEB128 number at the start of `bytes`, and how many bytes it took.
fn read_gap(bytes: &[u8]) -> (u32, usize) {
    let mut gap = 0u32;
    for (used, &byte) in bytes.iter().enumerate().take(5) {
        gap |= u32::from(byte & 0x7f) << (7 * used);
        if byte & 0x80 == 0 {
            return (gap, used + 1);
        }
    }
    (gap, bytes.len().min(5))
}

/// Keeps the phrase starts that have `positions` (ascending) `offset` tokens after them.
fn keep_followed(starts: &mut Vec<u32>, positions: &[u32], offset: u32) {
    let mut at = 0;
    starts.retain(|&start| {
        let Some(wanted) = start.checked_add(offset) else {
            return false;
        };
        while positions.get(at).is_some_and(|&position| position < wanted) {
            at += 1;
        }
        positions.get(at) == Some(&wanted)
    });
}

impl Derived for Lexicon {
    const NAME: &'static str = "lexical index";

    fn build(connection: &Connection, snapshot: &Snapshot) -> Result<Option<Self>, StoreError> {
        let failed = || "could not read the full-text index to build the lexical index";
        let mut lexicon = Lexicon {
            generation: snapshot.generation,
            terms: HashMap::new(),
            postings: Vec::new(),
            pk_of: Vec::with_capacity(snapshot.chunks),
            length_of: Vec::with_capacity(snapshot.chunks),
            slot_of: HashMap::with_capacity(snapshot.chunks),
            live_tokens: 0,
            tombstones: BTreeSet::new(),
            reference_length: 1.0,
            tokenizer: Mutex::new(Tokenizer::new()?),
            searches: AtomicU64::new(0),
            pruned: AtomicU64::new(0),
        };
        connection
            .prepare("SELECT pk FROM chunks WHERE collection_id = ? ORDER BY pk")
            .and_then(|mut statement| {
                let mut rows = statement.query([snapshot.id])?;
                while let Some(row) = rows.next()? {
                    let pk: i64 = row.get(0)?;
                    lexicon.slot_of.insert(pk, lexicon.pk_of.len() as u32);
                    lexicon.pk_of.push(pk);
                    lexicon.length_of.push(0);
                }
                Ok(())
            })
            .context(failed)?;
        // Every token of every row, term by term: the index FTS5 searches, read as it stands.
        let vocabulary = format!("temp.lexicon_{}", snapshot.id);
        connection
            .execute_batch(&format!(
                "DROP TABLE IF EXISTS {vocabulary};
                 CREATE VIRTUAL TABLE {vocabulary} USING fts5vocab (main, {}, 'instance');",
                schema::fts_table(snapshot.id)
            ))
            .context(failed)?;
        let read = connection
            .prepare(&format!("SELECT term, doc, offset FROM {vocabulary}"))
            .and_then(|mut statement| {
                let mut rows = statement.query([])?;
                // The listing being read: term number, slot, and the positions so far.
                let mut current: Option<(usize, u32)> = None;
                let mut positions: Vec<u32> = Vec::new();
                // Rows come term by term and, within a term, chunk by chunk: look each up once.
                let (mut last_pk, mut last_slot) = (0i64, None::<u32>);
                let (mut last_term, mut last_number) = (String::new(), None::<usize>);
                while let Some(row) = rows.next()? {
                    let pk: i64 = row.get(1)?;
                    if pk != last_pk || last_slot.is_none() {
                        last_pk = pk;
                        last_slot = lexicon.slot_of.get(&pk).copied();
                    }
                    let Some(slot) = last_slot else {
                        continue;
                    };
                    let term = row.get_ref(0)?.as_str()?;
                    let position = u32::try_from(row.get::<_, i64>(2)?).unwrap_or(u32::MAX);
                    if let Some(length) = lexicon.length_of.get_mut(slot as usize) {
                        *length += 1;
                    }
                    let number = match last_number {
                        Some(number) if last_term == term => number,
                        _ => {
                            let number = match lexicon.terms.get(term) {
                                Some(number) => *number as usize,
                                None => {
                                    let number = lexicon.postings.len();
                                    lexicon.terms.insert(term.into(), number as u32);
                                    lexicon.postings.push(Postings::default());
                                    number
                                }
                            };
                            last_term.clear();
                            last_term.push_str(term);
                            last_number = Some(number);
                            number
                        }
                    };
                    if current != Some((number, slot)) {
                        if let Some((at, at_slot)) = current
                            && let Some(postings) = lexicon.postings.get_mut(at)
                        {
                            positions.sort_unstable();
                            postings.push(at_slot, &positions);
                        }
                        positions.clear();
                        current = Some((number, slot));
                    }
                    positions.push(position);
                }
                if let Some((at, at_slot)) = current
                    && let Some(postings) = lexicon.postings.get_mut(at)
                {
                    positions.sort_unstable();
                    postings.push(at_slot, &positions);
                }
                Ok(())
            })
            .context(failed);
        let _ = connection.execute_batch(&format!("DROP TABLE IF EXISTS {vocabulary}"));
        read?;
        lexicon.live_tokens = lexicon.length_of.iter().map(|l| u64::from(*l)).sum();
        if lexicon.live_tokens > 0 {
            lexicon.reference_length = lexicon.live_tokens as f64 / lexicon.live() as f64;
        }
        // The lengths are known only now that every row is read.
        for postings in &mut lexicon.postings {
            postings.shrink_to_fit();
            for index in 0..postings.slots.len() {
                let slot = postings.slots[index] as usize;
                let length = lexicon.length_of.get(slot).copied().unwrap_or(0);
                postings.cover(postings.count(index), length, lexicon.reference_length);
            }
        }
        Ok(Some(lexicon))
    }

    fn generation(&self) -> i64 {
        self.generation
    }

    fn apply(&mut self, change: &Change) -> Result<bool, StoreError> {
        for pk in &change.deleted {
            self.remove(*pk);
        }
        if !change.texts.is_empty() {
            let texts: Vec<&str> = change.texts.iter().map(|(_, text)| text.as_str()).collect();
            let tokens = self
                .tokenizer
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .tokenize(&texts)?;
            for ((pk, _), tokens) in change.texts.iter().zip(tokens) {
                self.remove(*pk);
                self.add(*pk, &tokens)?;
            }
        }
        self.generation = change.generations.1;
        Ok(self.pk_of.len() - self.live() > self.live())
    }
}

/// The lexical indexes of a store's collections.
pub(super) type Lexicons = derived::Registry<Lexicon>;

#[cfg(test)]
mod tests {
    use super::{CHECKPOINT, PositionReader, Postings, keep_followed};

    #[test]
    fn positions_come_back_from_any_listing() {
        let mut postings = Postings::default();
        // Counts of 1 to 300 (past u8's room) and positions needing one to four bytes.
        let listings: Vec<Vec<u32>> = (0..5 * CHECKPOINT as u32)
            .map(|listing| {
                let count = 1 + (listing * 37) % 300;
                (0..count)
                    .map(|i| i * (1 + listing * listing * 11) + listing % 3)
                    .collect()
            })
            .collect();
        for (slot, positions) in listings.iter().enumerate() {
            postings.push(slot as u32 * 2, positions);
        }
        assert!(listings.iter().flatten().any(|&p| p >= 1 << 21));
        let mut found = Vec::new();
        // Backwards (a restart from a checkpoint each time), forwards one by one, and forwards
        // by strides that cross checkpoints or stay within a block.
        let mut orders: Vec<Vec<usize>> = vec![
            (0..listings.len()).rev().collect(),
            (0..listings.len()).collect(),
        ];
        for stride in [3, CHECKPOINT + 1, 2 * CHECKPOINT - 1] {
            orders.push((0..listings.len()).step_by(stride).collect());
        }
        for order in orders {
            let mut reader = PositionReader::new(&postings);
            for index in order {
                reader.read(index, &mut found);
                assert_eq!(found, listings[index], "listing {index}");
                assert_eq!(postings.count(index) as usize, listings[index].len());
            }
        }
    }

    #[test]
    fn phrase_starts_need_every_follower() {
        let mut starts = vec![0, 3, 4, 9];
        keep_followed(&mut starts, &[1, 5, 6, 10], 1);
        assert_eq!(starts, [0, 4, 9]);
        keep_followed(&mut starts, &[2, 11], 2);
        assert_eq!(starts, [0, 9]);
        keep_followed(&mut starts, &[], 3);
        assert!(starts.is_empty());
    }
}
