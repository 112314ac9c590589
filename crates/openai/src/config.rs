//! Configuration of the openai server (`OPENAI_*` variables).

use std::path::PathBuf;
use std::time::Duration;

use mcp_common::{BackendConfig, ConfigError, Env, Secret};

/// OpenAI's own API, the default endpoint.
pub const OPENAI_API: &str = "https://api.openai.com/v1";

/// How the key is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// `Authorization: Bearer KEY` (OpenAI and every compatible server).
    Bearer,
    /// `api-key: KEY` (Azure OpenAI resources, `*.openai.azure.com`).
    AzureApiKey,
}

/// The server's settings.
#[derive(Debug, Clone)]
pub struct OpenAiConfig {
    /// The in-process model file, when the provider is `local`; requests then never leave the
    /// process and the endpoint settings are unused.
    pub local_model: Option<PathBuf>,
    /// The API base, e.g. `https://api.openai.com/v1`, without a trailing slash.
    pub base_url: String,
    /// The key; required for OpenAI's own API, optional for local servers.
    pub api_key: Option<Secret>,
    /// How the key is sent.
    pub auth: Auth,
    /// The chat model used when a call names none.
    pub model: String,
    /// The embedding model used when a call names none.
    pub embedding_model: String,
    /// Refuse a call that could use more tokens than this (prompt and answer).
    pub max_tokens_per_call: Option<u64>,
    /// Refuse calls once a session has used this many tokens.
    pub max_tokens_per_session: Option<u64>,
    /// Longest answer text returned; longer ones are cut with a note.
    pub max_output_chars: usize,
    /// Limit on one whole chat call, streaming included (and the tool call's time limit).
    pub chat_timeout: Duration,
    /// Timeout (the longest wait for an answer or for the next piece of a streamed one),
    /// retries and breaker.
    pub backend: BackendConfig,
}

/// The `--help` lines for this server's own variables.
pub const ENV_HELP: &str = "\
openai settings:
  OPENAI_BASE_URL                  OpenAI-compatible API base (default https://api.openai.com/v1; e.g.
                                   http://localhost:11434/v1 for Ollama, http://localhost:8000/v1 for vLLM)
  OPENAI_API_KEY                   API key; required for api.openai.com, optional for local servers
  OPENAI_MODEL                     chat model when a call names none (default gpt-4o-mini)
  OPENAI_EMBEDDING_MODEL           embedding model when a call names none (default text-embedding-3-small)
  OPENAI_PROVIDER                  openai (any OpenAI-compatible endpoint) or local (the small model in
                                   this process, chat only); unset: local when neither OPENAI_API_KEY nor
                                   OPENAI_BASE_URL is set and the local model file is present
  OPENAI_LOCAL_MODEL               the local model, a llama-family GGUF chat model (default
                                   $XDG_DATA_HOME/mcp-openai/SmolLM2-135M-Instruct.Q4_1.gguf, which
                                   `just local-model` installs)
  OPENAI_MAX_TOKENS_PER_CALL       refuse a call that could use more tokens (prompt and answer) than this
  OPENAI_MAX_TOKENS_PER_SESSION    refuse calls once a session (stdio: the process; HTTP: the MCP session)
                                   has used this many tokens
  OPENAI_MAX_OUTPUT_CHARS          longest answer returned, longer ones are cut with a note (default 50000)
  OPENAI_CHAT_TIMEOUT_SECS         limit on one whole chat call, streaming included (default 300)
  OPENAI_TIMEOUT_SECS, OPENAI_RETRIES, OPENAI_BREAKER_THRESHOLD, OPENAI_BREAKER_COOLDOWN_SECS
                                   longest wait for an answer or the next piece of a streamed one (default
                                   30), retries (0-3, default 3), circuit breaker";

/// The default output cap: about 12k tokens of text, under what hosts accept in one result.
pub const DEFAULT_MAX_OUTPUT_CHARS: usize = 50_000;

/// The default limit on one chat call.
pub const DEFAULT_CHAT_TIMEOUT: Duration = Duration::from_secs(300);

impl OpenAiConfig {
    /// Reads the settings.
    pub fn from_env(env: &Env) -> Result<OpenAiConfig, ConfigError> {
        let local_path = env
            .get("OPENAI_LOCAL_MODEL")
            .map(PathBuf::from)
            .or_else(|| env.data_dir().map(|dir| local_model::default_path(&dir)));
        let local_model = match env.get("OPENAI_PROVIDER") {
            Some("local") => match local_path {
                Some(path) if path.is_file() => Some(path),
                found => {
                    return Err(ConfigError::Invalid {
                        variable: "OPENAI_LOCAL_MODEL".into(),
                        expected: "the path of a GGUF chat model file (`just local-model` installs SmolLM2-135M-Instruct where the server looks by default)".into(),
                        found: Some(found.map_or_else(
                            || "nothing (no HOME or XDG_DATA_HOME to look in)".into(),
                            |path| format!("{}, which is not a file", path.display()),
                        )),
                    });
                }
            },
            // With nothing configured, a model already on the machine beats an error about a key.
            None if env.get("OPENAI_API_KEY").is_none() && env.get("OPENAI_BASE_URL").is_none() => {
                local_path.filter(|path| path.is_file())
            }
            None | Some("openai") => None,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    variable: "OPENAI_PROVIDER".into(),
                    expected: "openai or local".into(),
                    found: Some(other.into()),
                });
            }
        };
        let base_url = env
            .get("OPENAI_BASE_URL")
            .unwrap_or(OPENAI_API)
            .trim_end_matches('/')
            .to_owned();
        let Some(host) = host_of(&base_url) else {
            return Err(ConfigError::Invalid {
                variable: "OPENAI_BASE_URL".into(),
                expected: "an http:// or https:// URL such as https://api.openai.com/v1".into(),
                found: Some(base_url),
            });
        };
        let api_key = env.secret("OPENAI_API_KEY");
        if host == "api.openai.com" && local_model.is_none() {
            const KEY_SHAPE: &str = "an OpenAI API key (sk-…) for https://api.openai.com; for a local server set OPENAI_BASE_URL to it, or run the model in this process (`just local-model`, then OPENAI_PROVIDER=local)";
            let Some(key) = &api_key else {
                return Err(ConfigError::Missing {
                    variable: "OPENAI_API_KEY".into(),
                    expected: KEY_SHAPE.into(),
                });
            };
            let well_formed = key.expose().starts_with("sk-")
                && key.expose().len() >= 20
                && !key.expose().chars().any(char::is_whitespace);
            if !well_formed {
                return Err(ConfigError::Invalid {
                    variable: "OPENAI_API_KEY".into(),
                    expected: KEY_SHAPE.into(),
                    // Only the start: the rest of a key is a secret even when malformed.
                    found: Some(format!(
                        "a value starting {:?}",
                        key.expose().chars().take(3).collect::<String>()
                    )),
                });
            }
        }
        let auth = if host.ends_with(".openai.azure.com") {
            Auth::AzureApiKey
        } else {
            Auth::Bearer
        };
        let model = match &local_model {
            // The local provider has one model: the file.
            Some(path) => local_model::model_name(path),
            None => env.get("OPENAI_MODEL").unwrap_or("gpt-4o-mini").to_owned(),
        };
        let embedding_model = env
            .get("OPENAI_EMBEDDING_MODEL")
            .unwrap_or("text-embedding-3-small")
            .to_owned();
        let tokens = |variable: &str| -> Result<Option<u64>, ConfigError> {
            match env.parse::<u64>(variable, "a whole number of tokens of at least 1")? {
                Some(0) => Err(ConfigError::Invalid {
                    variable: variable.into(),
                    expected: "a whole number of tokens of at least 1".into(),
                    found: Some("0".into()),
                }),
                other => Ok(other),
            }
        };
        let max_output_chars = match env.parse::<usize>(
            "OPENAI_MAX_OUTPUT_CHARS",
            "a number of characters from 1000 to 10000000",
        )? {
            None => DEFAULT_MAX_OUTPUT_CHARS,
            Some(chars) if (1_000..=10_000_000).contains(&chars) => chars,
            Some(chars) => {
                return Err(ConfigError::Invalid {
                    variable: "OPENAI_MAX_OUTPUT_CHARS".into(),
                    expected: "a number of characters from 1000 to 10000000".into(),
                    found: Some(chars.to_string()),
                });
            }
        };
        Ok(OpenAiConfig {
            local_model,
            base_url,
            api_key,
            auth,
            model,
            embedding_model,
            max_tokens_per_call: tokens("OPENAI_MAX_TOKENS_PER_CALL")?,
            max_tokens_per_session: tokens("OPENAI_MAX_TOKENS_PER_SESSION")?,
            max_output_chars,
            chat_timeout: env
                .seconds("OPENAI_CHAT_TIMEOUT_SECS", 1.0..=3_600.0)?
                .unwrap_or(DEFAULT_CHAT_TIMEOUT),
            backend: BackendConfig::from_env(env, "OPENAI")?,
        })
    }
}

/// The host of an http(s) URL, lowercased, without port or credentials.
fn host_of(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit('@').next()?;
    let host = if let Some(bracketed) = host_port.strip_prefix('[') {
        bracketed.split(']').next()?
    } else {
        host_port.split(':').next()?
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().map(|(k, v)| (*k, *v)))
    }

    #[test]
    fn hosts_are_read_from_urls() {
        // (url, host)
        let cases = [
            ("https://api.openai.com/v1", Some("api.openai.com")),
            ("http://localhost:11434/v1", Some("localhost")),
            ("http://[::1]:8000/v1", Some("::1")),
            (
                "https://me.openai.azure.com/openai/v1",
                Some("me.openai.azure.com"),
            ),
            ("ftp://example.com", None),
            ("http://", None),
        ];
        for (url, host) in cases {
            assert_eq!(host_of(url).as_deref(), host, "{url}");
        }
    }

    #[test]
    fn a_key_is_required_only_for_openai_itself() {
        let local =
            OpenAiConfig::from_env(&env(&[("OPENAI_BASE_URL", "http://localhost:11434/v1/")]))
                .unwrap();
        assert_eq!(local.base_url, "http://localhost:11434/v1");
        assert!(local.api_key.is_none());
        assert_eq!(local.model, "gpt-4o-mini");
        assert_eq!(local.max_output_chars, DEFAULT_MAX_OUTPUT_CHARS);
        let azure = OpenAiConfig::from_env(&env(&[
            ("OPENAI_BASE_URL", "https://me.openai.azure.com/openai/v1"),
            ("OPENAI_API_KEY", "0123456789abcdef"),
        ]))
        .unwrap();
        assert_eq!(azure.auth, Auth::AzureApiKey);
        let openai = OpenAiConfig::from_env(&env(&[
            ("OPENAI_API_KEY", "sk-proj-0123456789abcdefghij"),
            ("OPENAI_MAX_TOKENS_PER_CALL", "2000"),
        ]))
        .unwrap();
        assert_eq!(openai.base_url, OPENAI_API);
        assert_eq!(openai.max_tokens_per_call, Some(2000));
    }

    #[test]
    fn errors_name_the_variable_and_never_echo_a_key() {
        let cases: [(&[(&str, &str)], &str); 8] = [
            (&[], "OPENAI_API_KEY"),
            (
                &[("OPENAI_API_KEY", "pk-not-a-secret-key-123456")],
                "OPENAI_API_KEY",
            ),
            (&[("OPENAI_BASE_URL", "localhost:11434")], "OPENAI_BASE_URL"),
            (
                &[
                    ("OPENAI_BASE_URL", "http://h/v1"),
                    ("OPENAI_MAX_TOKENS_PER_CALL", "0"),
                ],
                "OPENAI_MAX_TOKENS_PER_CALL",
            ),
            (
                &[
                    ("OPENAI_BASE_URL", "http://h/v1"),
                    ("OPENAI_MAX_OUTPUT_CHARS", "10"),
                ],
                "OPENAI_MAX_OUTPUT_CHARS",
            ),
            (
                &[
                    ("OPENAI_BASE_URL", "http://h/v1"),
                    ("OPENAI_PROVIDER", "local"),
                ],
                "OPENAI_LOCAL_MODEL",
            ),
            (
                &[("OPENAI_BASE_URL", "http://h/v1"), ("OPENAI_RETRIES", "9")],
                "OPENAI_RETRIES",
            ),
            (&[("OPENAI_PROVIDER", "anthropic")], "OPENAI_PROVIDER"),
        ];
        for (pairs, variable) in cases {
            let error = OpenAiConfig::from_env(&env(pairs)).unwrap_err().to_string();
            assert!(error.contains(variable), "{error}");
            assert!(!error.contains("not-a-secret-key"), "{error}");
        }
    }

    #[test]
    fn the_local_model_is_chosen_when_nothing_else_is_configured() {
        let data = tempfile::tempdir().unwrap();
        let home = data.path().to_str().unwrap();
        // No model file: the endpoint, which then needs a key.
        let error = OpenAiConfig::from_env(&env(&[("XDG_DATA_HOME", home)])).unwrap_err();
        assert!(error.to_string().contains("OPENAI_API_KEY"), "{error}");

        let path = local_model::default_path(data.path());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, b"GGUF").unwrap();
        let local = OpenAiConfig::from_env(&env(&[("XDG_DATA_HOME", home)])).unwrap();
        assert_eq!(local.local_model.as_deref(), Some(path.as_path()));
        assert_eq!(local.model, "SmolLM2-135M-Instruct.Q4_1");
        // A key or an endpoint means the endpoint is wanted.
        let endpoint = OpenAiConfig::from_env(&env(&[
            ("XDG_DATA_HOME", home),
            ("OPENAI_BASE_URL", "http://localhost:11434/v1"),
        ]))
        .unwrap();
        assert!(endpoint.local_model.is_none());
        // Asked for by name, even beside an endpoint setting.
        let asked = OpenAiConfig::from_env(&env(&[
            ("XDG_DATA_HOME", home),
            ("OPENAI_BASE_URL", "http://localhost:11434/v1"),
            ("OPENAI_PROVIDER", "local"),
        ]))
        .unwrap();
        assert_eq!(asked.local_model.as_deref(), Some(path.as_path()));
    }
}
