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
//! - a query phrase of several tokens (a word the tokenizer splits, such as `INV-2024-0042`) is
//!   asked of FTS5 alone: its rows are few, and a one-phrase `bm25()` is exactly that phrase's
//!   share of the sum.

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use rusqlite::Connection;

use super::derived::{self, Change, Derived, Snapshot};
use super::error::Context;
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

/// One collection's postings.
pub(super) struct Lexicon {
    /// The collection (names its FTS5 table).
    collection_id: i64,
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
    /// FTS5's tokenizer, for texts written and for queries.
    tokenizer: Mutex<Tokenizer>,
    /// Rankings answered from the postings.
    searches: AtomicU64,
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
}

impl Postings {
    /// Adds a chunk holding the token `count` times.
    fn push(&mut self, slot: u32, count: u32) {
        self.slots.push(slot);
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

    /// Bytes held, roughly.
    fn bytes(&self) -> usize {
        self.slots.capacity() * 4 + self.counts.capacity() + self.large.len() * 16
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

impl Lexicon {
    /// The best `depth` chunks for `text` by FTS5's BM25 (best first, ties to the lower pk),
    /// restricted to `allowed`, if the postings reflect `generation`; `None` when they do not
    /// (ask FTS5 then). `connection` answers multi-token phrases, in the search's snapshot.
    pub(super) fn search(
        &self,
        connection: &Connection,
        generation: i64,
        text: &str,
        allowed: Option<&HashSet<i64>>,
        depth: usize,
    ) -> Result<Option<Vec<(i64, f64)>>, StoreError> {
        if self.generation != generation {
            return Ok(None);
        }
        self.searches.fetch_add(1, Ordering::Relaxed);
        let terms = fts::any_terms(text);
        let live = self.slot_of.len();
        if terms.is_empty() || live == 0 || depth == 0 {
            return Ok(Some(Vec::new()));
        }
        let tokens = self
            .tokenizer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .query_tokens(&terms)?;
        let rows = live as f64;
        let average_length = self.live_tokens as f64 / rows;
        SCORES.with_borrow_mut(|scores| {
            if scores.len() < self.pk_of.len() {
                scores.resize(self.pk_of.len(), 0.0);
            }
            let mut touched: Vec<u32> = Vec::new();
            let outcome = self.accumulate(
                connection,
                &terms,
                &tokens,
                (live, average_length),
                scores,
                &mut touched,
            );
            let ranking = outcome.map(|()| self.best(scores, &touched, allowed, depth));
            for slot in touched {
                if let Some(score) = scores.get_mut(slot as usize) {
                    *score = 0.0;
                }
            }
            ranking.map(Some)
        })
    }

    /// Adds each query phrase's share of BM25 to the scores of the chunks holding it, phrase by
    /// phrase in the query's order (FTS5's order of summing).
    fn accumulate(
        &self,
        connection: &Connection,
        terms: &[String],
        tokens: &[Vec<Box<str>>],
        (live, average_length): (usize, f64),
        scores: &mut [f64],
        touched: &mut Vec<u32>,
    ) -> Result<(), StoreError> {
        let mut add = |slot: u32, share: f64, scores: &mut [f64]| {
            if let Some(score) = scores.get_mut(slot as usize) {
                if *score == 0.0 {
                    touched.push(slot);
                }
                *score += share;
            }
        };
        for (term, tokens) in terms.iter().zip(tokens) {
            match tokens.as_slice() {
                // Nothing FTS5 would index: the phrase matches no row.
                [] => {}
                [token] => {
                    let Some(postings) = self
                        .terms
                        .get(token)
                        .and_then(|number| self.postings.get(*number as usize))
                    else {
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
                        add(slot, share(idf, count, length, average_length), scores);
                    }
                }
                _ => {
                    let fts = schema::fts_table(self.collection_id);
                    let mut statement = connection
                        .prepare_cached(&format!(
                            "SELECT rowid, -bm25({fts}) FROM {fts} WHERE {fts} MATCH ?"
                        ))
                        .context(|| "the full-text search of a phrase failed")?;
                    let mut rows = statement
                        .query([fts::quoted(term)])
                        .context(|| "the full-text search of a phrase failed")?;
                    while let Some(row) = rows
                        .next()
                        .context(|| "the full-text search of a phrase failed")?
                    {
                        let pk: i64 = row.get(0).context(|| "a phrase's row is unreadable")?;
                        let share: f64 = row.get(1).context(|| "a phrase's row is unreadable")?;
                        if let Some(&slot) = self.slot_of.get(&pk) {
                            add(slot, share, scores);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// The best `depth` touched chunks that `allowed` admits: score descending, then pk. Kept
    /// in a heap of `depth` (the worst on top), so the chunks touched are never all sorted.
    fn best(
        &self,
        scores: &[f64],
        touched: &[u32],
        allowed: Option<&HashSet<i64>>,
        depth: usize,
    ) -> Vec<(i64, f64)> {
        let mut kept: BinaryHeap<Reverse<Ranked>> = BinaryHeap::with_capacity(depth + 1);
        for &slot in touched {
            let Some(&pk) = self.pk_of.get(slot as usize) else {
                continue;
            };
            let score = scores.get(slot as usize).copied().unwrap_or(0.0);
            let candidate = Ranked { score, pk };
            if kept.len() == depth {
                match kept.peek() {
                    Some(Reverse(worst)) if candidate > *worst => {}
                    _ => continue,
                }
            }
            if allowed.is_some_and(|allowed| !allowed.contains(&pk)) {
                continue;
            }
            kept.push(Reverse(candidate));
            if kept.len() > depth {
                kept.pop();
            }
        }
        // Ascending by `Reverse`: the best first.
        kept.into_sorted_vec()
            .into_iter()
            .map(|Reverse(ranked)| (ranked.pk, ranked.score))
            .collect()
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
            let length = self.length_of.get(slot as usize).copied().unwrap_or(0);
            self.live_tokens -= u64::from(length);
        }
    }

    /// Adds chunk `pk` with these tokens.
    fn add(&mut self, pk: i64, tokens: &[Box<str>]) -> Result<(), StoreError> {
        let slot = u32::try_from(self.pk_of.len())
            .map_err(|_| StoreError::Backend("the lexical index is full".to_owned()))?;
        let mut counts: HashMap<&str, u32> = HashMap::new();
        for token in tokens {
            *counts.entry(token).or_default() += 1;
        }
        for (token, count) in counts {
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
                postings.push(slot, count);
            }
        }
        let length = u32::try_from(tokens.len()).unwrap_or(u32::MAX);
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

impl Derived for Lexicon {
    const NAME: &'static str = "lexical index";

    fn build(connection: &Connection, snapshot: &Snapshot) -> Result<Option<Self>, StoreError> {
        let failed = || "could not read the full-text index to build the lexical index";
        let mut lexicon = Lexicon {
            collection_id: snapshot.id,
            generation: snapshot.generation,
            terms: HashMap::new(),
            postings: Vec::new(),
            pk_of: Vec::with_capacity(snapshot.chunks),
            length_of: Vec::with_capacity(snapshot.chunks),
            slot_of: HashMap::with_capacity(snapshot.chunks),
            live_tokens: 0,
            tokenizer: Mutex::new(Tokenizer::new()?),
            searches: AtomicU64::new(0),
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
            .prepare(&format!("SELECT term, doc FROM {vocabulary}"))
            .and_then(|mut statement| {
                let mut rows = statement.query([])?;
                let mut current: Option<(usize, u32, u32)> = None;
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
                    current = match current {
                        Some((at, at_slot, count)) if at == number && at_slot == slot => {
                            Some((at, at_slot, count + 1))
                        }
                        previous => {
                            if let Some((at, at_slot, count)) = previous
                                && let Some(postings) = lexicon.postings.get_mut(at)
                            {
                                postings.push(at_slot, count);
                            }
                            Some((number, slot, 1))
                        }
                    };
                }
                if let Some((at, at_slot, count)) = current
                    && let Some(postings) = lexicon.postings.get_mut(at)
                {
                    postings.push(at_slot, count);
                }
                Ok(())
            })
            .context(failed);
        let _ = connection.execute_batch(&format!("DROP TABLE IF EXISTS {vocabulary}"));
        read?;
        lexicon.live_tokens = lexicon.length_of.iter().map(|l| u64::from(*l)).sum();
        for postings in &mut lexicon.postings {
            postings.slots.shrink_to_fit();
            postings.counts.shrink_to_fit();
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
