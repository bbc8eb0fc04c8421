//! Emit an rpath to libtorch's lib/ so that `cargo run`, `cargo test` and the installed
//! binary find libtorch without LD_LIBRARY_PATH, and stamp the git commit into the binary
//! (checkpoints record the code version that wrote them).
use std::process::Command;

fn main() {
    // torch-sys (links = "tch") exports its lib dir as DEP_TCH_LIBTORCH_LIB.
    if let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        let lib = std::fs::canonicalize(&lib).unwrap_or_else(|_| lib.into());
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    }
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let commit = git(&["describe", "--always", "--dirty", "--abbrev=12"]).unwrap_or_default();
    println!("cargo:rustc-env=CREDIT_GIT_COMMIT={commit}");
    // Rebuild the stamp when HEAD moves (the files git itself rewrites on commit/checkout).
    if let Some(dir) = git(&["rev-parse", "--git-dir"]) {
        println!("cargo:rerun-if-changed={dir}/HEAD");
        println!("cargo:rerun-if-changed={dir}/index");
    }
}
