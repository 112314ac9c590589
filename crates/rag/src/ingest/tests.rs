//! Ingestion tests on real files written to temporary folders.

use std::collections::BTreeMap;
use std::fs;
use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};

use mcp_common::Env;

use super::*;

// ---------------------------------------------------------------------------------------------
// Fixtures

fn write(path: &Path, bytes: impl AsRef<[u8]>) {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap();
    }
    fs::write(path, bytes).unwrap();
}

fn canonical(path: &Path) -> PathBuf {
    fs::canonicalize(path).unwrap()
}

fn config(root: &Path) -> IngestConfig {
    IngestConfig::with_roots(&[root]).unwrap()
}

/// A real PDF built with lopdf: one page per entry, each line shown with `Tj` in its own text
/// object, as PDF producers do.
fn pdf(pages: &[&[&str]]) -> Vec<u8> {
    use lopdf::content::{Content, Operation};
    use lopdf::{Object, Stream, dictionary};

    let mut doc = lopdf::Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font_id = doc.add_object(dictionary! {
        "Type" => "Font",
        "Subtype" => "Type1",
        "BaseFont" => "Helvetica",
        "Encoding" => "WinAnsiEncoding",
    });
    let resources_id = doc.add_object(dictionary! {
        "Font" => dictionary! { "F1" => font_id },
    });
    let mut kids = Vec::new();
    for lines in pages {
        let mut operations = Vec::new();
        for (at, line) in lines.iter().enumerate() {
            let y = 750 - 20 * i64::try_from(at).unwrap();
            operations.push(Operation::new("BT", vec![]));
            operations.push(Operation::new("Tf", vec!["F1".into(), 12.into()]));
            operations.push(Operation::new("Td", vec![72.into(), y.into()]));
            operations.push(Operation::new(
                "Tj",
                vec![Object::string_literal(line.as_bytes().to_vec())],
            ));
            operations.push(Operation::new("ET", vec![]));
        }
        let content = Content { operations };
        let content_id = doc.add_object(Stream::new(dictionary! {}, content.encode().unwrap()));
        let page_id = doc.add_object(dictionary! {
            "Type" => "Page",
            "Parent" => pages_id,
            "Contents" => content_id,
        });
        kids.push(page_id.into());
    }
    let count = i64::try_from(kids.len()).unwrap();
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages",
            "Kids" => kids,
            "Count" => count,
            "Resources" => resources_id,
            "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        }),
    );
    let catalog_id = doc.add_object(dictionary! {
        "Type" => "Catalog",
        "Pages" => pages_id,
    });
    doc.trailer.set("Root", catalog_id);
    let mut bytes = Vec::new();
    doc.save_to(&mut bytes).unwrap();
    bytes
}

fn two_page_pdf() -> Vec<u8> {
    pdf(&[
        &["Quarterly report", "Revenue grew by twelve percent."],
        &["Outlook", "The harbour expansion opens in spring."],
    ])
}

/// A real DOCX: a deflated zip with `word/document.xml` and, if given, `word/styles.xml`.
fn docx(document_body: &str, styles: Option<&str>) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    zip.start_file("[Content_Types].xml", options).unwrap();
    zip.write_all(br#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>"#).unwrap();
    zip.start_file("word/document.xml", options).unwrap();
    let document = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"><w:body>{document_body}</w:body></w:document>"#
    );
    zip.write_all(document.as_bytes()).unwrap();
    if let Some(styles) = styles {
        zip.start_file("word/styles.xml", options).unwrap();
        let styles = format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><w:styles xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">{styles}</w:styles>"#
        );
        zip.write_all(styles.as_bytes()).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

fn paragraph(style: Option<&str>, text: &str) -> String {
    let properties = style
        .map(|style| format!(r#"<w:pPr><w:pStyle w:val="{style}"/></w:pPr>"#))
        .unwrap_or_default();
    format!(r#"<w:p>{properties}<w:r><w:t xml:space="preserve">{text}</w:t></w:r></w:p>"#)
}

fn sample_docx() -> Vec<u8> {
    // Style ids as a German Word writes them; only styles.xml says they are headings.
    let styles = r#"<w:style w:type="paragraph" w:styleId="Titel"><w:name w:val="Title"/></w:style>
<w:style w:type="paragraph" w:styleId="berschrift1"><w:name w:val="heading 1"/></w:style>
<w:style w:type="paragraph" w:styleId="berschrift2"><w:name w:val="heading 2"/></w:style>
<w:style w:type="paragraph" w:styleId="Standard"><w:name w:val="Normal"/></w:style>"#;
    let body = [
        paragraph(Some("Titel"), "Field Guide"),
        paragraph(Some("berschrift1"), "Install"),
        paragraph(None, "Download the installer."),
        paragraph(Some("berschrift2"), "Linux"),
        // Tab stops in paragraph properties are not text; a tab in a run is.
        r#"<w:p><w:pPr><w:tabs><w:tab w:val="left" w:pos="720"/></w:tabs></w:pPr><w:r><w:t>Run</w:t></w:r><w:r><w:tab/><w:t>./install.sh &amp; wait</w:t></w:r></w:p>"#.into(),
        "<w:p/>".into(),
        // Text boxes come twice: the modern rendering and a fallback; only one is read.
        r#"<w:p><w:r><mc:AlternateContent><mc:Choice><w:t>Boxed note.</w:t></mc:Choice><mc:Fallback><w:t>Boxed note.</w:t></mc:Fallback></mc:AlternateContent></w:r></w:p>"#.into(),
        paragraph(Some("berschrift1"), "Use"),
        paragraph(Some("Standard"), "Start it &#x2014; then wait."),
    ]
    .concat();
    docx(&body, Some(styles))
}

const MARKDOWN: &str = "\
---
title: Guide
---
Intro line one.
Intro line two.

# Install

Get the package.

## Linux

```sh
# not a heading
apt install tool

tool --version
```

Then restart.

## macOS ##

Use brew.

Setext Title
============

Under setext.

# Use `tool` with [links](https://example.com)

Last words.
";

const HTML: &str = r#"<!DOCTYPE html>
<html>
<head>
<title>Page title</title>
<style>body { color: red; }</style>
<script>var x = "</div><p>not text</p>";</script>
</head>
<body>
<h1>Guide</h1>
<p>First &amp; <b>bold</b>
paragraph.</p>
<div hidden><p>Hidden text.</p></div>
<h2>Details</h2>
<ul><li>One</li><li>Two</li></ul>
<table><tr><td>a</td><td>b</td></tr></table>
<pre>line 1
  line 2</pre>
<noscript>Enable JavaScript</noscript>
<p>Line<br>break</p>
</body>
</html>
"#;

// ---------------------------------------------------------------------------------------------
// Configuration

#[test]
fn configuration_reads_every_variable_and_names_bad_ones() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("docs");
    fs::create_dir(&root).unwrap();
    let root_str = root.display().to_string();

    let env = Env::from_pairs([
        ("RAG_INGEST_ROOTS", format!("{root_str}, {root_str}")),
        ("RAG_MAX_FILE_BYTES", "5MiB".into()),
        ("RAG_CHUNK_CHARS", "500".into()),
        ("RAG_CHUNK_OVERLAP", "50".into()),
    ]);
    let config = IngestConfig::from_env(&env).unwrap();
    assert_eq!(config.roots, vec![canonical(&root)]);
    assert_eq!(config.max_file_bytes, 5 * 1024 * 1024);
    assert_eq!(
        config.chunk,
        ChunkConfig {
            max_chars: 500,
            overlap_chars: 50
        }
    );

    let defaults = IngestConfig::from_env(&Env::default()).unwrap();
    assert!(defaults.roots.is_empty());
    assert_eq!(defaults.max_file_bytes, 20 * 1024 * 1024);
    assert_eq!(defaults.chunk, ChunkConfig::default());

    let cases = [
        (
            vec![("RAG_MAX_FILE_BYTES", "lots".to_string())],
            "RAG_MAX_FILE_BYTES",
        ),
        (
            vec![("RAG_MAX_FILE_BYTES", "0".into())],
            "RAG_MAX_FILE_BYTES",
        ),
        (vec![("RAG_CHUNK_CHARS", "10".into())], "RAG_CHUNK_CHARS"),
        (
            vec![
                ("RAG_CHUNK_CHARS", "1000".into()),
                ("RAG_CHUNK_OVERLAP", "600".into()),
            ],
            "RAG_CHUNK_OVERLAP",
        ),
    ];
    for (pairs, variable) in cases {
        let error = IngestConfig::from_env(&Env::from_pairs(pairs.clone()))
            .unwrap_err()
            .to_string();
        assert!(error.contains(variable), "{pairs:?}: {error}");
    }
    for (raw, bytes) in [
        ("1048576", 1 << 20),
        ("512KiB", 512 << 10),
        ("2 GB", 2 << 30),
        ("7k", 7 << 10),
    ] {
        assert_eq!(parse_bytes(raw), Some(bytes), "{raw}");
    }
    for variable in [
        "RAG_INGEST_ROOTS",
        "RAG_MAX_FILE_BYTES",
        "RAG_CHUNK_CHARS",
        "RAG_CHUNK_OVERLAP",
    ] {
        assert!(ENV_HELP.contains(variable), "{variable}");
    }
}

/// servers.json ships `RAG_INGEST_ROOTS=/home/you/Documents`: a root that cannot be used
/// disables only itself, never start-up, and every message names it and the variable to fix.
#[test]
fn unusable_roots_are_disabled_and_named_instead_of_stopping_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("docs");
    fs::create_dir(&root).unwrap();
    let file = dir.path().join("file.txt");
    write(&file, "not a folder");
    let missing = dir.path().join("missing");
    let show = |path: &Path| path.display().to_string();

    /// RAG_INGEST_ROOTS, the usable roots, the unavailable roots with their reasons.
    type Case = (String, Vec<PathBuf>, Vec<(String, &'static str)>);
    let cases: Vec<Case> = vec![
        (
            show(&missing),
            vec![],
            vec![(show(&missing), "does not exist")],
        ),
        (
            format!("{}, {}, {}", show(&missing), show(&root), show(&missing)),
            vec![canonical(&root)],
            vec![(show(&missing), "does not exist")],
        ),
        (
            format!("{},{}", show(&file), show(&root)),
            vec![canonical(&root)],
            vec![(show(&file), "is not a folder")],
        ),
        (
            "/home/you/Documents".into(),
            vec![],
            vec![("/home/you/Documents".into(), "does not exist")],
        ),
    ];
    for (raw, roots, unavailable) in cases {
        if raw.contains("/home/you/") {
            assert!(
                !Path::new("/home/you/Documents").exists(),
                "servers.json's placeholder root exists on this machine"
            );
        }
        let config = IngestConfig::from_env(&Env::from_pairs([("RAG_INGEST_ROOTS", raw.clone())]))
            .unwrap_or_else(|error| panic!("{raw}: start-up must not fail: {error}"));
        assert_eq!(config.roots, roots, "{raw}");
        let found: Vec<(String, &str)> = config
            .unavailable_roots
            .iter()
            .map(|r| (r.configured.clone(), r.reason.as_str()))
            .collect();
        assert_eq!(found, unavailable, "{raw}");
        for root in &config.unavailable_roots {
            let sentence = root.describe();
            assert!(
                sentence.starts_with(&format!(
                    "{} is configured in RAG_INGEST_ROOTS but {}",
                    root.configured, root.reason
                )) && sentence.contains("fix RAG_INGEST_ROOTS"),
                "{sentence}"
            );
            assert!(config.status().contains(&sentence), "{}", config.status());
        }
        match config.disabled_reason() {
            Some(reason) => {
                assert!(config.roots.is_empty(), "{raw}");
                assert!(
                    reason.starts_with("file ingestion is disabled, because no folder in RAG_INGEST_ROOTS can be used")
                        && reason.contains(&unavailable[0].0)
                        && reason.contains("does not exist"),
                    "{reason}"
                );
                assert_eq!(config.status(), reason);
            }
            None => assert!(
                config
                    .status()
                    .starts_with(&format!("ingest may read {}", show(&canonical(&root)))),
                "{}",
                config.status()
            ),
        }
    }

    // Not set at all: disabled, and the reason says to set it.
    let unset = IngestConfig::from_env(&Env::default()).unwrap();
    assert!(unset.unavailable_roots.is_empty());
    assert!(
        unset
            .disabled_reason()
            .is_some_and(|r| r.contains("RAG_INGEST_ROOTS is not set")),
        "{:?}",
        unset.disabled_reason()
    );

    // Code that passes roots itself hears about a wrong one at once.
    let error = IngestConfig::with_roots(&[&missing])
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("RAG_INGEST_ROOTS") && error.contains("does not exist"),
        "{error}"
    );
}

#[test]
fn paths_under_a_disabled_root_say_so_while_usable_roots_keep_working() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("docs");
    write(&root.join("a.txt"), "alpha");
    let missing = dir.path().join("missing");
    let raw = format!("{},{}", missing.display(), root.display());
    let config = IngestConfig::from_env(&Env::from_pairs([("RAG_INGEST_ROOTS", raw)])).unwrap();
    let describe = config.unavailable_roots[0].describe();

    let plan = super::plan(
        &[
            root.join("a.txt"),
            missing.join("notes.md"),
            missing.clone(),
            PathBuf::from("nowhere.md"),
        ],
        &config,
    );
    assert_eq!(
        plan.files
            .iter()
            .map(|f| f.path.clone())
            .collect::<Vec<_>>(),
        vec![canonical(&root.join("a.txt"))]
    );
    let reasons: Vec<&str> = plan.problems.iter().map(|p| p.reason.as_str()).collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert_eq!(reasons[0], describe, "a path under the disabled root");
    assert_eq!(reasons[1], describe, "the disabled root itself");
    assert!(
        reasons[2].starts_with("not found in any ingestion root")
            && reasons[2].ends_with(&describe),
        "a relative path also hears of the disabled root: {}",
        reasons[2]
    );
    assert_eq!(
        config.unavailable_root_of(&missing.join("deep/er.md")),
        config.unavailable_roots.first()
    );
    assert_eq!(config.unavailable_root_of(&root.join("a.txt")), None);
    assert_eq!(config.unavailable_root_of(Path::new("missing/x.md")), None);

    // Created after start-up: still disabled until a restart, and it says so rather than
    // "outside the roots".
    write(&missing.join("late.md"), "# Late");
    let late = super::plan(&[missing.join("late.md")], &config);
    assert!(late.files.is_empty());
    assert_eq!(late.problems[0].reason, describe);

    // No usable root at all: every path gets the reason, naming the root and the variable.
    let none = IngestConfig::from_env(&Env::from_pairs([(
        "RAG_INGEST_ROOTS",
        "/home/you/Documents",
    )]))
    .unwrap();
    let plan = super::plan(&["/home/you/Documents/notes.md"], &none);
    assert!(plan.files.is_empty());
    assert!(
        plan.problems[0]
            .reason
            .contains("/home/you/Documents is configured in RAG_INGEST_ROOTS but does not exist"),
        "{}",
        plan.problems[0].reason
    );
}

// ---------------------------------------------------------------------------------------------
// Walking

#[test]
fn paths_outside_the_roots_are_refused_with_the_path_and_the_roots() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let outside = dir.path().join("outside");
    write(&root.join("a.txt"), "alpha");
    write(&root.join("sub/b.md"), "# B");
    write(&outside.join("secret.txt"), "secret");
    write(&root.join("image.png"), "png");
    let config = config(&root);
    let root_c = canonical(&root);

    let traversal = root.join("../outside/secret.txt");
    let plan = plan(
        &[
            root.join("a.txt"),
            outside.join("secret.txt"),
            traversal.clone(),
            PathBuf::from("sub/b.md"),
            PathBuf::from("missing.txt"),
            root.join("image.png"),
        ],
        &config,
    );
    let files: Vec<_> = plan.files.iter().map(|f| f.path.clone()).collect();
    assert_eq!(files, vec![root_c.join("a.txt"), root_c.join("sub/b.md")]);
    assert_eq!(plan.files[0].kind, FileKind::Text);
    assert_eq!(plan.files[1].kind, FileKind::Markdown);

    let problems: Vec<String> = plan.problems.iter().map(ToString::to_string).collect();
    assert_eq!(problems.len(), 4, "{problems:#?}");
    let roots = root_c.display().to_string();
    assert!(problems[0].starts_with(&outside.join("secret.txt").display().to_string()));
    assert!(
        problems[0].contains("outside the ingestion roots"),
        "{}",
        problems[0]
    );
    assert!(problems[0].contains(&roots), "{}", problems[0]);
    assert!(problems[1].starts_with(&traversal.display().to_string()));
    assert!(problems[1].contains("resolves to"), "{}", problems[1]);
    assert!(
        problems[2].contains("missing.txt") && problems[2].contains("not found"),
        "{}",
        problems[2]
    );
    assert!(
        problems[3].contains("unsupported file type"),
        "{}",
        problems[3]
    );

    // Without roots, nothing may be read, and the message says how to allow it.
    let disabled = super::plan(
        &[root.join("a.txt")],
        &IngestConfig::with_roots::<&Path>(&[]).unwrap(),
    );
    assert!(disabled.files.is_empty());
    assert!(disabled.problems[0].reason.contains("RAG_INGEST_ROOTS"));
}

#[cfg(unix)]
#[test]
fn symlinks_leading_out_of_the_roots_are_reported_and_not_followed() {
    use std::os::unix::fs::symlink;

    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let outside = dir.path().join("outside");
    write(&root.join("docs/a.md"), "# A\n\nalpha");
    write(&outside.join("secret.txt"), "secret");
    write(&outside.join("nested/deep.md"), "deep secret");
    symlink(outside.join("secret.txt"), root.join("docs/leak.txt")).unwrap();
    symlink(&outside, root.join("docs/escape")).unwrap();
    // Inside the roots a symlink is followed, and what it reaches is read once.
    symlink(root.join("docs/a.md"), root.join("docs/alias.md")).unwrap();
    // A link back to an ancestor must not loop.
    symlink(&root, root.join("docs/loop")).unwrap();
    symlink(root.join("nowhere.txt"), root.join("docs/broken.txt")).unwrap();
    let config = config(&root);
    let root_c = canonical(&root);

    let plan = plan(&[&root], &config);
    let files: Vec<_> = plan.files.iter().map(|f| f.path.clone()).collect();
    assert_eq!(files, vec![root_c.join("docs/a.md")]);
    let problems: Vec<String> = plan.problems.iter().map(ToString::to_string).collect();
    assert_eq!(problems.len(), 3, "{problems:#?}");
    assert!(problems[0].contains("broken.txt") && problems[0].contains("broken symlink"));
    assert!(problems[1].contains("escape") && problems[1].contains("not followed"));
    assert!(problems[1].contains(&canonical(&outside).display().to_string()));
    assert!(problems[2].contains("leak.txt") && problems[2].contains("not followed"));
    for problem in &problems[1..] {
        assert!(!problem.contains("deep.md"), "{problem}");
    }

    // Named directly, the links are refused too.
    let plan = super::plan(
        &[root.join("docs/leak.txt"), root.join("docs/escape")],
        &config,
    );
    assert!(plan.files.is_empty());
    assert_eq!(plan.problems.len(), 2);
    assert!(
        plan.problems
            .iter()
            .all(|p| p.reason.contains("outside the ingestion roots"))
    );
    // A path through a symlinked folder resolves outside as well.
    let plan = super::plan(&[root.join("docs/escape/secret.txt")], &config);
    assert!(plan.files.is_empty());
    assert!(
        plan.problems[0]
            .reason
            .contains("outside the ingestion roots")
    );
}

#[test]
fn hidden_lock_and_unsupported_files_are_skipped_and_order_is_sorted() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    for name in [
        "b.txt",
        "A.MD",
        "c/notes.markdown",
        "c/page.HTM",
        "c/report.pdf",
        "c/letter.docx",
        "c/site.html",
        ".hidden.md",
        ".git/config.md",
        "c/.cache/x.txt",
        "c/~$letter.docx",
        "c/photo.png",
        "c/Makefile",
    ] {
        write(&root.join(name), "x");
    }
    let config = config(&root);
    let root_c = canonical(&root);
    // Named twice, read once.
    let plan = plan(&[root.clone(), root.join("b.txt")], &config);
    let files: Vec<_> = plan
        .files
        .iter()
        .map(|f| f.path.strip_prefix(&root_c).unwrap().display().to_string())
        .collect();
    assert_eq!(
        files,
        [
            "A.MD",
            "b.txt",
            "c/letter.docx",
            "c/notes.markdown",
            "c/page.HTM",
            "c/report.pdf",
            "c/site.html"
        ]
    );
    assert!(plan.problems.is_empty(), "{:?}", plan.problems);
    // Deterministic: the same plan twice.
    assert_eq!(
        super::plan(&[&root], &config).files,
        super::plan(&[&root], &config).files
    );
}

#[test]
fn files_over_the_size_limit_are_skipped_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    write(&root.join("small.txt"), "0123456789");
    write(&root.join("big.txt"), "0123456789A");
    let mut config = config(&root);
    config.max_file_bytes = 10;
    let plan = plan(&[&root], &config);
    assert_eq!(plan.files.len(), 1);
    assert!(plan.files[0].path.ends_with("small.txt"));
    assert_eq!(plan.problems.len(), 1);
    let problem = plan.problems[0].to_string();
    assert!(problem.contains("big.txt"), "{problem}");
    assert!(
        problem.contains("11 bytes") && problem.contains("10 bytes"),
        "{problem}"
    );
    assert!(problem.contains("RAG_MAX_FILE_BYTES"), "{problem}");

    // A file that grows after planning is caught when prepared.
    let small = plan.files[0].clone();
    write(&small.path, "0123456789 and more");
    let error = prepare(&small, &config).unwrap_err().to_string();
    assert!(
        error.contains("small.txt") && error.contains("RAG_MAX_FILE_BYTES"),
        "{error}"
    );
    assert_eq!(format_bytes(20 * 1024 * 1024), "20 MiB");
    assert_eq!(format_bytes(1536), "1.5 KiB");
}

// ---------------------------------------------------------------------------------------------
// Reading

/// A block as (text, heading, page, first line, last line).
type Row = (String, Option<String>, Option<u32>, u32, u32);

fn blocks(document: &Document) -> Vec<Row> {
    document
        .blocks
        .iter()
        .map(|b| {
            (
                b.text.clone(),
                b.heading.clone(),
                b.page,
                b.line_start,
                b.line_end,
            )
        })
        .collect()
}

fn b(text: &str, heading: Option<&str>, lines: (u32, u32)) -> Row {
    (
        text.into(),
        heading.map(str::to_owned),
        None,
        lines.0,
        lines.1,
    )
}

#[test]
fn text_files_become_paragraphs_with_their_lines() {
    type Case = (&'static str, Vec<u8>, Vec<(&'static str, (u32, u32))>);
    let cases: Vec<Case> = vec![
        (
            "paragraphs",
            b"\n\nFirst line\nsecond line\n\n\n  Indented third\n\n".to_vec(),
            vec![
                ("First line\nsecond line", (3, 4)),
                ("  Indented third", (7, 7)),
            ],
        ),
        (
            "crlf",
            b"one\r\ntwo\r\n\r\nthree".to_vec(),
            vec![("one\ntwo", (1, 2)), ("three", (4, 4))],
        ),
        (
            "utf-8 bom",
            b"\xEF\xBB\xBFcaf\xC3\xA9".to_vec(),
            vec![("café", (1, 1))],
        ),
        (
            "windows-1252",
            b"caf\xE9 \x93quoted\x94".to_vec(),
            vec![("café “quoted”", (1, 1))],
        ),
        (
            "utf-16le bom",
            b"\xFF\xFEh\0i\0".to_vec(),
            vec![("hi", (1, 1))],
        ),
        ("empty", Vec::new(), vec![]),
    ];
    for (name, bytes, expected) in cases {
        let document = read_bytes("notes.txt", FileKind::Text, &bytes).unwrap();
        let expected: Vec<_> = expected.into_iter().map(|(t, l)| b(t, None, l)).collect();
        assert_eq!(blocks(&document), expected, "{name}");
        assert_eq!(document.content_hash, content_hash(&bytes), "{name}");
    }
    // From disk, by extension.
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("n.TXT"), "hello");
    assert_eq!(
        read_file(&dir.path().join("n.TXT")).unwrap().blocks[0].text,
        "hello"
    );
    let gone = dir.path().join("gone.txt");
    let error = read_file(&gone).unwrap_err().to_string();
    assert!(
        error.starts_with(&format!("could not read {}: ", gone.display())),
        "{error}"
    );
    let error = read_file(&dir.path().join("x.png"))
        .unwrap_err()
        .to_string();
    assert!(error.contains("x.png: unsupported file type"), "{error}");

    let error = read_bytes("blob.txt", FileKind::Text, b"abc\0\x01\x02").unwrap_err();
    assert_eq!(
        error.to_string(),
        "could not read blob.txt: it holds binary data, not text"
    );
    assert_eq!(
        content_hash(b"abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[test]
fn markdown_splits_on_nested_headings_and_keeps_code_blocks_whole() {
    let document = read_bytes("guide.md", FileKind::Markdown, MARKDOWN.as_bytes()).unwrap();
    let code = "```sh\n# not a heading\napt install tool\n\ntool --version\n```";
    let expected = vec![
        b("---\ntitle: Guide\n---", None, (1, 3)),
        b("Intro line one.\nIntro line two.", None, (4, 5)),
        b("# Install", Some("Install"), (7, 7)),
        b("Get the package.", Some("Install"), (9, 9)),
        b("## Linux", Some("Install > Linux"), (11, 11)),
        b(code, Some("Install > Linux"), (13, 18)),
        b("Then restart.", Some("Install > Linux"), (20, 20)),
        b("## macOS ##", Some("Install > macOS"), (22, 22)),
        b("Use brew.", Some("Install > macOS"), (24, 24)),
        b("Setext Title\n============", Some("Setext Title"), (26, 27)),
        b("Under setext.", Some("Setext Title"), (29, 29)),
        b(
            "# Use `tool` with [links](https://example.com)",
            Some("Use tool with links"),
            (31, 31),
        ),
        b("Last words.", Some("Use tool with links"), (33, 33)),
    ];
    assert_eq!(blocks(&document), expected);
    // Every heading opens its own section.
    let sections: Vec<u32> = document.blocks.iter().map(|b| b.section).collect();
    assert_eq!(sections, [0, 0, 1, 1, 2, 2, 2, 3, 3, 4, 4, 5, 5]);
    // Line numbers point at the source.
    let lines: Vec<&str> = MARKDOWN.lines().collect();
    for block in &document.blocks {
        let first = block.text.lines().next().unwrap();
        assert_eq!(lines[block.line_start as usize - 1], first);
    }

    // A heading-only section is dropped (its title lives on in the path); an unclosed fence runs
    // to the end.
    let document = read_bytes(
        "x.md",
        FileKind::Markdown,
        b"# Top\n## Sub\ntext\n```\n# code\n",
    )
    .unwrap();
    assert_eq!(
        blocks(&document),
        vec![
            b("## Sub", Some("Top > Sub"), (2, 2)),
            b("text", Some("Top > Sub"), (3, 3)),
            b("```\n# code", Some("Top > Sub"), (4, 5)),
        ]
    );
    let only_title = read_bytes("x.md", FileKind::Markdown, b"# Just a title\n").unwrap();
    assert_eq!(
        blocks(&only_title),
        vec![b("# Just a title", Some("Just a title"), (1, 1))]
    );
}

#[test]
fn html_keeps_visible_text_by_block_with_headings() {
    let document = read_bytes("page.html", FileKind::Html, HTML.as_bytes()).unwrap();
    let expected = vec![
        b("Guide", Some("Guide"), (9, 9)),
        b("First & bold paragraph.", Some("Guide"), (10, 11)),
        b("Details", Some("Guide > Details"), (13, 13)),
        b("One", Some("Guide > Details"), (14, 14)),
        b("Two", Some("Guide > Details"), (14, 14)),
        b("a | b", Some("Guide > Details"), (15, 15)),
        b("line 1\n  line 2", Some("Guide > Details"), (16, 17)),
        b("Line\nbreak", Some("Guide > Details"), (19, 19)),
    ];
    assert_eq!(blocks(&document), expected);
    for dropped in ["Page title", "color", "not text", "Hidden", "JavaScript"] {
        assert!(
            document.blocks.iter().all(|b| !b.text.contains(dropped)),
            "{dropped}"
        );
    }

    // Lines are those of the text, not of the whitespace around it.
    let document = read_bytes(
        "x.html",
        FileKind::Html,
        b"<div>\n\n  Text\n  more\n\n</div>",
    )
    .unwrap();
    assert_eq!(blocks(&document), vec![b("Text more", None, (3, 4))]);

    // Tag soup still reads, and a declared legacy charset is honoured.
    let soup = b"<meta charset=\"windows-1252\"><h2>Caf\xE9<p>Unclosed <i>text<div>more";
    let document = read_bytes("soup.htm", FileKind::Html, soup).unwrap();
    let texts: Vec<_> = document
        .blocks
        .iter()
        .map(|b| (b.text.as_str(), b.heading.as_deref()))
        .collect();
    assert_eq!(
        texts,
        [
            ("Café", Some("Café")),
            ("Unclosed text", Some("Café")),
            ("more", Some("Café"))
        ]
    );
}

#[test]
fn pdf_pages_keep_their_text_and_numbers() {
    let document = read_bytes("report.pdf", FileKind::Pdf, &two_page_pdf()).unwrap();
    let pages: Vec<(Option<u32>, String)> = document
        .blocks
        .iter()
        .map(|b| (b.page, b.text.clone()))
        .collect();
    assert_eq!(
        pages,
        vec![
            (
                Some(1),
                "Quarterly report\nRevenue grew by twelve percent.".to_string()
            ),
            (
                Some(2),
                "Outlook\nThe harbour expansion opens in spring.".to_string()
            ),
        ]
    );
    assert!(document.blocks.iter().all(|b| b.heading.is_none()));
    assert_eq!(
        (document.blocks[1].line_start, document.blocks[1].line_end),
        (1, 2)
    );
    assert_ne!(document.blocks[0].section, document.blocks[1].section);
    assert!(document.warnings.is_empty(), "{:?}", document.warnings);

    // A PDF without text (scanned) reads, with a warning.
    let document = read_bytes("scan.pdf", FileKind::Pdf, &pdf(&[&[]])).unwrap();
    assert!(document.blocks.is_empty());
    assert!(
        document.warnings[0].contains("no extractable text"),
        "{:?}",
        document.warnings
    );
}

#[test]
fn docx_paragraphs_take_headings_from_styles() {
    let document = read_bytes("guide.docx", FileKind::Docx, &sample_docx()).unwrap();
    let expected = vec![
        b("Install", Some("Field Guide > Install"), (2, 2)),
        b(
            "Download the installer.",
            Some("Field Guide > Install"),
            (3, 3),
        ),
        b("Linux", Some("Field Guide > Install > Linux"), (4, 4)),
        b(
            "Run\t./install.sh & wait",
            Some("Field Guide > Install > Linux"),
            (5, 5),
        ),
        b("Boxed note.", Some("Field Guide > Install > Linux"), (7, 7)),
        b("Use", Some("Field Guide > Use"), (8, 8)),
        b("Start it — then wait.", Some("Field Guide > Use"), (9, 9)),
    ];
    assert_eq!(blocks(&document), expected);

    // Without styles.xml, English style ids still give headings.
    let body = [
        paragraph(Some("Heading1"), "Alone"),
        paragraph(None, "Body."),
    ]
    .concat();
    let document = read_bytes("plain.docx", FileKind::Docx, &docx(&body, None)).unwrap();
    assert_eq!(
        blocks(&document),
        vec![
            b("Alone", Some("Alone"), (1, 1)),
            b("Body.", Some("Alone"), (2, 2))
        ]
    );
}

#[test]
fn damaged_and_encrypted_files_are_errors_that_name_the_file_and_cause() {
    let pdf = two_page_pdf();
    let word = sample_docx();
    let mut compound = vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    compound.extend([0u8; 504]);
    let cases: Vec<(&str, FileKind, Vec<u8>, &str)> = vec![
        (
            "report.pdf",
            FileKind::Pdf,
            pdf[..pdf.len() / 3].to_vec(),
            "could not read report.pdf: not a valid PDF (",
        ),
        (
            "report.pdf",
            FileKind::Pdf,
            b"hello, not a pdf".to_vec(),
            "could not read report.pdf: not a valid PDF (no %PDF- header)",
        ),
        (
            "report.pdf",
            FileKind::Pdf,
            b"%PDF-1.7\n".to_vec(),
            "could not read report.pdf: not a valid PDF (",
        ),
        (
            "letter.docx",
            FileKind::Docx,
            word[..word.len() / 2].to_vec(),
            "could not read letter.docx: not a valid DOCX (not a zip archive",
        ),
        (
            "letter.docx",
            FileKind::Docx,
            b"PK\x03\x04garbage".to_vec(),
            "could not read letter.docx: not a valid DOCX (",
        ),
        (
            "letter.docx",
            FileKind::Docx,
            compound,
            "could not read letter.docx: the DOCX is encrypted (password-protected)",
        ),
    ];
    for (file, kind, bytes, expected) in cases {
        let error = read_bytes(file, kind, &bytes).unwrap_err().to_string();
        assert!(error.starts_with(expected), "{error}");
    }
    // A PDF with a user password cannot be read; one with only an owner password can, as in
    // every viewer.
    let encrypted = |user_password: &str| {
        let mut doc = lopdf::Document::load_mem(&pdf).unwrap();
        let id = lopdf::Object::string_literal(b"0123456789abcdef".to_vec());
        doc.trailer
            .set("ID", lopdf::Object::Array(vec![id.clone(), id]));
        let version = lopdf::EncryptionVersion::V2 {
            document: &doc,
            owner_password: "owner",
            user_password,
            key_length: 128,
            permissions: lopdf::Permissions::all(),
        };
        let state = lopdf::EncryptionState::try_from(version).unwrap();
        doc.encrypt(&state).unwrap();
        let mut bytes = Vec::new();
        doc.save_to(&mut bytes).unwrap();
        bytes
    };
    let error = read_bytes("locked.pdf", FileKind::Pdf, &encrypted("secret")).unwrap_err();
    assert_eq!(
        error.to_string(),
        "could not read locked.pdf: the PDF is encrypted (password-protected); save an unprotected copy to ingest it"
    );
    let document = read_bytes("owner.pdf", FileKind::Pdf, &encrypted("")).unwrap();
    assert_eq!(document.blocks.len(), 2);
    assert!(document.blocks[1].text.contains("harbour"));

    // A zip without the document part.
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    zip.start_file("other.xml", zip::write::SimpleFileOptions::default())
        .unwrap();
    zip.write_all(b"<x/>").unwrap();
    let bytes = zip.finish().unwrap().into_inner();
    let error = read_bytes("e.docx", FileKind::Docx, &bytes)
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        "could not read e.docx: not a valid DOCX (word/document.xml is missing)"
    );
    // Malformed XML inside a valid zip.
    let error = read_bytes("m.docx", FileKind::Docx, &docx("<w:p><w:r></w:p>", None))
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with(
            "could not read m.docx: not a valid DOCX (word/document.xml: malformed XML"
        ),
        "{error}"
    );
}

/// A small deterministic generator, so the garbage is the same on every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn readers_never_panic_on_truncated_or_garbage_bytes() {
    let samples: Vec<(FileKind, Vec<u8>)> = vec![
        (FileKind::Text, "Plain text.\n\nSecond paragraph é.".into()),
        (FileKind::Markdown, MARKDOWN.into()),
        (FileKind::Html, HTML.into()),
        (FileKind::Pdf, two_page_pdf()),
        (FileKind::Docx, sample_docx()),
    ];
    let mut rng = Lcg(7);
    let config = ChunkConfig {
        max_chars: 100,
        overlap_chars: 30,
    };
    let check = |kind: FileKind, bytes: &[u8], what: &str| {
        match read_bytes("fuzz", kind, bytes) {
            Err(ReadError::ReaderFailed { cause, .. }) => {
                panic!("{kind} reader panicked on {what}: {cause}")
            }
            Ok(document) => {
                // Whatever was read chunks without panicking either.
                for draft in chunk(&document, &config) {
                    assert!(draft.text.chars().count() <= 100);
                }
            }
            Err(_) => {}
        }
    };
    for (kind, sample) in &samples {
        // Every truncation for small files, a spread of them for larger ones.
        let step = (sample.len() / 300).max(1);
        for len in (0..sample.len()).step_by(step) {
            check(*kind, &sample[..len], &format!("the first {len} bytes"));
        }
        for round in 0..150 {
            let mut bytes = sample.clone();
            for _ in 0..=rng.below(8) {
                let at = rng.below(bytes.len());
                bytes[at] = rng.next() as u8;
            }
            check(*kind, &bytes, &format!("flipped bytes, round {round}"));
        }
        for round in 0..30 {
            let garbage: Vec<u8> = (0..rng.below(2000)).map(|_| rng.next() as u8).collect();
            check(*kind, &garbage, &format!("garbage, round {round}"));
        }
    }
    // Magic numbers followed by garbage reach the parsers themselves.
    let mut rng = Lcg(11);
    for round in 0..50 {
        let mut pdf = b"%PDF-1.4\n".to_vec();
        pdf.extend((0..rng.below(3000)).map(|_| rng.next() as u8));
        check(
            FileKind::Pdf,
            &pdf,
            &format!("PDF header and garbage, round {round}"),
        );
        let mut zip = b"PK\x03\x04".to_vec();
        zip.extend((0..rng.below(3000)).map(|_| rng.next() as u8));
        check(
            FileKind::Docx,
            &zip,
            &format!("zip header and garbage, round {round}"),
        );
    }
}

#[test]
fn a_corrupt_pdf_fails_alone_while_the_rest_of_the_folder_is_ingested() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let good = two_page_pdf();
    write(&root.join("a-good.pdf"), &good);
    write(&root.join("b-broken.pdf"), &good[..good.len() / 3]);
    write(&root.join("c.md"), MARKDOWN);
    write(&root.join("d.docx"), sample_docx());
    write(&root.join("e.html"), HTML);
    write(&root.join("f.txt"), "plain");
    let config = config(&root);
    let plan = plan(&[&root], &config);
    assert_eq!(plan.files.len(), 6);
    assert!(plan.problems.is_empty());

    let mut prepared = Vec::new();
    let mut errors = Vec::new();
    for file in &plan.files {
        match prepare(file, &config) {
            Ok(source) => prepared.push(source),
            Err(error) => errors.push(error.to_string()),
        }
    }
    assert_eq!(errors.len(), 1, "{errors:?}");
    let broken = canonical(&root).join("b-broken.pdf").display().to_string();
    assert!(
        errors[0].starts_with(&format!("could not read {broken}: not a valid PDF (")),
        "{}",
        errors[0]
    );
    let kinds: Vec<FileKind> = prepared.iter().map(|p| p.kind).collect();
    assert_eq!(
        kinds,
        [
            FileKind::Pdf,
            FileKind::Markdown,
            FileKind::Docx,
            FileKind::Html,
            FileKind::Text
        ]
    );
    assert!(prepared.iter().all(|p| !p.drafts.is_empty()));
    let pdf = &prepared[0];
    assert_eq!(pdf.content_hash, content_hash(&good));
    let pages: Vec<Option<u32>> = pdf.drafts.iter().map(|d| d.position.page).collect();
    assert_eq!(pages, [Some(1), Some(2)]);
}

// ---------------------------------------------------------------------------------------------
// Chunking

fn block(text: &str, heading: Option<&str>, section: u32, line_start: u32) -> Block {
    let lines = u32::try_from(text.matches('\n').count()).unwrap();
    Block {
        text: text.into(),
        heading: heading.map(str::to_owned),
        page: None,
        line_start,
        line_end: line_start + lines,
        section,
    }
}

fn document(blocks: Vec<Block>) -> Document {
    Document {
        blocks,
        content_hash: String::new(),
        warnings: Vec::new(),
    }
}

fn texts(drafts: &[ChunkDraft]) -> Vec<&str> {
    drafts.iter().map(|d| d.text.as_str()).collect()
}

const X40: &str = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

#[test]
fn chunks_pack_blocks_and_split_long_ones_at_the_coarsest_boundary() {
    let config = ChunkConfig {
        max_chars: 40,
        overlap_chars: 0,
    };
    let cases: Vec<(&str, Vec<Block>, Vec<&str>)> = vec![
        (
            "small blocks of one section share a chunk",
            vec![
                block("Alpha beta.", None, 0, 1),
                block("Gamma delta.", None, 0, 3),
            ],
            vec!["Alpha beta.\n\nGamma delta."],
        ),
        (
            "sections never share a chunk",
            vec![
                block("Alpha.", Some("A"), 1, 1),
                block("Beta.", Some("B"), 2, 3),
            ],
            vec!["Alpha.", "Beta."],
        ),
        (
            "paragraphs first",
            vec![block(
                "First paragraph is here.\n\nSecond paragraph is here.",
                None,
                0,
                1,
            )],
            vec!["First paragraph is here.", "Second paragraph is here."],
        ),
        (
            "then sentences",
            vec![block(
                "One short sentence. Another short sentence! A third one?",
                None,
                0,
                1,
            )],
            vec![
                "One short sentence.",
                "Another short sentence! A third one?",
            ],
        ),
        (
            "then words",
            vec![block(
                "averyveryverylongword anotherlongwordhere yetanotherword",
                None,
                0,
                1,
            )],
            vec![
                "averyveryverylongword",
                "anotherlongwordhere yetanotherword",
            ],
        ),
        (
            "and characters only when a word is longer than a chunk",
            vec![block(&"x".repeat(90), None, 0, 1)],
            vec![X40, X40, "xxxxxxxxxx"],
        ),
    ];
    for (name, blocks, expected) in cases {
        let drafts = chunk(&document(blocks), &config);
        assert_eq!(texts(&drafts), expected, "{name}");
    }
}

#[test]
fn overlap_repeats_the_tail_of_the_previous_chunk_within_a_section() {
    let text = "The river rises in the hills. It flows past the old mill. \
                Farmers use its water in summer. The town was built at its mouth. \
                Ships came there for centuries.";
    let config = ChunkConfig {
        max_chars: 70,
        overlap_chars: 30,
    };
    let drafts = chunk(&document(vec![block(text, None, 0, 1)]), &config);
    assert!(drafts.len() >= 3, "{:#?}", texts(&drafts));
    for pair in drafts.windows(2) {
        let (previous, next) = (&pair[0].text, &pair[1].text);
        // The next chunk starts with a whole-word suffix of the previous one, at most 30 chars.
        let shared = (1..=previous.len().min(next.len()))
            .rev()
            .find(|n| {
                previous.is_char_boundary(previous.len() - n)
                    && next.starts_with(&previous[previous.len() - n..])
            })
            .unwrap_or(0);
        assert!(
            shared > 0 && shared <= 30,
            "no overlap between {previous:?} and {next:?}"
        );
        let start = previous.len() - shared;
        assert!(
            start == 0 || previous[..start].ends_with(' '),
            "overlap starts mid-word: {next:?}"
        );
    }
    // A sentence start is preferred to a mid-sentence word.
    assert!(
        drafts[1].text.starts_with("It flows") || drafts[1].text.starts_with("past"),
        "{:?}",
        drafts[1].text
    );

    // No overlap across sections.
    let drafts = chunk(
        &document(vec![
            block(&"word ".repeat(20), Some("A"), 1, 1),
            block("Fresh start.", Some("B"), 2, 2),
        ]),
        &config,
    );
    assert_eq!(drafts.last().unwrap().text, "Fresh start.");
}

#[test]
fn no_chunk_exceeds_the_limit_or_cuts_a_word_and_all_text_is_kept() {
    let mut rng = Lcg(42);
    let words = [
        "a",
        "tree",
        "über",
        "naïve",
        "日本語",
        "x",
        "supercalifragilistic",
        "end.",
        "why?",
        "(yes).",
    ];
    for round in 0..200 {
        let max = 20 + rng.below(200);
        let config = ChunkConfig {
            max_chars: max,
            overlap_chars: rng.below(max / 2 + 1),
        };
        let mut blocks = Vec::new();
        let mut line = 1;
        for b in 0..1 + rng.below(6) {
            let mut text = String::new();
            for _ in 0..rng.below(120) {
                text.push_str(words[rng.below(words.len())]);
                text.push_str(match rng.below(10) {
                    0 => "\n",
                    1 => "\n\n",
                    _ => " ",
                });
            }
            let text = text.trim().to_string();
            if text.is_empty() {
                continue;
            }
            let section = u32::try_from(b / 2).unwrap();
            let lines = u32::try_from(text.matches('\n').count()).unwrap();
            blocks.push(block(&text, None, section, line));
            line += lines + 2;
        }
        let document = document(blocks);
        let drafts = chunk(&document, &config);
        let all_words: Vec<&str> = document
            .blocks
            .iter()
            .flat_map(|b| b.text.split_whitespace())
            .collect();
        let mut covered: Vec<&str> = Vec::new();
        for (index, draft) in drafts.iter().enumerate() {
            let chars = draft.text.chars().count();
            assert!(
                chars <= max,
                "round {round}: {chars} > {max}: {:?}",
                draft.text
            );
            assert_eq!(draft.position.index as usize, index);
            assert_eq!(draft.text.trim(), draft.text);
            for word in draft.text.split_whitespace() {
                // Whole words only (a word longer than the chunk is the one exception).
                assert!(
                    all_words.contains(&word) || max < 20,
                    "round {round}: {word:?} in {:?}",
                    draft.text
                );
            }
            covered.extend(draft.text.split_whitespace());
        }
        // Every word appears, in order (overlaps only repeat).
        let mut cursor = covered.iter();
        for word in &all_words {
            assert!(cursor.any(|w| w == word), "round {round}: lost {word:?}");
        }
    }
}

#[test]
fn positions_carry_heading_page_lines_and_index() {
    let document = read_bytes("guide.md", FileKind::Markdown, MARKDOWN.as_bytes()).unwrap();
    let drafts = chunk(&document, &ChunkConfig::default());
    type Cited<'a> = (Option<&'a str>, Option<u32>, Option<u32>, u32);
    let positions: Vec<Cited> = drafts
        .iter()
        .map(|d| {
            (
                d.position.heading.as_deref(),
                d.position.line_start,
                d.position.line_end,
                d.position.index,
            )
        })
        .collect();
    assert_eq!(
        positions,
        vec![
            (None, Some(1), Some(5), 0),
            (Some("Install"), Some(7), Some(9), 1),
            (Some("Install > Linux"), Some(11), Some(20), 2),
            (Some("Install > macOS"), Some(22), Some(24), 3),
            (Some("Setext Title"), Some(26), Some(29), 4),
            (Some("Use tool with links"), Some(31), Some(33), 5),
        ]
    );
    assert!(drafts.iter().all(|d| d.position.page.is_none()));

    // Lines of a block split across chunks follow the text.
    let text: String = (1..=30)
        .map(|n| format!("Line number {n} is here.\n"))
        .collect();
    let drafts = chunk(
        &document_with_page(&text, 4),
        &ChunkConfig {
            max_chars: 100,
            overlap_chars: 0,
        },
    );
    let source: Vec<&str> = text.lines().collect();
    for draft in &drafts {
        let (start, end) = (
            draft.position.line_start.unwrap(),
            draft.position.line_end.unwrap(),
        );
        let first = draft.text.lines().next().unwrap();
        let last = draft.text.lines().last().unwrap();
        assert_eq!(source[start as usize - 10], first);
        assert_eq!(source[end as usize - 10], last);
        assert_eq!(draft.position.page, Some(4));
    }
}

fn document_with_page(text: &str, page: u32) -> Document {
    let mut block = block(text.trim_end(), None, 0, 10);
    block.page = Some(page);
    document(vec![block])
}

#[test]
fn chunking_is_deterministic_and_ids_are_stable() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let long: String = (0..40)
        .map(|n| format!("Sentence {n} about rivers and mills. "))
        .collect();
    write(&root.join("long.txt"), &long);
    let config = config(&root);
    let plan = plan(&[&root], &config);
    let first = prepare(&plan.files[0], &config).unwrap();
    let second = prepare(&plan.files[0], &config).unwrap();
    assert_eq!(first, second);
    assert!(first.drafts.len() > 1);

    let metadata = BTreeMap::from([("team".to_string(), serde_json::json!("docs"))]);
    let source = first.source.clone();
    assert_eq!(
        source,
        canonical(&root).join("long.txt").display().to_string()
    );
    let chunks = first.into_chunks(&metadata);
    for (index, chunk) in chunks.iter().enumerate() {
        let index = u32::try_from(index).unwrap();
        assert_eq!(chunk.id, chunk_id(&source, index));
        assert_eq!(chunk.position.index, index);
        assert_eq!(chunk.source.as_deref(), Some(source.as_str()));
        assert_eq!(
            chunk.content_hash.as_deref(),
            Some(content_hash(long.as_bytes()).as_str())
        );
        assert_eq!(chunk.metadata, metadata);
    }
    let id = chunk_id("/docs/a.txt", 3);
    let (prefix, index) = id.split_once(':').unwrap();
    assert_eq!((prefix.len(), index), (16, "3"));
    assert_ne!(chunk_id("/docs/b.txt", 3), id);
    assert_eq!(
        stale_chunk_ids("/docs/a.txt", 2, 4),
        [chunk_id("/docs/a.txt", 2), chunk_id("/docs/a.txt", 3)]
    );
    assert!(stale_chunk_ids("/docs/a.txt", 4, 2).is_empty());
}
