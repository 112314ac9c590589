//! Configuration of the twilio server (`TWILIO_*` variables).

use std::time::Duration;

use mcp_common::{BackendConfig, ConfigError, Env, Secret};

use crate::phone::{self, Destinations};

/// How requests are authenticated (HTTP basic either way).
#[derive(Debug, Clone)]
pub enum Credentials {
    /// The account SID and its auth token.
    AuthToken(Secret),
    /// An API key (`SK…`) and its secret: revocable on its own, the safer choice.
    ApiKey {
        /// The key's SID.
        sid: String,
        /// The key's secret.
        secret: Secret,
    },
}

/// The server's settings.
#[derive(Debug, Clone)]
pub struct TwilioConfig {
    /// The account (`AC…`).
    pub account_sid: String,
    /// How requests authenticate.
    pub credentials: Credentials,
    /// The default sender number (E.164).
    pub from_number: Option<String>,
    /// The default Messaging Service (`MG…`), used when no sender number is given.
    pub messaging_service_sid: Option<String>,
    /// Destinations the server may reach.
    pub allowed_destinations: Destinations,
    /// Validate and show what would be sent, send nothing.
    pub dry_run: bool,
    /// The REST API (messages, calls, numbers), without a trailing slash.
    pub api_url: String,
    /// Lookup v2, without a trailing slash.
    pub lookups_url: String,
    /// Verify v2, without a trailing slash.
    pub verify_url: String,
    /// The Verify service (`VA…`) for verifications.
    pub verify_service_sid: Option<String>,
    /// How long an identical send by the same caller is refused.
    pub duplicate_window: Duration,
    /// At most this many sends (messages, calls, verifications) to one destination …
    pub destination_limit: u32,
    /// … within this window.
    pub destination_window: Duration,
    /// Timeout, retries and breaker.
    pub backend: BackendConfig,
}

/// The `--help` lines for this server's own variables.
pub const ENV_HELP: &str = "\
twilio settings:
  TWILIO_ACCOUNT_SID               account SID (AC followed by 32 hex digits); required
  TWILIO_AUTH_TOKEN                the account's auth token; or, better, an API key:
  TWILIO_API_KEY, TWILIO_API_SECRET
                                   API key SID (SK…) and its secret, revocable on their own
  TWILIO_FROM_NUMBER               default sender number in E.164 form (+14155552671)
  TWILIO_MESSAGING_SERVICE_SID     default Messaging Service (MG…), used when no sender number is given;
                                   needed for scheduled messages
  TWILIO_ALLOWED_DESTINATIONS      comma-separated E.164 numbers or prefixes (+34,+1555); other numbers are refused
  TWILIO_DRY_RUN                   true to check and show what would be sent without sending anything
  TWILIO_VERIFY_SERVICE_SID        Verify service (VA…) for start_verification and check_verification
  TWILIO_DUPLICATE_WINDOW_SECS     an identical send by the same caller within this many seconds is refused
                                   unless allow_duplicate is true (default 600)
  TWILIO_DESTINATION_LIMIT         at most this many sends to one number per window (default 10) …
  TWILIO_DESTINATION_WINDOW_SECS   … of this many seconds (default 3600)
  TWILIO_API_URL, TWILIO_LOOKUPS_URL, TWILIO_VERIFY_URL
                                   base URLs (defaults https://api.twilio.com, https://lookups.twilio.com,
                                   https://verify.twilio.com), for proxies and tests
  TWILIO_TIMEOUT_SECS, TWILIO_RETRIES, TWILIO_BREAKER_THRESHOLD, TWILIO_BREAKER_COOLDOWN_SECS
                                   per-attempt timeout (default 30), retries (0-3, default 3), circuit breaker";

/// The default duplicate window.
pub const DEFAULT_DUPLICATE_WINDOW: Duration = Duration::from_secs(600);

impl TwilioConfig {
    /// Reads the settings; SIDs are checked for shape here so a swapped or truncated value
    /// stops start-up with the variable named.
    pub fn from_env(env: &Env) -> Result<TwilioConfig, ConfigError> {
        let account_sid = env.required(
            "TWILIO_ACCOUNT_SID",
            "your account SID (AC followed by 32 hex digits, from the Twilio Console)",
        )?;
        sid_shape("TWILIO_ACCOUNT_SID", &account_sid, "AC")?;
        let credentials = match (
            env.secret("TWILIO_AUTH_TOKEN"),
            env.get("TWILIO_API_KEY"),
            env.secret("TWILIO_API_SECRET"),
        ) {
            (_, Some(key), Some(secret)) => {
                sid_shape("TWILIO_API_KEY", key, "SK")?;
                Credentials::ApiKey {
                    sid: key.to_owned(),
                    secret,
                }
            }
            (_, Some(_), None) => {
                return Err(ConfigError::Missing {
                    variable: "TWILIO_API_SECRET".into(),
                    expected: "the secret of the API key in TWILIO_API_KEY".into(),
                });
            }
            (Some(token), None, _) => Credentials::AuthToken(token),
            (None, None, _) => {
                return Err(ConfigError::Missing {
                    variable: "TWILIO_AUTH_TOKEN".into(),
                    expected:
                        "the account's auth token (or set TWILIO_API_KEY and TWILIO_API_SECRET)"
                            .into(),
                });
            }
        };
        let from_number = match env.get("TWILIO_FROM_NUMBER") {
            None => None,
            Some(number) => Some(phone::e164("TWILIO_FROM_NUMBER", number).map_err(|_| {
                ConfigError::Invalid {
                    variable: "TWILIO_FROM_NUMBER".into(),
                    expected: phone::E164_EXPECTED.into(),
                    found: Some(number.into()),
                }
            })?),
        };
        let messaging_service_sid = optional_sid(env, "TWILIO_MESSAGING_SERVICE_SID", "MG")?;
        let verify_service_sid = optional_sid(env, "TWILIO_VERIFY_SERVICE_SID", "VA")?;
        let allowed_destinations = Destinations::parse(&env.list("TWILIO_ALLOWED_DESTINATIONS"))
            .map_err(|entry| ConfigError::Invalid {
                variable: "TWILIO_ALLOWED_DESTINATIONS".into(),
                expected: "comma-separated E.164 numbers or prefixes such as +34,+1555".into(),
                found: Some(entry),
            })?;
        let destination_limit = env
            .parse::<u32>(
                "TWILIO_DESTINATION_LIMIT",
                "a whole number of sends, 1 or more",
            )?
            .unwrap_or(10);
        if destination_limit == 0 {
            return Err(ConfigError::Invalid {
                variable: "TWILIO_DESTINATION_LIMIT".into(),
                expected: "a whole number of sends, 1 or more".into(),
                found: Some("0".into()),
            });
        }
        Ok(TwilioConfig {
            account_sid,
            credentials,
            from_number,
            messaging_service_sid,
            allowed_destinations,
            dry_run: env.flag("TWILIO_DRY_RUN")?.unwrap_or(false),
            api_url: base_url(env, "TWILIO_API_URL", "https://api.twilio.com")?,
            lookups_url: base_url(env, "TWILIO_LOOKUPS_URL", "https://lookups.twilio.com")?,
            verify_url: base_url(env, "TWILIO_VERIFY_URL", "https://verify.twilio.com")?,
            verify_service_sid,
            duplicate_window: env
                .seconds("TWILIO_DUPLICATE_WINDOW_SECS", 0.0..=86_400.0)?
                .unwrap_or(DEFAULT_DUPLICATE_WINDOW),
            destination_limit,
            destination_window: env
                .seconds("TWILIO_DESTINATION_WINDOW_SECS", 1.0..=604_800.0)?
                .unwrap_or(Duration::from_secs(3600)),
            backend: BackendConfig::from_env(env, "TWILIO")?,
        })
    }
}

/// Whether `value` is a Twilio SID: the two-letter prefix and 32 hex digits.
pub fn is_sid(value: &str, prefix: &str) -> bool {
    value
        .strip_prefix(prefix)
        .is_some_and(|hex| hex.len() == 32 && hex.chars().all(|c| c.is_ascii_hexdigit()))
}

fn sid_shape(variable: &str, value: &str, prefix: &str) -> Result<(), ConfigError> {
    if is_sid(value, prefix) {
        return Ok(());
    }
    Err(ConfigError::Invalid {
        variable: variable.into(),
        expected: format!("a SID: {prefix} followed by 32 hex digits"),
        // A SID is an identifier, not a secret, but only its start helps tell a swap.
        found: Some(format!(
            "a value starting {:?}",
            value.chars().take(4).collect::<String>()
        )),
    })
}

fn optional_sid(env: &Env, variable: &str, prefix: &str) -> Result<Option<String>, ConfigError> {
    match env.get(variable) {
        None => Ok(None),
        Some(value) => sid_shape(variable, value, prefix).map(|()| Some(value.to_owned())),
    }
}

fn base_url(env: &Env, variable: &str, default: &str) -> Result<String, ConfigError> {
    let url = env.get(variable).unwrap_or(default);
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(ConfigError::Invalid {
            variable: variable.into(),
            expected: format!("an http:// or https:// URL such as {default}"),
            found: Some(url.into()),
        });
    }
    Ok(url.trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().map(|(k, v)| (*k, *v)))
    }

    #[test]
    fn settings_are_read() {
        let config = TwilioConfig::from_env(&env(&[
            ("TWILIO_ACCOUNT_SID", ACCOUNT),
            ("TWILIO_API_KEY", "SK0123456789abcdef0123456789abcdef"),
            ("TWILIO_API_SECRET", "s3cr3t"),
            ("TWILIO_FROM_NUMBER", "+1 415 555 2671"),
            ("TWILIO_ALLOWED_DESTINATIONS", "+34, +1555"),
            ("TWILIO_API_URL", "http://127.0.0.1:9/"),
            ("TWILIO_DRY_RUN", "true"),
        ]))
        .unwrap();
        assert!(matches!(config.credentials, Credentials::ApiKey { .. }));
        assert_eq!(config.from_number.as_deref(), Some("+14155552671"));
        assert!(config.allowed_destinations.allows("+34612345678"));
        assert!(!config.allowed_destinations.allows("+4930123456"));
        assert_eq!(config.api_url, "http://127.0.0.1:9");
        assert_eq!(config.lookups_url, "https://lookups.twilio.com");
        assert!(config.dry_run);
        assert_eq!(config.duplicate_window, DEFAULT_DUPLICATE_WINDOW);
    }

    #[test]
    fn wrong_settings_name_the_variable_and_never_show_secrets() {
        let token = ("TWILIO_AUTH_TOKEN", "tok3n-value-123");
        let cases: [(&[(&str, &str)], &str); 8] = [
            (&[], "TWILIO_ACCOUNT_SID"),
            (
                &[("TWILIO_ACCOUNT_SID", "AC123"), token],
                "TWILIO_ACCOUNT_SID",
            ),
            (
                &[
                    ("TWILIO_ACCOUNT_SID", "SK0123456789abcdef0123456789abcdef"),
                    token,
                ],
                "TWILIO_ACCOUNT_SID",
            ),
            (&[("TWILIO_ACCOUNT_SID", ACCOUNT)], "TWILIO_AUTH_TOKEN"),
            (
                &[
                    ("TWILIO_ACCOUNT_SID", ACCOUNT),
                    ("TWILIO_API_KEY", "SK0123456789abcdef0123456789abcdef"),
                ],
                "TWILIO_API_SECRET",
            ),
            (
                &[
                    ("TWILIO_ACCOUNT_SID", ACCOUNT),
                    token,
                    ("TWILIO_MESSAGING_SERVICE_SID", "MGxyz"),
                ],
                "TWILIO_MESSAGING_SERVICE_SID",
            ),
            (
                &[
                    ("TWILIO_ACCOUNT_SID", ACCOUNT),
                    token,
                    ("TWILIO_FROM_NUMBER", "555-1234"),
                ],
                "TWILIO_FROM_NUMBER",
            ),
            (
                &[
                    ("TWILIO_ACCOUNT_SID", ACCOUNT),
                    token,
                    ("TWILIO_ALLOWED_DESTINATIONS", "+34,spain"),
                ],
                "TWILIO_ALLOWED_DESTINATIONS",
            ),
        ];
        for (pairs, variable) in cases {
            let error = TwilioConfig::from_env(&env(pairs)).unwrap_err().to_string();
            assert!(error.contains(variable), "{variable}: {error}");
            assert!(!error.contains("tok3n-value-123"), "{error}");
        }
    }
}
