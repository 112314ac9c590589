//! Lexical-only collections gain vectors once an embedder is there: a collection written while
//! no model was available (a first start before the download finished, an offline machine) is
//! embedded in place, batch by batch, and keeps every chunk. Nothing ever has to be dropped.
//!
//! An upgrade starts when the embedder arrives (for every lexical-only collection) and when a
//! tool meets such a collection; tools wait for it up to [`WAIT`] after it started, which covers
//! memory collections, and otherwise work lexically meanwhile (writes included: the store's final
//! transaction embeds whatever was written during the upgrade too).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::embed::Embedder;
use crate::model::EmbedderId;
use crate::store::{Embedded, Store};

/// How long after an upgrade started tools wait for it before working lexically (a long upgrade
/// must not slow every call down).
pub(crate) const WAIT: Duration = Duration::from_secs(10);

/// Texts per call to the embedder: small enough that queries slip in between batches.
const BATCH: usize = 32;

/// Rounds of "embed what was written meanwhile" before giving up until the next trigger.
const MAX_ROUNDS: usize = 10;

/// How long after a failed upgrade the next trigger starts another.
const RETRY_AFTER: Duration = Duration::from_secs(60);

/// Where one collection's upgrade stands.
#[derive(Debug, Clone)]
pub(crate) enum State {
    /// Embedding: `done` of `total` chunks so far.
    Running {
        /// Chunks embedded.
        done: usize,
        /// Chunks to embed, as known so far.
        total: usize,
        /// When it started.
        since: Instant,
    },
    /// The collection has vectors now.
    Done,
    /// It failed; tried again after [`RETRY_AFTER`].
    Failed {
        /// Why.
        error: String,
        /// When.
        at: Instant,
    },
}

/// The upgrades of one server.
pub(crate) struct Upgrades {
    store: Arc<dyn Store>,
    states: Mutex<HashMap<String, watch::Receiver<State>>>,
}

impl Upgrades {
    pub(crate) fn new(store: Arc<dyn Store>) -> Arc<Upgrades> {
        Arc::new(Upgrades {
            store,
            states: Mutex::new(HashMap::new()),
        })
    }

    /// Whether lexical-only collections can be upgraded at all (the store can add vectors in
    /// place).
    pub(crate) fn supported(&self) -> bool {
        self.store.adds_vectors_in_place()
    }

    /// Starts upgrading `collection` to `embedder`, unless an upgrade is running or failed
    /// recently; the upgrade's state.
    pub(crate) fn start(
        self: &Arc<Self>,
        collection: &str,
        embedder: &Arc<dyn Embedder>,
    ) -> watch::Receiver<State> {
        let mut states = self.states.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(state) = states.get(collection) {
            let busy = match &*state.borrow() {
                State::Running { .. } => true,
                State::Failed { at, .. } => at.elapsed() < RETRY_AFTER,
                // Done, yet the caller found it lexical-only: recreated since; start again.
                State::Done => false,
            };
            if busy {
                return state.clone();
            }
        }
        let since = Instant::now();
        let (sender, receiver) = watch::channel(State::Running {
            done: 0,
            total: 0,
            since,
        });
        states.insert(collection.to_owned(), receiver.clone());
        let store = Arc::clone(&self.store);
        let name = collection.to_owned();
        let embedder = Arc::clone(embedder);
        tokio::spawn(async move {
            tracing::info!(
                collection = %name,
                embedder = %shown(embedder.id()),
                "adding vectors to a lexical-only collection, in place (nothing is deleted)"
            );
            let state = match upgrade(store.as_ref(), &name, embedder.as_ref(), &sender, since)
                .await
            {
                Ok(chunks) => {
                    tracing::info!(
                        collection = %name,
                        chunks,
                        seconds = since.elapsed().as_secs_f64(),
                        "the collection has vectors now: searched by meaning too"
                    );
                    State::Done
                }
                Err(error) => {
                    tracing::warn!(collection = %name, %error, "adding vectors to the collection failed; it stays lexical-only for now");
                    State::Failed {
                        error,
                        at: Instant::now(),
                    }
                }
            };
            sender.send_replace(state);
        });
        receiver
    }

    /// Starts `collection`'s upgrade if needed and waits for it to end, until `wait` after it
    /// started; whether it has vectors now.
    pub(crate) async fn settle(
        self: &Arc<Self>,
        collection: &str,
        embedder: &Arc<dyn Embedder>,
        wait: Duration,
    ) -> bool {
        let mut state = self.start(collection, embedder);
        let left = match &*state.borrow() {
            State::Running { since, .. } => wait.saturating_sub(since.elapsed()),
            _ => Duration::ZERO,
        };
        let ended = tokio::time::timeout(
            left,
            state.wait_for(|state| !matches!(state, State::Running { .. })),
        )
        .await;
        matches!(ended, Ok(Ok(state)) if matches!(*state, State::Done))
    }

    /// Upgrades, one after the other, every lexical-only collection of the store.
    pub(crate) async fn all(self: Arc<Self>, embedder: Arc<dyn Embedder>) {
        if !self.supported() {
            return;
        }
        let collections = match self.store.list_collections().await {
            Ok(collections) => collections,
            Err(error) => {
                tracing::warn!(%error, "could not list the collections to add vectors to the lexical-only ones; each is upgraded when first used");
                return;
            }
        };
        for collection in collections.iter().filter(|c| c.embedder.is_none()) {
            let mut state = self.start(&collection.name, &embedder);
            // One at a time: they share the embedder, and the first used is upgraded at once.
            let _ = state
                .wait_for(|state| !matches!(state, State::Running { .. }))
                .await;
        }
    }

    /// Why `collection` is lexical-only for now, for notes: the upgrade's progress or failure.
    pub(crate) fn note(&self, collection: &str, embedder: &EmbedderId) -> String {
        let states = self.states.lock().unwrap_or_else(PoisonError::into_inner);
        let now = match states.get(collection).map(|state| state.borrow().clone()) {
            Some(State::Running { done, total, .. }) if total > 0 => {
                format!("{done} of {total} chunks embedded so far")
            }
            Some(State::Failed { error, .. }) => {
                format!("the last attempt failed ({error}) and is retried on a later call")
            }
            _ => "starting".to_owned(),
        };
        format!(
            "collection `{collection}` was built without vectors (lexical-only) and is being given \
             vectors of {} in place, keeping every chunk ({now}); searched by BM25 only, and \
             written without vectors (embedded too before it switches), until that is done",
            shown(embedder)
        )
    }
}

/// Embeds everything `collection` holds and hands the vectors to the store, round after round
/// until nothing was written meanwhile; the number of chunks.
async fn upgrade(
    store: &dyn Store,
    collection: &str,
    embedder: &dyn Embedder,
    progress: &watch::Sender<State>,
    since: Instant,
) -> Result<usize, String> {
    let id = embedder.id();
    let mut vectors: Arc<Embedded> = Arc::new(HashMap::new());
    for _ in 0..MAX_ROUNDS {
        let missing = store
            .add_vectors(collection, id, Arc::clone(&vectors))
            .await
            .map_err(|e| e.to_string())?;
        // The store has let go of its handle; this is a move, not a copy.
        let mut owned = Arc::unwrap_or_clone(vectors);
        if missing.is_empty() {
            return Ok(owned.len());
        }
        let total = owned.len() + missing.len();
        for batch in missing.chunks(BATCH) {
            let texts: Vec<String> = batch.iter().map(|chunk| chunk.text.clone()).collect();
            let embedded = embedder
                .embed_documents(&texts)
                .await
                .map_err(|e| e.to_string())?;
            if embedded.len() != batch.len() {
                return Err(format!(
                    "{} vectors came back for {} texts",
                    embedded.len(),
                    batch.len()
                ));
            }
            for (chunk, vector) in batch.iter().zip(embedded) {
                owned.insert(chunk.id.clone(), (chunk.text.clone(), vector));
            }
            progress.send_replace(State::Running {
                done: owned.len().min(total),
                total,
                since,
            });
        }
        vectors = Arc::new(owned);
    }
    Err(format!(
        "the collection kept changing during {MAX_ROUNDS} rounds of embedding"
    ))
}

fn shown(embedder: &EmbedderId) -> String {
    format!(
        "{}/{} ({} dimensions)",
        embedder.provider, embedder.model, embedder.dimension
    )
}
