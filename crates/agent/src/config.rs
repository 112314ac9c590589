//! The agent's settings, from the environment (`.env` included) through mcp-common's [`Env`], so
//! an error names the variable and what it expects.

use std::path::PathBuf;
use std::time::Duration;

use mcp_common::backend::BackendConfig;
use mcp_common::config::AuditDestination;
use mcp_common::{ConfigError, Env};

use crate::agent::Mode;
use crate::chat::ModelConfig;
use crate::manager::ManagerConfig;

/// Every `AGENT_*` variable, for `--help` and the README.
pub const ENV_HELP: &str = "\
AGENT_BASE_URL            OpenAI-compatible API base, e.g. https://api.openai.com/v1 or http://localhost:11434/v1 (required for ask)
AGENT_API_KEY             its bearer key (optional for local servers)
AGENT_MODEL               the model id, e.g. gpt-4o-mini or llama3.2 (required for ask)
AGENT_MODE                native, react or auto (default auto: native tools, the JSON protocol when the model refuses them)
AGENT_MAX_STEPS           model calls per question, 1-100 (default 8)
AGENT_TIMEOUT_SECS        limit on one model call attempt (default 120)
AGENT_RETRIES             retries of a model call after a timeout, a dropped connection, 429 or 5xx, 0-3 (default 3)
AGENT_BREAKER_THRESHOLD, AGENT_BREAKER_COOLDOWN_SECS  consecutive model failures that stop calls, and for how long (default 5, 30)
AGENT_TOOL_TIMEOUT_SECS   limit on one tool call (default 120)
AGENT_START_TIMEOUT_SECS  limit on starting a server and listing its tools (default 30)
AGENT_SYSTEM_PROMPT       extra instructions sent before the question (native mode)
AGENT_RETRIEVAL           true: call every server's recuperar_contexto with the question first and give the model what it finds (default false)
AGENT_AUDIT_LOG           stderr (default), off, or a file to append one JSON line per model and tool call";

/// What the loop needs beyond the model.
#[derive(Debug, Clone)]
pub struct LoopSettings {
    /// How tools are offered.
    pub mode: Mode,
    /// Model calls per question.
    pub max_steps: usize,
    /// Extra instructions.
    pub system_prompt: Option<String>,
    /// Recall context before the model.
    pub retrieval: bool,
}

/// Reads the manager's time limits.
pub fn manager_config(env: &Env) -> Result<ManagerConfig, ConfigError> {
    Ok(ManagerConfig {
        start_timeout: env
            .seconds("AGENT_START_TIMEOUT_SECS", 1.0..=600.0)?
            .unwrap_or(Duration::from_secs(30)),
        call_timeout: env
            .seconds("AGENT_TOOL_TIMEOUT_SECS", 1.0..=3600.0)?
            .unwrap_or(Duration::from_secs(120)),
    })
}

/// Reads where the model is.
pub fn model_config(env: &Env) -> Result<ModelConfig, ConfigError> {
    let base_url = env.required(
        "AGENT_BASE_URL",
        "the base URL of an OpenAI-compatible API, such as https://api.openai.com/v1 or http://localhost:11434/v1 (the in-process local model is not available yet)",
    )?;
    if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
        return Err(ConfigError::Invalid {
            variable: "AGENT_BASE_URL".into(),
            expected: "an http:// or https:// URL".into(),
            found: Some(base_url),
        });
    }
    Ok(ModelConfig {
        base_url,
        api_key: env
            .secret("AGENT_API_KEY")
            .filter(|key| !key.expose().is_empty()),
        model: env.required(
            "AGENT_MODEL",
            "the model id, such as gpt-4o-mini or llama3.2",
        )?,
        policy: model_policy(env)?,
    })
}

/// mcp-common's backend policy for the model endpoint, from `AGENT_TIMEOUT_SECS` (per attempt,
/// default 120 s: a long answer takes a while), `AGENT_RETRIES`, `AGENT_BREAKER_THRESHOLD` and
/// `AGENT_BREAKER_COOLDOWN_SECS`.
pub fn model_policy(env: &Env) -> Result<BackendConfig, ConfigError> {
    let mut policy = BackendConfig::from_env(env, "AGENT")?;
    if env.get("AGENT_TIMEOUT_SECS").is_none() {
        policy.timeout = Duration::from_secs(120);
    }
    Ok(policy)
}

/// Reads the loop's settings.
pub fn loop_settings(env: &Env) -> Result<LoopSettings, ConfigError> {
    let mode = match env
        .get("AGENT_MODE")
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("auto") => Mode::Auto,
        Some("native") => Mode::Native,
        Some("react") => Mode::React,
        Some(other) => {
            return Err(ConfigError::Invalid {
                variable: "AGENT_MODE".into(),
                expected: "native, react or auto".into(),
                found: Some(other.into()),
            });
        }
    };
    let max_steps = match env.parse::<usize>("AGENT_MAX_STEPS", "a whole number from 1 to 100")? {
        None => 8,
        Some(steps) if (1..=100).contains(&steps) => steps,
        Some(steps) => {
            return Err(ConfigError::Invalid {
                variable: "AGENT_MAX_STEPS".into(),
                expected: "a whole number from 1 to 100".into(),
                found: Some(steps.to_string()),
            });
        }
    };
    Ok(LoopSettings {
        mode,
        max_steps,
        system_prompt: env
            .get("AGENT_SYSTEM_PROMPT")
            .filter(|p| !p.trim().is_empty())
            .map(str::to_owned),
        retrieval: env.flag("AGENT_RETRIEVAL")?.unwrap_or(false),
    })
}

/// Reads where audit lines go.
pub fn audit_destination(env: &Env) -> AuditDestination {
    match env.get("AGENT_AUDIT_LOG") {
        None => AuditDestination::Stderr,
        Some(v) if v.eq_ignore_ascii_case("stderr") => AuditDestination::Stderr,
        Some(v) if v.eq_ignore_ascii_case("off") => AuditDestination::Off,
        Some(path) => AuditDestination::File(PathBuf::from(path)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_variable() {
        let cases = [
            (vec![("AGENT_MODEL", "m")], "AGENT_BASE_URL"),
            (
                vec![("AGENT_BASE_URL", "ftp://x"), ("AGENT_MODEL", "m")],
                "AGENT_BASE_URL must be an http",
            ),
            (vec![("AGENT_BASE_URL", "http://x/v1")], "AGENT_MODEL"),
            (
                vec![
                    ("AGENT_BASE_URL", "http://x/v1"),
                    ("AGENT_MODEL", "m"),
                    ("AGENT_TIMEOUT_SECS", "0"),
                ],
                "AGENT_TIMEOUT_SECS",
            ),
        ];
        for (pairs, expected) in cases {
            let error = model_config(&Env::from_pairs(pairs.clone()))
                .unwrap_err()
                .to_string();
            assert!(error.contains(expected), "{pairs:?}: {error}");
        }
        let error = loop_settings(&Env::from_pairs([("AGENT_MODE", "tools")]))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("AGENT_MODE must be native, react or auto"),
            "{error}"
        );
        let error = loop_settings(&Env::from_pairs([("AGENT_MAX_STEPS", "0")]))
            .unwrap_err()
            .to_string();
        assert!(error.contains("AGENT_MAX_STEPS"), "{error}");
        let settings = loop_settings(&Env::from_pairs([("AGENT_MODE", "React")])).unwrap();
        assert_eq!((settings.mode, settings.max_steps), (Mode::React, 8));
    }
}
