//! Configuration of the stripe server (`STRIPE_*` variables).

use std::time::Duration;

use mcp_common::{BackendConfig, ConfigError, Env, Secret};

/// Which of Stripe's two worlds a key belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `sk_test_` / `rk_test_`: no real money moves.
    Test,
    /// `sk_live_` / `rk_live_`: real customers and real charges.
    Live,
}

/// The server's settings.
#[derive(Debug, Clone)]
pub struct StripeConfig {
    /// The secret or restricted key.
    pub api_key: Secret,
    /// Test or live, from the key's prefix.
    pub mode: Mode,
    /// Whether the key is a restricted (`rk_`) key.
    pub restricted: bool,
    /// The Connect account every call acts for unless a tool names another.
    pub account: Option<String>,
    /// Base URL, with a trailing slash (default `https://api.stripe.com/`).
    pub api_url: String,
    /// Whether writes are allowed with a live-mode key.
    pub live_writes: bool,
    /// How long an identical write reuses its derived idempotency key.
    pub idempotency_window: Duration,
    /// Timeout, retries and breaker.
    pub backend: BackendConfig,
}

/// The `--help` lines for this server's own variables.
pub const ENV_HELP: &str = "\
stripe settings:
  STRIPE_API_KEY                   secret key (sk_test_…, sk_live_…) or, better, a restricted key (rk_…); required
  STRIPE_ACCOUNT                   Connect account (acct_…) to act for; a tool's `account` argument overrides it
  STRIPE_API_URL                   API base URL (default https://api.stripe.com/), for proxies and tests
  STRIPE_LIVE_WRITES               true to allow writes with a live-mode key (default false: live keys only read)
  STRIPE_IDEMPOTENCY_WINDOW_SECS   an identical write repeated within this many seconds reuses its
                                   idempotency key, so Stripe answers it without acting twice (default 600)
  STRIPE_TIMEOUT_SECS, STRIPE_RETRIES, STRIPE_BREAKER_THRESHOLD, STRIPE_BREAKER_COOLDOWN_SECS
                                   per-attempt timeout (default 30), retries (0-3, default 3), circuit breaker";

/// The default idempotency window.
pub const DEFAULT_IDEMPOTENCY_WINDOW: Duration = Duration::from_secs(600);

impl StripeConfig {
    /// Reads the settings; the key's shape is checked here so a pasted publishable key or a
    /// truncated one stops start-up with the variable named.
    pub fn from_env(env: &Env) -> Result<StripeConfig, ConfigError> {
        const KEY_SHAPE: &str = "a Stripe secret key (sk_test_… or sk_live_…) or restricted key (rk_test_… or rk_live_…)";
        let api_key = env.required_secret("STRIPE_API_KEY", KEY_SHAPE)?;
        let (mode, restricted) =
            key_kind(api_key.expose()).ok_or_else(|| ConfigError::Invalid {
                variable: "STRIPE_API_KEY".into(),
                expected: KEY_SHAPE.into(),
                // Only the prefix: the rest of a key is a secret even when malformed.
                found: Some(format!(
                    "a value starting {:?}",
                    key_prefix(api_key.expose())
                )),
            })?;
        let account = match env.get("STRIPE_ACCOUNT") {
            None => None,
            Some(account) if is_account_id(account) => Some(account.to_owned()),
            Some(other) => {
                return Err(ConfigError::Invalid {
                    variable: "STRIPE_ACCOUNT".into(),
                    expected: "a Connect account id such as acct_1A2b3C4d5E6f7G8h".into(),
                    found: Some(other.into()),
                });
            }
        };
        let mut api_url = env
            .get("STRIPE_API_URL")
            .unwrap_or("https://api.stripe.com/")
            .to_owned();
        if !(api_url.starts_with("https://") || api_url.starts_with("http://")) {
            return Err(ConfigError::Invalid {
                variable: "STRIPE_API_URL".into(),
                expected: "an http:// or https:// URL such as https://api.stripe.com/".into(),
                found: Some(api_url),
            });
        }
        if !api_url.ends_with('/') {
            api_url.push('/');
        }
        let idempotency_window = env
            .seconds("STRIPE_IDEMPOTENCY_WINDOW_SECS", 1.0..=86_400.0)?
            .unwrap_or(DEFAULT_IDEMPOTENCY_WINDOW);
        Ok(StripeConfig {
            api_key,
            mode,
            restricted,
            account,
            api_url,
            live_writes: env.flag("STRIPE_LIVE_WRITES")?.unwrap_or(false),
            idempotency_window,
            backend: BackendConfig::from_env(env, "STRIPE")?,
        })
    }
}

/// The mode and whether the key is restricted, or `None` for anything that is not a secret or
/// restricted key (a publishable `pk_` key, a webhook secret, a truncated paste).
pub fn key_kind(key: &str) -> Option<(Mode, bool)> {
    let (restricted, rest) = if let Some(rest) = key.strip_prefix("sk_") {
        (false, rest)
    } else if let Some(rest) = key.strip_prefix("rk_") {
        (true, rest)
    } else {
        return None;
    };
    let (mode, body) = if let Some(body) = rest.strip_prefix("test_") {
        (Mode::Test, body)
    } else if let Some(body) = rest.strip_prefix("live_") {
        (Mode::Live, body)
    } else {
        return None;
    };
    let well_formed = body.len() >= 10 && body.chars().all(|c| c.is_ascii_alphanumeric());
    well_formed.then_some((mode, restricted))
}

/// At most the first eight characters: enough to tell `pk_live_` from `sk_test_`.
fn key_prefix(key: &str) -> String {
    key.chars().take(8).collect()
}

/// `acct_` followed by letters and digits.
pub fn is_account_id(value: &str) -> bool {
    value
        .strip_prefix("acct_")
        .is_some_and(|rest| !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().map(|(k, v)| (*k, *v)))
    }

    #[test]
    fn keys_are_recognised_by_shape() {
        // (key, expected)
        let cases = [
            (
                "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
                Some((Mode::Test, false)),
            ),
            ("rk_live_51Habcdefghij", Some((Mode::Live, true))),
            ("pk_test_4eC39HqLyjWDarjtT1zdp7dc", None),
            ("sk_test_short", None),
            ("sk_prod_4eC39HqLyjWDarjtT1zdp7dc", None),
            ("sk_test_has-dash-1234567", None),
            ("whsec_4eC39HqLyjWDarjtT1zdp7dc", None),
        ];
        for (key, expected) in cases {
            assert_eq!(key_kind(key), expected, "{key}");
        }
    }

    #[test]
    fn settings_are_read_and_errors_name_the_variable() {
        let config = StripeConfig::from_env(&env(&[
            ("STRIPE_API_KEY", "rk_test_4eC39HqLyjWDarjtT1zdp7dc"),
            ("STRIPE_API_URL", "http://127.0.0.1:1234"),
            ("STRIPE_IDEMPOTENCY_WINDOW_SECS", "60"),
        ]))
        .unwrap();
        assert_eq!(config.mode, Mode::Test);
        assert!(config.restricted);
        assert_eq!(config.api_url, "http://127.0.0.1:1234/");
        assert_eq!(config.idempotency_window, Duration::from_secs(60));
        assert!(!config.live_writes);

        let cases: [(&[(&str, &str)], &str); 4] = [
            (&[], "STRIPE_API_KEY"),
            (
                &[("STRIPE_API_KEY", "pk_live_4eC39HqLyjWDarjtT1zdp7dc")],
                "STRIPE_API_KEY",
            ),
            (
                &[
                    ("STRIPE_API_KEY", "sk_test_4eC39HqLyjWDarjtT1zdp7dc"),
                    ("STRIPE_ACCOUNT", "cus_123"),
                ],
                "STRIPE_ACCOUNT",
            ),
            (
                &[
                    ("STRIPE_API_KEY", "sk_test_4eC39HqLyjWDarjtT1zdp7dc"),
                    ("STRIPE_LIVE_WRITES", "maybe"),
                ],
                "STRIPE_LIVE_WRITES",
            ),
        ];
        for (pairs, variable) in cases {
            let error = StripeConfig::from_env(&env(pairs)).unwrap_err().to_string();
            assert!(error.contains(variable), "{error}");
            // A wrong key is never echoed beyond its prefix.
            assert!(!error.contains("4eC39HqLyjWDarjtT1zdp7dc"), "{error}");
        }
    }
}
