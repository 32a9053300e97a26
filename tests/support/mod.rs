//! Shared test support: the strict EC2 model, the moto server, the worlds.
#![allow(dead_code)] // each test module uses a different part of the support

pub mod cfn;
pub mod emf;
pub mod emulator;
pub mod listener;
pub mod moto;
pub mod stacks;
pub mod strict;
pub mod throttle;
pub mod world;

/// A tool the tests run: `$env`, else the project's `.venv`, else the
/// `PATH`; a missing one fails the test with how to install it.
pub fn tool(env: &str, name: &str, package: &str) -> std::path::PathBuf {
    if let Some(path) = std::env::var_os(env) {
        return path.into();
    }
    let venv = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".venv/bin")
        .join(name);
    if venv.exists() {
        return venv;
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.exists())
    });
    on_path.unwrap_or_else(|| {
        panic!(
            "{name} not found. Run `make test` (it installs {package} into .venv), \
             or `pip install '{package}'`, or set {env} to its path."
        )
    })
}
