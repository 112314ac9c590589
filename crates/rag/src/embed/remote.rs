//! Embedding services over HTTP: any OpenAI-compatible `POST {base}/embeddings` (OpenAI, vLLM,
//! LM Studio, …) and Ollama's `POST {base}/api/embed`.
//!
//! Requests go in batches through [`mcp_common::Backend`] as `Repeat::Safe` (embedding the same
//! texts twice is harmless), so timeouts, 429s and 5xx are retried and the final error names the
//! service, the cause and what to check. Every answer is checked: one vector per text, in order,
//! all of the collection's dimension.

use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use mcp_common::api::{Explanation, client_builder, decode_json};
use mcp_common::{
    ApiClient, Backend, BackendConfig, BackendError, Failure, FailureKind, Repeat, Secret,
};
use openai_compat::wire::{EmbeddingRequest, EmbeddingResponse, error_sentence, ordered_vectors};
use serde::Deserialize;

use super::{EmbedConfig, EmbedError, Embedder, Provider, Resolution, prefixed, root_cause};
use crate::model::EmbedderId;

/// Sent once at start-up to learn the model's dimension when `RAG_EMBEDDING_DIMENSIONS` is unset.
const PROBE_TEXT: &str = "dimension probe";

/// Longest provider error message passed on; the rest is cut.
const MAX_MESSAGE_CHARS: usize = 300;

/// Cap on connecting, within the per-attempt timeout, so a dead host fails fast as "connect"
/// (which is always safe to retry) instead of eating the whole attempt.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// An OpenAI-compatible or Ollama embedding service.
pub struct RemoteEmbedder {
    wire: Wire,
    id: EmbedderId,
    /// Where the expected dimension comes from, for error messages.
    dimension_from: &'static str,
    /// The service's API, its policy and its base URL.
    api: ApiClient,
    api_key: Option<Secret>,
    batch: usize,
    /// Sent as OpenAI's `dimensions` (models such as text-embedding-3-* shorten their vectors).
    requested_dimensions: Option<usize>,
    query_prefix: String,
    document_prefix: String,
}

/// The two wire formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wire {
    OpenAi,
    Ollama,
}

#[derive(Deserialize)]
struct OllamaAnswer {
    embeddings: Vec<Vec<f32>>,
}

/// Sets up the remote embedder and learns its dimension: from `RAG_EMBEDDING_DIMENSIONS`, else
/// from one test embedding. A service that is down gives "no embedder" with a note; one that
/// refuses the request (bad key, unknown model) is a configuration error.
pub(crate) async fn connect(config: &EmbedConfig) -> Result<Resolution, EmbedError> {
    let mut embedder = RemoteEmbedder::new(config)?;
    let described = format!(
        "{} through {} at {}",
        embedder.id.model,
        embedder.wire.service(),
        embedder.api.backend().endpoint()
    );
    if let Some(dimension) = config.dimensions {
        embedder.id.dimension = dimension;
        let note = format!(
            "embedding with {described} ({dimension} dimensions, from RAG_EMBEDDING_DIMENSIONS)"
        );
        return Ok(Resolution {
            embedder: Some(std::sync::Arc::new(embedder)),
            note,
        });
    }
    // A down service should not hold start-up for the whole retry schedule: one retry covers a
    // blip, and the server can start lexical-only otherwise.
    let probe = embedder.api.with_backend(Backend::new(
        embedder.api.backend().service(),
        embedder.api.backend().endpoint(),
        embedder.wire.default_hint(),
        BackendConfig {
            max_retries: config.backend.max_retries.min(1),
            ..config.backend.clone()
        },
    ));
    let operation = format!(
        "a test embedding with {} (to learn its dimension)",
        embedder.id.model
    );
    match embedder
        .call(&probe, &operation, &[PROBE_TEXT.to_owned()])
        .await
    {
        Ok(vectors) => {
            let dimension = vectors.first().map(Vec::len).unwrap_or_default();
            embedder.id.dimension = dimension;
            embedder.dimension_from = "the length of its first answer";
            let note = format!(
                "embedding with {described} ({dimension} dimensions, learned from its first answer)"
            );
            Ok(Resolution {
                embedder: Some(std::sync::Arc::new(embedder)),
                note,
            })
        }
        Err(error)
            if error.open_for.is_none()
                && error
                    .failure
                    .as_ref()
                    .is_some_and(|f| f.kind == FailureKind::Rejected) =>
        {
            Err(EmbedError::Remote(error))
        }
        Err(error) => Ok(Resolution {
            embedder: None,
            note: format!(
                "no embedding model, so search is lexical-only (BM25): {error}. Start the service \
                 and restart this server, or set RAG_EMBEDDING_DIMENSIONS so that it starts \
                 without asking the service"
            ),
        }),
    }
}

impl RemoteEmbedder {
    fn new(config: &EmbedConfig) -> Result<Self, EmbedError> {
        let wire = match config.provider {
            Provider::Ollama => Wire::Ollama,
            Provider::OpenAi | Provider::Local => Wire::OpenAi,
        };
        let client = client_builder("rag", env!("CARGO_PKG_VERSION"))
            .connect_timeout(CONNECT_TIMEOUT.min(config.backend.timeout))
            .build()
            .map_err(|error| EmbedError::Client {
                provider: config.provider.as_str().to_owned(),
                detail: root_cause(&error),
            })?;
        let backend = Backend::new(
            wire.service(),
            without_credentials(&config.url),
            wire.default_hint(),
            config.backend.clone(),
        );
        let has_key = config.api_key.is_some();
        let model = config.model.clone();
        let api =
            ApiClient::new(client, backend, config.url.clone()).explaining(move |code, body| {
                Explanation {
                    message: provider_message(body),
                    hint: status_hint(wire, has_key, &model, code),
                }
            });
        Ok(RemoteEmbedder {
            wire,
            id: EmbedderId {
                provider: config.provider.as_str().to_owned(),
                model: config.model.clone(),
                dimension: 0,
            },
            dimension_from: "RAG_EMBEDDING_DIMENSIONS",
            api,
            api_key: config.api_key.clone(),
            batch: config.batch.max(1),
            requested_dimensions: match wire {
                Wire::OpenAi => config.dimensions,
                // Ollama's /api/embed has no portable way to shorten vectors: only checked.
                Wire::Ollama => None,
            },
            query_prefix: config.query_prefix.clone(),
            document_prefix: config.document_prefix.clone(),
        })
    }

    /// Embeds `inputs` (one request's worth) under the backend's policy.
    async fn call(
        &self,
        api: &ApiClient,
        operation: &str,
        inputs: &[String],
    ) -> Result<Vec<Vec<f32>>, BackendError> {
        // Ollama's /api/embed takes the same body as OpenAI's /embeddings.
        let body = EmbeddingRequest {
            model: self.id.model.clone(),
            input: inputs.to_vec(),
            dimensions: self
                .requested_dimensions
                .and_then(|d| u32::try_from(d).ok()),
            encoding_format: None,
        };
        let path = match self.wire {
            Wire::OpenAi => "/embeddings",
            Wire::Ollama => "/api/embed",
        };
        api.call(
            operation,
            Repeat::Safe,
            || {
                let request = api.post(path).json(&body);
                match &self.api_key {
                    Some(key) => request.bearer_auth(key.expose()),
                    None => request,
                }
            },
            |answer| self.parse(answer, inputs.len()),
        )
        .await
    }

    /// The vectors of an answer, in the order of the inputs.
    fn parse(&self, bytes: &[u8], expected: usize) -> Result<Vec<Vec<f32>>, Failure> {
        let vectors: Vec<Vec<f32>> = match self.wire {
            Wire::OpenAi => {
                let answer: EmbeddingResponse = decode_json(bytes, "an OpenAI embedding list")
                    .map_err(|failure| failure.with_hint(self.wire.malformed_hint()))?;
                return ordered_vectors(answer.data, expected)
                    .map_err(|detail| self.malformed(detail));
            }
            Wire::Ollama => {
                decode_json::<OllamaAnswer>(bytes, "an Ollama embedding list")
                    .map_err(|failure| failure.with_hint(self.wire.malformed_hint()))?
                    .embeddings
            }
        };
        if vectors.len() != expected {
            return Err(self.malformed(format!(
                "the answer holds {} embeddings for {expected} texts",
                vectors.len()
            )));
        }
        if vectors.iter().any(Vec::is_empty) {
            return Err(self.malformed("the answer holds an empty embedding".into()));
        }
        Ok(vectors)
    }

    /// An answer that is not what the wire format promises.
    fn malformed(&self, detail: String) -> Failure {
        Failure::new(FailureKind::Protocol, detail).with_hint(self.wire.malformed_hint())
    }

    /// Fails unless every vector has the expected dimension.
    fn check(&self, vectors: &[Vec<f32>]) -> Result<(), EmbedError> {
        let expected = self.id.dimension;
        match vectors.iter().find(|v| v.len() != expected) {
            None => Ok(()),
            Some(wrong) => Err(EmbedError::Dimension {
                provider: self.id.provider.clone(),
                model: self.id.model.clone(),
                expected,
                expected_from: self.dimension_from.into(),
                found: wrong.len(),
                hint: if self.dimension_from == "RAG_EMBEDDING_DIMENSIONS" {
                    format!(
                        "set RAG_EMBEDDING_DIMENSIONS to {}, or unset it to use the model's own length",
                        wrong.len()
                    )
                } else {
                    "the model behind RAG_EMBEDDING_URL seems to have changed; restart the server, and re-index collections built with the old one".into()
                },
            }),
        }
    }

    async fn embed_all(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut vectors = Vec::with_capacity(texts.len());
        for batch in texts.chunks(self.batch) {
            let inputs: Vec<String> = batch
                .iter()
                .map(|text| prefixed(&self.document_prefix, text))
                .collect();
            let answer = self
                .call(&self.api, &self.operation(inputs.len()), &inputs)
                .await?;
            self.check(&answer)?;
            vectors.extend(answer);
        }
        Ok(vectors)
    }

    async fn embed_one(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        let inputs = [prefixed(&self.query_prefix, text)];
        let mut answer = self.call(&self.api, &self.operation(1), &inputs).await?;
        self.check(&answer)?;
        // `call` checked that there is exactly one vector.
        Ok(answer.pop().unwrap_or_default())
    }

    fn operation(&self, count: usize) -> String {
        let plural = if count == 1 { "" } else { "s" };
        format!("embedding {count} text{plural} with {}", self.id.model)
    }
}

impl Embedder for RemoteEmbedder {
    fn id(&self) -> &EmbedderId {
        &self.id
    }

    fn embed_documents<'a>(
        &'a self,
        texts: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Vec<f32>>, EmbedError>> {
        self.embed_all(texts).boxed()
    }

    fn embed_query<'a>(&'a self, text: &'a str) -> BoxFuture<'a, Result<Vec<f32>, EmbedError>> {
        self.embed_one(text).boxed()
    }
}

impl Wire {
    fn service(self) -> &'static str {
        match self {
            Wire::OpenAi => "the OpenAI-compatible embedding API",
            Wire::Ollama => "Ollama",
        }
    }

    fn default_hint(self) -> &'static str {
        match self {
            Wire::OpenAi => {
                "check RAG_EMBEDDING_URL (the base URL, e.g. https://api.openai.com/v1) and that the service is up"
            }
            Wire::Ollama => "check that Ollama is running (ollama serve) at RAG_EMBEDDING_URL",
        }
    }

    /// What to check when an answer is not what the wire format promises.
    fn malformed_hint(self) -> &'static str {
        match self {
            Wire::OpenAi => {
                "is RAG_EMBEDDING_URL the base URL of an OpenAI-compatible API (e.g. ending in /v1)?"
            }
            Wire::Ollama => "is RAG_EMBEDDING_URL the address of an Ollama server?",
        }
    }
}

/// What to check when the service refuses a request with `code`, more precisely than the default
/// hint; `has_key` says whether an API key was sent.
fn status_hint(wire: Wire, has_key: bool, model: &str, code: u16) -> Option<String> {
    let key_variables = match wire {
        Wire::OpenAi => "RAG_EMBEDDING_API_KEY (or OPENAI_API_KEY)",
        Wire::Ollama => "RAG_EMBEDDING_API_KEY",
    };
    match (code, wire) {
        (401 | 403, _) if !has_key => {
            Some(format!("the service wants an API key: set {key_variables}"))
        }
        (401 | 403, _) => Some(format!("the API key was refused: check {key_variables}")),
        (404, Wire::OpenAi) => Some(format!(
            "check RAG_EMBEDDING_MODEL ({model}) and RAG_EMBEDDING_URL (the base URL before /embeddings)"
        )),
        (404, Wire::Ollama) => Some(format!(
            "pull the model with `ollama pull {model}`, or set RAG_EMBEDDING_MODEL to one it has"
        )),
        (400 | 422, _) => Some(format!(
            "check RAG_EMBEDDING_MODEL ({model}) and RAG_EMBEDDING_DIMENSIONS"
        )),
        (413, _) => Some("lower RAG_EMBED_BATCH".into()),
        _ => None,
    }
}

/// The provider's explanation from an error body ([`error_sentence`]), secrets scrubbed: some
/// services echo the credential they refused.
fn provider_message(body: &[u8]) -> Option<String> {
    error_sentence(body, MAX_MESSAGE_CHARS)
        .map(|line| mcp_common::secret::scrub(&line).into_owned())
}

/// `url` without a user name or password, for messages.
fn without_credentials(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) if !parsed.username().is_empty() || parsed.password().is_some() => {
            // Both only fail for URLs that cannot have credentials, which these are not.
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.as_str().trim_end_matches('/').to_owned()
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Instant;

    use axum::extract::State;
    use axum::http::{HeaderMap, StatusCode, header};
    use axum::response::{IntoResponse, Response};
    use axum::routing::post;
    use axum::{Json, Router};
    use mcp_common::Env;
    use serde_json::{Value, json};

    use super::*;
    use crate::embed::testing::{fast_backend, reference};

    /// How the stand-in misbehaves.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Behaviour {
        Normal,
        /// 429 with `Retry-After: 1` on the first request.
        RateLimitFirst,
        /// 500 on every request.
        Fail,
        /// 200 with an item lacking its embedding.
        Malformed,
        /// One value fewer per vector after the first request.
        ShrinkAfterFirst,
    }

    /// One request as the stand-in saw it.
    #[derive(Debug, Clone)]
    struct Seen {
        path: String,
        authorization: Option<String>,
        body: Value,
    }

    #[derive(Clone)]
    struct StandIn {
        behaviour: Behaviour,
        key: Option<String>,
        model: String,
        seen: Arc<Mutex<Vec<Seen>>>,
    }

    impl StandIn {
        /// Records the request; returns its 1-based number.
        fn record(&self, path: &str, headers: &HeaderMap, body: &Value) -> usize {
            let mut seen = self.seen.lock().unwrap();
            seen.push(Seen {
                path: path.into(),
                authorization: headers
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned),
                body: body.clone(),
            });
            seen.len()
        }

        /// The misbehaviour's answer for request `number`, if any.
        fn misbehave(&self, number: usize) -> Option<Response> {
            match self.behaviour {
                Behaviour::RateLimitFirst if number == 1 => Some(
                    (
                        StatusCode::TOO_MANY_REQUESTS,
                        [(header::RETRY_AFTER, "1")],
                        Json(json!({"error": {"message": "Rate limit reached for requests", "type": "requests", "code": "rate_limit_exceeded"}})),
                    )
                        .into_response(),
                ),
                Behaviour::Fail => Some(
                    (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        Json(json!({"error": {"message": "The server had an error while processing your request.", "type": "server_error"}})),
                    )
                        .into_response(),
                ),
                Behaviour::Malformed => Some(
                    Json(json!({"object": "list", "data": [{"object": "embedding", "index": 0}]}))
                        .into_response(),
                ),
                _ => None,
            }
        }

        /// Real MiniLM vectors for the request's inputs, shortened as asked.
        async fn vectors(&self, number: usize, body: &Value) -> Vec<Vec<f32>> {
            let inputs: Vec<String> = serde_json::from_value(body["input"].clone()).unwrap();
            let mut vectors = reference().embed_documents(&inputs).await.unwrap();
            if let Some(dimensions) = body.get("dimensions").and_then(Value::as_u64) {
                // What text-embedding-3 does: cut, then normalise again.
                for vector in &mut vectors {
                    vector.truncate(dimensions as usize);
                    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
                    vector.iter_mut().for_each(|x| *x /= norm);
                }
            }
            if self.behaviour == Behaviour::ShrinkAfterFirst && number > 1 {
                vectors.iter_mut().for_each(|v| {
                    v.pop();
                });
            }
            vectors
        }
    }

    async fn openai(
        State(state): State<StandIn>,
        headers: HeaderMap,
        Json(body): Json<Value>,
    ) -> Response {
        let number = state.record("/v1/embeddings", &headers, &body);
        if let Some(key) = &state.key {
            let given = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .unwrap_or_default();
            if given != key {
                // As some proxies do: the refused key is echoed in full.
                return (
                    StatusCode::UNAUTHORIZED,
                    Json(json!({"error": {
                        "message": format!("Incorrect API key provided: {given}. You can find your API key at https://platform.openai.com/account/api-keys."),
                        "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}})),
                )
                    .into_response();
            }
        }
        if let Some(response) = state.misbehave(number) {
            return response;
        }
        if body["model"] != json!(state.model) {
            return (
                StatusCode::NOT_FOUND,
                Json(json!({"error": {"message": format!("The model `{}` does not exist or you do not have access to it.", body["model"]), "type": "invalid_request_error", "code": "model_not_found"}})),
            )
                .into_response();
        }
        let vectors = state.vectors(number, &body).await;
        // Listed backwards: clients must order by `index`, not by position.
        let data: Vec<Value> = vectors
            .into_iter()
            .enumerate()
            .rev()
            .map(|(index, embedding)| json!({"object": "embedding", "index": index, "embedding": embedding}))
            .collect();
        Json(json!({"object": "list", "data": data, "model": state.model, "usage": {"prompt_tokens": 8, "total_tokens": 8}}))
            .into_response()
    }

    async fn ollama(
        State(state): State<StandIn>,
        headers: HeaderMap,
        Json(body): Json<Value>,
    ) -> Response {
        let number = state.record("/api/embed", &headers, &body);
        if let Some(response) = state.misbehave(number) {
            return response;
        }
        if body["model"] != json!(state.model) {
            let model = body["model"].as_str().unwrap_or_default();
            return (
                StatusCode::NOT_FOUND,
                Json(
                    json!({"error": format!("model \"{model}\" not found, try pulling it first")}),
                ),
            )
                .into_response();
        }
        let vectors = state.vectors(number, &body).await;
        Json(json!({"model": state.model, "embeddings": vectors, "total_duration": 14143917, "load_duration": 1019500, "prompt_eval_count": 8}))
            .into_response()
    }

    /// Starts a stand-in on loopback; returns its base address and the requests it sees.
    async fn serve(
        behaviour: Behaviour,
        key: Option<&str>,
        model: &str,
    ) -> (String, Arc<Mutex<Vec<Seen>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let state = StandIn {
            behaviour,
            key: key.map(str::to_owned),
            model: model.into(),
            seen: Arc::clone(&seen),
        };
        let app = Router::new()
            .route("/v1/embeddings", post(openai))
            .route("/api/embed", post(ollama))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (base, seen)
    }

    fn settings(pairs: &[(&str, &str)]) -> EmbedConfig {
        let mut config = EmbedConfig::from_env(&Env::from_pairs(pairs.iter().copied())).unwrap();
        config.backend = fast_backend();
        config
    }

    async fn connected(config: &EmbedConfig) -> Arc<dyn Embedder> {
        let resolution = connect(config).await.unwrap();
        resolution.embedder.expect(&resolution.note)
    }

    fn assert_close(got: &[Vec<f32>], want: &[Vec<f32>]) {
        assert_eq!(got.len(), want.len());
        for (idx, (a, b)) in got.iter().zip(want).enumerate() {
            assert_eq!(a.len(), b.len(), "vector {idx}");
            let gap = a
                .iter()
                .zip(b)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0, f32::max);
            assert!(gap < 1e-5, "vector {idx} is off by {gap}");
        }
    }

    fn texts(count: usize) -> Vec<String> {
        (0..count)
            .map(|n| format!("text number {n} about topic {}", n * 7 % 5))
            .collect()
    }

    #[tokio::test]
    async fn openai_requests_carry_key_model_and_batches_in_order() {
        let key = "sk-test-standin-key-1";
        let (base, seen) = serve(Behaviour::Normal, Some(key), "text-embedding-3-small").await;
        let config = settings(&[
            ("RAG_EMBEDDER", "openai"),
            ("RAG_EMBEDDING_URL", &format!("{base}/v1")),
            ("RAG_EMBEDDING_API_KEY", key),
            ("RAG_EMBED_BATCH", "2"),
        ]);
        let resolution = connect(&config).await.unwrap();
        assert!(
            resolution
                .note
                .ends_with("(384 dimensions, learned from its first answer)"),
            "{}",
            resolution.note
        );
        let embedder = resolution.embedder.unwrap();
        assert_eq!(
            embedder.id(),
            &EmbedderId {
                provider: "openai".into(),
                model: "text-embedding-3-small".into(),
                dimension: 384
            }
        );
        let texts = texts(5);
        let vectors = embedder.embed_documents(&texts).await.unwrap();
        assert_close(
            &vectors,
            &reference().embed_documents(&texts).await.unwrap(),
        );

        let seen = seen.lock().unwrap().clone();
        let inputs: Vec<Value> = seen.iter().map(|s| s.body["input"].clone()).collect();
        assert_eq!(
            inputs,
            [
                json!([PROBE_TEXT]),
                json!(texts[0..2]),
                json!(texts[2..4]),
                json!(texts[4..5])
            ]
        );
        for request in &seen {
            assert_eq!(request.path, "/v1/embeddings");
            assert_eq!(
                request.authorization.as_deref(),
                Some("Bearer sk-test-standin-key-1")
            );
            assert_eq!(request.body["model"], "text-embedding-3-small");
            assert!(
                request.body.get("dimensions").is_none(),
                "{:?}",
                request.body
            );
        }
    }

    #[tokio::test]
    async fn requested_dimensions_are_sent_and_checked() {
        let (base, seen) = serve(Behaviour::Normal, None, "text-embedding-3-small").await;
        let config = settings(&[
            ("RAG_EMBEDDER", "openai"),
            ("RAG_EMBEDDING_URL", &format!("{base}/v1")),
            ("RAG_EMBEDDING_DIMENSIONS", "128"),
        ]);
        let embedder = connected(&config).await;
        assert!(
            seen.lock().unwrap().is_empty(),
            "no probe when the dimension is given"
        );
        assert_eq!(embedder.id().dimension, 128);
        let vector = embedder.embed_query("short vectors").await.unwrap();
        assert_eq!(vector.len(), 128);
        assert_eq!(seen.lock().unwrap()[0].body["dimensions"], 128);
        assert_eq!(seen.lock().unwrap()[0].authorization, None);

        // Ollama cannot be asked to shorten: a mismatch is reported, naming the setting.
        let (base, _) = serve(Behaviour::Normal, None, "nomic-embed-text").await;
        let config = settings(&[
            ("RAG_EMBEDDER", "ollama"),
            ("RAG_EMBEDDING_URL", &base),
            ("RAG_EMBEDDING_DIMENSIONS", "256"),
        ]);
        let error = connected(&config)
            .await
            .embed_documents(&texts(1))
            .await
            .unwrap_err();
        assert!(matches!(error, EmbedError::Dimension { found: 384, .. }));
        assert_eq!(
            error.to_string(),
            "ollama model nomic-embed-text returned vectors of 384 dimensions, but 256 were expected \
             (RAG_EMBEDDING_DIMENSIONS) — set RAG_EMBEDDING_DIMENSIONS to 384, or unset it to use \
             the model's own length"
        );
    }

    #[tokio::test]
    async fn a_changed_dimension_is_caught() {
        let (base, _) = serve(Behaviour::ShrinkAfterFirst, None, "nomic-embed-text").await;
        let config = settings(&[("RAG_EMBEDDER", "ollama"), ("RAG_EMBEDDING_URL", &base)]);
        let embedder = connected(&config).await;
        assert_eq!(embedder.id().dimension, 384);
        let error = embedder
            .embed_query("anything")
            .await
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with(
                "ollama model nomic-embed-text returned vectors of 383 dimensions, but 384 were \
                 expected (the length of its first answer) — the model behind RAG_EMBEDDING_URL"
            ),
            "{error}"
        );
    }

    #[tokio::test]
    async fn ollama_requests_carry_prefixes() {
        let (base, seen) = serve(Behaviour::Normal, None, "nomic-embed-text").await;
        let config = settings(&[
            ("RAG_EMBEDDER", "ollama"),
            ("RAG_EMBEDDING_URL", &format!("{base}/")),
            ("RAG_QUERY_PREFIX", "search_query:"),
            ("RAG_DOCUMENT_PREFIX", "search_document: "),
        ]);
        let embedder = connected(&config).await;
        assert_eq!(embedder.id().provider, "ollama");
        let texts = texts(3);
        let documents = embedder.embed_documents(&texts).await.unwrap();
        let query = embedder.embed_query("what about topic 2").await.unwrap();

        let prefixed: Vec<String> = texts
            .iter()
            .map(|t| format!("search_document: {t}"))
            .collect();
        assert_close(
            &documents,
            &reference().embed_documents(&prefixed).await.unwrap(),
        );
        let expected_query = reference()
            .embed_query("search_query: what about topic 2")
            .await
            .unwrap();
        assert_close(&[query], &[expected_query]);
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 3, "probe, one batch, one query");
        assert_eq!(
            seen[1].body,
            json!({"model": "nomic-embed-text", "input": prefixed})
        );
        assert_eq!(
            seen[2].body["input"],
            json!(["search_query: what about topic 2"])
        );
        assert!(
            seen.iter()
                .all(|s| s.path == "/api/embed" && s.authorization.is_none())
        );
    }

    #[tokio::test]
    async fn a_refused_key_is_named_and_never_echoed() {
        let (base, seen) = serve(Behaviour::Normal, Some("sk-the-right-key-1"), "m").await;
        let config = settings(&[
            ("RAG_EMBEDDER", "openai"),
            ("RAG_EMBEDDING_URL", &format!("{base}/v1")),
            ("RAG_EMBEDDING_MODEL", "m"),
            ("OPENAI_API_KEY", "sk-wrong-key-987654"),
        ]);
        let error = connect(&config).await.unwrap_err();
        let message = error.to_string();
        println!("{message}");
        assert!(
            message.starts_with(
                "the OpenAI-compatible embedding API rejected a test embedding with m (to learn its \
                 dimension): HTTP 401 Unauthorized: Incorrect API key provided: [redacted]."
            ),
            "{message}"
        );
        assert!(
            message.ends_with(
                "— the API key was refused: check RAG_EMBEDDING_API_KEY (or OPENAI_API_KEY)"
            ),
            "{message}"
        );
        assert!(!message.contains("sk-wrong-key-987654"), "{message}");
        assert!(!format!("{error:?}").contains("sk-wrong-key-987654"));
        assert_eq!(seen.lock().unwrap().len(), 1, "a refusal is not retried");
    }

    #[tokio::test]
    async fn rate_limits_are_waited_out() {
        let (base, seen) = serve(Behaviour::RateLimitFirst, None, "text-embedding-3-small").await;
        let config = settings(&[
            ("RAG_EMBEDDER", "openai"),
            ("RAG_EMBEDDING_URL", &format!("{base}/v1")),
            ("RAG_EMBEDDING_DIMENSIONS", "384"),
        ]);
        let embedder = connected(&config).await;
        let started = Instant::now();
        let vector = embedder.embed_query("patience").await.unwrap();
        let waited = started.elapsed();
        assert_eq!(vector.len(), 384);
        assert_eq!(seen.lock().unwrap().len(), 2);
        assert!(
            waited >= Duration::from_millis(950),
            "Retry-After: 1 honoured, waited {waited:?}"
        );
    }

    #[tokio::test]
    async fn server_errors_are_retried_then_explained() {
        let (base, seen) = serve(Behaviour::Fail, None, "text-embedding-3-small").await;
        let config = settings(&[
            ("RAG_EMBEDDER", "openai"),
            ("RAG_EMBEDDING_URL", &format!("{base}/v1")),
            ("RAG_EMBEDDING_DIMENSIONS", "384"),
        ]);
        let error = connected(&config)
            .await
            .embed_documents(&texts(2))
            .await
            .unwrap_err();
        assert!(matches!(error, EmbedError::Remote(_)));
        assert_eq!(
            error.to_string(),
            format!(
                "the OpenAI-compatible embedding API at {base}/v1 is unavailable: embedding 2 texts \
                 with text-embedding-3-small failed with HTTP 500 Internal Server Error: The server \
                 had an error while processing your request., after 4 attempts — check \
                 RAG_EMBEDDING_URL (the base URL, e.g. https://api.openai.com/v1) and that the \
                 service is up"
            )
        );
        assert_eq!(seen.lock().unwrap().len(), 4);
    }

    #[tokio::test]
    async fn malformed_answers_are_explained() {
        let (base, seen) = serve(Behaviour::Malformed, None, "text-embedding-3-small").await;
        let config = settings(&[
            ("RAG_EMBEDDER", "openai"),
            ("RAG_EMBEDDING_URL", &format!("{base}/v1")),
            ("RAG_EMBEDDING_DIMENSIONS", "384"),
        ]);
        let error = connected(&config)
            .await
            .embed_query("x")
            .await
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with(&format!(
                "the OpenAI-compatible embedding API at {base}/v1 gave an unusable answer to \
                 embedding 1 text with text-embedding-3-small: the answer is not an OpenAI \
                 embedding list (missing field `embedding`"
            )),
            "{error}"
        );
        assert!(
            error.ends_with("— is RAG_EMBEDDING_URL the base URL of an OpenAI-compatible API (e.g. ending in /v1)?"),
            "{error}"
        );
        assert_eq!(
            seen.lock().unwrap().len(),
            4,
            "retried: the next answer may be fine"
        );

        // Answers with the wrong count or indices are malformed too.
        let embedder = RemoteEmbedder::new(&config).unwrap();
        let cases = [
            (
                json!({"data": [{"index": 0, "embedding": [0.1]}]}),
                2,
                "holds 1 embeddings for 2 texts",
            ),
            (
                json!({"data": [{"index": 0, "embedding": [0.1]}, {"index": 0, "embedding": [0.2]}]}),
                2,
                "indices are not 0 to 1",
            ),
            (
                json!({"data": [{"index": 0, "embedding": []}]}),
                1,
                "an empty embedding",
            ),
        ];
        for (answer, expected, says) in cases {
            let error = embedder
                .parse(answer.to_string().as_bytes(), expected)
                .unwrap_err();
            let Failure {
                kind: FailureKind::Protocol,
                detail,
                ..
            } = error
            else {
                panic!("{error:?}")
            };
            assert!(detail.contains(says), "{detail}");
        }
    }

    #[tokio::test]
    async fn an_unreachable_service_means_lexical_only() {
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", closed.local_addr().unwrap());
        drop(closed);
        let config = settings(&[("RAG_EMBEDDER", "ollama"), ("RAG_EMBEDDING_URL", &base)]);
        let resolution = connect(&config).await.unwrap();
        assert!(resolution.embedder.is_none());
        assert_eq!(
            resolution.note,
            format!(
                "no embedding model, so search is lexical-only (BM25): error connecting to Ollama at \
                 {base}: connection refused (a test embedding with nomic-embed-text (to learn its \
                 dimension), after 2 attempts) — check that Ollama is running (ollama serve) at \
                 RAG_EMBEDDING_URL. Start the service and restart this server, or set \
                 RAG_EMBEDDING_DIMENSIONS so that it starts without asking the service"
            )
        );
    }

    #[tokio::test]
    async fn an_unknown_ollama_model_says_how_to_pull_it() {
        let (base, _) = serve(Behaviour::Normal, None, "nomic-embed-text").await;
        let config = settings(&[
            ("RAG_EMBEDDER", "ollama"),
            ("RAG_EMBEDDING_URL", &base),
            ("RAG_EMBEDDING_MODEL", "mxbai-embed-large"),
        ]);
        let error = connect(&config).await.unwrap_err().to_string();
        assert_eq!(
            error,
            "Ollama rejected a test embedding with mxbai-embed-large (to learn its dimension): \
             HTTP 404 Not Found: model \"mxbai-embed-large\" not found, try pulling it first — pull \
             the model with `ollama pull mxbai-embed-large`, or set RAG_EMBEDDING_MODEL to one it has"
        );
    }

    #[test]
    fn provider_messages_are_short_and_clean() {
        let _key = Secret::new("sk-echoed-secret-42");
        let long = "x".repeat(500);
        let cases = [
            (
                r#"{"error":{"message":"bad input","type":"x"}}"#.to_owned(),
                Some("bad input".to_owned()),
            ),
            (
                r#"{"error":"model \"a\" not found"}"#.to_owned(),
                Some("model \"a\" not found".to_owned()),
            ),
            (
                r#"{"object":"error","message":"too long","code":400}"#.to_owned(),
                Some("too long".to_owned()),
            ),
            (
                r#"{"detail":"Not Found"}"#.to_owned(),
                Some("Not Found".to_owned()),
            ),
            ("<html><body>502</body></html>".to_owned(), None),
            (
                "\n upstream timed out \nmore".to_owned(),
                Some("upstream timed out".to_owned()),
            ),
            (
                "key sk-echoed-secret-42 refused".to_owned(),
                Some("key [redacted] refused".to_owned()),
            ),
            (long, Some(format!("{}…", "x".repeat(MAX_MESSAGE_CHARS)))),
            (String::new(), None),
        ];
        for (body, expected) in cases {
            assert_eq!(provider_message(body.as_bytes()), expected, "{body}");
        }
        assert_eq!(
            without_credentials("https://user:pw@llm.example/v1"),
            "https://llm.example/v1"
        );
    }
}
