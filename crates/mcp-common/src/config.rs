//! Configuration from the environment (and `.env`), with errors that name the variable and what
//! it expects.
//!
//! Reading goes through [`Env`], a snapshot of variables, so tests build configurations from plain
//! maps instead of mutating the process environment.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use crate::gate::ConfirmLevel;
use crate::secret::Secret;

/// A configuration problem that stops start-up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is not set.
    #[error("missing configuration: set {variable} to {expected}")]
    Missing {
        /// The environment variable.
        variable: String,
        /// What it must hold, e.g. "the URL of your Odoo server, such as <https://odoo.example.com>".
        expected: String,
    },
    /// A variable is set to something unusable.
    #[error("invalid configuration: {variable} must be {expected}{}", found.as_ref().map(|v| format!(" (found {v:?})")).unwrap_or_default())]
    Invalid {
        /// The environment variable.
        variable: String,
        /// What it must hold.
        expected: String,
        /// The value found, left out for secrets.
        found: Option<String>,
    },
}

/// A snapshot of environment variables.
#[derive(Clone, Default)]
pub struct Env {
    vars: BTreeMap<String, String>,
}

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Values may be credentials: show only which variables are set.
        f.debug_struct("Env")
            .field("variables", &self.vars.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Env {
    /// Loads `.env` (from `MCP_ENV_FILE`, or the working directory) without overriding variables
    /// already set, then snapshots the process environment.
    pub fn load() -> Result<Env, ConfigError> {
        match std::env::var_os("MCP_ENV_FILE") {
            Some(path) => {
                dotenvy::from_path(&path).map_err(|error| ConfigError::Invalid {
                    variable: "MCP_ENV_FILE".into(),
                    expected: format!("the path of a readable .env file ({error})"),
                    found: Some(PathBuf::from(path).display().to_string()),
                })?;
            }
            None => match dotenvy::dotenv() {
                Ok(_) => {}
                Err(error) if error.not_found() => {}
                Err(error) => {
                    return Err(ConfigError::Invalid {
                        variable: ".env".into(),
                        expected: format!("a valid dotenv file ({error})"),
                        found: None,
                    });
                }
            },
        }
        Ok(Env::from_pairs(std::env::vars()))
    }

    /// An environment made of the given pairs, for tests and embedding.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Env {
        Env {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// The value of `variable`, treating an empty value as unset.
    pub fn get(&self, variable: &str) -> Option<&str> {
        self.vars
            .get(variable)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// A required variable.
    pub fn required(&self, variable: &str, expected: &str) -> Result<String, ConfigError> {
        self.get(variable)
            .map(str::to_owned)
            .ok_or_else(|| ConfigError::Missing {
                variable: variable.into(),
                expected: expected.into(),
            })
    }

    /// A required credential; its value never appears in errors.
    pub fn required_secret(&self, variable: &str, expected: &str) -> Result<Secret, ConfigError> {
        self.required(variable, expected).map(Secret::new)
    }

    /// An optional credential.
    pub fn secret(&self, variable: &str) -> Option<Secret> {
        self.get(variable).map(Secret::new)
    }

    /// An optional value parsed with `FromStr`.
    pub fn parse<T: FromStr>(
        &self,
        variable: &str,
        expected: &str,
    ) -> Result<Option<T>, ConfigError> {
        match self.get(variable) {
            None => Ok(None),
            Some(raw) => raw.parse().map(Some).map_err(|_| ConfigError::Invalid {
                variable: variable.into(),
                expected: expected.into(),
                found: Some(raw.into()),
            }),
        }
    }

    /// An optional boolean: true/false, 1/0, yes/no, on/off.
    pub fn flag(&self, variable: &str) -> Result<Option<bool>, ConfigError> {
        match self.get(variable).map(str::to_ascii_lowercase).as_deref() {
            None => Ok(None),
            Some("1" | "true" | "yes" | "on") => Ok(Some(true)),
            Some("0" | "false" | "no" | "off") => Ok(Some(false)),
            Some(other) => Err(ConfigError::Invalid {
                variable: variable.into(),
                expected: "true or false".into(),
                found: Some(other.into()),
            }),
        }
    }

    /// An optional duration given in whole or fractional seconds, within `range`.
    pub fn seconds(
        &self,
        variable: &str,
        range: std::ops::RangeInclusive<f64>,
    ) -> Result<Option<Duration>, ConfigError> {
        let expected = || {
            format!(
                "a number of seconds between {} and {}",
                range.start(),
                range.end()
            )
        };
        match self.parse::<f64>(variable, &expected())? {
            None => Ok(None),
            Some(secs) if range.contains(&secs) => Ok(Some(Duration::from_secs_f64(secs))),
            Some(secs) => Err(ConfigError::Invalid {
                variable: variable.into(),
                expected: expected(),
                found: Some(secs.to_string()),
            }),
        }
    }

    /// The user's data directory, where servers keep their files by default: `$XDG_DATA_HOME`
    /// when it is absolute (the XDG spec says a relative value is ignored), else
    /// `$HOME/.local/share`; `None` when neither gives one.
    pub fn data_dir(&self) -> Option<PathBuf> {
        self.get("XDG_DATA_HOME")
            .map(PathBuf::from)
            .filter(|dir| dir.is_absolute())
            .or_else(|| {
                self.get("HOME")
                    .map(|home| PathBuf::from(home).join(".local").join("share"))
            })
    }

    /// A comma-separated list; empty items are dropped.
    pub fn list(&self, variable: &str) -> Vec<String> {
        self.get(variable)
            .map(|raw| {
                raw.split(',')
                    .map(str::trim)
                    .filter(|item| !item.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Where audit records go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditDestination {
    /// One JSON line per call on standard error.
    Stderr,
    /// Appended to a file (created with owner-only permissions).
    File(PathBuf),
    /// No audit records.
    Off,
}

/// Log line format on standard error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Human,
    /// One JSON object per line.
    Json,
}

/// A caller allowed over HTTP: a name for the audit record and its bearer token.
#[derive(Debug, Clone)]
pub struct TokenHolder {
    /// Who this token belongs to, as recorded in the audit log.
    pub name: String,
    /// The bearer token.
    pub token: Secret,
    /// The variable it came from (`MCP_AUTH_TOKEN` or `MCP_AUTH_TOKENS`), for error messages.
    pub variable: &'static str,
}

/// The shortest bearer token accepted when listening beyond loopback, where anyone on the network
/// can try tokens: 16 characters.
pub const MIN_EXPOSED_TOKEN_CHARS: usize = 16;

/// The settings every server shares (`MCP_*` variables), independent of its domain.
#[derive(Debug, Clone)]
pub struct CommonConfig {
    /// Bearer tokens accepted over HTTP (`MCP_AUTH_TOKEN`, `MCP_AUTH_TOKENS`).
    pub tokens: Vec<TokenHolder>,
    /// Host header values accepted over HTTP (`MCP_ALLOWED_HOSTS`); `*` accepts any.
    pub allowed_hosts: Vec<String>,
    /// Origin header values accepted over HTTP (`MCP_ALLOWED_ORIGINS`); `*` accepts any.
    pub allowed_origins: Vec<String>,
    /// Largest request body (HTTP) or line (stdio) in bytes (`MCP_MAX_REQUEST_BYTES`).
    pub max_request_bytes: usize,
    /// How long an idle HTTP session lives (`MCP_SESSION_IDLE_SECS`).
    pub session_idle: Duration,
    /// Where audit records go (`MCP_AUDIT_LOG`).
    pub audit: AuditDestination,
    /// Log format (`MCP_LOG_FORMAT`).
    pub log_format: LogFormat,
    /// Log filter, in `RUST_LOG` syntax (`MCP_LOG_LEVEL`, else `RUST_LOG`).
    pub log_filter: String,
    /// Hide and refuse every tool that is not read-only (`MCP_READ_ONLY`).
    pub read_only: bool,
    /// Only tools matching one of these globs are offered (`MCP_TOOLS_ALLOW`).
    pub tools_allow: Vec<String>,
    /// Tools matching one of these globs are withheld (`MCP_TOOLS_DENY`).
    pub tools_deny: Vec<String>,
    /// Which kinds of tools need consent (`MCP_CONFIRM`; `MCP_REQUIRE_CONFIRMATION=false` means
    /// `none`).
    pub confirm: ConfirmLevel,
    /// Tools that need consent whatever their kind (`MCP_CONFIRM_TOOLS`).
    pub confirm_tools: Vec<String>,
    /// Tools that never need consent (`MCP_NO_CONFIRM_TOOLS`).
    pub no_confirm_tools: Vec<String>,
    /// Whether `confirm: "always"` records a standing grant (`MCP_CONFIRM_ALWAYS`).
    pub confirm_always: bool,
    /// Where standing grants are kept (`MCP_GRANTS_FILE`); `None` for the server's default in
    /// its data directory.
    pub grants_file: Option<PathBuf>,
    /// How long to wait for the user's answer to a consent request (`MCP_CONSENT_TIMEOUT_SECS`).
    pub consent_timeout: Duration,
    /// Upper bound on one tool call, so a client always gets an answer (`MCP_TOOL_TIMEOUT_SECS`).
    pub tool_timeout: Duration,
    /// How long readiness probe results are reused (`MCP_READY_CACHE_SECS`).
    pub ready_cache: Duration,
    /// Calls run at once and per caller (`MCP_MAX_CONCURRENT_CALLS`,
    /// `MCP_RATE_LIMIT_PER_MINUTE`).
    pub limits: crate::limits::LimitSettings,
}

/// The default request size limit: 4 MiB.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;

impl CommonConfig {
    /// Reads the shared settings.
    pub fn from_env(env: &Env) -> Result<CommonConfig, ConfigError> {
        let mut tokens = Vec::new();
        if let Some(token) = env.secret("MCP_AUTH_TOKEN") {
            tokens.push(TokenHolder {
                name: "default".into(),
                token,
                variable: "MCP_AUTH_TOKEN",
            });
        }
        for entry in env.list("MCP_AUTH_TOKENS") {
            let Some((name, token)) = entry
                .split_once(':')
                .filter(|(n, t)| !n.is_empty() && !t.is_empty())
            else {
                return Err(ConfigError::Invalid {
                    variable: "MCP_AUTH_TOKENS".into(),
                    expected: "a comma-separated list of name:token pairs".into(),
                    found: None,
                });
            };
            tokens.push(TokenHolder {
                name: name.trim().into(),
                token: Secret::new(token.trim()),
                variable: "MCP_AUTH_TOKENS",
            });
        }
        let audit = match env.get("MCP_AUDIT_LOG") {
            None => AuditDestination::Stderr,
            Some(v) if v.eq_ignore_ascii_case("stderr") => AuditDestination::Stderr,
            Some(v) if v.eq_ignore_ascii_case("off") => AuditDestination::Off,
            Some(path) => AuditDestination::File(PathBuf::from(path)),
        };
        let log_format = match env
            .get("MCP_LOG_FORMAT")
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("human" | "text") => LogFormat::Human,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    variable: "MCP_LOG_FORMAT".into(),
                    expected: "human or json".into(),
                    found: Some(other.into()),
                });
            }
        };
        let max_request_bytes = env
            .parse::<usize>(
                "MCP_MAX_REQUEST_BYTES",
                "a size in bytes between 1024 and 268435456",
            )?
            .unwrap_or(DEFAULT_MAX_REQUEST_BYTES);
        if !(1024..=256 * 1024 * 1024).contains(&max_request_bytes) {
            return Err(ConfigError::Invalid {
                variable: "MCP_MAX_REQUEST_BYTES".into(),
                expected: "a size in bytes between 1024 and 268435456".into(),
                found: Some(max_request_bytes.to_string()),
            });
        }
        Ok(CommonConfig {
            tokens,
            allowed_hosts: env.list("MCP_ALLOWED_HOSTS"),
            allowed_origins: env.list("MCP_ALLOWED_ORIGINS"),
            max_request_bytes,
            session_idle: env
                .seconds("MCP_SESSION_IDLE_SECS", 1.0..=86_400.0)?
                .unwrap_or(Duration::from_secs(30 * 60)),
            audit,
            log_format,
            log_filter: env
                .get("MCP_LOG_LEVEL")
                .or_else(|| env.get("RUST_LOG"))
                .unwrap_or("info,rmcp=warn")
                .to_owned(),
            read_only: env.flag("MCP_READ_ONLY")?.unwrap_or(false),
            tools_allow: env.list("MCP_TOOLS_ALLOW"),
            tools_deny: env.list("MCP_TOOLS_DENY"),
            confirm: confirm_level(env)?,
            confirm_tools: env.list("MCP_CONFIRM_TOOLS"),
            no_confirm_tools: env.list("MCP_NO_CONFIRM_TOOLS"),
            confirm_always: env.flag("MCP_CONFIRM_ALWAYS")?.unwrap_or(false),
            grants_file: env.get("MCP_GRANTS_FILE").map(PathBuf::from),
            consent_timeout: env
                .seconds("MCP_CONSENT_TIMEOUT_SECS", 1.0..=3_600.0)?
                .unwrap_or(Duration::from_secs(120)),
            tool_timeout: env
                .seconds("MCP_TOOL_TIMEOUT_SECS", 0.1..=3_600.0)?
                .unwrap_or(Duration::from_secs(50)),
            ready_cache: env
                .seconds("MCP_READY_CACHE_SECS", 0.0..=86_400.0)?
                .unwrap_or(Duration::from_secs(300)),
            limits: crate::limits::LimitSettings {
                max_concurrent: bounded(
                    env,
                    "MCP_MAX_CONCURRENT_CALLS",
                    1..=10_000,
                    "a whole number of calls from 1 to 10000",
                )?
                .unwrap_or(crate::limits::DEFAULT_MAX_CONCURRENT_CALLS),
                per_minute: bounded(
                    env,
                    "MCP_RATE_LIMIT_PER_MINUTE",
                    1..=1_000_000,
                    "a whole number of calls per minute from 1 to 1000000",
                )?,
            },
        })
    }
}

/// A whole number in `range`, or the error naming the variable.
fn bounded<T>(
    env: &Env,
    variable: &str,
    range: std::ops::RangeInclusive<T>,
    expected: &str,
) -> Result<Option<T>, ConfigError>
where
    T: std::str::FromStr + PartialOrd + ToString,
{
    match env.parse::<T>(variable, expected)? {
        Some(value) if !range.contains(&value) => Err(ConfigError::Invalid {
            variable: variable.into(),
            expected: expected.into(),
            found: Some(value.to_string()),
        }),
        other => Ok(other),
    }
}

/// `MCP_CONFIRM`, else the older `MCP_REQUIRE_CONFIRMATION` (`false` meaning `none`), else the
/// default `external`.
fn confirm_level(env: &Env) -> Result<ConfirmLevel, ConfigError> {
    let required = env.flag("MCP_REQUIRE_CONFIRMATION")?;
    match env.get("MCP_CONFIRM") {
        Some(raw) => {
            let level = ConfirmLevel::parse(raw).ok_or_else(|| ConfigError::Invalid {
                variable: "MCP_CONFIRM".into(),
                expected: ConfirmLevel::EXPECTED.into(),
                found: Some(raw.into()),
            })?;
            if required == Some(false) && level != ConfirmLevel::None {
                return Err(ConfigError::Invalid {
                    variable: "MCP_REQUIRE_CONFIRMATION".into(),
                    expected: format!(
                        "left unset when MCP_CONFIRM is set (MCP_CONFIRM={raw} asks for consent, MCP_REQUIRE_CONFIRMATION=false says never)"
                    ),
                    found: Some("false".into()),
                });
            }
            Ok(level)
        }
        None if required == Some(false) => Ok(ConfirmLevel::None),
        None => Ok(ConfirmLevel::External),
    }
}

/// Whether `addr` only accepts connections from this machine.
pub fn is_loopback(addr: &SocketAddr) -> bool {
    addr.ip().is_loopback()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_variable_and_expectation() {
        let env = Env::from_pairs([("MCP_READ_ONLY", "maybe"), ("MCP_TOOL_TIMEOUT_SECS", "-3")]);
        let error = CommonConfig::from_env(&env).unwrap_err().to_string();
        assert_eq!(
            error,
            "invalid configuration: MCP_READ_ONLY must be true or false (found \"maybe\")"
        );
        let env = Env::from_pairs([("MCP_TOOL_TIMEOUT_SECS", "-3")]);
        let error = CommonConfig::from_env(&env).unwrap_err().to_string();
        assert!(
            error
                .contains("MCP_TOOL_TIMEOUT_SECS must be a number of seconds between 0.1 and 3600"),
            "{error}"
        );
        let missing = Env::default()
            .required("ODOO_URL", "the URL of your Odoo server")
            .unwrap_err();
        assert_eq!(
            missing.to_string(),
            "missing configuration: set ODOO_URL to the URL of your Odoo server"
        );
    }

    #[test]
    fn defaults_are_safe() {
        let config = CommonConfig::from_env(&Env::default()).unwrap();
        assert!(config.tokens.is_empty());
        assert_eq!(config.confirm, ConfirmLevel::External);
        assert!(!config.confirm_always);
        assert!(!config.read_only);
        assert_eq!(config.audit, AuditDestination::Stderr);
        assert_eq!(config.max_request_bytes, DEFAULT_MAX_REQUEST_BYTES);
        assert_eq!(config.tool_timeout, Duration::from_secs(50));
        assert_eq!(config.limits.max_concurrent, 256);
        assert_eq!(config.limits.per_minute, None);
    }

    #[test]
    fn call_limits_are_read_and_checked() {
        let config = CommonConfig::from_env(&Env::from_pairs([
            ("MCP_MAX_CONCURRENT_CALLS", "4"),
            ("MCP_RATE_LIMIT_PER_MINUTE", "120"),
        ]))
        .unwrap();
        assert_eq!(config.limits.max_concurrent, 4);
        assert_eq!(config.limits.per_minute, Some(120));
        for (variable, value) in [
            ("MCP_MAX_CONCURRENT_CALLS", "0"),
            ("MCP_MAX_CONCURRENT_CALLS", "many"),
            ("MCP_RATE_LIMIT_PER_MINUTE", "0"),
        ] {
            let error = CommonConfig::from_env(&Env::from_pairs([(variable, value)]))
                .unwrap_err()
                .to_string();
            assert!(error.contains(variable) && error.contains(value), "{error}");
        }
    }

    #[test]
    fn confirmation_level_from_either_variable() {
        let level = |pairs: &[(&str, &str)]| {
            CommonConfig::from_env(&Env::from_pairs(pairs.iter().copied())).map(|c| c.confirm)
        };
        assert_eq!(level(&[]).unwrap(), ConfirmLevel::External);
        assert_eq!(
            level(&[("MCP_REQUIRE_CONFIRMATION", "false")]).unwrap(),
            ConfirmLevel::None
        );
        assert_eq!(
            level(&[("MCP_REQUIRE_CONFIRMATION", "true")]).unwrap(),
            ConfirmLevel::External
        );
        assert_eq!(level(&[("MCP_CONFIRM", "all")]).unwrap(), ConfirmLevel::All);
        assert_eq!(
            level(&[
                ("MCP_CONFIRM", "none"),
                ("MCP_REQUIRE_CONFIRMATION", "false")
            ])
            .unwrap(),
            ConfirmLevel::None
        );
        let error = level(&[("MCP_CONFIRM", "sometimes")])
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "invalid configuration: MCP_CONFIRM must be one of all, external, destructive, none (found \"sometimes\")"
        );
        let error = level(&[
            ("MCP_CONFIRM", "all"),
            ("MCP_REQUIRE_CONFIRMATION", "false"),
        ])
        .unwrap_err()
        .to_string();
        assert!(error.contains("MCP_REQUIRE_CONFIRMATION"), "{error}");
    }

    #[test]
    fn token_lists_never_echo_secrets() {
        let env = Env::from_pairs([("MCP_AUTH_TOKENS", "alice:s3cr3t-alice,broken")]);
        let error = CommonConfig::from_env(&env).unwrap_err().to_string();
        assert!(!error.contains("s3cr3t"), "{error}");
        let env = Env::from_pairs([
            ("MCP_AUTH_TOKENS", "alice:tok-a, bob:tok-b"),
            ("MCP_AUTH_TOKEN", "tok-0"),
        ]);
        let config = CommonConfig::from_env(&env).unwrap();
        let names: Vec<_> = config.tokens.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["default", "alice", "bob"]);
        assert!(config.tokens[2].token.matches(b"tok-b"));
        assert!(!format!("{config:?}").contains("tok-b"));
    }

    #[test]
    fn data_dir_follows_xdg_then_home() {
        let cases = [
            (
                vec![("XDG_DATA_HOME", "/data"), ("HOME", "/h")],
                Some("/data"),
            ),
            (
                vec![("XDG_DATA_HOME", "relative"), ("HOME", "/h")],
                Some("/h/.local/share"),
            ),
            (vec![("HOME", "/h")], Some("/h/.local/share")),
            (vec![], None),
        ];
        for (pairs, expected) in cases {
            assert_eq!(
                Env::from_pairs(pairs.clone()).data_dir(),
                expected.map(PathBuf::from),
                "{pairs:?}"
            );
        }
    }

    #[test]
    fn flags_accept_common_spellings() {
        for (raw, expected) in [
            ("1", true),
            ("TRUE", true),
            ("on", true),
            ("no", false),
            ("0", false),
        ] {
            let env = Env::from_pairs([("X", raw)]);
            assert_eq!(env.flag("X").unwrap(), Some(expected), "{raw}");
        }
        assert_eq!(Env::from_pairs([("X", "  ")]).flag("X").unwrap(), None);
    }
}
