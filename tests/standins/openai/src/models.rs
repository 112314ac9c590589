//! The models the stand-in serves, and how it counts tokens.

/// How a chat model treats sampling parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Takes `temperature`, `top_p` and `max_tokens` (gpt-4o, gpt-4.1, …).
    Classic,
    /// o-series reasoning models: `temperature`, `top_p` and `max_tokens` are refused outright.
    OSeries,
    /// gpt-5 family reasoning models: `max_tokens` is refused, `temperature` and `top_p` only take 1.
    Gpt5,
}

/// What a model is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `/v1/chat/completions`.
    Chat(Family),
    /// `/v1/embeddings` with its native dimensions and whether `dimensions` may shorten them.
    Embedding {
        /// Native vector length.
        dimensions: usize,
        /// Whether the `dimensions` parameter is accepted (text-embedding-3 models).
        shortenable: bool,
    },
    /// `/v1/moderations`.
    Moderation,
}

/// One model of `/v1/models`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Model {
    /// The id clients send.
    pub id: &'static str,
    /// What it does.
    pub kind: Kind,
    /// Creation time OpenAI reports (Unix seconds).
    pub created: u64,
    /// `system` or `openai`.
    pub owned_by: &'static str,
}

/// Reasoning tokens a reasoning model spends before its answer (counted in `completion_tokens` and against
/// `max_completion_tokens`, as OpenAI does).
pub const REASONING_TOKENS: u64 = 16;

/// Every model served.
pub const MODELS: &[Model] = &[
    Model {
        id: "gpt-4o-mini",
        kind: Kind::Chat(Family::Classic),
        created: 1_721_172_741,
        owned_by: "system",
    },
    Model {
        id: "gpt-4.1-mini",
        kind: Kind::Chat(Family::Classic),
        created: 1_744_318_173,
        owned_by: "system",
    },
    Model {
        id: "o3-mini",
        kind: Kind::Chat(Family::OSeries),
        created: 1_737_146_383,
        owned_by: "system",
    },
    Model {
        id: "o4-mini",
        kind: Kind::Chat(Family::OSeries),
        created: 1_744_225_351,
        owned_by: "system",
    },
    Model {
        id: "gpt-5-mini",
        kind: Kind::Chat(Family::Gpt5),
        created: 1_754_425_928,
        owned_by: "system",
    },
    // A reasoning model whose name says nothing, as local servers serve them (DeepSeek-R1 distills, QwQ): it
    // refuses sampling parameters like the o-series.
    Model {
        id: "local-reasoner",
        kind: Kind::Chat(Family::OSeries),
        created: 1_737_000_000,
        owned_by: "library",
    },
    Model {
        id: "text-embedding-3-small",
        kind: Kind::Embedding {
            dimensions: 1536,
            shortenable: true,
        },
        created: 1_705_948_997,
        owned_by: "system",
    },
    Model {
        id: "text-embedding-3-large",
        kind: Kind::Embedding {
            dimensions: 3072,
            shortenable: true,
        },
        created: 1_705_953_180,
        owned_by: "system",
    },
    Model {
        id: "text-embedding-ada-002",
        kind: Kind::Embedding {
            dimensions: 1536,
            shortenable: false,
        },
        created: 1_671_217_299,
        owned_by: "openai-internal",
    },
    Model {
        id: "omni-moderation-latest",
        kind: Kind::Moderation,
        created: 1_731_689_265,
        owned_by: "system",
    },
];

/// The model with this id, also for dated snapshots (`gpt-4o-mini-2024-07-18` is `gpt-4o-mini`).
pub fn find(id: &str) -> Option<&'static Model> {
    MODELS.iter().find(|model| {
        id == model.id
            || id.strip_prefix(model.id).is_some_and(|rest| {
                rest.starts_with('-') && rest[1..].chars().all(|c| c.is_ascii_digit() || c == '-')
            })
    })
}

/// The stand-in's token count: one token per whitespace-separated word (a tokenizer-free stand-in for BPE that
/// keeps usage deterministic and easy to predict in tests).
pub fn count_tokens(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

/// Tokens a message costs beyond its words (role and framing), as OpenAI's accounting adds.
pub const TOKENS_PER_MESSAGE: u64 = 4;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_are_found_by_id_and_snapshot() {
        assert_eq!(
            find("o3-mini").map(|m| m.kind),
            Some(Kind::Chat(Family::OSeries))
        );
        assert_eq!(
            find("gpt-4o-mini-2024-07-18").map(|m| m.id),
            Some("gpt-4o-mini")
        );
        assert!(find("gpt-4o-mini-turbo").is_none());
        assert!(find("gpt-9").is_none());
        assert_eq!(count_tokens("  two   words "), 2);
    }
}
