//! Reasoning models and the parameters they refuse.
//!
//! OpenAI's o-series (o1, o3, o4-mini, …) refuse `temperature`, `top_p` and `max_tokens`; the
//! gpt-5 family refuses `max_tokens` and takes only the default (1) for `temperature` and
//! `top_p`. Both take the limit as `max_completion_tokens`, which also counts the tokens the
//! model spends reasoning. [`adjust`] rewrites a request accordingly and says what it changed,
//! so a caller gets an answer and a note instead of a 400 to decode; [`adjust_for_refusal`]
//! does the same for a parameter an endpoint refused for a model this table does not know.

use crate::wire::ChatRequest;

/// How a model treats sampling parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Takes `temperature`, `top_p` and `max_tokens`.
    Classic,
    /// o-series reasoning models: none of the three.
    OSeries,
    /// gpt-5 family reasoning models: no `max_tokens`; `temperature` and `top_p` only at 1.
    Gpt5,
}

impl Family {
    /// The family of `model`, recognised by OpenAI's naming (`o3-mini`, `o1-2024-12-17`,
    /// `gpt-5-mini`), also behind a router's prefix (`openai/o3-mini`, `azure/gpt-5`). Models
    /// of other names are [`Family::Classic`]; `gpt-5-chat-latest` is a non-reasoning chat model.
    pub fn of(model: &str) -> Family {
        let name = model
            .rsplit('/')
            .next()
            .unwrap_or(model)
            .to_ascii_lowercase();
        let mut chars = name.chars();
        let o_series =
            chars.next() == Some('o') && chars.next().is_some_and(|c| c.is_ascii_digit());
        if o_series {
            Family::OSeries
        } else if name.starts_with("gpt-5") && !name.contains("chat") {
            Family::Gpt5
        } else {
            Family::Classic
        }
    }

    /// Whether it is a reasoning model.
    pub fn is_reasoning(self) -> bool {
        self != Family::Classic
    }
}

/// Rewrites `request` for its model's family; one sentence per change.
pub fn adjust(request: &mut ChatRequest) -> Vec<String> {
    let family = Family::of(&request.model);
    let mut notes = Vec::new();
    let why = match family {
        Family::Classic => return notes,
        Family::OSeries => "o-series reasoning models do not take it",
        Family::Gpt5 => "gpt-5 reasoning models take only the default (1)",
    };
    if let Some(limit) = request.max_tokens.take() {
        request.max_completion_tokens = Some(request.max_completion_tokens.unwrap_or(limit));
        notes.push(format!(
            "max_tokens {limit} was sent as max_completion_tokens, which reasoning models take instead (it also counts their reasoning tokens)"
        ));
    }
    for (name, slot) in [
        ("temperature", &mut request.temperature),
        ("top_p", &mut request.top_p),
    ] {
        let Some(value) = *slot else { continue };
        if family == Family::Gpt5 && value == 1.0 {
            continue;
        }
        *slot = None;
        notes.push(format!("{name} {value} was left out: {why}"));
    }
    notes
}

/// Rewrites `request` after the endpoint refused `parameter` for its model (a 400 naming it, as
/// OpenAI's `unsupported_parameter` and `unsupported_value` do); the note says what changed, or
/// `None` when the parameter is not one this can do without (so sending again would not help).
pub fn adjust_for_refusal(request: &mut ChatRequest, parameter: &str) -> Option<String> {
    let model = request.model.clone();
    match parameter {
        "max_tokens" => {
            let limit = request.max_tokens.take()?;
            request.max_completion_tokens = Some(request.max_completion_tokens.unwrap_or(limit));
            Some(format!(
                "max_tokens {limit} was sent as max_completion_tokens, because the endpoint refused max_tokens for {model}"
            ))
        }
        "max_completion_tokens" => {
            let limit = request.max_completion_tokens.take()?;
            request.max_tokens = Some(limit);
            Some(format!(
                "max_completion_tokens {limit} was sent as max_tokens, because the endpoint refused max_completion_tokens for {model}"
            ))
        }
        "temperature" => {
            let value = request.temperature.take()?;
            Some(format!(
                "temperature {value} was left out, because the endpoint refused it for {model}"
            ))
        }
        "top_p" => {
            let value = request.top_p.take()?;
            Some(format!(
                "top_p {value} was left out, because the endpoint refused it for {model}"
            ))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Message;

    fn request(model: &str) -> ChatRequest {
        let mut request = ChatRequest::new(model, vec![Message::new("user", "hi")]);
        request.temperature = Some(0.2);
        request.top_p = Some(1.0);
        request.max_tokens = Some(300);
        request
    }

    #[test]
    fn families_are_recognised_by_name() {
        // (model, family)
        let cases = [
            ("o3-mini", Family::OSeries),
            ("o1-2024-12-17", Family::OSeries),
            ("openai/o4-mini", Family::OSeries),
            ("gpt-5-mini", Family::Gpt5),
            ("gpt-5", Family::Gpt5),
            ("gpt-5-chat-latest", Family::Classic),
            ("gpt-4o-mini", Family::Classic),
            ("omni-moderation-latest", Family::Classic),
            ("llama3.2", Family::Classic),
        ];
        for (model, family) in cases {
            assert_eq!(Family::of(model), family, "{model}");
        }
    }

    #[test]
    fn requests_are_adjusted_per_family_with_a_note_per_change() {
        let mut classic = request("gpt-4o-mini");
        assert!(adjust(&mut classic).is_empty());
        assert_eq!(classic, request("gpt-4o-mini"));

        let mut o_series = request("o3-mini");
        let notes = adjust(&mut o_series);
        assert_eq!(
            (
                o_series.max_tokens,
                o_series.max_completion_tokens,
                o_series.temperature,
                o_series.top_p
            ),
            (None, Some(300), None, None)
        );
        assert_eq!(notes.len(), 3, "{notes:?}");
        assert!(notes[1].starts_with("temperature 0.2 was left out"));

        let mut gpt5 = request("gpt-5-mini");
        let notes = adjust(&mut gpt5);
        // top_p 1 is the default gpt-5 takes: kept, and not mentioned.
        assert_eq!((gpt5.temperature, gpt5.top_p), (None, Some(1.0)));
        assert_eq!(notes.len(), 2, "{notes:?}");
    }

    #[test]
    fn a_refused_parameter_is_dropped_or_renamed_once() {
        let mut unknown = request("deepseek-reasoner");
        let note = adjust_for_refusal(&mut unknown, "temperature").unwrap();
        assert!(note.contains("refused it for deepseek-reasoner"), "{note}");
        assert_eq!(adjust_for_refusal(&mut unknown, "temperature"), None);
        assert!(adjust_for_refusal(&mut unknown, "max_tokens").is_some());
        assert_eq!(unknown.max_completion_tokens, Some(300));
        assert_eq!(adjust_for_refusal(&mut unknown, "messages"), None);
    }
}
