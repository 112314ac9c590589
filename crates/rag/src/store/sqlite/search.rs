//! Ranked search: BM25 from FTS5, cosine from sqlite-vec, and their fusion (a weighted sum of
//! normalised scores).

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, params_from_iter};

use super::Derivations;
use super::ann;
use super::derived;
use super::error::Context;
use super::filter::{self, Admitted, SqlFilter};
use super::fts;
use super::lexicon::Lexicon;
use super::ops::{self, CHUNK_COLUMNS, CollectionRow};
use super::schema;
use crate::model::{Hit, SearchMode, SearchRequest};
use crate::store::StoreError;

/// The weight of the lexical ranking in hybrid fusion; the dense ranking weighs the rest.
/// Equal weights: on SciFact's 809 training queries this is the best of 0.3 to 0.7 (nDCG@10
/// 0.721, within 0.003 of it from 0.45 to 0.55), and its 300 test queries agree.
const LEXICAL_WEIGHT: f64 = 0.5;
/// Each ranking fused in hybrid mode is this many times deeper than k…
const HYBRID_DEPTH_FACTOR: usize = 4;
/// …and at least this deep, so small k still fuses over enough candidates.
const HYBRID_MIN_DEPTH: usize = 50;
/// sqlite-vec answers at most this many nearest neighbours per query.
const MAX_DENSE_DEPTH: usize = 4096;

/// One ranking: chunk keys (`chunks.pk`) best first, with their scores.
type Ranking = Vec<(i64, f64)>;

/// Runs a search in the collection `name`; rankings go through the derived indexes (the HNSW
/// graph, the lexical index) where they serve, else through SQLite (always, with `None`).
pub(super) fn search(
    connection: &Connection,
    name: &str,
    request: &SearchRequest,
    derivations: Option<&Derivations<'_>>,
) -> Result<Vec<Hit>, StoreError> {
    let collection = ops::collection_row(connection, name)?;
    let condition = filter::to_sql(request.filter.as_ref(), collection.id)?;
    let mode = effective_mode(name, &collection, request)?;
    if request.k == 0 {
        return Ok(Vec::new());
    }
    let indexes = Indexes::of(connection, &collection, &condition, derivations)?;
    let k = request.k;
    // Cosine similarity by chunk, from the dense ranking: the calibrated signal behind relevance.
    let mut similarities: HashMap<i64, f64> = HashMap::new();
    let mut hits = match mode {
        Effective::Lexical => lexical(
            connection,
            &collection,
            &request.text,
            &condition,
            k,
            &indexes,
        )?
        .into_iter()
        .enumerate()
        .map(|(rank, (pk, score))| (pk, score, Some(rank_number(rank)), None))
        .collect::<Vec<_>>(),
        Effective::Dense(vector) => dense(
            connection,
            &collection,
            vector,
            &condition,
            k.min(MAX_DENSE_DEPTH),
            &indexes,
        )?
        .into_iter()
        .inspect(|(pk, score)| {
            similarities.insert(*pk, *score);
        })
        .enumerate()
        .map(|(rank, (pk, score))| (pk, score, None, Some(rank_number(rank))))
        .collect(),
        Effective::Hybrid(vector) => {
            let depth = k.saturating_mul(HYBRID_DEPTH_FACTOR).max(HYBRID_MIN_DEPTH);
            let lexical = lexical(
                connection,
                &collection,
                &request.text,
                &condition,
                depth,
                &indexes,
            )?;
            let dense = dense(
                connection,
                &collection,
                vector,
                &condition,
                depth.min(MAX_DENSE_DEPTH),
                &indexes,
            )?;
            similarities.extend(dense.iter().copied());
            fuse(&lexical, &dense, depth)
        }
    };
    hits.truncate(k);
    if let Some(threshold) = request.score_threshold {
        // Each ranking is sorted by its own score, so this keeps a prefix.
        hits.retain(|(_, score, _, _)| *score >= threshold);
    }
    let mut load = connection
        .prepare_cached(&format!(
            "SELECT {CHUNK_COLUMNS} FROM chunks AS c WHERE c.pk = ?"
        ))
        .context(|| format!("could not read the hits in collection `{name}`"))?;
    hits.into_iter()
        .map(|(pk, score, lexical_rank, dense_rank)| {
            let chunk = load
                .query_row([pk], ops::chunk_from_row)
                .context(|| format!("could not read a hit in collection `{name}`"))?;
            Ok(Hit {
                chunk,
                score,
                lexical_rank,
                dense_rank,
                similarity: similarities.get(&pk).copied(),
            })
        })
        .collect()
}

/// The ranking actually run.
enum Effective<'a> {
    /// BM25 only.
    Lexical,
    /// Cosine only, with this query vector.
    Dense(&'a [f32]),
    /// Both, fused.
    Hybrid(&'a [f32]),
}

/// Decides how to rank, refusing requests that cannot be served.
fn effective_mode<'a>(
    name: &str,
    collection: &CollectionRow,
    request: &'a SearchRequest,
) -> Result<Effective<'a>, StoreError> {
    let embedder = match (request.mode, &collection.embedder) {
        (SearchMode::Lexical, _) => return Ok(Effective::Lexical),
        // Without vectors, BM25 is all there is to fuse.
        (SearchMode::Hybrid, None) => return Ok(Effective::Lexical),
        (SearchMode::Dense, None) => {
            return Err(StoreError::Invalid(format!(
                "collection `{name}` is lexical-only (it was created without an embedder), so it \
                 has no vectors to search; use mode `lexical` (or `hybrid`, which falls back to \
                 lexical here)"
            )));
        }
        (SearchMode::Dense | SearchMode::Hybrid, Some(embedder)) => embedder,
    };
    let Some(vector) = request.vector.as_deref() else {
        return Err(StoreError::Invalid(format!(
            "a {} search of collection `{name}` needs a query vector; embed the query, or use \
             mode `lexical`",
            mode_name(request.mode)
        )));
    };
    ops::check_vector(name, embedder.dimension, vector)
        .map_err(|problem| StoreError::Invalid(format!("the query vector {problem}")))?;
    Ok(match request.mode {
        SearchMode::Dense => Effective::Dense(vector),
        _ => Effective::Hybrid(vector),
    })
}

/// The mode as the tools spell it.
fn mode_name(mode: SearchMode) -> &'static str {
    match mode {
        SearchMode::Hybrid => "hybrid",
        SearchMode::Dense => "dense",
        SearchMode::Lexical => "lexical",
    }
}

/// The derived indexes of the searched collection, and the chunks its filter lets through
/// (read once, for both rankings) when one of them serves.
struct Indexes {
    /// The HNSW graph.
    graph: Option<ann::Shared>,
    /// The lexical index.
    lexicon: Option<Arc<RwLock<Lexicon>>>,
    /// The chunks the filter admits; `None` without a filter or without derived indexes.
    allowed: Option<Admitted>,
}

impl Indexes {
    /// Those of `collection` in `derivations`.
    fn of(
        connection: &Connection,
        collection: &CollectionRow,
        condition: &SqlFilter,
        derivations: Option<&Derivations<'_>>,
    ) -> Result<Indexes, StoreError> {
        let graph = derivations.and_then(|derived| derived.graphs.get(collection.id));
        let lexicon = derivations.and_then(|derived| derived.lexicons.get(collection.id));
        let allowed = if condition.is_empty() || (graph.is_none() && lexicon.is_none()) {
            None
        } else {
            Some(
                filter::matching_pks(connection, condition)
                    .context(|| "the filter could not be applied")?,
            )
        };
        Ok(Indexes {
            graph,
            lexicon,
            allowed,
        })
    }
}

/// The best `depth` chunks by BM25, reported positive (FTS5's `bm25()` is lower-is-better):
/// from the lexical index when it reflects this read's snapshot, else from FTS5.
fn lexical(
    connection: &Connection,
    collection: &CollectionRow,
    text: &str,
    condition: &SqlFilter,
    depth: usize,
    indexes: &Indexes,
) -> Result<Ranking, StoreError> {
    if let Some(lexicon) = &indexes.lexicon
        && let Some(found) = derived::read(lexicon).search(
            collection.generation,
            text,
            indexes.allowed.as_ref(),
            depth,
        )?
    {
        return Ok(found);
    }
    let Some(query) = fts::any_term_query(text) else {
        return Ok(Vec::new());
    };
    let fts = schema::fts_table(collection.id);
    let sql = format!(
        "SELECT c.pk, -bm25({fts}) FROM {fts} JOIN chunks AS c ON c.pk = {fts}.rowid
         WHERE {fts} MATCH ?{} ORDER BY bm25({fts}), c.pk LIMIT ?",
        condition.restricting("c.pk")
    );
    let mut values = Vec::with_capacity(condition.params.len() + 2);
    values.push(SqlValue::Text(query));
    values.extend(condition.params.iter().cloned());
    values.push(SqlValue::Integer(sql_limit(depth)));
    connection
        .prepare_cached(&sql)
        .and_then(|mut statement| {
            statement
                .query_map(params_from_iter(values), |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })?
                .collect()
        })
        .context(|| "the full-text search failed")
}

/// The `depth` nearest chunks by cosine, as similarity (1 - cosine distance): from the HNSW
/// graph when the collection has one that reflects this read's snapshot and it finds as many as
/// exist, else by the exact scan.
fn dense(
    connection: &Connection,
    collection: &CollectionRow,
    vector: &[f32],
    condition: &SqlFilter,
    depth: usize,
    indexes: &Indexes,
) -> Result<Ranking, StoreError> {
    if let Some(graph) = &indexes.graph {
        let graph = derived::read(graph);
        let allowed = indexes.allowed.as_ref();
        // A selective filter leaves few chunks: comparing the query with each of them is
        // cheap, while the graph would wander through many non-matching nodes to find k
        // matching ones.
        if let Some(allowed) = allowed
            && allowed.len().saturating_mul(SELECTIVE_SHARE) < graph.live()
        {
            if let Some(found) = graph.nearest_among(collection.generation, vector, depth, allowed)
            {
                return Ok(found);
            }
            drop(graph);
            return exact(connection, collection, vector, condition, depth);
        }
        let exist = allowed.map_or(graph.live(), HashSet::len);
        if let Some(found) = graph.search(collection.generation, vector, depth, allowed)
            // Never fewer than asked when that many exist: the scan makes up for a short answer.
            && found.len() >= depth.min(exist)
        {
            return Ok(found);
        }
    }
    exact(connection, collection, vector, condition, depth)
}

/// A filter letting through fewer than one chunk in this many is answered by comparing the
/// query with each chunk it admits.
///
/// Measured with the bench's filtered part (100k chunks, k 10, 100 queries, p50, idle machine,
/// 2026-12-07): comparing took 1.0 ms at 1% admitted, 4.2-4.5 at 5%, 7.5-8.9 at 10% and 24.6 at
/// 25% (about 0.9 µs a chunk, growing with the share), against hnsw_rs's filtered search at
/// 25.6 ms for 10% and 16.1-16.5 for 25%; the two cross near a sixth. Both grow with the
/// collection (the graph's candidate list does, see `ann::ef_search`), so the share is kept.
const SELECTIVE_SHARE: usize = 6;

/// The `depth` nearest chunks by sqlite-vec's exact scan.
///
/// A filter becomes `rowid IN (matching chunks)`, which sqlite-vec applies while it scans (it
/// skips vectors outside the set before ranking), so the k nearest *matching* chunks come back
/// whenever k of them exist, however selective the filter.
fn exact(
    connection: &Connection,
    collection: &CollectionRow,
    vector: &[f32],
    condition: &SqlFilter,
    depth: usize,
) -> Result<Ranking, StoreError> {
    let vec = schema::vec_table(collection.id);
    let mut values = vec![
        SqlValue::Blob(ops::vector_blob(vector)),
        SqlValue::Integer(sql_limit(depth)),
    ];
    values.extend(condition.params.iter().cloned());
    let restriction = condition.restricting("v.rowid");
    let sql = format!(
        "SELECT v.rowid, 1.0 - v.distance FROM {vec} AS v
         WHERE v.embedding MATCH ? AND v.k = ?{restriction}
         ORDER BY v.distance"
    );
    connection
        .prepare_cached(&sql)
        .and_then(|mut statement| {
            statement
                .query_map(params_from_iter(values), |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })?
                .collect()
        })
        .context(|| "the vector search failed")
}

/// Fuses two rankings of at most `depth` hits by a convex combination of their scores, each
/// min-max normalised over its own list (its first hit 1, its last 0, and 0 for a chunk it does
/// not hold): best first, with each chunk's ranks. A lexical ranking shorter than `depth` holds
/// every chunk with a query word, so its floor is 0, the BM25 score of the chunks without any.
/// Unlike reciprocal rank fusion, a clear lead in one ranking (a far better BM25 score, a much
/// closer vector) keeps its weight instead of counting as one rank.
fn fuse(
    lexical: &Ranking,
    dense: &Ranking,
    depth: usize,
) -> Vec<(i64, f64, Option<u32>, Option<u32>)> {
    let mut fused: HashMap<i64, (f64, Option<u32>, Option<u32>)> = HashMap::new();
    let lexical_score = normaliser(lexical, (lexical.len() < depth).then_some(0.0));
    for (rank, (pk, score)) in lexical.iter().enumerate() {
        let entry = fused.entry(*pk).or_default();
        entry.0 += LEXICAL_WEIGHT * lexical_score(*score);
        entry.1 = Some(rank_number(rank));
    }
    let dense_score = normaliser(dense, None);
    for (rank, (pk, score)) in dense.iter().enumerate() {
        let entry = fused.entry(*pk).or_default();
        entry.0 += (1.0 - LEXICAL_WEIGHT) * dense_score(*score);
        entry.2 = Some(rank_number(rank));
    }
    let mut hits: Vec<_> = fused
        .into_iter()
        .map(|(pk, (score, lexical_rank, dense_rank))| (pk, score, lexical_rank, dense_rank))
        .collect();
    // Ties (equal sums) go to the better single rank, then to the older chunk, so results are
    // stable from one call to the next.
    hits.sort_by(|a, b| {
        b.1.partial_cmp(&a.1)
            .unwrap_or(Ordering::Equal)
            .then_with(|| best_rank(a).cmp(&best_rank(b)))
            .then_with(|| a.0.cmp(&b.0))
    });
    hits
}

/// Min-max normalisation over a ranking's scores (down to `floor` when that is lower): its best
/// 1, its worst 0; all of them 1 when they are equal (a single hit is the best the ranking found).
fn normaliser(ranking: &Ranking, floor: Option<f64>) -> impl Fn(f64) -> f64 {
    let (low, high) = ranking.iter().fold(
        (floor.unwrap_or(f64::INFINITY), f64::NEG_INFINITY),
        |(low, high), (_, score)| (low.min(*score), high.max(*score)),
    );
    move |score| {
        if high > low {
            (score - low) / (high - low)
        } else {
            1.0
        }
    }
}

/// The better of a fused hit's two ranks.
fn best_rank(hit: &(i64, f64, Option<u32>, Option<u32>)) -> u32 {
    hit.2.unwrap_or(u32::MAX).min(hit.3.unwrap_or(u32::MAX))
}

/// The 1-based rank of the 0-based position.
fn rank_number(rank: usize) -> u32 {
    u32::try_from(rank + 1).unwrap_or(u32::MAX)
}

/// A depth as an SQL integer.
fn sql_limit(depth: usize) -> i64 {
    i64::try_from(depth).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fusion_weighs_normalised_scores() {
        // Lexical, normalised: 1 -> 1, 2 -> 7/8, 3 -> 0; dense: 2 -> 1, 4 -> 0.96, 1 -> 0.2, 5 -> 0.
        let lexical = vec![(1, 10.0), (2, 9.0), (3, 2.0)];
        let dense = vec![(2, 0.80), (4, 0.78), (1, 0.40), (5, 0.30)];
        let fused = fuse(&lexical, &dense, 3);
        let order: Vec<i64> = fused.iter().map(|hit| hit.0).collect();
        // Chunk 2 is near the top of both; chunk 1 leads the lexical ranking but is far behind in
        // the dense one; chunk 4 is a close second in the dense one only; 3 and 5 are last in
        // theirs, 3 with the better rank.
        assert_eq!(order, [2, 1, 4, 3, 5]);
        assert!((fused[0].1 - (0.5 * 7.0 / 8.0 + 0.5)).abs() < 1e-12);
        assert!((fused[1].1 - (0.5 + 0.5 * 0.2)).abs() < 1e-9);
        assert_eq!((fused[0].2, fused[0].3), (Some(2), Some(1)));
        assert_eq!((fused[2].2, fused[2].3), (None, Some(2)));
        // A lexical ranking shorter than the depth holds every match: the floor is 0, not its last.
        let fused = fuse(&lexical, &dense, 50);
        assert!((fused[0].1 - (0.5 * 9.0 / 10.0 + 0.5)).abs() < 1e-12);
        let three = fused.iter().find(|hit| hit.0 == 3).unwrap();
        assert!((three.1 - 0.5 * 2.0 / 10.0).abs() < 1e-12);
        // A ranking of one hit counts it as its best; an empty one adds nothing.
        assert_eq!(
            fuse(&vec![(7, 3.0)], &Vec::new(), 1),
            [(7, 0.5, Some(1), None)]
        );
    }
}
