//! The layering check: reads every module under `src/` and fails when one uses a layer above
//! its own, or when SQL appears outside `src/db/`. The layers, top to bottom, are listed in
//! `LAYERS`; ARCHITECTURE.md explains each. A module may use its own layer and any layer below.

use std::path::{Path, PathBuf};

/// Top to bottom. Each entry is a layer's name and the crate paths (`crate::<first segment>`)
/// or files that belong to it.
const LAYERS: &[(&str, &[&str])] = &[
    ("entry", &["lib", "main", "cli", "fuzzing"]),
    ("server", &["server"]),
    ("admin", &["admin"]),
    ("router", &["router"]),
    ("api", &["api"]),
    ("store", &["store"]),
    ("live", &["live"]),
    ("model", &["model"]),
    ("files", &["files"]),
    ("db", &["db"]),
    ("http", &["http"]),
    ("base", &["base", "log"]),
];

fn layer_of_segment(segment: &str) -> Option<usize> {
    LAYERS
        .iter()
        .position(|(_, members)| members.contains(&segment))
}

/// The layer a source file belongs to: its first path component under `src/` (without `.rs`).
fn layer_of_file(relative: &Path) -> usize {
    let first = relative
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_str()
        .unwrap();
    let first = first.strip_suffix(".rs").unwrap_or(first);
    layer_of_segment(first).unwrap_or_else(|| {
        panic!(
            "src/{} belongs to no layer; add it to LAYERS in tests/layers.rs",
            relative.display()
        )
    })
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The library's source files, without the benchmark binary and the build script (separate
/// crates).
fn library_files() -> Vec<(PathBuf, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    files
        .into_iter()
        .filter(|p| !p.starts_with(src.join("bin")) && *p != src.join("build.rs"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p.strip_prefix(&src).unwrap().to_path_buf(), text)
        })
        .collect()
}

/// The code of a file without its comments, so prose may name any module.
fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().filter_map(|(i, line)| {
        let code = line.split("//").next().unwrap_or("");
        (!code.trim().is_empty()).then_some((i + 1, code))
    })
}

/// The first segments of every `crate::…` path in a line, including `use crate::{a, b::c}`.
fn crate_segments(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let after = &rest[at + "crate::".len()..];
        if let Some(group) = after.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.push(name);
                }
            }
        } else {
            let name: String = after
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            out.push(name);
        }
        rest = after;
    }
    out
}

#[test]
fn no_module_uses_a_layer_above_its_own() {
    let mut violations = Vec::new();
    for (path, text) in library_files() {
        let own = layer_of_file(&path);
        for (line_no, code) in code_lines(&text) {
            for segment in crate_segments(code) {
                let Some(used) = layer_of_segment(&segment) else {
                    violations.push(format!(
                        "src/{}:{line_no}: crate::{segment} is in no layer",
                        path.display()
                    ));
                    continue;
                };
                if used < own {
                    violations.push(format!(
                        "src/{}:{line_no}: the {} layer uses crate::{segment} from the {} layer above it",
                        path.display(),
                        LAYERS[own].0,
                        LAYERS[used].0
                    ));
                }
            }
        }
    }
    assert!(
        violations.is_empty(),
        "layering violations:\n{}",
        violations.join("\n")
    );
}

/// The domain answers with `model::Refusal`; only the edge speaks HTTP. The live layer may use
/// `http` for the connection it takes over, nothing else below `api` may.
#[test]
fn only_the_edge_and_live_sockets_speak_http() {
    const NO_HTTP: &[&str] = &["store", "model", "files", "db"];
    let mut violations = Vec::new();
    for (path, text) in library_files() {
        let layer = LAYERS[layer_of_file(&path)].0;
        if !NO_HTTP.contains(&layer) {
            continue;
        }
        for (line_no, code) in code_lines(&text) {
            if crate_segments(code).iter().any(|s| s == "http") {
                violations.push(format!(
                    "src/{}:{line_no}: the {layer} layer uses crate::http",
                    path.display()
                ));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "HTTP below the edge:\n{}",
        violations.join("\n")
    );
}

#[test]
fn sql_lives_only_in_the_db_layer() {
    const SQL_CALLS: &[&str] = &[
        ".execute(",
        ".execute_batch(",
        ".prepare(",
        ".prepare_cached(",
        ".query_row(",
        ".pragma_update(",
        ".pragma_query_value(",
        "Connection::open",
    ];
    let mut violations = Vec::new();
    for (path, text) in library_files() {
        if path.starts_with("db") {
            continue;
        }
        // Unit tests may set up fixtures directly.
        let text = text.split("#[cfg(test)]").next().unwrap();
        for (line_no, code) in code_lines(text) {
            if let Some(call) = SQL_CALLS.iter().find(|c| code.contains(*c)) {
                violations.push(format!(
                    "src/{}:{line_no}: {call} outside src/db/",
                    path.display()
                ));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "SQL outside the db layer:\n{}",
        violations.join("\n")
    );
}

/// The checker itself: a use of a higher layer is caught, in plain and grouped imports.
#[test]
fn the_check_sees_grouped_and_plain_imports() {
    assert_eq!(crate_segments("use crate::api::auth;"), ["api"]);
    assert_eq!(
        crate_segments("use crate::{files::uploads, model::messages};"),
        ["files", "model"]
    );
    assert_eq!(
        crate_segments("let x = crate::db::open(crate::base::util::now());"),
        ["db", "base"]
    );
    assert!(layer_of_segment("api") < layer_of_segment("model"));
    assert_eq!(
        layer_of_file(Path::new("store/fan_out.rs")),
        layer_of_segment("store").unwrap()
    );
}

/// Every module opens with a `//!` paragraph saying what it owns, and none grows past the size
/// where it should be split along a seam.
#[test]
fn every_module_says_what_it_owns_and_stays_small() {
    const MOST_LINES: usize = 800;
    let mut problems = Vec::new();
    for (path, text) in library_files() {
        if !text.starts_with("//!") {
            problems.push(format!(
                "src/{} does not open with a //! paragraph",
                path.display()
            ));
        }
        let lines = text.lines().count();
        if lines > MOST_LINES {
            problems.push(format!(
                "src/{} has {lines} lines (split it along a seam; at most {MOST_LINES})",
                path.display()
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Handlers never call each other: a handler module uses what `api/mod.rs`, `ctx` and
/// `credentials` share, never another handler module.
#[test]
fn handler_modules_do_not_use_each_other() {
    const SHARED: &[&str] = &["ctx", "credentials"];
    let mut violations = Vec::new();
    for (path, text) in library_files() {
        let Ok(inside) = path.strip_prefix("api") else {
            continue;
        };
        let own = inside.file_stem().unwrap().to_str().unwrap();
        if own == "mod" || SHARED.contains(&own) {
            continue;
        }
        for (line_no, code) in code_lines(&text) {
            for prefix in ["crate::api::", "super::"] {
                let mut rest = code;
                while let Some(at) = rest.find(prefix) {
                    rest = &rest[at + prefix.len()..];
                    let name: String = rest
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    // A lower-case segment followed by `::` is a module.
                    let is_module = rest[name.len()..].starts_with("::");
                    if is_module && !SHARED.contains(&name.as_str()) && name != own {
                        violations.push(format!(
                            "src/{}:{line_no}: the {own} handlers use the {name} handlers",
                            path.display()
                        ));
                    }
                }
            }
        }
    }
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}
