//! The consent question itself: the form the user answers (approve, and for how long to remember
//! it), reading the answer, and the questions sent to 2026-07-28 clients as input-required
//! results (MRTR), which come back on a retried call.
//!
//! On 2026-07-28 the server may not send requests to the client, so instead of an elicitation
//! request the tool call answers `input_required` with the question; the client asks the user
//! and calls again with the answer and the `requestState` it was given. That state is only a
//! random handle: what was asked (which tool, which arguments, which caller) stays here, so an
//! altered or replayed state, or the same state with other arguments, approves nothing.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rmcp::model::{
    ElicitRequest, ElicitRequestParams, ElicitResult, ElicitationAction, ElicitationSchema,
    EnumSchema, InputRequest, InputRequests, InputRequiredResult, InputResponses,
    PrimitiveSchemaDefinition,
};
use serde_json::Value;

use crate::grants::random_u64;

/// The key of the consent question in an input-required result; namespaced, so a tool doing its
/// own input-required rounds cannot collide with it.
pub const CONSENT_INPUT: &str = "mcp_consent";

/// How the `requestState` of a consent question begins, so the layer recognises answers meant
/// for it and leaves any other state to the tool.
pub const CONSENT_STATE_PREFIX: &str = "mcp-consent-";

/// How long to remember an approval, as the user chose it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remember {
    /// This call only.
    Once,
    /// A standing grant for this long (`None`: until revoked).
    For(Option<Duration>),
}

/// The choices offered, as (value, title, duration): `None` duration means "this call only" for
/// `once` and "until revoked" for `always`.
const CHOICES: [(&str, &str, Option<u64>); 5] = [
    ("once", "Just this once", None),
    ("15m", "Allow for 15 minutes", Some(15 * 60)),
    ("1h", "Allow for 1 hour", Some(60 * 60)),
    ("8h", "Allow for 8 hours", Some(8 * 60 * 60)),
    ("always", "Always allow (until revoked)", None),
];

/// What the user decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Approved, remembered as chosen.
    Approved(Remember),
    /// Not approved; the sentence for the caller, with `{tool}` standing for the tool's name.
    Refused(String),
}

/// The form shown to the user: a required `confirm` and an optional `remember`.
pub fn consent_schema() -> ElicitationSchema {
    let remember = EnumSchema::builder(CHOICES.iter().map(|c| c.0.to_owned()).collect())
        .enum_titles(CHOICES.iter().map(|c| c.1.to_owned()).collect())
        .and_then(|b| b.with_default("once"))
        .map(|b| b.build());
    let mut builder = ElicitationSchema::builder().required_bool("confirm");
    if let Ok(remember) = remember {
        builder = builder.property("remember", PrimitiveSchemaDefinition::Enum(remember));
    }
    builder
        .description("Approve or refuse the change")
        .build_unchecked()
}

/// The elicitation request asking the user about one call.
pub fn elicitation(message: String) -> ElicitRequestParams {
    ElicitRequestParams::FormElicitationParams {
        meta: None,
        message,
        requested_schema: consent_schema(),
    }
}

/// Reads the user's answer.
pub fn judge(answer: &ElicitResult) -> Decision {
    let declined =
        || Decision::Refused("the user did not approve `{tool}`, so nothing was changed".into());
    match answer.action {
        ElicitationAction::Accept => {}
        _ => return declined(),
    }
    let Some(content) = answer.content.as_ref().and_then(Value::as_object) else {
        return declined();
    };
    if content.get("confirm") != Some(&Value::Bool(true)) {
        return declined();
    }
    let choice = content
        .get("remember")
        .and_then(Value::as_str)
        .unwrap_or("once");
    match CHOICES.iter().find(|c| c.0 == choice) {
        Some(("once", ..)) | None => Decision::Approved(Remember::Once),
        Some((_, _, seconds)) => {
            Decision::Approved(Remember::For(seconds.map(Duration::from_secs)))
        }
    }
}

struct Question {
    fingerprint: String,
    until: Instant,
}

/// Consent questions sent as input-required results and not yet answered.
#[derive(Default)]
pub struct ConsentRequests {
    open: Mutex<HashMap<String, Question>>,
}

impl ConsentRequests {
    /// What an answer must match: the tool, the caller and the exact arguments.
    pub fn fingerprint(
        tool: &str,
        caller: &str,
        arguments: &serde_json::Map<String, Value>,
    ) -> String {
        // serde_json's map is ordered by key, so equal arguments give equal text.
        format!(
            "{tool}\u{0}{caller}\u{0}{}",
            Value::Object(arguments.clone())
        )
    }

    /// The input-required result asking `message`, open for `timeout`.
    pub fn ask(
        &self,
        message: String,
        fingerprint: String,
        timeout: Duration,
    ) -> InputRequiredResult {
        let handle = format!(
            "{CONSENT_STATE_PREFIX}{:016x}{:016x}",
            random_u64(),
            random_u64()
        );
        let now = Instant::now();
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.retain(|_, q| q.until > now);
        open.insert(
            handle.clone(),
            Question {
                fingerprint,
                until: now + timeout,
            },
        );
        let mut requests = InputRequests::new();
        requests.insert(
            CONSENT_INPUT.into(),
            InputRequest::Elicitation(ElicitRequest::new(elicitation(message))),
        );
        InputRequiredResult::new(Some(requests), Some(handle))
    }

    /// Whether a retried call carries an answer meant for this layer: a state it issued, or (a
    /// client that lost the state) an answer under its key.
    pub fn is_answer(state: Option<&str>, responses: Option<&InputResponses>) -> bool {
        match state {
            Some(state) => state.starts_with(CONSENT_STATE_PREFIX),
            None => responses.is_some_and(|r| r.contains_key(CONSENT_INPUT)),
        }
    }

    /// Reads the answer a retried call carries. Each question is answered once.
    pub fn answer(
        &self,
        state: Option<&str>,
        responses: Option<&InputResponses>,
        fingerprint: &str,
    ) -> Decision {
        let unmatched = || {
            Decision::Refused(
                "the approval sent with this call of `{tool}` does not match a question this server asked (it expired, was already used, or was for other arguments), so nothing was changed; call the tool again without it to be asked anew".into(),
            )
        };
        let Some(state) = state else {
            return unmatched();
        };
        let question = {
            let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
            open.remove(state)
        };
        let Some(question) = question else {
            return unmatched();
        };
        if question.until <= Instant::now() || question.fingerprint != fingerprint {
            return unmatched();
        }
        match responses
            .and_then(|r| r.get(CONSENT_INPUT))
            .and_then(|v| serde_json::from_value::<ElicitResult>(v.clone()).ok())
        {
            Some(answer) => judge(&answer),
            None => Decision::Refused(
                "the call of `{tool}` came back without the user's answer to the approval question, so nothing was changed".into(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn answer(value: Value) -> ElicitResult {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn the_form_offers_approval_and_how_long_to_remember_it() {
        let schema = serde_json::to_value(consent_schema()).unwrap();
        assert_eq!(schema["properties"]["confirm"]["type"], "boolean");
        assert_eq!(schema["required"], json!(["confirm"]));
        let remember = &schema["properties"]["remember"];
        let values: Vec<&str> = remember["oneOf"]
            .as_array()
            .map(|a| a.iter().filter_map(|v| v["const"].as_str()).collect())
            .or_else(|| {
                remember["enum"]
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
            })
            .unwrap_or_default();
        assert_eq!(values, ["once", "15m", "1h", "8h", "always"], "{remember}");
    }

    #[test]
    fn answers_are_read_strictly() {
        let cases = [
            (
                json!({"action":"accept","content":{"confirm":true}}),
                Decision::Approved(Remember::Once),
            ),
            (
                json!({"action":"accept","content":{"confirm":true,"remember":"1h"}}),
                Decision::Approved(Remember::For(Some(Duration::from_secs(3600)))),
            ),
            (
                json!({"action":"accept","content":{"confirm":true,"remember":"always"}}),
                Decision::Approved(Remember::For(None)),
            ),
            (
                json!({"action":"accept","content":{"confirm":true,"remember":"forever and ever"}}),
                Decision::Approved(Remember::Once),
            ),
        ];
        for (given, expected) in cases {
            assert_eq!(judge(&answer(given.clone())), expected, "{given}");
        }
        for refused in [
            json!({"action":"accept","content":{"confirm":false,"remember":"always"}}),
            json!({"action":"accept","content":{"confirm":"yes"}}),
            json!({"action":"accept"}),
            json!({"action":"decline"}),
            json!({"action":"cancel"}),
        ] {
            assert!(
                matches!(judge(&answer(refused.clone())), Decision::Refused(_)),
                "{refused}"
            );
        }
    }

    #[test]
    fn only_answers_meant_for_this_layer_are_taken() {
        let ours: InputResponses = [(CONSENT_INPUT.to_owned(), json!({}))].into();
        let theirs: InputResponses = [("user_name".to_owned(), json!({}))].into();
        assert!(ConsentRequests::is_answer(Some("mcp-consent-1"), None));
        assert!(!ConsentRequests::is_answer(Some("tool-state"), Some(&ours)));
        assert!(ConsentRequests::is_answer(None, Some(&ours)));
        assert!(!ConsentRequests::is_answer(None, Some(&theirs)));
        assert!(!ConsentRequests::is_answer(None, None));
    }

    #[test]
    fn an_answer_counts_once_and_only_for_what_was_asked() {
        let requests = ConsentRequests::default();
        let arguments = json!({"id": 2}).as_object().cloned().unwrap();
        let fingerprint = ConsentRequests::fingerprint("delete_company", "local", &arguments);
        let asked = requests.ask(
            "Allow?".into(),
            fingerprint.clone(),
            Duration::from_secs(60),
        );
        let state = asked.request_state.clone().unwrap();
        let wire = serde_json::to_value(&asked).unwrap();
        assert_eq!(wire["resultType"], "input_required");
        assert_eq!(
            wire["inputRequests"]["mcp_consent"]["method"],
            "elicitation/create"
        );
        let yes: InputResponses = [(
            CONSENT_INPUT.to_owned(),
            json!({"action":"accept","content":{"confirm":true}}),
        )]
        .into();
        let other = ConsentRequests::fingerprint(
            "delete_company",
            "local",
            json!({"id": 3}).as_object().unwrap(),
        );
        // Other arguments: refused, and the question is used up.
        assert!(matches!(
            requests.answer(Some(&state), Some(&yes), &other),
            Decision::Refused(_)
        ));
        assert!(matches!(
            requests.answer(Some(&state), Some(&yes), &fingerprint),
            Decision::Refused(_)
        ));
        let asked = requests.ask(
            "Allow?".into(),
            fingerprint.clone(),
            Duration::from_secs(60),
        );
        let state = asked.request_state.unwrap();
        assert!(matches!(
            requests.answer(Some("mcp-consent-forged"), Some(&yes), &fingerprint),
            Decision::Refused(_)
        ));
        assert_eq!(
            requests.answer(Some(&state), Some(&yes), &fingerprint),
            Decision::Approved(Remember::Once)
        );
        assert!(
            matches!(
                requests.answer(Some(&state), Some(&yes), &fingerprint),
                Decision::Refused(_)
            ),
            "replayed"
        );
        let asked = requests.ask(
            "Allow?".into(),
            fingerprint.clone(),
            Duration::from_millis(0),
        );
        let state = asked.request_state.unwrap();
        assert!(
            matches!(
                requests.answer(Some(&state), Some(&yes), &fingerprint),
                Decision::Refused(_)
            ),
            "expired"
        );
    }
}
