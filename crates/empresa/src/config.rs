//! Configuration of the empresa server (`EMPRESA_*` variables).

use std::path::PathBuf;

use mcp_common::{ConfigError, Env};

/// Where the database lives and how it starts.
#[derive(Debug, Clone)]
pub struct EmpresaConfig {
    /// The SQLite file (`EMPRESA_DB_PATH`); created with sample data on first start.
    pub db_path: PathBuf,
    /// Whether a new database receives the sample companies and documents (`EMPRESA_SAMPLE_DATA`).
    pub sample_data: bool,
}

/// The `--help` lines for this server's variables.
pub const ENV_HELP: &str = "\
empresa settings:
  EMPRESA_DB_PATH      SQLite database file (default: $XDG_DATA_HOME/mcp-empresa/empresa.db,
                       else ~/.local/share/mcp-empresa/empresa.db); created on first start
  EMPRESA_SAMPLE_DATA  false to start a new database empty instead of with sample companies";

impl EmpresaConfig {
    /// Reads the configuration.
    pub fn from_env(env: &Env) -> Result<EmpresaConfig, ConfigError> {
        let db_path = match env.get("EMPRESA_DB_PATH") {
            Some(path) => PathBuf::from(path),
            None => default_data_dir(env)?
                .join("mcp-empresa")
                .join("empresa.db"),
        };
        Ok(EmpresaConfig {
            db_path,
            sample_data: env.flag("EMPRESA_SAMPLE_DATA")?.unwrap_or(true),
        })
    }
}

fn default_data_dir(env: &Env) -> Result<PathBuf, ConfigError> {
    env.data_dir().ok_or_else(|| ConfigError::Missing {
        variable: "EMPRESA_DB_PATH".into(),
        expected:
            "the path of the company database file (no HOME or XDG_DATA_HOME to choose a default)"
                .into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_path_follows_xdg_then_home() {
        let cases = [
            (
                vec![("EMPRESA_DB_PATH", "/tmp/x.db"), ("HOME", "/h")],
                "/tmp/x.db",
            ),
            (
                vec![("XDG_DATA_HOME", "/data"), ("HOME", "/h")],
                "/data/mcp-empresa/empresa.db",
            ),
            (
                vec![("HOME", "/h")],
                "/h/.local/share/mcp-empresa/empresa.db",
            ),
        ];
        for (pairs, expected) in cases {
            let config = EmpresaConfig::from_env(&Env::from_pairs(pairs)).unwrap();
            assert_eq!(config.db_path, PathBuf::from(expected));
        }
        let error = EmpresaConfig::from_env(&Env::default())
            .unwrap_err()
            .to_string();
        assert!(error.contains("EMPRESA_DB_PATH"), "{error}");
        let error = EmpresaConfig::from_env(&Env::from_pairs([
            ("HOME", "/h"),
            ("EMPRESA_SAMPLE_DATA", "maybe"),
        ]))
        .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("EMPRESA_SAMPLE_DATA must be true or false")
        );
    }
}
