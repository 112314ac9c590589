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
AGENT_BASE_URL            OpenAI-compatible API base, e.g. https://api.openai.com/v1 or http://localhost:11434/v1; unset: the
                          local model in this process, when its file is present
AGENT_API_KEY             its bearer key (optional for local servers)
AGENT_MODEL               the model id, e.g. gpt-4o-mini or llama3.2 (required with AGENT_BASE_URL)
AGENT_LOCAL_MODEL         the in-process model's file (default: OPENAI_LOCAL_MODEL, else mcp-openai's
                          $XDG_DATA_HOME/mcp-openai/SmolLM2-135M-Instruct.Q4_1.gguf, which `just local-model` installs)
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

/// Which model the agent talks to.
#[derive(Debug, Clone)]
pub enum ModelChoice {
    /// An OpenAI-compatible endpoint.
    Endpoint(ModelConfig),
    /// The small model in this process, from this file.
    Local(PathBuf),
}

/// Reads which model to use: the endpoint when `AGENT_BASE_URL` is set, else the local model
/// when its file is present, else the error asking for an endpoint.
pub fn model_choice(env: &Env) -> Result<ModelChoice, ConfigError> {
    if env.get("AGENT_BASE_URL").is_none() {
        let named = env
            .get("AGENT_LOCAL_MODEL")
            .or_else(|| env.get("OPENAI_LOCAL_MODEL"))
            .map(PathBuf::from);
        let path = named
            .clone()
            .or_else(|| env.data_dir().map(|dir| local_model::default_path(&dir)));
        match path {
            Some(path) if path.is_file() => return Ok(ModelChoice::Local(path)),
            Some(path) if named.is_some() => {
                return Err(ConfigError::Invalid {
                    variable: "AGENT_LOCAL_MODEL".into(),
                    expected: "the path of a GGUF chat model file".into(),
                    found: Some(format!("{}, which is not a file", path.display())),
                });
            }
            _ => {}
        }
    }
    model_config(env).map(ModelChoice::Endpoint)
}

/// Reads where the model is.
pub fn model_config(env: &Env) -> Result<ModelConfig, ConfigError> {
    let base_url = env.required(
        "AGENT_BASE_URL",
        "the base URL of an OpenAI-compatible API, such as https://api.openai.com/v1 or http://localhost:11434/v1 (or, with no endpoint, the in-process local model: `just local-model` installs it)",
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
    fn with_no_endpoint_the_local_model_is_used_when_its_file_is_there() {
        let data = tempfile::tempdir().unwrap();
        let home = data.path().to_str().unwrap().to_owned();
        let choice = |extra: &[(&str, &str)]| {
            let mut pairs = vec![("XDG_DATA_HOME", home.as_str())];
            pairs.extend_from_slice(extra);
            model_choice(&Env::from_pairs(pairs))
        };
        // Nothing configured and no model: the error asks for an endpoint and names the way out.
        let error = choice(&[]).unwrap_err().to_string();
        assert!(
            error.contains("AGENT_BASE_URL") && error.contains("just local-model"),
            "{error}"
        );
        let path = local_model::default_path(data.path());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, b"GGUF").unwrap();
        assert!(matches!(choice(&[]).unwrap(), ModelChoice::Local(found) if found == path));
        // An endpoint, when given, wins.
        let endpoint = choice(&[("AGENT_BASE_URL", "http://x/v1"), ("AGENT_MODEL", "m")]).unwrap();
        assert!(matches!(endpoint, ModelChoice::Endpoint(_)));
        // A model file named but missing is said so.
        let missing = choice(&[("AGENT_LOCAL_MODEL", "/nonexistent/model.gguf")])
            .unwrap_err()
            .to_string();
        assert!(missing.contains("AGENT_LOCAL_MODEL"), "{missing}");
    }

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
