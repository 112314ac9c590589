//! The schema's migrations against a real PostgreSQL (a throwaway cluster, `pg-cluster`): from
//! empty and from version 1 to the latest, step by step the same as at once, racing processes,
//! and a database newer than this build refused.

use pg_cluster::PgCluster;

use super::db::{Database, DbError, MIGRATIONS, latest_version};

fn database(pg: &PgCluster, hint: &str) -> Database {
    Database::new(&pg.new_database(hint).unwrap(), 4).unwrap()
}

async fn count(db: &Database, table: &str) -> i64 {
    db.client()
        .await
        .unwrap()
        .query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .await
        .unwrap()
        .get(0)
}

/// The columns and indexes of the public schema, as text, in a stable order.
async fn schema_of(db: &Database) -> Vec<String> {
    let client = db.client().await.unwrap();
    let columns = client
        .query(
            "SELECT table_name, column_name, ordinal_position, data_type, is_nullable,
                    coalesce(column_default, '')
             FROM information_schema.columns WHERE table_schema = 'public'
             ORDER BY table_name, ordinal_position",
            &[],
        )
        .await
        .unwrap();
    let indexes = client
        .query(
            "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'
             ORDER BY tablename, indexname",
            &[],
        )
        .await
        .unwrap();
    let constraints = client
        .query(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
             FROM pg_constraint WHERE connamespace = 'public'::regnamespace
             ORDER BY 1, 2",
            &[],
        )
        .await
        .unwrap();
    let mut schema: Vec<String> = columns
        .iter()
        .map(|r| {
            format!(
                "column {}.{} #{} {} null={} default={}",
                r.get::<_, String>(0),
                r.get::<_, String>(1),
                r.get::<_, i32>(2),
                r.get::<_, String>(3),
                r.get::<_, String>(4),
                r.get::<_, String>(5)
            )
        })
        .collect();
    schema.extend(indexes.iter().map(|r| {
        format!(
            "index {}.{}: {}",
            r.get::<_, String>(0),
            r.get::<_, String>(1),
            r.get::<_, String>(2)
        )
    }));
    schema.extend(constraints.iter().map(|r| {
        format!(
            "constraint {}.{}: {}",
            r.get::<_, String>(0),
            r.get::<_, String>(1),
            r.get::<_, String>(2)
        )
    }));
    schema
}

#[tokio::test]
async fn an_empty_database_migrates_to_the_latest_version() {
    let Some(pg) = PgCluster::for_tests() else {
        return;
    };
    let db = database(pg, "migrate_empty");
    assert_eq!(db.version().await.unwrap(), 0);
    let applied = db.migrate().await.unwrap();
    let all: Vec<i32> = MIGRATIONS.iter().map(|m| m.version).collect();
    assert_eq!(applied, all);
    assert_eq!(db.version().await.unwrap(), latest_version());
    for table in [
        "mcp_servers",
        "mcp_tools",
        "mcp_principals",
        "mcp_credentials",
        "mcp_user_consents",
        "mcp_tool_executions",
    ] {
        assert_eq!(count(&db, table).await, 0, "{table}");
    }
    // Once there, nothing more to do.
    assert_eq!(db.migrate().await.unwrap(), Vec::<i32>::new());
    assert_eq!(
        count(&db, "mcp_schema_migrations").await,
        MIGRATIONS.len() as i64
    );
}

#[tokio::test]
async fn a_version_1_database_with_rows_migrates_keeping_them() {
    let Some(pg) = PgCluster::for_tests() else {
        return;
    };
    let db = database(pg, "migrate_from_v1");
    assert_eq!(db.migrate_to(1).await.unwrap(), vec![1]);
    assert_eq!(db.version().await.unwrap(), 1);
    db.client()
        .await
        .unwrap()
        .batch_execute(
            r#"
INSERT INTO mcp_servers (name, version, description) VALUES ('odoo', '0.1.0', 'ERP');
INSERT INTO mcp_tools (server, name, kind, description, input_schema, offered)
    VALUES ('odoo', 'search_records', 'read_only', 'Search', '{"type":"object"}', true);
INSERT INTO mcp_principals (name, kind) VALUES ('alice', 'token');
INSERT INTO mcp_credentials (principal_id, server, field, key_id, nonce, sealed)
    SELECT id, 'odoo', 'api_key', 'k1', '\x00', '\x01' FROM mcp_principals WHERE name = 'alice';
INSERT INTO mcp_user_consents (id, server, tool, caller, source)
    VALUES ('g-1', 'odoo', 'create_*', 'alice', 'elicitation');
"#,
        )
        .await
        .unwrap();
    let later: Vec<i32> = MIGRATIONS
        .iter()
        .map(|m| m.version)
        .filter(|v| *v > 1)
        .collect();
    assert_eq!(db.migrate().await.unwrap(), later);
    assert_eq!(db.version().await.unwrap(), latest_version());
    for table in [
        "mcp_servers",
        "mcp_tools",
        "mcp_principals",
        "mcp_credentials",
        "mcp_user_consents",
    ] {
        assert_eq!(count(&db, table).await, 1, "{table}");
    }
    let client = db.client().await.unwrap();
    let row = client
        .query_one(
            "SELECT c.key_id, p.name FROM mcp_credentials c JOIN mcp_principals p ON p.id = c.principal_id",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "k1");
    assert_eq!(row.get::<_, String>(1), "alice");
}

#[tokio::test]
async fn the_schema_reached_step_by_step_is_the_schema_reached_at_once() {
    let Some(pg) = PgCluster::for_tests() else {
        return;
    };
    let stepwise = database(pg, "migrate_steps");
    for migration in MIGRATIONS {
        assert_eq!(
            stepwise.migrate_to(migration.version).await.unwrap(),
            vec![migration.version]
        );
    }
    let at_once = database(pg, "migrate_at_once");
    at_once.migrate().await.unwrap();
    let (a, b) = (schema_of(&stepwise).await, schema_of(&at_once).await);
    assert!(
        a.iter()
            .any(|line| line.contains("mcp_tool_executions.record_id")),
        "{a:#?}"
    );
    assert_eq!(a, b);
}

#[tokio::test]
async fn migrations_racing_on_one_database_apply_each_version_once() {
    let Some(pg) = PgCluster::for_tests() else {
        return;
    };
    for round in 0..3 {
        let url = pg.new_database(&format!("migrate_race_{round}")).unwrap();
        let racers: Vec<Database> = (0..4).map(|_| Database::new(&url, 2).unwrap()).collect();
        let results = futures::future::join_all(racers.iter().map(|db| db.migrate())).await;
        let mut applied: Vec<i32> = Vec::new();
        for result in results {
            applied.extend(result.unwrap());
        }
        applied.sort();
        let all: Vec<i32> = MIGRATIONS.iter().map(|m| m.version).collect();
        assert_eq!(
            applied, all,
            "round {round}: each version applied by exactly one"
        );
        let db = &racers[0];
        assert_eq!(db.version().await.unwrap(), latest_version());
        assert_eq!(
            count(db, "mcp_schema_migrations").await,
            MIGRATIONS.len() as i64
        );
    }
}

#[tokio::test]
async fn a_database_newer_than_this_build_is_refused() {
    let Some(pg) = PgCluster::for_tests() else {
        return;
    };
    let db = database(pg, "migrate_too_new");
    db.migrate().await.unwrap();
    let newer = latest_version() + 1;
    db.client()
        .await
        .unwrap()
        .execute(
            "INSERT INTO mcp_schema_migrations (version, name) VALUES ($1, 'from the future')",
            &[&newer],
        )
        .await
        .unwrap();
    for error in [
        db.migrate().await.unwrap_err(),
        db.migrate_to(1).await.unwrap_err(),
    ] {
        match &error {
            DbError::TooNew { found, known, .. } => {
                assert_eq!((*found, *known), (newer, latest_version()));
            }
            other => panic!("expected TooNew, got {other}"),
        }
        assert!(error.to_string().contains("upgrade this server"), "{error}");
    }
}
