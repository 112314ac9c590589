//! [`Json`]: a tool's structured result, as rmcp's wrapper of the same name makes it, for less.
//!
//! A tool result carries its value twice: as `structuredContent` and, for clients that read only
//! text, as a text block holding the same JSON. rmcp's `Json` writes that text with `Display`,
//! which sends every key, string and punctuation mark through `core::fmt` one piece at a time;
//! on mcp-empresa's `consultar_empresa` that was about 14,000 instructions a call, a tenth of
//! the whole call. serde_json's own writer does the same text in a fraction of that.

use std::borrow::Cow;

use rmcp::ErrorData;
use rmcp::handler::server::tool::IntoCallToolResult;
use rmcp::model::{CallToolResponse, CallToolResult, ContentBlock};
use schemars::JsonSchema;
use serde::Serialize;

/// A tool's structured result: `structuredContent` plus the same JSON as a text block, exactly
/// as `rmcp::handler::server::wrapper::Json` gives them. rmcp's `#[tool]` macro recognises the
/// name `Json` in a tool's return type (`Json<T>` or `Result<Json<T>, E>`) and declares `T`'s
/// output schema from it.
#[derive(Debug, Clone, PartialEq)]
pub struct Json<T>(pub T);

impl<T: JsonSchema> JsonSchema for Json<T> {
    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(generator)
    }
}

impl<T: Serialize + JsonSchema + 'static> IntoCallToolResult for Json<T> {
    fn into_call_tool_result(self) -> Result<CallToolResponse, ErrorData> {
        let failed = |error: serde_json::Error| {
            ErrorData::internal_error(
                format!("Failed to serialize structured content: {error}"),
                None,
            )
        };
        // The text is written from the value, not from `T` again, so the two cannot differ
        // (a `HashMap` in `T` would iterate in another order the second time).
        let value = serde_json::to_value(self.0).map_err(failed)?;
        let text = serde_json::to_string(&value).map_err(failed)?;
        let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
        result.structured_content = Some(value);
        Ok(result.into())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use rmcp::handler::server::wrapper::Json as RmcpJson;

    use super::*;

    #[derive(Serialize, JsonSchema)]
    struct Company {
        name: String,
        employees: u32,
        revenue: f64,
        tags: Vec<String>,
        notes: Option<String>,
        extra: BTreeMap<String, serde_json::Value>,
    }

    fn wire<R: IntoCallToolResult>(result: R) -> serde_json::Value {
        match result.into_call_tool_result() {
            Ok(CallToolResponse::Complete(result)) => {
                serde_json::to_value(result).unwrap_or_default()
            }
            Ok(other) => serde_json::json!({ "unexpected": format!("{other:?}") }),
            Err(error) => serde_json::json!({ "error": error.message }),
        }
    }

    #[test]
    fn results_are_what_rmcps_json_gives_on_the_wire() {
        let strings = [
            "Empresa X",
            "",
            "quote \" backslash \\ slash / tab \t newline \n nul \u{0} bell \u{7}",
            "acentos: ñandú, Ærø, 東京, emoji 🚀, ﷽",
            "\u{2028}\u{2029}\u{7f}\u{80}",
        ];
        for (index, text) in strings.iter().enumerate() {
            let company = || Company {
                name: (*text).to_owned(),
                employees: index as u32 * 1000,
                revenue: 1.5e9 / (index as f64 + 3.0),
                tags: vec![(*text).to_owned(), "b".into()],
                notes: (index % 2 == 0).then(|| (*text).to_owned()),
                extra: BTreeMap::from([
                    (
                        "nested".to_owned(),
                        serde_json::json!({"a": [1, 2.5, null, true]}),
                    ),
                    ("big".to_owned(), serde_json::json!(u64::MAX)),
                    ("neg".to_owned(), serde_json::json!(-0.0)),
                ]),
            };
            let ours = wire(Json(company()));
            assert_eq!(ours, wire(RmcpJson(company())), "for {text:?}");
            // The text block is the structured content, written out.
            let text_block = ours["content"][0]["text"].as_str().unwrap_or_default();
            let reread: serde_json::Value = serde_json::from_str(text_block).unwrap_or_default();
            assert_eq!(reread, ours["structuredContent"]);
            assert_eq!(ours["structuredContent"]["name"], *text);
        }
    }

    #[test]
    fn a_result_that_is_not_an_object_or_fails_to_serialise_matches_rmcp_too() {
        assert_eq!(wire(Json(vec![1, 2, 3])), wire(RmcpJson(vec![1, 2, 3])));
        assert_eq!(wire(Json("text")), wire(RmcpJson("text")));
        // Map keys that are not strings cannot be JSON: both refuse with the same message.
        let bad = || HashMap::from([((1u8, 2u8), 3u8)]);
        let ours = wire(Json(bad()));
        assert!(
            ours["error"]
                .as_str()
                .is_some_and(|m| m.contains("structured content"))
        );
        assert_eq!(ours, wire(RmcpJson(bad())));
    }

    #[test]
    fn the_schema_is_the_inner_types() {
        assert_eq!(
            schemars::schema_for!(Json<Company>),
            schemars::schema_for!(Company)
        );
    }
}
