//! Consent previews, declared per tool with the tool's own argument type.
//!
//! A write or destructive tool tells the person asked to approve it what it would change
//! ("refund €12.50 of pi_123 to ana@example.com"). The preview reads the same typed struct the
//! tool reads, so a renamed field is a compile error rather than a silently empty preview, and
//! the governing layer (`Governed`) refuses to start a server whose write tools lack one or whose
//! previews name a tool it does not serve.
//!
//! ```
//! use mcp_common::preview::Previews;
//! # #[derive(Clone)] struct Shop;
//! #[derive(serde::Deserialize)]
//! struct RefundArgs { payment: String, amount: Option<i64> }
//!
//! impl Shop {
//!     async fn preview_refund(self, args: RefundArgs) -> Option<String> {
//!         Some(match args.amount {
//!             Some(amount) => format!("refund {amount} of {}", args.payment),
//!             None => format!("refund all of {}", args.payment),
//!         })
//!     }
//! }
//!
//! let previews = Previews::new().on("create_refund", Shop::preview_refund);
//! assert_eq!(previews.tools().collect::<Vec<_>>(), ["create_refund"]);
//! ```

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use rmcp::model::JsonObject;
use serde::de::DeserializeOwned;
use serde_json::Value;

type PreviewFn<D> = Arc<dyn Fn(D, JsonObject) -> BoxFuture<'static, Option<String>> + Send + Sync>;

/// The consent previews of one server's tools, keyed by tool name.
pub struct Previews<D> {
    entries: BTreeMap<String, PreviewFn<D>>,
    /// Tools registered twice: a mistake reported at start-up, like a missing preview.
    duplicates: Vec<String>,
}

impl<D> Default for Previews<D> {
    fn default() -> Self {
        Previews {
            entries: BTreeMap::new(),
            duplicates: Vec::new(),
        }
    }
}

impl<D> std::fmt::Debug for Previews<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Previews")
            .field("tools", &self.entries.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl<D: Send + 'static> Previews<D> {
    /// No previews yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Declares `tool`'s preview: `preview` gets a clone of the domain handler and the call's
    /// arguments decoded as `A`, the tool's own argument struct, and says in a sentence or a
    /// few lines what the call would change. It must not change anything; `None` means there is
    /// nothing useful to add to the tool name and arguments (e.g. the record does not exist,
    /// which the call itself will report).
    pub fn on<A, F, Fut>(mut self, tool: &str, preview: F) -> Self
    where
        A: DeserializeOwned + Send + 'static,
        F: Fn(D, A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Option<String>> + Send + 'static,
    {
        let name = tool.to_owned();
        let entry: PreviewFn<D> = Arc::new(move |domain, arguments| {
            match serde_json::from_value::<A>(Value::Object(arguments)) {
                Ok(arguments) => preview(domain, arguments).boxed(),
                Err(error) => {
                    // The arguments passed the schema check, so this is a schema that says less
                    // than the struct; the call itself will report the problem.
                    tracing::debug!(tool = %name, %error, "the consent preview could not read the arguments");
                    futures::future::ready(None).boxed()
                }
            }
        });
        if self.entries.insert(tool.to_owned(), entry).is_some() {
            self.duplicates.push(tool.to_owned());
        }
        self
    }
}

impl<D> Previews<D> {
    /// The tools that have a preview, in name order.
    pub fn tools(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// Whether `tool` has a preview.
    pub fn covers(&self, tool: &str) -> bool {
        self.entries.contains_key(tool)
    }

    /// Tools whose preview was declared more than once.
    pub(crate) fn duplicates(&self) -> &[String] {
        &self.duplicates
    }

    /// The preview of one call, if `tool` declares one.
    pub(crate) fn preview(
        &self,
        domain: D,
        tool: &str,
        arguments: &JsonObject,
    ) -> Option<BoxFuture<'static, Option<String>>> {
        let entry = self.entries.get(tool)?;
        Some(entry(domain, arguments.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone)]
    struct Shop {
        currency: &'static str,
    }

    #[derive(serde::Deserialize)]
    struct Refund {
        amount: i64,
    }

    impl Shop {
        async fn refund(self, args: Refund) -> Option<String> {
            Some(format!("refund {} {}", args.amount, self.currency))
        }
    }

    fn arguments(value: Value) -> JsonObject {
        match value {
            Value::Object(object) => object,
            _ => JsonObject::new(),
        }
    }

    #[tokio::test]
    async fn a_preview_reads_the_typed_arguments_and_the_domain() {
        let previews = Previews::new().on("create_refund", Shop::refund);
        let shop = Shop { currency: "EUR" };
        let preview = previews
            .preview(
                shop.clone(),
                "create_refund",
                &arguments(serde_json::json!({"amount": 5})),
            )
            .expect("declared");
        assert_eq!(preview.await.as_deref(), Some("refund 5 EUR"));
        // Arguments the struct cannot read give no preview rather than a failure.
        let unreadable = previews
            .preview(
                shop.clone(),
                "create_refund",
                &arguments(serde_json::json!({"amount": "five"})),
            )
            .expect("declared");
        assert_eq!(unreadable.await, None);
        assert!(
            previews
                .preview(shop, "delete_shop", &JsonObject::new())
                .is_none()
        );
    }

    #[test]
    fn declaring_a_tool_twice_is_recorded() {
        let previews = Previews::new()
            .on("create_refund", Shop::refund)
            .on("create_refund", Shop::refund);
        assert_eq!(previews.duplicates(), ["create_refund"]);
        assert!(previews.covers("create_refund"));
        assert!(!previews.covers("void_invoice"));
    }
}
