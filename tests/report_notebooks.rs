//! Every notebook runs headlessly (nbclient) against a results tree the test writes.
//! Needs python3 and the package registry the first time (scripts/setup-python.sh);
//! CREDIT_SKIP_NOTEBOOKS=1 skips it, loudly.
mod report_fixture;

use std::path::Path;
use std::process::Command;

#[test]
fn every_notebook_runs_against_a_results_tree() {
    if std::env::var("CREDIT_SKIP_NOTEBOOKS").as_deref() == Ok("1") {
        eprintln!(
            "\n*** SKIPPED: notebooks were not executed because CREDIT_SKIP_NOTEBOOKS=1 ***\n"
        );
        return;
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report_notebooks");
    report_fixture::write_tree(&root);

    let setup = Command::new("bash")
        .arg(repo.join("scripts/setup-python.sh"))
        .output()
        .expect("running scripts/setup-python.sh");
    assert!(
        setup.status.success(),
        "scripts/setup-python.sh failed:\n{}",
        String::from_utf8_lossy(&setup.stderr)
    );
    let stdout = String::from_utf8_lossy(&setup.stdout);
    let python = stdout
        .lines()
        .last()
        .expect("setup-python.sh printed no python path");

    let mut notebooks: Vec<_> = std::fs::read_dir(repo.join("notebooks"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "ipynb"))
        .collect();
    notebooks.sort();
    let names: Vec<String> = notebooks
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["fig2", "fig3", "fig4", "table1", "theory"]);

    let run = Command::new(python)
        .arg(repo.join("notebooks/execute.py"))
        .arg("--results")
        .arg(&root)
        .args(&notebooks)
        .output()
        .expect("running notebooks/execute.py");
    let out = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "a notebook failed:\n{out}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(
        out.matches("every cell ran").count(),
        notebooks.len(),
        "{out}"
    );
}
