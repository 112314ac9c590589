//! Configuration of the Odoo server (`ODOO_*` variables): the instances to reach, with their
//! credentials, and the operator's policy on models, fields, methods and page sizes.
//!
//! One instance comes from `ODOO_URL`, `ODOO_DB`, `ODOO_USER`, `ODOO_PASSWORD` / `ODOO_API_KEY`;
//! several come from the JSON file named by `ODOO_INSTANCES_FILE`, which names the variables
//! holding each instance's secret and never holds a secret itself.

use std::collections::BTreeMap;
use std::path::Path;

use mcp_common::gate::glob_matches;
use mcp_common::{BackendConfig, ConfigError, Env, Secret};
use serde::Deserialize;

use crate::client::{Connection, ProtocolChoice};

/// The `--help` lines for this server's variables.
pub const ENV_HELP: &str = "\
odoo settings (one instance):
  ODOO_URL                    URL of the Odoo server, e.g. https://mycompany.odoo.com
  ODOO_DB                     database name
  ODOO_USER                   login of the Odoo user (needed for XML-RPC)
  ODOO_PASSWORD               that user's password (or use ODOO_API_KEY)
  ODOO_API_KEY                an API key of that user (JSON-2 on Odoo 19+, or the password over XML-RPC)
  ODOO_PROTOCOL               auto (default: JSON-2 when an API key is set and the server has it), xmlrpc or json2
odoo settings (several instances):
  ODOO_INSTANCES_FILE         JSON file {\"default\": \"prod\", \"instances\": {\"prod\": {\"url\", \"db\", \"user\",
                              \"password_env\" or \"api_key_env\", \"protocol\"}}}; secrets stay in the named variables
odoo policy:
  ODOO_MODELS_ALLOW           only these models (comma-separated globs such as res.*,crm.lead; default: all)
  ODOO_MODELS_DENY            also refuse these models; ir.config_parameter, res.users.apikeys*, ir.mail_server,
                              fetchmail.server, auth_totp* and res.users.identitycheck are always refused
  ODOO_SENSITIVE_FIELDS       more field names never read or returned (names containing password, token, secret,
                              api_key, apikey, totp or signature always are)
  ODOO_CALL_METHODS_ALLOW     model.method entries (globs) call_method may run, e.g. crm.lead.action_set_won
  ODOO_DEFAULT_LIMIT          records per page when a call gives no limit (default 50)
  ODOO_MAX_LIMIT              largest page a call may ask for (default 500)
  ODOO_TIMEOUT_SECS           limit on each call to Odoo (default 30)
  ODOO_RETRIES                retries of reads after a failure, 0 to 3 (default 3; a write is re-sent only if it
                              surely never reached Odoo)
  ODOO_BREAKER_THRESHOLD      consecutive failures that stop calls to an instance for a while (default 5)
  ODOO_BREAKER_COOLDOWN_SECS  how long calls stay stopped before one is tried again (default 30)";

/// Models refused whatever the operator configures: they hold credentials or server secrets.
pub const ALWAYS_DENIED_MODELS: [&str; 6] = [
    "ir.config_parameter",
    "res.users.apikeys*",
    "ir.mail_server",
    "fetchmail.server",
    "auth_totp*",
    "res.users.identitycheck",
];

/// Parts of field names that mark a credential; such fields are never read or returned.
pub const SENSITIVE_FIELD_MARKERS: [&str; 7] = [
    "password",
    "token",
    "secret",
    "api_key",
    "apikey",
    "totp",
    "signature",
];

/// Everything the server needs to start.
#[derive(Debug, Clone)]
pub struct OdooConfig {
    /// The instances, in a stable order; the default one is named by `default_instance`.
    pub instances: Vec<Connection>,
    /// The instance used when a call names none.
    pub default_instance: String,
    /// The operator's policy on models, fields, methods and page sizes.
    pub policy: Policy,
    /// Timeouts, retries and breaker for every instance (`ODOO_TIMEOUT_SECS` and friends).
    pub backend: BackendConfig,
}

/// What the operator allows.
#[derive(Debug, Clone)]
pub struct Policy {
    /// If not empty, only models matching one of these globs (`ODOO_MODELS_ALLOW`).
    pub models_allow: Vec<String>,
    /// Models matching one of these globs are refused (`ODOO_MODELS_DENY` plus the built-in list).
    pub models_deny: Vec<String>,
    /// Extra field names never read or returned (`ODOO_SENSITIVE_FIELDS`), lower-cased.
    pub sensitive_fields: Vec<String>,
    /// `model.method` globs `call_method` may run (`ODOO_CALL_METHODS_ALLOW`).
    pub call_methods_allow: Vec<String>,
    /// Page size when a call gives none (`ODOO_DEFAULT_LIMIT`).
    pub default_limit: u32,
    /// Largest page size (`ODOO_MAX_LIMIT`).
    pub max_limit: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            models_allow: Vec::new(),
            models_deny: ALWAYS_DENIED_MODELS
                .iter()
                .map(|m| (*m).to_owned())
                .collect(),
            sensitive_fields: Vec::new(),
            call_methods_allow: Vec::new(),
            default_limit: 50,
            max_limit: 500,
        }
    }
}

impl Policy {
    /// `Ok` when `model` may be used, else the reason and how to change it.
    pub fn check_model(&self, model: &str) -> Result<(), String> {
        if let Some(pattern) = self.models_deny.iter().find(|p| glob_matches(p, model)) {
            let how = if ALWAYS_DENIED_MODELS.contains(&pattern.as_str()) {
                "it holds credentials or server secrets, so this server never touches it"
            } else {
                "remove it from ODOO_MODELS_DENY to allow it"
            };
            return Err(format!(
                "the model '{model}' is refused by this server's policy (`{pattern}`): {how}"
            ));
        }
        if !self.models_allow.is_empty()
            && !self.models_allow.iter().any(|p| glob_matches(p, model))
        {
            return Err(format!(
                "the model '{model}' is not in ODOO_MODELS_ALLOW ({}); add it there to allow it",
                self.models_allow.join(", ")
            ));
        }
        Ok(())
    }

    /// Whether a field, or any step of a dotted path such as `user_id.password`, is sensitive.
    /// Asked for every field of a model on every read, so it compares in place (ASCII case
    /// folded, as the configured names are) instead of lowercasing a copy of each name.
    pub fn is_sensitive(&self, field: &str) -> bool {
        field.split('.').any(|part| {
            let part = part.as_bytes();
            SENSITIVE_FIELD_MARKERS
                .iter()
                .any(|marker| contains_ignoring_ascii_case(part, marker.as_bytes()))
                || self
                    .sensitive_fields
                    .iter()
                    .any(|name| name.as_bytes().eq_ignore_ascii_case(part))
        })
    }

    /// Whether `call_method` may run `method` on `model`.
    pub fn method_allowed(&self, model: &str, method: &str) -> bool {
        let full = format!("{model}.{method}");
        self.call_methods_allow
            .iter()
            .any(|pattern| glob_matches(pattern, &full))
    }

    /// The page size to use for a requested `limit`, and whether it was capped.
    pub fn limit(&self, requested: Option<u32>) -> (u32, bool) {
        match requested {
            None | Some(0) => (self.default_limit, false),
            Some(n) if n > self.max_limit => (self.max_limit, true),
            Some(n) => (n, false),
        }
    }

    fn from_env(env: &Env) -> Result<Policy, ConfigError> {
        let defaults = Policy::default();
        let mut models_deny = defaults.models_deny;
        models_deny.extend(env.list("ODOO_MODELS_DENY"));
        let call_methods_allow = env.list("ODOO_CALL_METHODS_ALLOW");
        for entry in &call_methods_allow {
            // A bare method name would silently match nothing: say so at start-up.
            if !entry.contains('.') {
                return Err(ConfigError::Invalid {
                    variable: "ODOO_CALL_METHODS_ALLOW".into(),
                    expected:
                        "comma-separated model.method entries such as crm.lead.action_set_won"
                            .into(),
                    found: Some(entry.clone()),
                });
            }
        }
        let max = bounded(env, "ODOO_MAX_LIMIT", 1, 10_000)?.unwrap_or(500);
        let default = bounded(env, "ODOO_DEFAULT_LIMIT", 1, 10_000)?.unwrap_or(50.min(max));
        if default > max {
            return Err(ConfigError::Invalid {
                variable: "ODOO_DEFAULT_LIMIT".into(),
                expected: format!("at most ODOO_MAX_LIMIT ({max})"),
                found: Some(default.to_string()),
            });
        }
        Ok(Policy {
            models_allow: env.list("ODOO_MODELS_ALLOW"),
            models_deny,
            sensitive_fields: env
                .list("ODOO_SENSITIVE_FIELDS")
                .into_iter()
                .map(|f| f.to_ascii_lowercase())
                .collect(),
            call_methods_allow,
            default_limit: default,
            max_limit: max,
        })
    }
}

fn bounded(env: &Env, variable: &str, min: u32, max: u32) -> Result<Option<u32>, ConfigError> {
    let expected = format!("a whole number from {min} to {max}");
    match env.parse::<u32>(variable, &expected)? {
        Some(n) if !(min..=max).contains(&n) => Err(ConfigError::Invalid {
            variable: variable.into(),
            expected,
            found: Some(n.to_string()),
        }),
        other => Ok(other),
    }
}

impl OdooConfig {
    /// Reads the configuration; errors name the variable (or the file and instance) to fix.
    pub fn from_env(env: &Env) -> Result<OdooConfig, ConfigError> {
        let policy = Policy::from_env(env)?;
        let backend = BackendConfig::from_env(env, "ODOO")?;
        let (instances, default_instance) = match env.get("ODOO_INSTANCES_FILE") {
            Some(path) => instances_from_file(env, Path::new(path))?,
            None => (vec![single_instance(env)?], "default".to_owned()),
        };
        Ok(OdooConfig {
            instances,
            default_instance,
            policy,
            backend,
        })
    }
}

fn single_instance(env: &Env) -> Result<Connection, ConfigError> {
    let url = parse_url(
        "ODOO_URL",
        &env.required(
            "ODOO_URL",
            "the URL of your Odoo server, such as https://mycompany.odoo.com",
        )?,
    )?;
    let db = env.required("ODOO_DB", "the name of the Odoo database")?;
    let protocol = parse_protocol("ODOO_PROTOCOL", env.get("ODOO_PROTOCOL"))?;
    let names = CredentialNames {
        user: "ODOO_USER".into(),
        password: "ODOO_PASSWORD".into(),
        api_key: "ODOO_API_KEY".into(),
    };
    let connection = Connection {
        name: "default".into(),
        url,
        db,
        user: env.get("ODOO_USER").map(str::to_owned),
        password: env.secret("ODOO_PASSWORD"),
        api_key: env.secret("ODOO_API_KEY"),
        protocol,
        url_hint: "is ODOO_URL right?".into(),
        credentials_hint: "check ODOO_USER and ODOO_PASSWORD (or ODOO_API_KEY)".into(),
        api_key_hint: "check ODOO_API_KEY".into(),
    };
    check_credentials(&connection, &names)?;
    Ok(connection)
}

/// The variable names that hold an instance's credentials, for error messages.
struct CredentialNames {
    user: String,
    password: String,
    api_key: String,
}

fn check_credentials(connection: &Connection, names: &CredentialNames) -> Result<(), ConfigError> {
    let has_user = connection.user.is_some();
    let has_password = connection.password.is_some();
    let has_key = connection.api_key.is_some();
    let missing = |variable: &str, expected: &str| ConfigError::Missing {
        variable: variable.to_owned(),
        expected: expected.to_owned(),
    };
    match connection.protocol {
        ProtocolChoice::Json2 if !has_key => Err(missing(
            &names.api_key,
            "an API key of the Odoo user (JSON-2 authenticates with API keys only)",
        )),
        ProtocolChoice::XmlRpc if !has_user => Err(missing(
            &names.user,
            "the login of the Odoo user (XML-RPC authenticates with a login)",
        )),
        ProtocolChoice::XmlRpc if !has_password && !has_key => Err(missing(
            &names.password,
            &format!("the password of {} (or set {})", names.user, names.api_key),
        )),
        ProtocolChoice::Auto if !has_key && !has_password => Err(missing(
            &names.password,
            &format!(
                "the password of {} (or set {} to an API key)",
                names.user, names.api_key
            ),
        )),
        ProtocolChoice::Auto if has_password && !has_user => Err(missing(
            &names.user,
            &format!("the login whose password {} holds", names.password),
        )),
        _ => Ok(()),
    }
}

fn parse_url(variable: &str, raw: &str) -> Result<String, ConfigError> {
    let invalid = |expected: &str| ConfigError::Invalid {
        variable: variable.into(),
        expected: expected.into(),
        // The URL may carry a password: echo it only when it does not.
        found: (!raw.contains('@')).then(|| raw.to_owned()),
    };
    let parsed = reqwest::Url::parse(raw)
        .map_err(|_| invalid("an http:// or https:// URL such as https://mycompany.odoo.com"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(invalid(
            "an http:// or https:// URL such as https://mycompany.odoo.com",
        ));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(invalid(
            "a URL without credentials (put them in the user and password settings)",
        ));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(invalid("a URL without a query or fragment"));
    }
    Ok(raw.trim_end_matches('/').to_owned())
}

fn parse_protocol(variable: &str, raw: Option<&str>) -> Result<ProtocolChoice, ConfigError> {
    match raw.map(str::to_ascii_lowercase).as_deref() {
        None | Some("auto") => Ok(ProtocolChoice::Auto),
        Some("xmlrpc" | "xml-rpc") => Ok(ProtocolChoice::XmlRpc),
        Some("json2" | "json-2") => Ok(ProtocolChoice::Json2),
        Some(other) => Err(ConfigError::Invalid {
            variable: variable.into(),
            expected: "auto, xmlrpc or json2".into(),
            found: Some(other.into()),
        }),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InstancesFile {
    default: Option<String>,
    instances: BTreeMap<String, InstanceEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InstanceEntry {
    url: String,
    db: String,
    user: Option<String>,
    password_env: Option<String>,
    api_key_env: Option<String>,
    protocol: Option<String>,
    // Present only to refuse them with a clear message: secrets never live in the file.
    password: Option<serde_json::Value>,
    api_key: Option<serde_json::Value>,
}

fn instances_from_file(env: &Env, path: &Path) -> Result<(Vec<Connection>, String), ConfigError> {
    let file_error = |expected: String| ConfigError::Invalid {
        variable: "ODOO_INSTANCES_FILE".into(),
        expected,
        found: Some(path.display().to_string()),
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| file_error(format!("the path of a readable JSON file ({e})")))?;
    let file: InstancesFile = serde_json::from_str(&text).map_err(|e| {
        file_error(format!(
            "a JSON file {{\"default\": name, \"instances\": {{name: {{\"url\", \"db\", \"user\", \"password_env\" or \"api_key_env\", \"protocol\"}}}}}} ({e})"
        ))
    })?;
    if file.instances.is_empty() {
        return Err(file_error("a file listing at least one instance".into()));
    }
    let mut connections = Vec::new();
    for (name, entry) in file.instances {
        let in_file = |what: &str| format!("{what} of instance '{name}' in ODOO_INSTANCES_FILE");
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(file_error(format!(
                "instance names made of letters, digits, `_` and `-` (found {name:?})"
            )));
        }
        if entry.password.is_some() || entry.api_key.is_some() {
            return Err(file_error(format!(
                "no secrets in the file: instance '{name}' must name the variable holding its secret with \"password_env\" or \"api_key_env\""
            )));
        }
        let url = parse_url(&in_file("the url"), &entry.url)?;
        let protocol = parse_protocol(&in_file("the protocol"), entry.protocol.as_deref())?;
        let secret_from = |variable: &Option<String>| -> Result<Option<Secret>, ConfigError> {
            match variable {
                None => Ok(None),
                Some(variable) => env.secret(variable).map(Some).ok_or_else(|| {
                    ConfigError::Missing {
                        variable: variable.clone(),
                        expected: format!(
                            "the secret of instance '{name}' (ODOO_INSTANCES_FILE names this variable)"
                        ),
                    }
                }),
            }
        };
        let password = secret_from(&entry.password_env)?;
        let api_key = secret_from(&entry.api_key_env)?;
        if password.is_none() && api_key.is_none() {
            return Err(file_error(format!(
                "a \"password_env\" or \"api_key_env\" for instance '{name}', naming the variable that holds its secret"
            )));
        }
        let names = CredentialNames {
            user: in_file("the user"),
            password: entry
                .password_env
                .clone()
                .unwrap_or_else(|| in_file("the password_env")),
            api_key: entry
                .api_key_env
                .clone()
                .unwrap_or_else(|| in_file("the api_key_env")),
        };
        let secret_names = [entry.password_env.as_deref(), entry.api_key_env.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" or ");
        let connection = Connection {
            name: name.clone(),
            url,
            db: entry.db,
            user: entry.user,
            password,
            api_key,
            protocol,
            url_hint: format!("is the url of instance '{name}' in ODOO_INSTANCES_FILE right?"),
            credentials_hint: format!(
                "check the user of instance '{name}' in ODOO_INSTANCES_FILE and {secret_names}"
            ),
            api_key_hint: format!("check {secret_names}"),
        };
        check_credentials(&connection, &names)?;
        connections.push(connection);
    }
    let default = match file.default {
        Some(default) => default,
        None if connections.len() == 1 => connections[0].name.clone(),
        None => {
            return Err(file_error(
                "a \"default\" naming the instance used when a call names none".into(),
            ));
        }
    };
    if !connections.iter().any(|c| c.name == default) {
        return Err(file_error(format!(
            "a \"default\" that is one of its instances (found {default:?})"
        )));
    }
    Ok((connections, default))
}

/// Whether `needle` (lowercase ASCII) occurs in `haystack`, ignoring ASCII case.
fn contains_ignoring_ascii_case(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().copied())
    }

    const BASE: [(&str, &str); 4] = [
        ("ODOO_URL", "http://127.0.0.1:8069/"),
        ("ODOO_DB", "test"),
        ("ODOO_USER", "admin"),
        ("ODOO_PASSWORD", "admin-password"),
    ];

    #[test]
    fn a_single_instance_comes_from_the_environment() {
        let config = OdooConfig::from_env(&env(&BASE)).unwrap();
        assert_eq!(config.default_instance, "default");
        let instance = &config.instances[0];
        assert_eq!(instance.url, "http://127.0.0.1:8069");
        assert_eq!(instance.db, "test");
        assert_eq!(instance.protocol, ProtocolChoice::Auto);
        assert_eq!(config.policy.default_limit, 50);
        assert_eq!(config.policy.max_limit, 500);
        assert!(!format!("{config:?}").contains("admin-password"));
    }

    #[test]
    fn errors_name_the_variable_to_fix() {
        // (settings, text the error must contain)
        let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
            (vec![], "set ODOO_URL to the URL of your Odoo server"),
            (
                vec![("ODOO_URL", "http://x")],
                "set ODOO_DB to the name of the Odoo database",
            ),
            (
                vec![("ODOO_URL", "ftp://x"), ("ODOO_DB", "d")],
                "ODOO_URL must be an http:// or https:// URL",
            ),
            (
                vec![
                    ("ODOO_URL", "https://u:pw@x"),
                    ("ODOO_DB", "d"),
                    ("ODOO_API_KEY", "k"),
                ],
                "ODOO_URL must be a URL without credentials",
            ),
            (
                vec![("ODOO_URL", "http://x"), ("ODOO_DB", "d")],
                "set ODOO_PASSWORD to the password of ODOO_USER (or set ODOO_API_KEY",
            ),
            (
                vec![
                    ("ODOO_URL", "http://x"),
                    ("ODOO_DB", "d"),
                    ("ODOO_PASSWORD", "p"),
                ],
                "set ODOO_USER",
            ),
            (
                vec![
                    ("ODOO_URL", "http://x"),
                    ("ODOO_DB", "d"),
                    ("ODOO_API_KEY", "k"),
                    ("ODOO_PROTOCOL", "xmlrpc"),
                ],
                "set ODOO_USER",
            ),
            (
                vec![
                    ("ODOO_URL", "http://x"),
                    ("ODOO_DB", "d"),
                    ("ODOO_USER", "u"),
                    ("ODOO_PASSWORD", "p"),
                    ("ODOO_PROTOCOL", "json2"),
                ],
                "set ODOO_API_KEY",
            ),
            (
                vec![
                    ("ODOO_URL", "http://x"),
                    ("ODOO_DB", "d"),
                    ("ODOO_API_KEY", "k"),
                    ("ODOO_PROTOCOL", "soap"),
                ],
                "ODOO_PROTOCOL must be auto, xmlrpc or json2",
            ),
        ];
        for (pairs, expected) in cases {
            let error = OdooConfig::from_env(&env(&pairs)).unwrap_err().to_string();
            assert!(error.contains(expected), "{pairs:?}: {error}");
            assert!(!error.contains("pw@"), "{error}");
        }
    }

    #[test]
    fn policy_variables_are_checked() {
        let cases = [
            (
                ("ODOO_MAX_LIMIT", "0"),
                "ODOO_MAX_LIMIT must be a whole number from 1 to 10000",
            ),
            (
                ("ODOO_DEFAULT_LIMIT", "ten"),
                "ODOO_DEFAULT_LIMIT must be a whole number",
            ),
            (
                ("ODOO_DEFAULT_LIMIT", "900"),
                "ODOO_DEFAULT_LIMIT must be at most ODOO_MAX_LIMIT (500)",
            ),
            (
                ("ODOO_CALL_METHODS_ALLOW", "action_set_won"),
                "ODOO_CALL_METHODS_ALLOW must be comma-separated model.method entries",
            ),
            (
                ("ODOO_RETRIES", "9"),
                "ODOO_RETRIES must be a whole number from 0 to 3",
            ),
            (
                ("ODOO_TIMEOUT_SECS", "forever"),
                "ODOO_TIMEOUT_SECS must be a number of seconds",
            ),
        ];
        for ((variable, value), expected) in cases {
            let mut pairs = BASE.to_vec();
            pairs.push((variable, value));
            let error = OdooConfig::from_env(&env(&pairs)).unwrap_err().to_string();
            assert!(error.contains(expected), "{variable}={value}: {error}");
        }
    }

    #[test]
    fn models_fields_and_methods_follow_the_policy() {
        let mut pairs = BASE.to_vec();
        pairs.extend([
            ("ODOO_MODELS_ALLOW", "res.*,crm.lead"),
            ("ODOO_MODELS_DENY", "res.bank"),
            ("ODOO_SENSITIVE_FIELDS", "vat, Ref"),
            ("ODOO_CALL_METHODS_ALLOW", "crm.lead.action_*"),
        ]);
        let policy = OdooConfig::from_env(&env(&pairs)).unwrap().policy;
        // (model, allowed)
        for (model, allowed) in [
            ("res.partner", true),
            ("crm.lead", true),
            ("crm.stage", false),
            ("res.bank", false),
            ("ir.config_parameter", false),
            ("res.users.apikeys", false),
            ("res.users.apikeys.description", false),
        ] {
            assert_eq!(policy.check_model(model).is_ok(), allowed, "{model}");
        }
        let refusal = policy.check_model("crm.stage").unwrap_err();
        assert!(refusal.contains("ODOO_MODELS_ALLOW"), "{refusal}");
        // (field, sensitive)
        for (field, sensitive) in [
            ("password", true),
            ("new_password", true),
            ("access_token", true),
            ("client_secret", true),
            ("api_key_ids", true),
            ("totp_enabled", true),
            ("signature", true),
            ("user_id.password", true),
            ("vat", true),
            ("ref", true),
            ("name", false),
            ("email", false),
            ("partner_id.name", false),
        ] {
            assert_eq!(policy.is_sensitive(field), sensitive, "{field}");
        }
        assert!(policy.method_allowed("crm.lead", "action_set_won"));
        assert!(!policy.method_allowed("crm.lead", "unlink"));
        assert!(!policy.method_allowed("res.partner", "action_set_won"));
        assert_eq!(policy.limit(None), (50, false));
        assert_eq!(policy.limit(Some(10)), (10, false));
        assert_eq!(policy.limit(Some(10_000)), (500, true));
    }

    #[test]
    fn instances_come_from_a_file_naming_their_secret_variables() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("instances.json");
        std::fs::write(
            &path,
            r#"{"default": "prod", "instances": {
                "prod": {"url": "https://prod.example.com", "db": "prod", "user": "bot", "password_env": "ODOO_PROD_PASSWORD"},
                "staging": {"url": "http://127.0.0.1:8069", "db": "test", "api_key_env": "ODOO_STAGING_KEY", "protocol": "json2"}
            }}"#,
        )
        .unwrap();
        let file = path.to_string_lossy().into_owned();
        let pairs = [
            ("ODOO_INSTANCES_FILE", file.as_str()),
            ("ODOO_PROD_PASSWORD", "prod-secret-1"),
            ("ODOO_STAGING_KEY", "staging-key-1"),
        ];
        let config = OdooConfig::from_env(&env(&pairs)).unwrap();
        assert_eq!(config.default_instance, "prod");
        let names: Vec<&str> = config.instances.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["prod", "staging"]);
        assert_eq!(config.instances[1].protocol, ProtocolChoice::Json2);

        let error = OdooConfig::from_env(&env(&pairs[..2]))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("set ODOO_STAGING_KEY to the secret of instance 'staging'"),
            "{error}"
        );

        std::fs::write(
            &path,
            r#"{"instances": {"prod": {"url": "https://x", "db": "d", "user": "u", "password": "inline"}}}"#,
        )
        .unwrap();
        let error = OdooConfig::from_env(&env(&pairs)).unwrap_err().to_string();
        assert!(error.contains("no secrets in the file"), "{error}");
        assert!(!error.contains("inline"), "{error}");

        std::fs::write(&path, "{not json").unwrap();
        let error = OdooConfig::from_env(&env(&pairs)).unwrap_err().to_string();
        assert!(
            error.contains("ODOO_INSTANCES_FILE must be a JSON file"),
            "{error}"
        );
    }
}
