//! The empresa MCP server: a company directory and document store on embedded SQLite, with FTS5
//! full-text search, fuzzy company lookup, CSV/JSON import, resources and a briefing prompt.
//!
//! It keeps the Python prototype's tool contract (`consultar_empresa(nombre)`,
//! `buscar_documentos(nombre_documento)`) and reads `EMPRESA_DB_PATH` and `EMPRESA_SAMPLE_DATA`
//! (see [`config`]); everything else comes from `mcp-common`.

pub mod config;
pub mod store;
pub mod tools;

pub use config::{ENV_HELP, EmpresaConfig};
use mcp_common::StartError;
pub use tools::Empresa;

/// Opens (creating and seeding on first start) the database and builds the server.
pub async fn open(config: EmpresaConfig) -> Result<Empresa, StartError> {
    let options = store::OpenOptions {
        seed_samples: config.sample_data,
    };
    // Opened on the calling thread: at start-up nothing else is waiting for the runtime, and
    // handing the open to the blocking pool would start a thread and wake another CPU before
    // the server can answer `initialize` (measured: the largest wait in a start under load).
    match store::Store::open_with_options(&config.db_path, &options) {
        Ok(store) => {
            tracing::info!(path = %config.db_path.display(), "company database ready");
            Ok(Empresa::new(store))
        }
        Err(error) => Err(StartError::new(format!(
            "could not open the company database at {} (EMPRESA_DB_PATH): {error}",
            config.db_path.display()
        ))),
    }
}
