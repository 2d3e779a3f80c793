//! The layering rule of docs/ARCHITECTURE.md, checked on the source text: protocol code
//! (`src/oauth`, `src/oidc`) never reaches up into the HTTP pages (`crate::web`) or the command
//! line (`crate::cli`); the store (`src/store`) imports nothing above it.
//!
//! A reference counts when it is code (lines whose first non-blank characters are `//` are
//! skipped): `crate::web::x`, `use crate::web;`, and grouped forms such as `use crate::{web, y}`.

use std::path::{Path, PathBuf};

/// Which layers a folder (and its module file beside it) may not name.
const RULES: &[(&str, &[&str])] = &[
    ("oauth", &["cli", "web"]),
    ("oidc", &["cli", "web"]),
    ("store", &["oauth", "oidc", "app", "web", "cli"]),
];

/// Today's known violations, as (file, forbidden module): each is being moved by issue 12's
/// other parts (the domain services out of `cli`, the login throttle out of `web`, the page
/// helpers). The integrator empties this list after merging; a new entry needs a reason here.
const ALLOWED: &[(&str, &str)] = &[];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level modules `source` names as `crate::<module>` in code.
fn crate_modules(source: &str) -> Vec<String> {
    let code: String = source
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut found = Vec::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        // `$crate::` and `my_crate::` are not this crate's paths.
        let before = rest[..at].chars().next_back();
        let after = &rest[at + "crate::".len()..];
        rest = after;
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        if let Some(group) = after.strip_prefix('{') {
            // `crate::{a::b, c, d::{e, f}}`: the first segment of each top-level item.
            let (mut depth, mut item_start, mut items) = (0usize, true, Vec::new());
            let mut name = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        if !name.is_empty() {
                            items.push(std::mem::take(&mut name));
                        }
                        item_start = true;
                        continue;
                    }
                    _ => {}
                }
                if depth == 0 && item_start {
                    if c.is_alphanumeric() || c == '_' {
                        name.push(c);
                    } else if !name.is_empty() {
                        items.push(std::mem::take(&mut name));
                        item_start = false;
                    }
                }
            }
            if !name.is_empty() {
                items.push(name);
            }
            found.extend(items);
        } else {
            let name: String = after
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            found.push(name);
        }
    }
    found
}

#[test]
fn crate_modules_reads_paths_and_groups_but_not_comments() {
    let src = "use crate::web::x;\n// crate::cli is fine here\nuse crate::{app, oauth::{a, b}, store};\nlet y = $crate::cli::z;\n";
    assert_eq!(crate_modules(src), ["web", "app", "oauth", "store"]);
}

#[test]
fn protocol_code_and_the_store_import_nothing_above_them() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut violations = Vec::new();
    let mut used_allowances = Vec::new();
    for (layer, forbidden) in RULES {
        let mut files = vec![root.join(format!("src/{layer}.rs"))];
        rust_files(&root.join("src").join(layer), &mut files);
        for file in files {
            let Ok(source) = std::fs::read_to_string(&file) else {
                continue;
            };
            let rel = file
                .strip_prefix(root)
                .unwrap_or(&file)
                .to_string_lossy()
                .replace('\\', "/");
            let mut named = crate_modules(&source);
            named.sort();
            named.dedup();
            for module in named.iter().filter(|m| forbidden.contains(&m.as_str())) {
                if ALLOWED.contains(&(rel.as_str(), module.as_str())) {
                    used_allowances.push((rel.clone(), module.clone()));
                } else {
                    violations.push(format!("{rel} imports crate::{module}"));
                }
            }
        }
    }
    assert!(
        violations.is_empty(),
        "layering broken (see docs/ARCHITECTURE.md):\n{}",
        violations.join("\n")
    );
    // A stale allowance hides the next violation of the same kind: drop entries once fixed.
    let stale: Vec<_> = ALLOWED
        .iter()
        .filter(|(f, m)| !used_allowances.iter().any(|(uf, um)| uf == f && um == m))
        .collect();
    assert!(
        stale.is_empty(),
        "these ALLOWED entries are no longer needed; remove them: {stale:?}"
    );
}
