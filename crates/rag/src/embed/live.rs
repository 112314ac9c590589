//! The embedder the server uses now, which can arrive after start-up: the local model is
//! downloaded in the background while the server already answers, lexical-only, and the tools
//! switch to vectors the moment it is there, without a restart.

use std::fmt;
use std::sync::Arc;

use tokio::sync::watch;

use super::{Embedder, Resolution};

/// The embedder now (or none) and the sentence saying which, or why there is none.
#[derive(Clone)]
pub struct Current {
    /// The embedder; `None` while search is lexical-only.
    pub embedder: Option<Arc<dyn Embedder>>,
    /// What is used and where it came from, or why there is none (e.g. the model is being
    /// downloaded, with the bytes received so far) and how to provide one.
    pub note: String,
}

impl fmt::Debug for Current {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Current")
            .field("embedder", &self.embedder.as_ref().map(|e| e.id()))
            .field("note", &self.note)
            .finish()
    }
}

/// A shared, changing [`Current`]. It only ever goes from no embedder to one, never back, so a
/// reader that saw an embedder can keep using it.
#[derive(Debug)]
pub struct Embedding {
    current: watch::Sender<Current>,
}

impl Embedding {
    /// Starts with what [`super::build`] (or a background download's first note) found.
    pub fn new(resolution: Resolution) -> Arc<Embedding> {
        Arc::new(Embedding {
            current: watch::Sender::new(Current {
                embedder: resolution.embedder,
                note: resolution.note,
            }),
        })
    }

    /// The embedder and note now.
    pub fn current(&self) -> Current {
        self.current.borrow().clone()
    }

    /// The embedder now, if any.
    pub fn embedder(&self) -> Option<Arc<dyn Embedder>> {
        self.current.borrow().embedder.clone()
    }

    /// The note now.
    pub fn note(&self) -> String {
        self.current.borrow().note.clone()
    }

    /// Notified on every change (a new note, the embedder's arrival).
    pub fn subscribe(&self) -> watch::Receiver<Current> {
        self.current.subscribe()
    }

    /// Replaces the note while there is no embedder (download progress, a failure); ignored once
    /// an embedder is there, whose note must stay.
    pub fn set_note(&self, note: String) {
        self.current.send_if_modified(|current| {
            if current.embedder.is_some() || current.note == note {
                return false;
            }
            current.note = note;
            true
        });
    }

    /// The embedder has arrived: from now on every tool uses it.
    pub fn arrive(&self, embedder: Arc<dyn Embedder>, note: String) {
        self.current.send_replace(Current {
            embedder: Some(embedder),
            note,
        });
    }
}
