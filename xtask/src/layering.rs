//! The layering check (`cargo xtask test`, lint suite): the rules of
//! `docs/architecture.md#layers`, read from the server's source with syn.
//!
//! - `domain/` and `app/` know neither HTTP nor SQL: no `axum`, no `sqlx`,
//!   nothing of `api/`; `domain/` uses nothing else of the crate (not even
//!   `AppState`, which the use cases of `app/` take as their context).
//! - Nothing outside `api/` and `lib.rs` imports `api`.
//! - Every SQL statement is under `store/`.
//!
//! The last two keep a list of exceptions (empty today): a file that breaks a
//! rule fails the check unless it is listed, and a listed file that no longer
//! breaks it fails the check until it is struck — so the lists only shrink.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::{Path, PathBuf},
};

use anyhow::{Context, bail};
use syn::visit::Visit;

use crate::workspace_path;

/// Files outside `api/` that may import it: none.
const API_IMPORTS_ALLOWED: &[&str] = &[];

/// Files outside `store/` that may run SQL of their own: none.
const SQL_ALLOWED: &[&str] = &[];

/// What one file depends on.
#[derive(Default)]
struct Uses {
    /// Top-level modules of this crate (`api`, `store`, …).
    modules: BTreeSet<String>,
    /// External crates named (`axum`, `sqlx`, …).
    crates: BTreeSet<String>,
    /// Whether it builds a query (`sqlx::query*`, `query_as`, `query_scalar`).
    sql: bool,
}

struct Visitor {
    /// The module path of the item being visited, e.g. `["api", "api_keys"]`.
    module: Vec<String>,
    uses: Uses,
}

impl Visitor {
    fn record(&mut self, segments: &[String]) {
        let Some(first) = segments.first() else { return };
        let absolute: Vec<String> = match first.as_str() {
            "crate" => segments[1..].to_vec(),
            "super" => {
                let mut base = self.module.clone();
                let mut rest = segments;
                while rest.first().is_some_and(|s| s == "super") {
                    base.pop();
                    rest = &rest[1..];
                }
                base.extend(rest.iter().cloned());
                base
            }
            "self" => {
                let mut base = self.module.clone();
                base.extend(segments[1..].iter().cloned());
                base
            }
            "axum" | "sqlx" | "hyper" | "hyper_util" | "tower_http" | "utoipa_axum" => {
                self.uses.crates.insert(first.clone());
                if first == "sqlx" && segments.iter().any(|s| s.starts_with("query")) {
                    self.uses.sql = true;
                }
                return;
            }
            _ => return,
        };
        if let Some(top) = absolute.first() {
            self.uses.modules.insert(top.clone());
        }
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(path) => {
                prefix.push(path.ident.to_string());
                self.use_tree(prefix, &path.tree);
                prefix.pop();
            }
            syn::UseTree::Name(name) => {
                prefix.push(name.ident.to_string());
                let segments = prefix.clone();
                self.record(&segments);
                prefix.pop();
            }
            syn::UseTree::Rename(rename) => {
                prefix.push(rename.ident.to_string());
                let segments = prefix.clone();
                self.record(&segments);
                prefix.pop();
            }
            syn::UseTree::Glob(_) => {
                let segments = prefix.clone();
                self.record(&segments);
            }
            syn::UseTree::Group(group) => {
                for tree in &group.items {
                    self.use_tree(prefix, tree);
                }
            }
        }
    }
}

impl<'ast> Visit<'ast> for Visitor {
    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        self.use_tree(&mut Vec::new(), &item.tree);
    }

    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        // Test modules set up state as tests must (SQL included): the rules are about the product.
        let is_test = item
            .attrs
            .iter()
            .any(|attr| attr.path().is_ident("cfg") && attr.parse_args::<syn::Ident>().is_ok_and(|arg| arg == "test"));
        if is_test {
            return;
        }
        self.module.push(item.ident.to_string());
        syn::visit::visit_item_mod(self, item);
        self.module.pop();
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        // `sqlx::query…(…)` here, or a `use sqlx::query…` seen by `record`.
        self.record(&segments);
        syn::visit::visit_path(self, path);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        // `sqlx::query!` and friends, and paths inside macro bodies we cannot parse.
        let segments: Vec<String> = mac.path.segments.iter().map(|s| s.ident.to_string()).collect();
        self.record(&segments);
        // Macro bodies (`json!`, `format!`, …) are tokens, not syntax: look for paths in them.
        let tokens: Vec<String> = mac.tokens.to_string().split_whitespace().map(str::to_string).collect();
        for (i, token) in tokens.iter().enumerate() {
            if matches!(token.as_str(), "crate" | "sqlx") && tokens.get(i + 1).is_some_and(|t| t == "::") {
                let path: Vec<String> = tokens[i..]
                    .iter()
                    .step_by(2)
                    .take_while(|t| t.chars().all(|c| c.is_alphanumeric() || c == '_'))
                    .cloned()
                    .collect();
                self.record(&path);
            }
        }
        syn::visit::visit_macro(self, mac);
    }
}

/// `server/src/api/api_keys.rs` → `["api", "api_keys"]`; `api/mod.rs` → `["api"]`.
fn module_path(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> = relative.with_extension("").iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib" || p == "main") {
        parts.pop();
    }
    parts
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for entry in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            rust_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

fn scan(root: &Path) -> anyhow::Result<BTreeMap<String, Uses>> {
    let mut files = Vec::new();
    rust_files(root, &mut files)?;
    let mut all = BTreeMap::new();
    for file in files {
        let relative = file.strip_prefix(root).unwrap_or(&file).to_path_buf();
        let text = fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
        let parsed = syn::parse_file(&text).with_context(|| format!("parsing {}", file.display()))?;
        let mut visitor = Visitor { module: module_path(&relative), uses: Uses::default() };
        visitor.visit_file(&parsed);
        // A file's own module is not a dependency.
        if let Some(own) = visitor.module.first().cloned() {
            visitor.uses.modules.remove(&own);
        }
        all.insert(relative.to_string_lossy().replace('\\', "/"), visitor.uses);
    }
    Ok(all)
}

pub fn check() -> anyhow::Result<()> {
    let root = workspace_path("server/src");
    let files = scan(&root)?;
    let mut problems = Vec::new();
    let in_layer = |file: &str, layer: &str| file.starts_with(&format!("{layer}/"));

    for (file, uses) in &files {
        for layer in ["domain", "app"] {
            if !in_layer(file, layer) {
                continue;
            }
            for krate in ["axum", "sqlx", "hyper", "hyper_util", "tower_http", "utoipa_axum"] {
                if uses.crates.contains(krate) {
                    problems.push(format!("server/src/{file}: `{layer}/` must not use `{krate}` (HTTP or SQL)"));
                }
            }
            for module in ["api"] {
                if uses.modules.contains(module) {
                    problems.push(format!("server/src/{file}: `{layer}/` must not use `crate::{module}`"));
                }
            }
        }
        if in_layer(file, "domain") {
            // `state` included: domain rules take their inputs as arguments.
            for module in uses.modules.iter().filter(|m| *m != "domain") {
                problems.push(format!("server/src/{file}: `domain/` must not use `crate::{module}` (pure rules only)"));
            }
        }
    }

    let ratchet = |problems: &mut Vec<String>, what: &str, allowed: &[&str], breaking: BTreeSet<&str>| {
        for file in &breaking {
            if !allowed.contains(file) {
                problems.push(format!("server/src/{file}: {what}"));
            }
        }
        for file in allowed {
            if !breaking.contains(file) {
                problems.push(format!(
                    "server/src/{file} no longer breaks the rule \"{what}\": strike it from the list in xtask/src/layering.rs"
                ));
            }
        }
    };
    let imports_api: BTreeSet<&str> = files
        .iter()
        .filter(|(file, uses)| !in_layer(file, "api") && file.as_str() != "lib.rs" && uses.modules.contains("api"))
        .map(|(file, _)| file.as_str())
        .collect();
    ratchet(&mut problems, "imports `api` from outside `api/` and `lib.rs`", API_IMPORTS_ALLOWED, imports_api);
    let runs_sql: BTreeSet<&str> = files
        .iter()
        .filter(|(file, uses)| !in_layer(file, "store") && uses.sql)
        .map(|(file, _)| file.as_str())
        .collect();
    ratchet(&mut problems, "runs SQL outside `store/`", SQL_ALLOWED, runs_sql);

    problems.extend(layer_cycles(&files));

    if problems.is_empty() {
        eprintln!("layering: {} files of server/src keep the rules of docs/architecture.md#layers", files.len());
        return Ok(());
    }
    for problem in &problems {
        eprintln!("layering: {problem}");
    }
    bail!("{} layering problem(s) (rules: docs/architecture.md#layers)", problems.len())
}

/// The top-level module of a file: `api/keys.rs` → `api`, `usage.rs` → `usage`.
fn top_module(file: &str) -> &str {
    let first = file.split('/').next().unwrap_or(file);
    first.strip_suffix(".rs").unwrap_or(first)
}

/// Dependencies between top-level modules (layers and the loose modules
/// beside them) must form no cycle: files of one layer may import each other,
/// but once `a` uses `b`, nothing `b` reaches may use `a`.
fn layer_cycles(files: &BTreeMap<String, Uses>) -> Vec<String> {
    let mut edges: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (file, uses) in files {
        let from = top_module(file);
        if from == "lib" || from == "main" {
            continue;
        }
        let targets = edges.entry(from).or_default();
        targets.extend(uses.modules.iter().map(String::as_str).filter(|m| *m != from));
    }
    let reaches = |from: &str, to: &str| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from];
        while let Some(node) = stack.pop() {
            for next in edges.get(node).into_iter().flatten() {
                if *next == to {
                    return true;
                }
                if seen.insert(*next) {
                    stack.push(next);
                }
            }
        }
        false
    };
    let mut problems = Vec::new();
    for (from, targets) in &edges {
        for to in targets {
            if reaches(to, from) {
                let culprits: Vec<&str> = files
                    .iter()
                    .filter(|(file, uses)| top_module(file) == *from && uses.modules.contains(*to))
                    .map(|(file, _)| file.as_str())
                    .collect();
                problems.push(format!(
                    "`{from}` uses `{to}` ({}), and `{to}` leads back to `{from}`: layers must not form a cycle",
                    culprits.join(", ")
                ));
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uses_of(module: &[&str], source: &str) -> Uses {
        let mut visitor = Visitor { module: module.iter().map(|s| s.to_string()).collect(), uses: Uses::default() };
        visitor.visit_file(&syn::parse_file(source).unwrap());
        visitor.uses
    }

    #[test]
    fn finds_crate_super_and_grouped_imports() {
        let uses = uses_of(
            &["jobs", "scheduler"],
            "use crate::{auth::{Caller, Permission}, store::{self, now_ms}};\n\
             use super::super::api::api_keys::rotate_record;\n\
             fn f() { crate::cache::KeyCache::new(); let _ = sqlx::query(\"SELECT 1\"); }\n\
             fn g() { let _ = serde_json::json!({\"k\": crate::usage::x()}); }\n\
             #[cfg(test)] mod tests { use crate::http_only::*; }",
        );
        assert_eq!(
            uses.modules.iter().map(String::as_str).collect::<Vec<_>>(),
            ["api", "auth", "cache", "store", "usage"]
        );
        assert!(uses.crates.contains("sqlx") && uses.sql);
    }

    #[test]
    fn a_file_without_sql_or_http_is_clean() {
        let uses = uses_of(&["domain", "access"], "use serde::Serialize; pub fn f() -> u8 { 1 }");
        assert!(uses.modules.is_empty() && uses.crates.is_empty() && !uses.sql);
    }

    #[test]
    fn a_cycle_between_top_level_modules_is_found_and_a_chain_is_not() {
        let file =
            |modules: &[&str]| Uses { modules: modules.iter().map(|m| m.to_string()).collect(), ..Uses::default() };
        let mut files = BTreeMap::new();
        files.insert("app/keys.rs".to_string(), file(&["store", "domain"]));
        files.insert("store/keys.rs".to_string(), file(&["domain"]));
        files.insert("api/keys.rs".to_string(), file(&["app", "store"]));
        assert!(layer_cycles(&files).is_empty());
        files.insert("store/audit.rs".to_string(), file(&["app"]));
        let problems = layer_cycles(&files);
        assert!(problems.iter().any(|p| p.contains("`store` uses `app` (store/audit.rs)")), "{problems:?}");
    }
}
