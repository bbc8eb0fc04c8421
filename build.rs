//! Emit an rpath to libtorch's lib/ so that `cargo run`, `cargo test` and the installed
//! binary find libtorch without LD_LIBRARY_PATH.
fn main() {
    // torch-sys (links = "tch") exports its lib dir as DEP_TCH_LIBTORCH_LIB.
    if let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        let lib = std::fs::canonicalize(&lib).unwrap_or_else(|_| lib.into());
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    }
    println!("cargo:rerun-if-env-changed=LIBTORCH");
}
