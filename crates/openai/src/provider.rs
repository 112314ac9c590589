//! Where requests go: the configured OpenAI-compatible endpoint, or the model in this process.

use openai_compat::wire::{
    ChatRequest, EmbeddingRequest, EmbeddingResponse, ModelList, ModerationRequest,
    ModerationResponse,
};
use tokio::sync::mpsc::UnboundedSender;

use crate::client::{CallError, ChatAnswer, OpenAiApi, StreamEvent};
use crate::local::LocalChat;

/// The model behind the tools.
#[derive(Debug, Clone)]
pub enum Provider {
    /// An OpenAI-compatible endpoint over HTTP.
    Endpoint(OpenAiApi),
    /// The small model run in this process.
    Local(LocalChat),
}

impl Provider {
    /// The models served.
    pub async fn models(&self) -> Result<ModelList, CallError> {
        match self {
            Provider::Endpoint(api) => api.models().await,
            Provider::Local(local) => local.models().await,
        }
    }

    /// Embeddings of the request's texts.
    pub async fn embeddings(
        &self,
        request: &EmbeddingRequest,
    ) -> Result<EmbeddingResponse, CallError> {
        match self {
            Provider::Endpoint(api) => api.embeddings(request).await,
            Provider::Local(local) => local.embeddings(request).await,
        }
    }

    /// Moderation of the request's texts.
    pub async fn moderations(
        &self,
        request: &ModerationRequest,
    ) -> Result<ModerationResponse, CallError> {
        match self {
            Provider::Endpoint(api) => api.moderations(request).await,
            Provider::Local(local) => local.moderations(request).await,
        }
    }

    /// A chat answer, streamed into `events`.
    pub async fn chat(
        &self,
        request: &ChatRequest,
        events: &UnboundedSender<StreamEvent>,
    ) -> Result<ChatAnswer, CallError> {
        match self {
            Provider::Endpoint(api) => api.chat(request, events).await,
            Provider::Local(local) => local.chat(request, events).await,
        }
    }
}
