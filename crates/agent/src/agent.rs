//! The loop: the model is called with the servers' tools, the tools it asks for are run (in
//! parallel when it asks for several at once), and their results go back, until it answers or
//! the step limit is reached.
//!
//! Models with function calling get the tools natively. Models without a tool role use the
//! prototype's JSON protocol ([`crate::react`]), chosen with `AGENT_MODE=react` or, in `auto`
//! mode, after the endpoint refuses a request with tools. Within one question, a call identical
//! to one already made (same tool, same arguments) is not run again: the model is told to use
//! the result it has, and, when a whole step was only repeats, asked to answer without tools.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use openai_compat::wire::Message;
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::audit::{Audit, ModelCallRecord, ToolCallRecord};
use crate::chat::{Model, ModelError, ModelTurn, Offer, TextSink, ToolChoice};
use crate::consent::{Answer, Consent, ConsentRequest, question};
use crate::manager::Manager;
use crate::react::{self, Reply};
use crate::translate::{self, CONFIRM_ARGUMENT, TranslatedTool};

/// How tools are offered to the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Function tools.
    Native,
    /// The JSON protocol, for models without a tool role.
    React,
    /// Function tools, switching to the JSON protocol when the endpoint refuses them.
    Auto,
}

/// Tools a small local model is offered per question.
const SHORTLIST: usize = 4;

/// The loop's settings.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// How tools are offered.
    pub mode: Mode,
    /// Model calls per question, repairs included.
    pub max_steps: usize,
    /// Extra instructions sent first (native mode; the JSON protocol has its own prompt).
    pub system_prompt: Option<String>,
    /// Recall context first: every server's `recuperar_contexto` (the prototype's retrieval
    /// tool) is called with the question, and what it finds goes to the model before the
    /// question.
    pub retrieval: bool,
}

/// How a question ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Finish {
    /// The model answered.
    Answered,
    /// The step limit was reached first.
    StepLimit,
    /// The model's JSON could not be read even after a repair request.
    Unreadable,
}

/// One tool call the model asked for, and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolCallReport {
    /// The name the model used.
    pub function: String,
    /// The server, when the name was known.
    pub server: Option<String>,
    /// The server's tool, when the name was known.
    pub tool: Option<String>,
    /// The arguments as sent to the server (or as the model wrote them).
    pub arguments: Value,
    /// `ok`, `tool_error`, `declined`, `pending_approval`, `repeated`, `invalid_arguments`,
    /// `unknown_tool` or `failed`.
    pub outcome: &'static str,
    /// What the model was told.
    pub result: String,
}

/// The answer to one question, with how it was reached.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The answer (or, when the loop stopped early, why).
    pub answer: String,
    /// How it ended.
    pub finish: Finish,
    /// `native` or `react`.
    pub mode: &'static str,
    /// Model calls made.
    pub steps: usize,
    /// Every tool call asked for, in order.
    pub tool_calls: Vec<ToolCallReport>,
    /// Servers whose tools were not available, and why.
    pub unavailable: Vec<String>,
    /// The conversation as sent to the model, answer last.
    pub transcript: Vec<Message>,
}

impl Outcome {
    /// This question and its answer as two text messages, to pass as the earlier turns of the
    /// next question ([`Agent::ask_after`]).
    pub fn exchange(&self, question: &str) -> [Message; 2] {
        [
            Message::new("user", question),
            Message::new("assistant", self.answer.clone()),
        ]
    }
}

/// A question that could not be answered at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgentError {
    /// The model endpoint failed.
    #[error(transparent)]
    Model(#[from] ModelError),
}

/// The agent: servers, model, consent and audit.
#[derive(Debug)]
pub struct Agent {
    manager: Arc<Manager>,
    model: Model,
    config: AgentConfig,
    consent: Consent,
    audit: Audit,
    /// In auto mode, set once the endpoint refused tools, so later questions go straight to
    /// the JSON protocol.
    tools_refused: AtomicBool,
}

struct Turn {
    seen: BTreeSet<String>,
    reports: Vec<ToolCallReport>,
    steps: usize,
}

impl Agent {
    /// An agent over `manager`'s servers and `model`.
    pub fn new(
        manager: Arc<Manager>,
        model: impl Into<Model>,
        config: AgentConfig,
        consent: Consent,
        audit: Audit,
    ) -> Agent {
        Agent {
            manager,
            model: model.into(),
            config,
            consent,
            audit,
            tools_refused: AtomicBool::new(false),
        }
    }

    /// The servers' tools as the model sees them, and the servers that are unavailable.
    pub async fn tools(&self) -> (Vec<TranslatedTool>, Vec<String>) {
        let (lists, failures) = self.manager.all_tools().await;
        (
            translate::translate_all(&lists),
            failures.iter().map(ToString::to_string).collect(),
        )
    }

    /// Answers one question.
    pub async fn ask(&self, question: &str) -> Result<Outcome, AgentError> {
        self.ask_after(&[], question).await
    }

    /// Answers `question` after the earlier turns of a conversation (`earlier`: user questions
    /// and assistant answers as text, oldest first; see [`Outcome::exchange`]). Tool calls of
    /// earlier turns are not replayed, so a conversation can change mode between turns.
    pub async fn ask_after(
        &self,
        earlier: &[Message],
        question: &str,
    ) -> Result<Outcome, AgentError> {
        self.ask_inner(earlier, question, None).await
    }

    /// [`Agent::ask_after`] with the model's text streamed to `on_text` as it arrives (in
    /// native mode; the JSON protocol's replies are JSON, so only its answer is shown, whole).
    /// Text the model writes alongside tool calls is streamed too.
    pub async fn ask_streaming(
        &self,
        earlier: &[Message],
        question: &str,
        on_text: &TextSink<'_>,
    ) -> Result<Outcome, AgentError> {
        self.ask_inner(earlier, question, Some(on_text)).await
    }

    async fn ask_inner(
        &self,
        earlier: &[Message],
        question: &str,
        on_text: Option<&TextSink<'_>>,
    ) -> Result<Outcome, AgentError> {
        let (tools, unavailable) = self.tools().await;
        for reason in &unavailable {
            tracing::warn!("{reason}");
        }
        let use_react = self.config.mode == Mode::React
            || !self.model.has_tool_role()
            || (self.config.mode == Mode::Auto && self.tools_refused.load(Ordering::SeqCst));
        let (context, recalls) = if self.config.retrieval {
            self.recall(question, &tools).await
        } else {
            (Vec::new(), Vec::new())
        };
        let mut outcome = if use_react {
            self.ask_react(&context, earlier, question, &tools).await?
        } else {
            match self
                .ask_native(&context, earlier, question, &tools, on_text)
                .await
            {
                Err(AgentError::Model(error))
                    if self.config.mode == Mode::Auto && error.rejects_tools() =>
                {
                    tracing::info!(%error, "the model refuses tools; using the JSON protocol");
                    self.tools_refused.store(true, Ordering::SeqCst);
                    self.ask_react(&context, earlier, question, &tools).await?
                }
                other => other?,
            }
        };
        outcome.unavailable = unavailable;
        outcome.tool_calls.splice(0..0, recalls);
        Ok(outcome)
    }

    /// Calls every `recuperar_contexto` with the question; a system message per server that
    /// found something, and the calls made.
    async fn recall(
        &self,
        question: &str,
        tools: &[TranslatedTool],
    ) -> (Vec<Message>, Vec<ToolCallReport>) {
        let retrievers: Vec<&TranslatedTool> = tools
            .iter()
            .filter(|t| {
                t.tool == RETRIEVAL_TOOL
                    && t.original_schema["properties"]
                        .get(RETRIEVAL_ARGUMENT)
                        .is_some()
            })
            .collect();
        let reports = futures::future::join_all(retrievers.iter().map(|tool| {
            let mut arguments = Map::new();
            arguments.insert(RETRIEVAL_ARGUMENT.to_owned(), json!(question));
            self.run_call(tools, &tool.name, Ok(arguments), false)
        }))
        .await;
        let context = reports
            .iter()
            .filter(|report| report.outcome == "ok" && found_something(&report.result))
            .map(|report| {
                Message::new(
                    "system",
                    format!(
                        "Context recalled for this question by the {} server ({RETRIEVAL_TOOL}); use it if it helps, and say so when it does not answer the question:\n{}",
                        report.server.as_deref().unwrap_or_default(),
                        report.result
                    ),
                )
            })
            .collect();
        (context, reports)
    }

    async fn ask_native(
        &self,
        context: &[Message],
        earlier: &[Message],
        question: &str,
        tools: &[TranslatedTool],
        on_text: Option<&TextSink<'_>>,
    ) -> Result<Outcome, AgentError> {
        let definitions: Vec<Value> = tools.iter().map(TranslatedTool::to_openai).collect();
        let mut messages = Vec::new();
        if let Some(prompt) = &self.config.system_prompt {
            messages.push(Message::new("system", prompt.clone()));
        }
        messages.extend(context.iter().cloned());
        messages.extend(earlier.iter().cloned());
        messages.push(Message::new("user", question));
        let mut turn = Turn {
            seen: BTreeSet::new(),
            reports: Vec::new(),
            steps: 0,
        };
        let mut choice = ToolChoice::Auto;
        while turn.steps < self.config.max_steps {
            let answer = self
                .call_model(
                    &mut turn,
                    "native",
                    &messages,
                    Offer {
                        tools: &definitions,
                        choice,
                        guide: None,
                    },
                    on_text,
                )
                .await?;
            let calls = answer.message.tool_calls.clone();
            messages.push(answer.message.clone());
            if calls.is_empty() {
                let mut text = answer.message.content.unwrap_or_default();
                if answer.finish_reason.as_deref() == Some("length") {
                    text.push_str(" [cut: the model reached its token limit]");
                }
                return Ok(self.outcome(text, Finish::Answered, "native", turn, messages));
            }
            // Repeats are decided in the order the model wrote the calls, before any runs, so a
            // batch that asks for the same call twice runs it once.
            let mut planned = Vec::with_capacity(calls.len());
            for call in &calls {
                let arguments = parse_arguments(&call.function.arguments);
                let repeated = match &arguments {
                    Ok(arguments) => !turn.seen.insert(call_key(&call.function.name, arguments)),
                    Err(_) => false,
                };
                planned.push((call, arguments, repeated));
            }
            let all_repeated = planned.iter().all(|(_, _, repeated)| *repeated);
            let results = futures::future::join_all(planned.into_iter().map(
                |(call, arguments, repeated)| {
                    self.run_call(tools, &call.function.name, arguments, repeated)
                },
            ))
            .await;
            for (call, report) in calls.iter().zip(results) {
                messages.push(Message::tool_result(&call.id, report.result.clone()));
                turn.reports.push(report);
            }
            // A model that only repeats itself has what it needs: ask for the answer.
            choice = if all_repeated {
                ToolChoice::ForceAnswer
            } else {
                ToolChoice::Auto
            };
        }
        let steps = turn.steps;
        Ok(self.outcome(
            format!("No answer after {steps} model calls (AGENT_MAX_STEPS); the tool results so far are in the transcript"),
            Finish::StepLimit,
            "native",
            turn,
            messages,
        ))
    }

    async fn ask_react(
        &self,
        context: &[Message],
        earlier: &[Message],
        question: &str,
        tools: &[TranslatedTool],
    ) -> Result<Outcome, AgentError> {
        // A small local model gets the few tools the question is about, briefly; an endpoint's
        // model gets them all.
        let local = !self.model.has_tool_role();
        let shortlist: Vec<TranslatedTool> = if local {
            react::shortlist(tools, question, SHORTLIST)
                .into_iter()
                .cloned()
                .collect()
        } else {
            Vec::new()
        };
        let offered: &[TranslatedTool] = if local { &shortlist } else { tools };
        let detail = if local {
            react::Detail::Brief
        } else {
            react::Detail::Full
        };
        let mut messages = vec![Message::new(
            "system",
            react::system_prompt(offered, detail),
        )];
        messages.extend(context.iter().cloned());
        // Earlier answers are shown in the protocol's own form, so the model keeps to it.
        messages.extend(earlier.iter().map(|message| {
            if message.role == "assistant" {
                Message::new(
                    "assistant",
                    json!({react::ANSWER_KEY: message.content.clone().unwrap_or_default()})
                        .to_string(),
                )
            } else {
                message.clone()
            }
        }));
        messages.push(Message::new("user", question));
        let mut turn = Turn {
            seen: BTreeSet::new(),
            reports: Vec::new(),
            steps: 0,
        };
        let mut repairing = false;
        while turn.steps < self.config.max_steps {
            // A model in this process is held to the protocol (an endpoint gets repair
            // requests): its first reply must call one of the shortlisted tools when there are
            // any, and later ones answer or call a tool not called yet, so a small model cannot
            // loop on the same call.
            let guide = local.then(|| {
                let called: BTreeSet<&str> = turn
                    .reports
                    .iter()
                    .map(|report| report.function.as_str())
                    .collect();
                let left: Vec<TranslatedTool> = offered
                    .iter()
                    .filter(|tool| !called.contains(tool.name.as_str()))
                    .cloned()
                    .collect();
                let must_call = turn.reports.is_empty() && !left.is_empty();
                react::guide(&left, !must_call)
            });
            let guide = guide.as_ref();
            let answer = self
                .call_model(
                    &mut turn,
                    "react",
                    &messages,
                    Offer {
                        tools: &[],
                        choice: ToolChoice::Omitted,
                        guide,
                    },
                    None,
                )
                .await?;
            let text = answer.message.content.clone().unwrap_or_default();
            messages.push(Message::new("assistant", text.clone()));
            match react::parse(&text) {
                Ok(Reply::Answer(answer)) => {
                    return Ok(self.outcome(answer, Finish::Answered, "react", turn, messages));
                }
                Ok(Reply::Call { tool, arguments }) => {
                    repairing = false;
                    let function = resolve_react_name(tools, &tool);
                    let repeated = !turn.seen.insert(call_key(&function, &arguments));
                    let report = self
                        .run_call(tools, &function, Ok(arguments), repeated)
                        .await;
                    let result = if local {
                        // A small model reads `employees: 100` where it loses its way in JSON,
                        // and needs the question again after a long result.
                        format!(
                            "Result of {function}:\n{}\nAnswer the question \"{question}\" from this result, with one JSON object.",
                            react::as_lines(&report.result)
                        )
                    } else {
                        format!(
                            "Result of {function}: {}\nReply with one JSON object.",
                            report.result
                        )
                    };
                    messages.push(Message::new("user", result));
                    turn.reports.push(report);
                }
                Err(problem) if !repairing => {
                    repairing = true;
                    messages.push(Message::new("user", react::repair_request(&problem)));
                }
                Err(problem) => {
                    return Ok(self.outcome(
                        format!("The model's reply could not be read even after a repair request ({problem}); it said: {}", translate::cut(&text, 2_000)),
                        Finish::Unreadable,
                        "react",
                        turn,
                        messages,
                    ));
                }
            }
        }
        let steps = turn.steps;
        Ok(self.outcome(
            format!("No answer after {steps} model calls (AGENT_MAX_STEPS); the tool results so far are in the transcript"),
            Finish::StepLimit,
            "react",
            turn,
            messages,
        ))
    }

    fn outcome(
        &self,
        answer: String,
        finish: Finish,
        mode: &'static str,
        turn: Turn,
        transcript: Vec<Message>,
    ) -> Outcome {
        Outcome {
            answer,
            finish,
            mode,
            steps: turn.steps,
            tool_calls: turn.reports,
            unavailable: Vec::new(),
            transcript,
        }
    }

    async fn call_model(
        &self,
        turn: &mut Turn,
        mode: &'static str,
        messages: &[Message],
        offer: Offer<'_>,
        on_text: Option<&TextSink<'_>>,
    ) -> Result<ModelTurn, AgentError> {
        turn.steps += 1;
        let started = Instant::now();
        let result = self.model.complete(messages, offer, on_text).await;
        self.audit.model_call(ModelCallRecord {
            time: String::new(),
            event: "model_call",
            endpoint: self.model.url(),
            model: self.model.model().to_owned(),
            mode,
            step: turn.steps,
            duration_ms: started.elapsed().as_secs_f64() * 1000.0,
            outcome: if result.is_ok() { "ok" } else { "error" },
            error: result.as_ref().err().map(ToString::to_string),
            tool_calls: result
                .as_ref()
                .map_or(0, |answer| answer.message.tool_calls.len()),
            usage: result
                .as_ref()
                .ok()
                .and_then(|answer| answer.usage)
                .and_then(|usage| serde_json::to_value(usage).ok()),
        });
        Ok(result?)
    }

    /// Runs one call the model asked for and says what the model is told.
    async fn run_call(
        &self,
        tools: &[TranslatedTool],
        function: &str,
        arguments: Result<Map<String, Value>, String>,
        repeated: bool,
    ) -> ToolCallReport {
        let started = Instant::now();
        let tool = tools.iter().find(|t| t.name == function);
        let (report, consent) = self
            .decide_call(tools, tool, function, arguments, repeated)
            .await;
        self.audit.tool_call(ToolCallRecord {
            time: String::new(),
            event: "tool_call",
            function: function.to_owned(),
            server: report.server.clone(),
            tool: report.tool.clone(),
            arguments: report.arguments.clone(),
            duration_ms: started.elapsed().as_secs_f64() * 1000.0,
            outcome: report.outcome,
            consent,
            error: (!matches!(report.outcome, "ok")).then(|| report.result.clone()),
        });
        report
    }

    async fn decide_call(
        &self,
        tools: &[TranslatedTool],
        tool: Option<&TranslatedTool>,
        function: &str,
        arguments: Result<Map<String, Value>, String>,
        repeated: bool,
    ) -> (ToolCallReport, &'static str) {
        let report = |outcome: &'static str, arguments: Value, result: String| ToolCallReport {
            function: function.to_owned(),
            server: tool.map(|t| t.server.clone()),
            tool: tool.map(|t| t.tool.clone()),
            arguments,
            outcome,
            result,
        };
        let Some(tool) = tool else {
            let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
            let shown = arguments.clone().map(Value::Object).unwrap_or(Value::Null);
            return (
                report(
                    "unknown_tool",
                    shown,
                    format!(
                        "There is no tool named `{function}`. The tools are: {}",
                        translate::cut(&names.join(", "), 4_000)
                    ),
                ),
                "not_required",
            );
        };
        let arguments = match arguments {
            Ok(arguments) => arguments,
            Err(problem) => {
                return (
                    report(
                        "invalid_arguments",
                        Value::Null,
                        format!(
                            "The arguments of `{function}` could not be read ({problem}); call it again with a JSON object matching its parameters"
                        ),
                    ),
                    "not_required",
                );
            }
        };
        if repeated {
            return (
                report(
                    "repeated",
                    Value::Object(arguments),
                    format!(
                        "`{function}` was already called with exactly these arguments in this conversation turn, so it was not run again; use that result"
                    ),
                ),
                "not_required",
            );
        }
        let mut sent = translate::arguments_for_server(&tool.original_schema, arguments);
        let mut consent = "not_required";
        if tool.needs_consent {
            let answer = self
                .consent
                .answer(ConsentRequest {
                    server: tool.server.clone(),
                    tool: tool.tool.clone(),
                    arguments: Value::Object(sent.clone()),
                    message: question(&tool.server, &tool.tool, &Value::Object(sent.clone())),
                })
                .await;
            match answer {
                Answer::Approved => {}
                Answer::Declined => {
                    return (
                        report(
                            "declined",
                            Value::Object(sent),
                            format!(
                                "The user declined `{function}`, so it was not run and nothing changed. Do not call it again; tell the user it was not done"
                            ),
                        ),
                        "declined",
                    );
                }
                Answer::Pending => {
                    return (
                        report(
                            "pending_approval",
                            Value::Object(sent),
                            format!(
                                "`{function}` changes data, so the user's approval has been requested; it has not run yet. Do not call it again; tell the user what it would do and that it waits for their approval"
                            ),
                        ),
                        "pending",
                    );
                }
            }
            consent = "approved";
            sent.insert(CONFIRM_ARGUMENT.to_owned(), json!(true));
        }
        let entry = self
            .execute(tool, function, sent, consent == "approved")
            .await;
        (entry, consent)
    }

    /// Sends a call to its server and says what the model is told.
    async fn execute(
        &self,
        tool: &TranslatedTool,
        function: &str,
        sent: Map<String, Value>,
        approved: bool,
    ) -> ToolCallReport {
        let result = self
            .manager
            .call(
                &tool.server,
                &tool.tool,
                sent.clone(),
                approved,
                tool.read_only,
            )
            .await;
        let (outcome, text) = match result {
            Ok(result) => {
                let outcome = if result["isError"] == Value::Bool(true) {
                    "tool_error"
                } else {
                    "ok"
                };
                (outcome, translate::result_text(&result))
            }
            Err(error) => ("failed", format!("The call failed: {error}")),
        };
        ToolCallReport {
            function: function.to_owned(),
            server: Some(tool.server.clone()),
            tool: Some(tool.tool.clone()),
            arguments: Value::Object(sent),
            outcome,
            result: text,
        }
    }

    /// Runs a call whose approval was pending (the gateway's client approved it later), with
    /// exactly the arguments the user saw, and audits it.
    pub async fn run_approved(&self, approved: &ConsentRequest) -> ToolCallReport {
        let started = Instant::now();
        let (tools, _) = self.tools().await;
        let tool = tools
            .iter()
            .find(|t| t.server == approved.server && t.tool == approved.tool);
        let function = tool.map_or_else(
            || format!("{}__{}", approved.server, approved.tool),
            |t| t.name.clone(),
        );
        let mut sent = approved.arguments.as_object().cloned().unwrap_or_default();
        let report = match tool {
            Some(tool) => {
                sent.insert(CONFIRM_ARGUMENT.to_owned(), json!(true));
                self.execute(tool, &function, sent, true).await
            }
            None => ToolCallReport {
                function: function.clone(),
                server: Some(approved.server.clone()),
                tool: Some(approved.tool.clone()),
                arguments: Value::Object(sent),
                outcome: "failed",
                result: format!(
                    "The call failed: the {} server no longer offers `{}`",
                    approved.server, approved.tool
                ),
            },
        };
        self.audit.tool_call(ToolCallRecord {
            time: String::new(),
            event: "tool_call",
            function,
            server: report.server.clone(),
            tool: report.tool.clone(),
            arguments: report.arguments.clone(),
            duration_ms: started.elapsed().as_secs_f64() * 1000.0,
            outcome: report.outcome,
            consent: "approved",
            error: (report.outcome != "ok").then(|| report.result.clone()),
        });
        report
    }
}

/// The prototype's retrieval tool and its argument.
const RETRIEVAL_TOOL: &str = "recuperar_contexto";
const RETRIEVAL_ARGUMENT: &str = "pregunta";

/// Whether a retrieval result has passages (or is not structured, so cannot be judged empty).
fn found_something(result: &str) -> bool {
    match serde_json::from_str::<Value>(result) {
        Ok(value) => value["passages"]
            .as_array()
            .is_none_or(|passages| !passages.is_empty()),
        Err(_) => !result.trim().is_empty(),
    }
}

/// Arguments as the model wrote them: a JSON object (an empty text meaning none).
fn parse_arguments(text: &str) -> Result<Map<String, Value>, String> {
    if text.trim().is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(arguments)) => Ok(arguments),
        Ok(other) => Err(format!("expected a JSON object, found {other}")),
        Err(error) => Err(format!("not valid JSON: {error}")),
    }
}

/// The identity of a call within a turn: the function and its arguments with keys sorted.
fn call_key(function: &str, arguments: &Map<String, Value>) -> String {
    // serde_json's map keeps keys sorted, so equal arguments give equal text.
    format!("{function} {}", Value::Object(arguments.clone()))
}

/// The JSON protocol's tool name: the translated name, or the server's own tool name when only
/// one server has it (small models drop the prefix).
fn resolve_react_name(tools: &[TranslatedTool], written: &str) -> String {
    if tools.iter().any(|t| t.name == written) {
        return written.to_owned();
    }
    let matching: Vec<&TranslatedTool> = tools.iter().filter(|t| t.tool == written).collect();
    match matching.as_slice() {
        [only] => only.name.clone(),
        _ => written.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_and_call_identity() {
        assert_eq!(parse_arguments("").unwrap(), Map::new());
        assert!(
            parse_arguments("{\"a\": ")
                .unwrap_err()
                .contains("not valid JSON")
        );
        assert!(
            parse_arguments("[1]")
                .unwrap_err()
                .contains("expected a JSON object")
        );
        let a = parse_arguments(r#"{"b": 1, "a": 2}"#).unwrap();
        let b = parse_arguments(r#"{"a": 2, "b": 1}"#).unwrap();
        assert_eq!(call_key("f", &a), call_key("f", &b));
        assert_ne!(call_key("f", &a), call_key("g", &a));
    }

    #[test]
    fn react_names_may_drop_the_server_prefix_when_unambiguous() {
        let tool = |server: &str, name: &str| {
            (
                server.to_owned(),
                vec![json!({"name": name, "inputSchema": {"type": "object"}})],
            )
        };
        let tools = translate::translate_all(&[
            tool("empresa", "consultar_empresa"),
            tool("a", "search"),
            tool("b", "search"),
        ]);
        assert_eq!(
            resolve_react_name(&tools, "consultar_empresa"),
            "empresa__consultar_empresa"
        );
        assert_eq!(
            resolve_react_name(&tools, "empresa__consultar_empresa"),
            "empresa__consultar_empresa"
        );
        assert_eq!(resolve_react_name(&tools, "search"), "search");
    }
}
