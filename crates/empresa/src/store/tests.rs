//! Tests of the store's public API, against real database files in temporary directories.

use std::path::PathBuf;
use std::sync::Arc;

use rusqlite::Connection;
use tempfile::TempDir;

use super::*;

fn database_path(directory: &TempDir) -> PathBuf {
    directory.path().join("empresa.db")
}

/// A store with the sample data.
fn seeded() -> (TempDir, Store) {
    let directory = tempfile::tempdir().unwrap();
    let store = Store::open(&database_path(&directory)).unwrap();
    (directory, store)
}

/// A store without the sample data, for tests that need exact counts.
fn empty() -> (TempDir, Store) {
    let directory = tempfile::tempdir().unwrap();
    let options = OpenOptions {
        seed_samples: false,
    };
    let store = Store::open_with_options(&database_path(&directory), &options).unwrap();
    (directory, store)
}

fn named(name: &str) -> NewCompany {
    NewCompany {
        name: name.to_owned(),
        ..NewCompany::default()
    }
}

fn document(title: &str, body: &str) -> NewDocument {
    NewDocument {
        title: title.to_owned(),
        body: body.to_owned(),
        ..NewDocument::default()
    }
}

fn company_named(store: &Store, name: &str) -> Company {
    store.find_company(name).unwrap().company.unwrap()
}

fn invalid_field(error: StoreError) -> String {
    match error {
        StoreError::InvalidInput { field, .. } => field,
        other => panic!("expected InvalidInput, got {other:?}"),
    }
}

fn fts_integrity_check(store: &Store) {
    store
        .connection()
        .execute(
            "INSERT INTO documents_fts (documents_fts) VALUES ('integrity-check')",
            [],
        )
        .unwrap();
}

#[test]
fn store_can_be_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Store>();

    let (_directory, store) = seeded();
    let store = Arc::new(store);
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || store.search_documents("contrato", 5).unwrap().len())
        })
        .collect();
    for worker in workers {
        assert!(worker.join().unwrap() > 0);
    }
}

#[test]
fn seed_has_empresa_x_and_y_and_reopening_does_not_reseed() {
    let directory = tempfile::tempdir().unwrap();
    let path = database_path(&directory);
    let store = Store::open(&path).unwrap();

    for (name, employees) in [("Empresa X", 100), ("Empresa Y", 200)] {
        let lookup = store.find_company(name).unwrap();
        assert_eq!(lookup.match_kind, MatchKind::Exact);
        assert_eq!(lookup.company.unwrap().employees, Some(employees), "{name}");
    }
    let stats = store.ping().unwrap();
    assert!((10..=12).contains(&stats.companies), "{stats:?}");
    assert!((15..=20).contains(&stats.documents), "{stats:?}");
    assert_eq!(stats.schema_version, schema::LATEST_VERSION);
    let with_company = store
        .list_document_summaries(PageRequest {
            offset: 0,
            limit: 100,
        })
        .unwrap()
        .items
        .iter()
        .filter(|summary| summary.company_id.is_some())
        .count();
    assert!(with_company as u64 > stats.documents / 2);

    // Reopening keeps the data as it is: the deleted sample stays deleted, nothing is duplicated.
    let empresa_x = company_named(&store, "Empresa X");
    store.delete_company(empresa_x.id).unwrap();
    let after_delete = store.ping().unwrap();
    drop(store);

    let reopened = Store::open(&path).unwrap();
    assert_eq!(reopened.ping().unwrap(), after_delete);
    assert_eq!(
        reopened.find_company("Empresa X").unwrap().match_kind,
        MatchKind::None
    );
}

#[test]
fn open_creates_missing_parent_directories_and_uses_wal() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("a").join("b").join("empresa.db");
    let store = Store::open(&path).unwrap();
    assert!(path.exists());
    let journal_mode: String = store
        .connection()
        .query_row("PRAGMA journal_mode", [], |row| row.get(0))
        .unwrap();
    assert_eq!(journal_mode, "wal");
    let foreign_keys: bool = store
        .connection()
        .query_row("PRAGMA foreign_keys", [], |row| row.get(0))
        .unwrap();
    assert!(foreign_keys);
}

#[test]
fn open_reports_unusable_files_as_database_errors() {
    let directory = tempfile::tempdir().unwrap();
    let path = database_path(&directory);
    std::fs::write(
        &path,
        "this is not a database, just text long enough to have a header....",
    )
    .unwrap();
    match Store::open(&path) {
        Err(StoreError::Database(message)) => {
            assert!(
                message.starts_with("could not open the company database at "),
                "{message}"
            );
            assert!(!message.ends_with('.'), "{message}");
        }
        other => panic!("expected a database error, got {other:?}"),
    }
}

#[test]
fn find_company_matches_exact_normalized_fuzzy_and_none() {
    let (_directory, store) = seeded();
    // (query, expected kind, expected company)
    let cases = [
        ("Empresa X", MatchKind::Exact, Some("Empresa X")),
        ("  Empresa Y  ", MatchKind::Exact, Some("Empresa Y")),
        ("empresa x", MatchKind::Normalized, Some("Empresa X")),
        ("EMPRESA  X", MatchKind::Normalized, Some("Empresa X")),
        ("Émpresa X", MatchKind::Normalized, Some("Empresa X")),
        ("empresa-y.", MatchKind::Normalized, Some("Empresa Y")),
        (
            "cafe del valle ltda",
            MatchKind::Normalized,
            Some("Café del Valle Ltda."),
        ),
        ("Empresa Xx", MatchKind::Fuzzy, Some("Empresa X")),
        ("Emprsa Y", MatchKind::Fuzzy, Some("Empresa Y")),
        (
            "Fintek Pampa S.A.",
            MatchKind::Fuzzy,
            Some("Fintech Pampa S.A."),
        ),
        ("Empresa Z", MatchKind::None, None),
        ("Empresa", MatchKind::None, None),
        ("Valle", MatchKind::None, None),
        ("Zzyzx Qwerty", MatchKind::None, None),
    ];
    for (query, kind, expected) in cases {
        let lookup = store.find_company(query).unwrap();
        assert_eq!(lookup.match_kind, kind, "query {query:?}: {lookup:?}");
        assert_eq!(
            lookup.company.as_ref().map(|company| company.name.as_str()),
            expected,
            "query {query:?}"
        );
        assert!(lookup.suggestions.len() <= matching::MAX_SUGGESTIONS);
        assert!(
            lookup
                .suggestions
                .windows(2)
                .all(|pair| pair[0].score >= pair[1].score),
            "query {query:?}: suggestions not sorted"
        );
    }
}

#[test]
fn find_company_suggests_close_names_when_nothing_matches() {
    let (_directory, store) = seeded();
    // (query, names that must be suggested, name that must come first)
    let cases: [(&str, &[&str], Option<&str>); 4] = [
        ("Empresa Z", &["Empresa X", "Empresa Y"], None),
        ("Empresa", &["Empresa X", "Empresa Y"], None),
        (
            "Valle",
            &["Café del Valle Ltda."],
            Some("Café del Valle Ltda."),
        ),
        (
            "textiles",
            &["Textiles Río de la Plata S.R.L."],
            Some("Textiles Río de la Plata S.R.L."),
        ),
    ];
    for (query, must_include, first) in cases {
        let lookup = store.find_company(query).unwrap();
        assert_eq!(lookup.match_kind, MatchKind::None, "query {query:?}");
        let names: Vec<&str> = lookup
            .suggestions
            .iter()
            .map(|suggestion| suggestion.name.as_str())
            .collect();
        for name in must_include {
            assert!(names.contains(name), "query {query:?}: {names:?}");
        }
        if let Some(first) = first {
            assert_eq!(names.first(), Some(&first), "query {query:?}");
        }
        assert!(
            lookup
                .suggestions
                .iter()
                .all(|suggestion| (0.0..=1.0).contains(&suggestion.score) && suggestion.id > 0)
        );
    }
    assert!(
        store
            .find_company("Zzyzx Qwerty")
            .unwrap()
            .suggestions
            .is_empty()
    );
}

#[test]
fn find_company_rejects_blank_names() {
    let (_directory, store) = seeded();
    for blank in ["", "   ", "\t\n"] {
        assert_eq!(
            store.find_company(blank).unwrap_err(),
            StoreError::InvalidInput {
                field: "nombre".into(),
                expected: "a non-empty company name".into()
            }
        );
    }
    assert_eq!(
        invalid_field(store.find_company(&"x".repeat(201)).unwrap_err()),
        "nombre"
    );
    // Punctuation only is not blank: it simply matches nothing.
    assert_eq!(
        store.find_company("...").unwrap().match_kind,
        MatchKind::None
    );
}

#[test]
fn search_ranks_title_matches_above_body_mentions() {
    let (_directory, store) = empty();
    let mention = store
        .add_document(&document(
            "Informe anual de cultivos",
            "Este año la cooperativa amplió la superficie de cereales y legumbres, renovó el regadío \
             y probó por primera vez una parcela pequeña de zanahorias junto al río.",
        ))
        .unwrap();
    let titled = store
        .add_document(&document(
            "Zanahorias orgánicas",
            "Ficha del producto estrella de la temporada, con calibres y envases disponibles.",
        ))
        .unwrap();
    let hits = store.search_documents("zanahorias", 10).unwrap();
    let ids: Vec<i64> = hits.iter().map(|hit| hit.id).collect();
    assert_eq!(ids, vec![titled.id, mention.id]);
    assert!(hits[0].score > hits[1].score);
}

#[test]
fn search_puts_documents_with_all_terms_before_partial_matches() {
    let (_directory, store) = empty();
    let only_first = store
        .add_document(&document(
            "Alpaca alpaca alpaca",
            "Alpaca, alpaca y más alpaca en la puna.",
        ))
        .unwrap();
    let both = store
        .add_document(&document(
            "Catálogo",
            "Mantas de alpaca tejidas en telar tradicional por artesanas de la región.",
        ))
        .unwrap();
    let only_second = store
        .add_document(&document("Telar", "Mantenimiento del telar."))
        .unwrap();
    store
        .add_document(&document("Nada", "Un documento sin relación."))
        .unwrap();

    let ids: Vec<i64> = store
        .search_documents("alpaca telar", 10)
        .unwrap()
        .iter()
        .map(|hit| hit.id)
        .collect();
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert_eq!(ids[0], both.id);
    assert!(ids.contains(&only_first.id) && ids.contains(&only_second.id));

    // A limit of one keeps only the document matching every term.
    let ids: Vec<i64> = store
        .search_documents("alpaca telar", 1)
        .unwrap()
        .iter()
        .map(|hit| hit.id)
        .collect();
    assert_eq!(ids, vec![both.id]);
}

#[test]
fn search_ignores_accents_and_case() {
    let (_directory, store) = seeded();
    // (query, title expected among the hits)
    let cases = [
        ("facturacion", "Política de facturación electrónica"),
        ("FACTURACIÓN", "Política de facturación electrónica"),
        ("politica fraude", "Política de prevención de fraude"),
        ("carmenere", "Ficha técnica: Carmenère Reserva 2022"),
        (
            "telemedicina",
            "Acta de reunión: lanzamiento del servicio de telemedicina",
        ),
        ("coffee", "Product sheet: Valle Alto specialty coffee"),
    ];
    for (query, title) in cases {
        let hits = store.search_documents(query, 10).unwrap();
        assert!(
            hits.iter().any(|hit| hit.title == title),
            "query {query:?}: {hits:?}"
        );
    }
}

#[test]
fn search_never_fails_on_hostile_input() {
    let (_directory, store) = seeded();
    let hostile = [
        "\"",
        "*",
        "NOT",
        "a:b",
        "(",
        ")",
        "AND",
        "OR OR",
        "contrato OR",
        "\"contrato",
        "-contrato",
        "contrato*",
        "title:contrato",
        "NEAR(contrato factura)",
        "^contrato",
        "{title body}: contrato",
        "contrato AND NOT factura",
        "'; DROP TABLE documents; --",
        "\u{0}",
        "🙂",
    ];
    for query in hostile {
        let result = store.search_documents(query, 10);
        assert!(result.is_ok(), "query {query:?}: {result:?}");
    }
    // Operators are plain words: the contracts are still found.
    for query in ["contrato*", "-contrato", "title:contrato", "\"contrato"] {
        assert!(
            !store.search_documents(query, 10).unwrap().is_empty(),
            "query {query:?}"
        );
    }
    assert_eq!(store.ping().unwrap().documents, 18);
}

#[test]
fn search_validates_the_query_and_clamps_the_limit() {
    let (_directory, store) = seeded();
    assert_eq!(
        invalid_field(store.search_documents("  ", 10).unwrap_err()),
        "nombre_documento"
    );
    // (limit asked, most hits allowed)
    for (limit, most) in [(0, 1), (1, 1), (3, 3), (1000, 50)] {
        let hits = store.search_documents("de la el", limit).unwrap();
        assert!(!hits.is_empty() && hits.len() <= most, "limit {limit}");
    }
}

#[test]
fn snippets_mark_matches_and_fall_back_to_the_title() {
    let (_directory, store) = empty();
    store
        .add_document(&document(
            "Nota",
            "El **texto** en negrita no confunde al buscador: el zorro salta la valla.",
        ))
        .unwrap();
    store
        .add_document(&document("Quimera", "Nada que ver con el tema."))
        .unwrap();
    // (query, text the snippet must contain)
    let cases = [("zorro", "**zorro**"), ("quimera", "**Quimera**")];
    for (query, expected) in cases {
        let hits = store.search_documents(query, 5).unwrap();
        assert_eq!(hits.len(), 1, "query {query:?}");
        assert!(
            hits[0].snippet.contains(expected),
            "query {query:?}: {:?}",
            hits[0].snippet
        );
    }
    let long_body = format!("{} clave {}", "palabra ".repeat(40), "otra ".repeat(40));
    store.add_document(&document("Larga", &long_body)).unwrap();
    let hit = &store.search_documents("clave", 5).unwrap()[0];
    assert!(hit.snippet.contains("**clave**"), "{:?}", hit.snippet);
    assert!(hit.snippet.contains('…'), "{:?}", hit.snippet);
    assert!(
        hit.snippet.split_whitespace().count() <= 20,
        "{:?}",
        hit.snippet
    );
}

#[test]
fn search_hits_carry_company_tags_and_date() {
    let (_directory, store) = seeded();
    let hits = store.search_documents("F-2024-0153", 5).unwrap();
    let hit = &hits[0];
    assert_eq!(hit.title, "Factura F-2024-0153");
    assert_eq!(hit.company_name.as_deref(), Some("Empresa X"));
    assert!(hit.company_id.is_some());
    assert!(hit.tags.contains(&"factura".to_owned()));
    assert_eq!(hit.date.as_deref(), Some("2024-04-30"));
}

/// Twenty-five companies with predictable attributes, created in scrambled order.
fn fill_directory(store: &Store) {
    for number in [
        7, 1, 19, 25, 3, 12, 8, 22, 14, 2, 9, 16, 5, 24, 11, 20, 4, 18, 13, 6, 23, 10, 17, 15, 21,
    ] {
        store
            .create_company(&NewCompany {
                name: format!("Compañía {number:02}"),
                employees: Some(number * 10),
                industry: Some(
                    if number % 2 == 0 {
                        "Tecnología"
                    } else {
                        "Minería"
                    }
                    .into(),
                ),
                city: Some(
                    if number <= 10 {
                        "São Paulo"
                    } else {
                        "Bogotá"
                    }
                    .into(),
                ),
                country: Some(if number <= 10 { "Brasil" } else { "Colombia" }.into()),
                ..NewCompany::default()
            })
            .unwrap();
    }
}

#[test]
fn list_companies_paginates_in_stable_name_order() {
    let (_directory, store) = empty();
    fill_directory(&store);
    let mut names = Vec::new();
    let mut request = PageRequest {
        offset: 0,
        limit: 10,
    };
    let mut pages = Vec::new();
    loop {
        let page = store
            .list_companies(&CompanyFilter::default(), request)
            .unwrap();
        assert_eq!(page.total, 25);
        assert_eq!(page.limit, 10);
        pages.push(page.items.len());
        names.extend(page.items.into_iter().map(|company| company.name));
        match page.next_offset {
            Some(next) => request.offset = next,
            None => break,
        }
    }
    assert_eq!(pages, vec![10, 10, 5]);
    let expected: Vec<String> = (1..=25).map(|n| format!("Compañía {n:02}")).collect();
    assert_eq!(names, expected);

    // (offset, limit, items, next_offset)
    let cases = [
        (0, 0, 1, Some(1)),
        (20, 5, 5, None),
        (24, 10, 1, None),
        (25, 10, 0, None),
        (1000, 10, 0, None),
        (0, 500, 25, None),
    ];
    for (offset, limit, items, next) in cases {
        let page = store
            .list_companies(&CompanyFilter::default(), PageRequest { offset, limit })
            .unwrap();
        assert_eq!(page.items.len(), items, "offset {offset} limit {limit}");
        assert_eq!(page.next_offset, next, "offset {offset} limit {limit}");
        assert_eq!(page.limit, limit.clamp(1, MAX_PAGE_LIMIT));
        assert_eq!(page.offset, offset);
    }
}

#[test]
fn list_companies_filters_ignore_case_and_accents() {
    let (_directory, store) = empty();
    fill_directory(&store);
    let filter = |build: fn(&mut CompanyFilter)| {
        let mut filter = CompanyFilter::default();
        build(&mut filter);
        filter
    };
    // (filter, expected total)
    let cases: Vec<(CompanyFilter, u64)> = vec![
        (filter(|f| f.industry = Some("tecnologia".into())), 12),
        (filter(|f| f.industry = Some("MINERÍA".into())), 13),
        (filter(|f| f.industry = Some("Tecno".into())), 0),
        (filter(|f| f.city = Some("sao paulo".into())), 10),
        (filter(|f| f.country = Some("colombia".into())), 15),
        (filter(|f| f.name_contains = Some("compania 1".into())), 10),
        (filter(|f| f.name_contains = Some("ÑÍA 2".into())), 6),
        (filter(|f| f.name_contains = Some("   ".into())), 25),
        (filter(|f| f.industry = Some(String::new())), 25),
        (filter(|f| f.min_employees = Some(200)), 6),
        (filter(|f| f.max_employees = Some(50)), 5),
        (
            filter(|f| {
                f.min_employees = Some(100);
                f.max_employees = Some(150);
                f.industry = Some("Tecnología".into());
            }),
            3,
        ),
        (filter(|f| f.min_employees = Some(300)), 0),
        (filter(|f| f.name_contains = Some("%".into())), 25),
        (filter(|f| f.name_contains = Some("_".into())), 25),
    ];
    for (filter, total) in cases {
        let page = store
            .list_companies(
                &filter,
                PageRequest {
                    offset: 0,
                    limit: 100,
                },
            )
            .unwrap();
        assert_eq!(page.total, total, "{filter:?}");
        assert_eq!(page.items.len() as u64, total, "{filter:?}");
    }
}

#[test]
fn create_company_validates_each_field() {
    let (_directory, store) = empty();
    // (company, field named in the error)
    let cases = [
        (named(""), "name"),
        (named("   "), "name"),
        (named("..."), "name"),
        (named(&"n".repeat(201)), "name"),
        (
            NewCompany {
                employees: Some(-1),
                ..named("Negativa")
            },
            "employees",
        ),
        (
            NewCompany {
                email: Some("contacto.example".into()),
                ..named("Sin arroba")
            },
            "email",
        ),
        (
            NewCompany {
                email: Some("con espacio@x.example".into()),
                ..named("Con espacio")
            },
            "email",
        ),
        (
            NewCompany {
                website: Some("www.sin-esquema.example".into()),
                ..named("Sin esquema")
            },
            "website",
        ),
        (
            NewCompany {
                legal_id: Some("x".repeat(201)),
                ..named("Legal larga")
            },
            "legal_id",
        ),
    ];
    for (company, field) in cases {
        let error = store.create_company(&company).unwrap_err();
        assert_eq!(invalid_field(error), field, "{company:?}");
    }
    assert_eq!(store.ping().unwrap().companies, 0);

    let error = store
        .create_company(&NewCompany {
            employees: Some(-1),
            ..named("Negativa")
        })
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid value for `employees`: expected a non-negative integer"
    );

    let created = store
        .create_company(&NewCompany {
            name: "  Nueva Empresa  ".into(),
            employees: Some(0),
            email: Some("hola@nueva.example".into()),
            website: Some("http://nueva.example".into()),
            phone: Some("".into()),
            ..NewCompany::default()
        })
        .unwrap();
    assert_eq!(created.name, "Nueva Empresa");
    assert_eq!(created.employees, Some(0));
    assert_eq!(created.phone, None);
    assert_eq!(created.created_at.len(), "2024-01-01T00:00:00Z".len());
    assert!(created.created_at.ends_with('Z'));
    assert_eq!(store.get_company(created.id).unwrap(), Some(created));
}

#[test]
fn duplicate_normalized_names_conflict() {
    let (_directory, store) = seeded();
    let empresa_x = company_named(&store, "Empresa X");
    for duplicate in ["Empresa X", "EMPRESA-X", "émpresa  x", "Empresa X."] {
        match store.create_company(&named(duplicate)) {
            Err(StoreError::Conflict { message }) => {
                assert!(message.contains("\"Empresa X\""), "{message}");
                assert!(
                    message.contains(&format!("id {}", empresa_x.id)),
                    "{message}"
                );
            }
            other => panic!("{duplicate:?}: expected a conflict, got {other:?}"),
        }
    }
    let rename = CompanyPatch {
        name: Some("empresa y".into()),
        ..CompanyPatch::default()
    };
    assert!(matches!(
        store.update_company(empresa_x.id, &rename),
        Err(StoreError::Conflict { .. })
    ));
}

#[test]
fn update_company_changes_only_given_fields() {
    let (_directory, store) = seeded();
    let before = company_named(&store, "Empresa X");

    let unchanged = store
        .update_company(before.id, &CompanyPatch::default())
        .unwrap();
    assert_eq!(unchanged, before);

    // Renaming to another spelling of its own name is not a conflict with itself.
    let patch = CompanyPatch {
        name: Some("EMPRESA X".into()),
        employees: Some(120),
        email: Some(String::new()),
        city: Some("Toledo".into()),
        ..CompanyPatch::default()
    };
    let after = store.update_company(before.id, &patch).unwrap();
    assert_eq!(after.name, "EMPRESA X");
    assert_eq!(after.employees, Some(120));
    assert_eq!(after.email, None);
    assert_eq!(after.city.as_deref(), Some("Toledo"));
    assert_eq!(after.industry, before.industry);
    assert_eq!(after.website, before.website);
    assert_eq!(after.created_at, before.created_at);

    // (patch, field named in the error)
    let cases = [
        (
            CompanyPatch {
                name: Some(" ".into()),
                ..CompanyPatch::default()
            },
            "name",
        ),
        (
            CompanyPatch {
                employees: Some(-10),
                ..CompanyPatch::default()
            },
            "employees",
        ),
        (
            CompanyPatch {
                website: Some("empresa-x.example".into()),
                ..CompanyPatch::default()
            },
            "website",
        ),
        (
            CompanyPatch {
                email: Some("a b@c".into()),
                ..CompanyPatch::default()
            },
            "email",
        ),
    ];
    for (patch, field) in cases {
        let error = store.update_company(before.id, &patch).unwrap_err();
        assert_eq!(invalid_field(error), field, "{patch:?}");
    }
    assert_eq!(
        store
            .update_company(999_999, &CompanyPatch::default())
            .unwrap_err(),
        StoreError::NotFound {
            what: "company",
            id: 999_999
        }
    );
}

#[test]
fn delete_company_cascades_to_its_documents() {
    let (_directory, store) = seeded();
    let empresa_x = company_named(&store, "Empresa X");
    let own_documents = store.documents_of_company(empresa_x.id, 100).unwrap();
    assert_eq!(own_documents.len(), 2);
    let before = store.ping().unwrap();

    let deleted = store.delete_company(empresa_x.id).unwrap();
    assert_eq!(deleted.company, empresa_x);
    assert_eq!(deleted.deleted_documents, 2);

    let after = store.ping().unwrap();
    assert_eq!(after.companies, before.companies - 1);
    assert_eq!(after.documents, before.documents - 2);
    for summary in &own_documents {
        assert_eq!(store.get_document(summary.id).unwrap(), None);
    }
    let deleted_ids: Vec<i64> = own_documents.iter().map(|summary| summary.id).collect();
    assert!(
        store
            .search_documents("F-2024-0153 contrato", 50)
            .unwrap()
            .iter()
            .all(|hit| !deleted_ids.contains(&hit.id))
    );
    fts_integrity_check(&store);

    assert_eq!(store.get_company(empresa_x.id).unwrap(), None);
    for error in [
        store.delete_company(empresa_x.id).unwrap_err(),
        store.documents_of_company(empresa_x.id, 10).unwrap_err(),
    ] {
        assert_eq!(
            error,
            StoreError::NotFound {
                what: "company",
                id: empresa_x.id
            }
        );
    }
}

#[test]
fn add_document_links_the_company_by_id_or_name() {
    let (_directory, store) = seeded();
    let empresa_y = company_named(&store, "Empresa Y");

    let by_name = store
        .add_document(&NewDocument {
            title: "Acta de inventario".into(),
            body: "Recuento anual del almacén de Zaragoza.".into(),
            company_name: Some("empresa-y".into()),
            tags: vec![
                " acta ".into(),
                "inventario".into(),
                "Acta".into(),
                String::new(),
            ],
            date: Some("2024-06-30".into()),
            ..NewDocument::default()
        })
        .unwrap();
    assert_eq!(by_name.company_id, Some(empresa_y.id));
    assert_eq!(by_name.company_name.as_deref(), Some("Empresa Y"));
    assert_eq!(by_name.tags, vec!["acta", "inventario"]);
    assert_eq!(
        store.get_document(by_name.id).unwrap(),
        Some(by_name.clone())
    );

    let by_id = store
        .add_document(&NewDocument {
            company_id: Some(empresa_y.id),
            ..document("Nota", "Texto.")
        })
        .unwrap();
    assert_eq!(by_id.company_id, Some(empresa_y.id));

    let newest = store.documents_of_company(empresa_y.id, 1).unwrap();
    assert_eq!(
        newest[0].id, by_name.id,
        "dated documents come newest first"
    );
    let search = store.search_documents("inventario Zaragoza", 5).unwrap();
    assert_eq!(search[0].id, by_name.id);

    // (document, field named in the error)
    let cases = [
        (
            NewDocument {
                company_name: Some("Empresa Inexistente".into()),
                ..document("Título", "Cuerpo")
            },
            "company_name",
        ),
        (
            NewDocument {
                company_id: Some(empresa_y.id),
                company_name: Some("Empresa X".into()),
                ..document("Título", "Cuerpo")
            },
            "company_name",
        ),
        (document("  ", "Cuerpo"), "title"),
        (document("Título", ""), "body"),
        (
            NewDocument {
                date: Some("2024-02-30".into()),
                ..document("Título", "Cuerpo")
            },
            "date",
        ),
        (
            NewDocument {
                date: Some("30/01/2024".into()),
                ..document("Título", "Cuerpo")
            },
            "date",
        ),
    ];
    for (new, field) in cases {
        let error = store.add_document(&new).unwrap_err();
        assert_eq!(invalid_field(error), field, "{new:?}");
    }
    assert_eq!(
        store
            .add_document(&NewDocument {
                company_id: Some(424_242),
                ..document("Título", "Cuerpo")
            })
            .unwrap_err(),
        StoreError::NotFound {
            what: "company",
            id: 424_242
        }
    );
}

#[test]
fn document_summaries_page_by_id() {
    let (_directory, store) = seeded();
    let first = store
        .list_document_summaries(PageRequest {
            offset: 0,
            limit: 10,
        })
        .unwrap();
    assert_eq!(first.total, 18);
    assert_eq!(first.next_offset, Some(10));
    let second = store
        .list_document_summaries(PageRequest {
            offset: 10,
            limit: 10,
        })
        .unwrap();
    assert_eq!(second.items.len(), 8);
    assert_eq!(second.next_offset, None);
    let ids: Vec<i64> = first
        .items
        .iter()
        .chain(&second.items)
        .map(|summary| summary.id)
        .collect();
    assert!(ids.windows(2).all(|pair| pair[0] < pair[1]));
    assert!(store.get_document(i64::MAX).unwrap().is_none());
}

fn import(
    store: &Store,
    format: ImportFormat,
    kind: ImportKind,
    data: &str,
) -> Result<ImportSummary, StoreError> {
    store.import(&ImportRequest {
        format,
        kind,
        data: data.to_owned(),
        on_conflict: OnConflict::Error,
    })
}

fn problems_of(result: Result<ImportSummary, StoreError>) -> Vec<ImportProblem> {
    match result {
        Err(StoreError::ImportRejected { problems }) => problems,
        other => panic!("expected a rejected import, got {other:?}"),
    }
}

/// Where a problem was reported: its line and field.
type Place<'a> = (u64, Option<&'a str>);

/// (line, field) pairs, the shape most assertions compare.
fn places(problems: &[ImportProblem]) -> Vec<Place<'_>> {
    problems
        .iter()
        .map(|problem| (problem.line, problem.field.as_deref()))
        .collect()
}

#[test]
fn import_accepts_good_csv_and_json() {
    let (_directory, store) = empty();
    let companies_csv = "\u{feff}name,Employees,city,website,email,description\n\
        Alfa Ingeniería,10,Quito,https://alfa.example,info@alfa.example,\"Ingeniería civil, obras \"\"llave en mano\"\"\"\n\
        \"Beta\nComercial\",,Cusco,,,\n\
        Gamma S.A.,3000,La Paz,,,Minería\n";
    assert_eq!(
        import(
            &store,
            ImportFormat::Csv,
            ImportKind::Companies,
            companies_csv
        )
        .unwrap(),
        ImportSummary {
            inserted: 3,
            updated: 0,
            skipped: 0
        }
    );
    let alfa = company_named(&store, "Alfa Ingenieria");
    assert_eq!(alfa.employees, Some(10));
    assert_eq!(
        alfa.description.as_deref(),
        Some("Ingeniería civil, obras \"llave en mano\"")
    );

    let companies_json = r#"[
        {"name": "Delta Foods", "employees": 42, "country": "Ecuador", "legal_id": 1790012345001},
        {"name": "Épsilon", "employees": "7", "email": null}
    ]"#;
    assert_eq!(
        import(
            &store,
            ImportFormat::Json,
            ImportKind::Companies,
            companies_json
        )
        .unwrap()
        .inserted,
        2
    );
    assert_eq!(
        company_named(&store, "Delta Foods").legal_id.as_deref(),
        Some("1790012345001")
    );

    let documents_csv = "title,body,company,tags,date\n\
        Contrato de obra,Obra civil en Quito.,alfa ingenieria,contrato;obra,2024-05-01\n\
        Nota interna,Sin empresa.,,,\n";
    assert_eq!(
        import(
            &store,
            ImportFormat::Csv,
            ImportKind::Documents,
            documents_csv
        )
        .unwrap()
        .inserted,
        2
    );
    let documents_json = r#"[
        {"title": "Factura 1", "body": "Importe 100.", "company": "Delta Foods", "tags": ["factura", "2024"]},
        {"title": "Factura 2", "body": "Importe 200.", "company": "Delta Foods", "tags": "factura;pendiente", "date": "2024-02-29"}
    ]"#;
    assert_eq!(
        import(
            &store,
            ImportFormat::Json,
            ImportKind::Documents,
            documents_json
        )
        .unwrap()
        .inserted,
        2
    );
    let delta = company_named(&store, "Delta Foods");
    let delta_documents = store.documents_of_company(delta.id, 10).unwrap();
    assert_eq!(delta_documents.len(), 2);
    assert_eq!(delta_documents[0].tags, vec!["factura", "pendiente"]);
    assert_eq!(store.ping().unwrap().documents, 4);
    assert_eq!(store.search_documents("pendiente", 5).unwrap().len(), 1);
    fts_integrity_check(&store);
}

#[test]
fn import_reports_every_bad_csv_line_and_writes_nothing() {
    let (_directory, store) = seeded();
    let data = "name,employees,email,website\n\
        Alfa,10,alfa@a.example,https://a.example\n\
        Beta,abc,beta@b.example,\n\
        \"Gamma\n\
        en dos líneas\",5,,\n\
        Delta,-3,delta-sin-arroba,ftp://d.example\n\
        ,4,,\n\
        ALFA,1,,\n\
        Empresa X,3,,\n\
        Epsilon,1,2\n\
        Zeta,2.5,,\n";
    let before = store.ping().unwrap();
    let problems = problems_of(import(
        &store,
        ImportFormat::Csv,
        ImportKind::Companies,
        data,
    ));
    assert_eq!(
        places(&problems),
        vec![
            (3, Some("employees")),
            (6, Some("employees")),
            (6, Some("website")),
            (6, Some("email")),
            (7, Some("name")),
            (8, Some("name")),
            (9, Some("name")),
            (10, None),
            (11, Some("employees")),
        ],
        "{problems:#?}"
    );
    assert_eq!(
        problems[0].message,
        "expected a non-negative integer, got \"abc\""
    );
    assert_eq!(problems[0].location, "line 3");
    assert!(
        problems[4].message.starts_with("missing value"),
        "{:?}",
        problems[4]
    );
    assert!(problems[5].message.contains("line 2"), "{:?}", problems[5]);
    assert!(
        problems[6].message.contains("already exists"),
        "{:?}",
        problems[6]
    );
    assert_eq!(
        problems[7].message,
        "expected 4 fields as in the header, found 3"
    );
    assert_eq!(store.ping().unwrap(), before);
    assert_eq!(
        store.find_company("Alfa").unwrap().match_kind,
        MatchKind::None
    );

    let error = import(&store, ImportFormat::Csv, ImportKind::Companies, data).unwrap_err();
    let message = error.to_string();
    assert!(
        message.starts_with("the import was rejected and nothing was written; 9 problems: line 3, `employees`: expected a non-negative integer, got \"abc\"; "),
        "{message}"
    );
}

#[test]
fn import_reports_header_problems() {
    let (_directory, store) = empty();
    // (data, expected (line, field) problems)
    let cases: [(&str, Vec<Place<'_>>); 5] = [
        (
            "name,employes,phone,phone\nAlfa,1,2,3\nBeta,,,\n",
            vec![(1, Some("employes")), (1, Some("phone"))],
        ),
        ("legal_id,city\nB1,Lima\n", vec![(1, Some("name"))]),
        ("", vec![(1, None)]),
        ("name,,city\nAlfa,x,Lima\n", vec![(1, None)]),
        ("name\nAlfa\n\n\nBeta\nAlfa\n", vec![(6, Some("name"))]),
    ];
    for (data, expected) in cases {
        let problems = problems_of(import(
            &store,
            ImportFormat::Csv,
            ImportKind::Companies,
            data,
        ));
        assert_eq!(places(&problems), expected, "{data:?}: {problems:#?}");
    }
    assert_eq!(store.ping().unwrap().companies, 0);
}

#[test]
fn import_reports_bad_json_items_and_syntax() {
    let (_directory, store) = seeded();
    let before = store.ping().unwrap();
    let data = r#"[
        {"name": "Uno", "employees": 5},
        {"name": "Dos", "employees": "abc"},
        {"name": "Tres", "ciudad": "Lima"},
        "Cuatro",
        {"name": true},
        {"title": "Seis"},
        {"name": "Siete", "employees": -1, "website": "www.siete.example"}
    ]"#;
    let problems = problems_of(import(
        &store,
        ImportFormat::Json,
        ImportKind::Companies,
        data,
    ));
    assert_eq!(
        places(&problems),
        vec![
            (2, Some("employees")),
            (3, Some("ciudad")),
            (4, None),
            (5, Some("name")),
            (6, Some("title")),
            (6, Some("name")),
            (7, Some("employees")),
            (7, Some("website")),
        ],
        "{problems:#?}"
    );
    assert_eq!(problems[0].location, "item 2");
    assert_eq!(problems[3].message, "expected text, got a boolean");

    // (data, expected line of the problem, words in the message)
    let cases = [
        (
            "[\n  {\"name\": \"Uno\"},\n  {\"name\": \"Dos\"\n]",
            4,
            "could not be parsed",
        ),
        ("{\"name\": \"Uno\"}", 0, "expected a JSON array"),
        ("", 1, "could not be parsed"),
    ];
    for (data, line, words) in cases {
        let problems = problems_of(import(
            &store,
            ImportFormat::Json,
            ImportKind::Companies,
            data,
        ));
        assert_eq!(problems.len(), 1, "{data:?}");
        assert_eq!(problems[0].line, line, "{data:?}: {problems:?}");
        assert!(problems[0].message.contains(words), "{problems:?}");
    }

    let documents = r#"[
        {"title": "A", "body": "Texto", "company": "Nadie S.A."},
        {"title": "B", "body": "", "tags": [1, 2]},
        {"title": "C", "body": "Texto", "date": "2024-13-01"},
        {"title": "Factura F-2024-0153", "body": "Otra vez", "company": "Empresa X"}
    ]"#;
    let problems = problems_of(import(
        &store,
        ImportFormat::Json,
        ImportKind::Documents,
        documents,
    ));
    assert_eq!(
        places(&problems),
        vec![
            (1, Some("company")),
            (2, Some("tags")),
            (2, Some("body")),
            (3, Some("date")),
            (4, Some("title")),
        ],
        "{problems:#?}"
    );
    assert_eq!(store.ping().unwrap(), before);
}

#[test]
fn import_on_conflict_skip_and_update() {
    let (_directory, store) = seeded();
    let empresa_x = company_named(&store, "Empresa X");
    let data = "name,employees,city,phone\n\
        empresa x,150,,+34 600 000 000\n\
        Nueva Empresa,5,Bilbao,\n";
    let run = |on_conflict| {
        store.import(&ImportRequest {
            format: ImportFormat::Csv,
            kind: ImportKind::Companies,
            data: data.to_owned(),
            on_conflict,
        })
    };

    let problems = problems_of(run(OnConflict::Error));
    assert_eq!(places(&problems), vec![(2, Some("name"))]);

    assert_eq!(
        run(OnConflict::Skip).unwrap(),
        ImportSummary {
            inserted: 1,
            updated: 0,
            skipped: 1
        }
    );
    assert_eq!(
        store.get_company(empresa_x.id).unwrap(),
        Some(empresa_x.clone())
    );

    // Nueva Empresa now exists too, so both rows update.
    assert_eq!(
        run(OnConflict::Update).unwrap(),
        ImportSummary {
            inserted: 0,
            updated: 2,
            skipped: 0
        }
    );
    let updated = store.get_company(empresa_x.id).unwrap().unwrap();
    assert_eq!(updated.employees, Some(150));
    assert_eq!(updated.phone.as_deref(), Some("+34 600 000 000"));
    assert_eq!(updated.name, "Empresa X", "the stored spelling is kept");
    assert_eq!(
        updated.city, empresa_x.city,
        "empty cells leave fields alone"
    );

    let documents = r#"[{"title": "factura f-2024-0153", "body": "Nuevo texto rectificado.", "company": "Empresa X", "tags": ["factura", "rectificada"]}]"#;
    let summary = store
        .import(&ImportRequest {
            format: ImportFormat::Json,
            kind: ImportKind::Documents,
            data: documents.to_owned(),
            on_conflict: OnConflict::Update,
        })
        .unwrap();
    assert_eq!(summary.updated, 1);
    let hits = store.search_documents("rectificado", 5).unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].title, "Factura F-2024-0153");
    assert!(
        store
            .search_documents("consultoría", 5)
            .unwrap()
            .iter()
            .all(|hit| hit.id != hits[0].id)
    );
    fts_integrity_check(&store);
}

#[test]
fn import_caps_problems_and_limits_size() {
    let (_directory, store) = empty();
    let mut data = String::from("name,employees\n");
    for number in 0..1500 {
        data.push_str(&format!("Empresa {number},mal\n"));
    }
    let problems = problems_of(import(
        &store,
        ImportFormat::Csv,
        ImportKind::Companies,
        &data,
    ));
    assert_eq!(problems.len(), import::MAX_PROBLEMS + 1);
    assert_eq!(problems[0].line, 2);
    let last = problems.last().unwrap();
    assert_eq!(
        last.message,
        "500 more problems were found and are not listed"
    );

    let huge = "x".repeat(import::MAX_IMPORT_BYTES + 1);
    let error = import(&store, ImportFormat::Csv, ImportKind::Companies, &huge).unwrap_err();
    assert_eq!(invalid_field(error), "data");

    let empty_import = import(&store, ImportFormat::Json, ImportKind::Companies, "[]").unwrap();
    assert_eq!(empty_import.inserted, 0);
}

#[test]
fn schema_version_zero_without_tables_is_migrated_and_seeded() {
    let directory = tempfile::tempdir().unwrap();
    let path = database_path(&directory);
    {
        let connection = Connection::open(&path).unwrap();
        // Creating and dropping a table writes a real database file that is empty at version 0.
        connection
            .execute_batch("CREATE TABLE scratch (x); DROP TABLE scratch;")
            .unwrap();
        assert_eq!(schema::user_version(&connection).unwrap(), 0);
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), schema::LATEST_VERSION);
    assert!(store.ping().unwrap().companies >= 10);
}

#[test]
fn older_schema_is_upgraded_in_place() {
    let directory = tempfile::tempdir().unwrap();
    let path = database_path(&directory);
    {
        let connection = Connection::open(&path).unwrap();
        connection.execute_batch(schema::MIGRATIONS[0].sql).unwrap();
        connection
            .execute_batch(
                "INSERT INTO documents (title, body, created_at, updated_at)
                 VALUES ('Memoria antigua', 'Escrita antes del índice de texto.', '2020-01-01T00:00:00Z', '2020-01-01T00:00:00Z');
                 PRAGMA user_version = 1;",
            )
            .unwrap();
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), schema::LATEST_VERSION);
    let hits = store.search_documents("indice", 5).unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].title, "Memoria antigua");
    // The file already held data, so it is not a new database: no samples.
    assert_eq!(store.ping().unwrap().companies, 0);
}

#[test]
fn newer_schema_is_refused() {
    let directory = tempfile::tempdir().unwrap();
    let path = database_path(&directory);
    {
        let connection = Connection::open(&path).unwrap();
        connection
            .pragma_update(None, "user_version", schema::LATEST_VERSION + 1)
            .unwrap();
    }
    let error = Store::open(&path).err().unwrap();
    assert_eq!(
        error,
        StoreError::SchemaTooNew {
            found: schema::LATEST_VERSION + 1,
            supported: schema::LATEST_VERSION
        }
    );
    assert!(!error.is_caller_error());
    assert!(error.to_string().starts_with(&format!(
        "the database schema version {} is newer",
        schema::LATEST_VERSION + 1
    )));
}

#[test]
fn error_messages_read_as_sentences_without_final_period() {
    // (error, expected message)
    let cases = [
        (
            StoreError::invalid("employees", "a non-negative integer"),
            "invalid value for `employees`: expected a non-negative integer",
        ),
        (
            StoreError::NotFound {
                what: "company",
                id: 7,
            },
            "no company with id 7",
        ),
        (
            StoreError::Database("could not read company 7: disk I/O error".into()),
            "could not read company 7: disk I/O error",
        ),
        (
            StoreError::SchemaTooNew {
                found: 9,
                supported: 2,
            },
            "the database schema version 9 is newer than the newest version this program supports (2); use a newer mcp-empresa or another database file",
        ),
        (
            StoreError::ImportRejected {
                problems: vec![ImportProblem {
                    line: 4,
                    location: "line 4".into(),
                    field: Some("employees".into()),
                    message: "expected a non-negative integer, got \"abc\"".into(),
                }],
            },
            "the import was rejected and nothing was written; 1 problem: line 4, `employees`: expected a non-negative integer, got \"abc\"",
        ),
    ];
    for (error, expected) in cases {
        assert_eq!(error.to_string(), expected);
        assert!(!expected.ends_with('.'));
    }
}

#[test]
fn types_serialize_as_the_mcp_layer_expects() {
    assert_eq!(serde_json::to_value(MatchKind::None).unwrap(), "none");
    assert_eq!(serde_json::to_value(MatchKind::Fuzzy).unwrap(), "fuzzy");
    let request: ImportRequest =
        serde_json::from_str(r#"{"format": "csv", "kind": "companies", "data": "name\nA\n"}"#)
            .unwrap();
    assert_eq!(request.on_conflict, OnConflict::Error);
    let page: PageRequest = serde_json::from_str("{}").unwrap();
    assert_eq!(page, PageRequest::default());

    let schema = serde_json::to_value(schemars::schema_for!(CompanyLookup)).unwrap();
    let text = schema.to_string();
    assert!(text.contains("How the company was found"), "{text}");
    assert!(text.contains("\"exact\""), "{text}");
}

#[test]
fn two_stores_on_one_file_see_each_other() {
    let directory = tempfile::tempdir().unwrap();
    let path = database_path(&directory);
    let writer = Store::open(&path).unwrap();
    let reader = Store::open(&path).unwrap();
    let created = writer.create_company(&named("Compartida")).unwrap();
    assert_eq!(reader.get_company(created.id).unwrap(), Some(created));
    assert!(matches!(
        reader.create_company(&named("compartida")),
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(reader.ping().unwrap(), writer.ping().unwrap());
}

#[test]
fn adding_the_same_document_twice_keeps_one_copy() {
    let (_directory, store) = empty();
    let first = store
        .add_document(&document("Acta de la reunión", "Se aprobó el presupuesto."))
        .unwrap();
    let again = store
        .add_document(&document("Acta de la reunión", "Se aprobó el presupuesto."))
        .unwrap();
    assert_eq!(
        first.id, again.id,
        "a retried add returns the same document"
    );
    let other_body = store
        .add_document(&document(
            "Acta de la reunión",
            "Se rechazó el presupuesto.",
        ))
        .unwrap();
    assert_ne!(
        first.id, other_body.id,
        "a different text is a new document"
    );
    let tagged = store
        .add_document(&NewDocument {
            tags: vec!["acta".into()],
            ..document("Acta de la reunión", "Se aprobó el presupuesto.")
        })
        .unwrap();
    assert_ne!(
        first.id, tagged.id,
        "different tags make a different document"
    );
    let hits = store.search_documents("presupuesto", 10).unwrap();
    assert_eq!(hits.len(), 3, "{hits:?}");
}
