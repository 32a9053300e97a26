//! The shape of the house (docs/design.md, "Modules"), read from the
//! sources' paths: no two modules import each other, directly or round
//! about, and no top-level module imports one of a higher layer. A child
//! module may use its parent's items (it extends them); siblings may not
//! lean on each other both ways.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Top-level modules, lowest layer first: each may import its own layer
/// and those below, never one above.
const LAYERS: &[&[&str]] = &[
    &["aws", "deadline", "concurrent"],
    &["autoscaling", "stacks"],
    &["ec2"],
    &["event"],
    &["pool", "custom_resource"],
    &["metrics", "disposition", "progress_bar"],
    &["handler"],
    &["lambda", "cli"],
];

/// Module path (`pool::apply`) -> its source, tests left out.
fn modules() -> BTreeMap<String, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = BTreeMap::new();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let relative = path.strip_prefix(&root).unwrap().with_extension("");
            let mut parts: Vec<String> = relative
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect();
            if parts.last().is_some_and(|p| p == "mod") {
                parts.pop();
            }
            if parts == ["lib"] || parts == ["main"] {
                continue;
            }
            let source = std::fs::read_to_string(&path).unwrap();
            let code = source.split("#[cfg(test)]").next().unwrap().to_string();
            found.insert(parts.join("::"), code);
        }
    }
    found
}

/// The paths a source names: `crate::a::b`, `super::c`, and in a module
/// with children, `child::d`.
fn paths(code: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in code.lines() {
        let line = line.trim();
        if line.starts_with("//") {
            continue;
        }
        let words = line.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'));
        found.extend(words.filter(|w| w.contains("::")).map(str::to_string));
        // `use super::{a, b}` and `use crate::x::{y, z}`: the prefix names
        // the module.
    }
    found
}

/// The module a path names, from module `from`: its longest known prefix.
fn resolve(from: &str, path: &str, modules: &BTreeMap<String, String>) -> Option<String> {
    let mut segments: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
    let mut base: Vec<&str> = from.split("::").collect();
    match segments.first().copied() {
        Some("crate") => {
            segments.remove(0);
            base.clear();
        }
        Some("super") => {
            base.pop();
            segments.remove(0);
            while segments.first() == Some(&"super") {
                base.pop();
                segments.remove(0);
            }
        }
        // A child of `from`, named without `self::`.
        Some(first) if modules.contains_key(&format!("{from}::{first}")) => {}
        _ => return None,
    }
    let full: Vec<&str> = base.into_iter().chain(segments).collect();
    (1..=full.len())
        .rev()
        .map(|n| full[..n].join("::"))
        .find(|m| modules.contains_key(m))
}

/// Module -> the modules it imports, ancestors left out.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let modules = modules();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, code) in &modules {
        let targets = graph.entry(module.clone()).or_default();
        for path in paths(code) {
            let Some(target) = resolve(module, &path, &modules) else {
                continue;
            };
            let ancestor = module.starts_with(&format!("{target}::"));
            if target != *module && !ancestor {
                targets.insert(target);
            }
        }
    }
    graph
}

/// The cycles of `graph` (its strongly connected components of more than
/// one module).
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<BTreeSet<String>> {
    // Two modules are in one cycle when each reaches the other.
    let reach = |from: &String| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.clone()];
        while let Some(m) = todo.pop() {
            for next in graph.get(&m).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    todo.push(next.clone());
                }
            }
        }
        seen
    };
    let reaches: BTreeMap<&String, BTreeSet<String>> =
        graph.keys().map(|m| (m, reach(m))).collect();
    let mut found: Vec<BTreeSet<String>> = Vec::new();
    for (m, from_m) in &reaches {
        let cycle: BTreeSet<String> = from_m
            .iter()
            .filter(|other| reaches.get(other).is_some_and(|r| r.contains(*m)))
            .cloned()
            .collect();
        if cycle.len() > 1 && !found.contains(&cycle) {
            found.push(cycle);
        }
    }
    found
}

fn layer_of(module: &str) -> usize {
    let top = module.split("::").next().unwrap();
    LAYERS
        .iter()
        .position(|layer| layer.contains(&top))
        .unwrap_or_else(|| panic!("module {top} has no layer in LAYERS"))
}

#[test]
fn no_module_imports_another_that_imports_it_back() {
    let graph = graph();
    assert!(graph.contains_key("pool::apply"), "the sources were read");
    assert_eq!(cycles(&graph), Vec::<BTreeSet<String>>::new(), "{graph:#?}");
}

#[test]
fn no_module_imports_one_of_a_higher_layer() {
    let mut upward = Vec::new();
    for (from, targets) in graph() {
        for to in targets {
            if layer_of(&to) > layer_of(&from) {
                upward.push(format!("{from} -> {to}"));
            }
        }
    }
    assert!(upward.is_empty(), "{upward:#?}");
}

/// The check finds what it is meant to find: a cycle round about, and a
/// child that names its sibling without `super`.
#[test]
fn the_check_sees_cycles_and_every_way_of_naming_a_module() {
    let modules: BTreeMap<String, String> = ["a", "a::b", "a::c", "d"]
        .map(|m| (m.to_string(), String::new()))
        .into();
    assert_eq!(
        resolve("a::b", "super::c::X", &modules).as_deref(),
        Some("a::c")
    );
    assert_eq!(resolve("a", "b::f", &modules).as_deref(), Some("a::b"));
    assert_eq!(
        resolve("a::b", "crate::d::Y", &modules).as_deref(),
        Some("d")
    );
    assert_eq!(resolve("a::b", "std::fmt", &modules), None);
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a::b", vec!["a::c"]),
        ("a::c", vec!["d"]),
        ("d", vec!["a::b"]),
    ]
    .map(|(m, t)| (m.to_string(), t.into_iter().map(str::to_string).collect()))
    .into();
    assert_eq!(cycles(&graph).len(), 1);
}
