//! Data integrity (issue 8, Part 3): `credit data check` fails on damaged data, a run checks
//! its data's md5 once (cached by size and mtime in `.verified.json`) and refuses corrupt
//! files, and the CNN refuses sizes larger than its data. Each case asserts the message, the
//! exit code and what is on disk.
use credit_assign::data::cifar::Variant;
use credit_assign::data::fetch::{md5_hex, FetchSpec, FileSpec};
use credit_assign::data::mnist::FILES;
use credit_assign::data::synthetic::write_cifar_dir;
use credit_assign::data::verify::{verify_with, CACHE_FILE};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `credit ARGS` with the data folder `data`; returns the output.
fn credit(args: &[&str], data: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_credit"))
        .args(args)
        .env("CREDIT_DATA_DIR", data)
        .output()
        .unwrap()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Generated CIFAR-10 files in `<data>/cifar-10` with the `MD5SUMS` that `fetch` writes.
fn fetched_cifar10(data: &Path) -> PathBuf {
    let dir = data.join("cifar-10");
    write_cifar_dir(&dir, Variant::Cifar10, 120, 40, 2, 5).unwrap();
    let mut sums = String::new();
    for name in ["data_batch_1.bin", "data_batch_2.bin", "test_batch.bin"] {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        sums.push_str(&format!("{}  {name}\n", md5_hex(&bytes)));
    }
    std::fs::write(dir.join("MD5SUMS"), sums).unwrap();
    dir
}

/// Flip one byte of `path` in place, keeping its size. With `keep_mtime` the mtime is put
/// back; otherwise it moves 2 s on (a plain write could land in the same clock tick).
fn flip_byte(path: &Path, at: usize, keep_mtime: bool) {
    let mtime = std::fs::metadata(path).unwrap().modified().unwrap();
    let mut bytes = std::fs::read(path).unwrap();
    bytes[at] ^= 0xff;
    std::fs::write(path, &bytes).unwrap();
    let f = std::fs::File::options().write(true).open(path).unwrap();
    let later = mtime + std::time::Duration::from_secs(2);
    f.set_modified(if keep_mtime { mtime } else { later })
        .unwrap();
}

// ---------------------------------------------------------------- credit data check

#[test]
fn check_of_an_empty_folder_passes_unless_a_data_set_is_needed() {
    let tmp = tempfile::tempdir().unwrap();
    let o = credit(&["data", "check"], tmp.path());
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    for name in ["mnist", "fashion-mnist", "cifar10", "cifar100"] {
        assert!(
            out.contains(&format!("get it: credit data fetch {name}")),
            "{out}"
        );
    }

    let o = credit(&["data", "check", "mnist"], tmp.path());
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("mnist") && l.contains("missing")),
        "{out}"
    );
    assert!(
        err.contains("mnist is missing (run `credit data fetch mnist`)"),
        "{err}"
    );
    assert!(
        !err.contains("cifar10 is"),
        "only the needed set fails: {err}"
    );
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        0,
        "check wrote files"
    );

    let o = credit(&["data", "check", "svhn"], tmp.path());
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).1.contains("unknown data set 'svhn'"),
        "{}",
        text(&o).1
    );
}

#[test]
fn check_fails_on_a_corrupt_byte_names_the_file_and_forgets_the_record() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = fetched_cifar10(tmp.path());
    let o = credit(&["data", "check", "cifar10"], tmp.path());
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert!(out.contains("verified (2/5 train batches + test"), "{out}");

    // a run's load records the verified files
    credit_assign::data::load("cifar10", tmp.path(), tch::Device::Cpu).unwrap();
    assert!(dir.join(CACHE_FILE).is_file());

    flip_byte(&dir.join("data_batch_2.bin"), 1000, true);
    let o = credit(&["data", "check"], tmp.path());
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    let row = out.lines().find(|l| l.starts_with("cifar10 ")).unwrap();
    assert!(
        row.contains("incomplete or corrupt") && row.contains("data_batch_2.bin fails its md5"),
        "{out}"
    );
    assert!(out.contains("get it: credit data fetch cifar10"), "{out}");
    assert!(
        err.contains("cifar10 is incomplete or corrupt (run `credit data fetch cifar10`)"),
        "{err}"
    );
    // the data are left as they are; the record that vouched for them is gone
    assert!(dir.join("data_batch_2.bin").is_file());
    assert!(!dir.join(CACHE_FILE).exists());
    // so the next load hashes again and refuses
    let e = credit_assign::data::load("cifar10", tmp.path(), tch::Device::Cpu).unwrap_err();
    assert!(format!("{e:#}").contains("data_batch_2.bin"), "{e:#}");
}

#[test]
fn check_passes_hand_placed_cifar_and_fails_an_unreadable_one() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cifar-10");
    write_cifar_dir(&dir, Variant::Cifar10, 10, 4, 1, 9).unwrap();
    let o = credit(&["data", "check"], tmp.path());
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert!(out.contains("present, not verified"), "{out}");

    let f = dir.join("data_batch_1.bin");
    let bytes = std::fs::read(&f).unwrap();
    std::fs::write(&f, &bytes[..bytes.len() - 7]).unwrap();
    let o = credit(&["data", "check"], tmp.path());
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    assert!(
        out.contains("unreadable") && out.contains("data_batch_1.bin"),
        "{out}"
    );
    assert!(err.contains("cifar10 is incomplete or corrupt"), "{err}");
}

// ---------------------------------------------------------------- md5 check before a run

/// Four small valid IDX files (name, bytes).
fn idx_files() -> Vec<(String, Vec<u8>)> {
    let images = |n: u32| {
        let mut b = vec![0, 0, 8, 3];
        for d in [n, 28, 28] {
            b.extend_from_slice(&d.to_be_bytes());
        }
        b.extend((0..n * 784).map(|i| (i % 251) as u8));
        b
    };
    let labels = |n: u32| {
        let mut b = vec![0, 0, 8, 1];
        b.extend_from_slice(&n.to_be_bytes());
        b.extend((0..n).map(|i| (i % 10) as u8));
        b
    };
    vec![
        (FILES[0].into(), images(5)),
        (FILES[1].into(), labels(5)),
        (FILES[2].into(), images(2)),
        (FILES[3].into(), labels(2)),
    ]
}

/// MNIST files in `<data>/mnist` and a spec whose md5s are theirs.
fn mnist_folder(data: &Path) -> (PathBuf, FetchSpec) {
    let dir = data.join("mnist");
    std::fs::create_dir_all(&dir).unwrap();
    let mut spec = FetchSpec::from_env();
    spec.mnist_files = idx_files()
        .into_iter()
        .map(|(name, bytes)| {
            std::fs::write(dir.join(&name), &bytes).unwrap();
            FileSpec {
                name,
                md5: md5_hex(&bytes),
            }
        })
        .collect();
    (dir, spec)
}

#[test]
fn a_load_hashes_once_records_it_and_hashes_again_only_what_changed() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, spec) = mnist_folder(tmp.path());
    let cpu = tch::Device::Cpu;

    let v = verify_with("mnist", tmp.path(), &spec).unwrap();
    assert_eq!((v.hashed.len(), v.cached.len()), (4, 0), "{v:?}");
    let record = std::fs::read_to_string(dir.join(CACHE_FILE)).unwrap();
    assert!(record.contains(FILES[1]) && record.contains(&spec.mnist_files[1].md5));
    let d = credit_assign::data::load_with("mnist", tmp.path(), cpu, &spec).unwrap();
    assert_eq!(d.n_train(), 5);
    let v = verify_with("mnist", tmp.path(), &spec).unwrap();
    assert_eq!(
        (v.hashed.len(), v.cached.len()),
        (0, 4),
        "second load re-hashed: {v:?}"
    );

    // A byte changed with size and mtime kept is not seen: the record is trusted.
    let labels = dir.join(FILES[1]);
    flip_byte(&labels, 9, true);
    let v = verify_with("mnist", tmp.path(), &spec).unwrap();
    assert_eq!(v.cached.len(), 4, "{v:?}");
    // Once the record no longer matches the file (here: it claims another size), the file is
    // hashed again and refused.
    let tampered = record.replacen("\"size\": 13", "\"size\": 14", 1);
    assert_ne!(
        tampered, record,
        "the record holds the labels' size 13:\n{record}"
    );
    std::fs::write(dir.join(CACHE_FILE), tampered).unwrap();
    let e = credit_assign::data::load_with("mnist", tmp.path(), cpu, &spec).unwrap_err();
    let e = format!("{e:#}");
    assert!(
        e.contains(&labels.display().to_string())
            && e.contains("md5")
            && e.contains("credit data fetch mnist"),
        "{e}"
    );
    // A byte changed the ordinary way (new mtime) is hashed at once.
    flip_byte(&labels, 9, false);
    verify_with("mnist", tmp.path(), &spec).unwrap();
    flip_byte(&dir.join(FILES[2]), 100, false);
    let e = verify_with("mnist", tmp.path(), &spec).unwrap_err();
    assert!(format!("{e:#}").contains(FILES[2]), "{e:#}");
}

#[test]
fn gzipped_files_verify_by_their_content() {
    use flate2::{write::GzEncoder, Compression};
    use std::io::Write;
    let tmp = tempfile::tempdir().unwrap();
    let (dir, spec) = mnist_folder(tmp.path());
    for name in FILES {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        let mut e = GzEncoder::new(Vec::new(), Compression::fast());
        e.write_all(&bytes).unwrap();
        std::fs::write(dir.join(format!("{name}.gz")), e.finish().unwrap()).unwrap();
        std::fs::remove_file(dir.join(name)).unwrap();
    }
    let v = verify_with("mnist", tmp.path(), &spec).unwrap();
    assert!(v.hashed.contains(&format!("{}.gz", FILES[0])), "{v:?}");
    let mut wrong = spec.clone();
    wrong.mnist_files[0].md5 = "0123456789abcdef0123456789abcdef".into();
    let e = format!(
        "{:#}",
        verify_with("mnist", tmp.path(), &wrong).unwrap_err()
    );
    assert!(
        e.contains("once uncompressed") && e.contains("credit data fetch mnist"),
        "{e}"
    );
}

/// A tiny `kind: cnn` config on CIFAR-10.
fn cnn_yaml(train_images: usize, batch: usize, test_images: usize) -> String {
    format!(
        r#"
kind: cnn
experiment: integrity
dataset: cifar10
protocol: validation
validation: 40
train_images: {train_images}
test_images: {test_images}
seeds: [1]
network:
  activation: tanh
  blocks:
    - conv: {{channels: 4, kernel: 3}}
    - fc: {{units: 8}}
rules:
  bp: {{lr: 1.0e-3, batch: {batch}, epochs: 1}}
"#
    )
}

/// `credit run` of `yaml` on the data folder `data`, results into `<tmp>/results`.
fn credit_run(tmp: &Path, yaml: &str, data: &Path) -> (Option<i32>, String, PathBuf) {
    let cfg = tmp.join("config.yaml");
    std::fs::write(&cfg, yaml).unwrap();
    let out = tmp.join("results");
    let o = credit(
        &[
            "run",
            cfg.to_str().unwrap(),
            "--device",
            "cpu",
            "--out",
            out.to_str().unwrap(),
        ],
        data,
    );
    (o.status.code(), text(&o).1, out)
}

#[test]
fn a_cnn_run_refuses_a_corrupt_batch_and_accepts_it_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let dir = fetched_cifar10(&data);
    let yaml = cnn_yaml(64, 32, 20);

    let (code, err, out) = credit_run(tmp.path(), &yaml, &data);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.join("integrity/bp-seed1/metrics.csv").is_file());
    let record = std::fs::read_to_string(dir.join(CACHE_FILE)).unwrap();
    assert!(record.contains("test_batch.bin"), "{record}");

    // A record that no longer matches is replaced by a fresh one after hashing again.
    let size = std::fs::metadata(dir.join("test_batch.bin")).unwrap().len();
    let stale = record.replace(&format!("\"size\": {size}"), "\"size\": 1");
    assert_ne!(stale, record);
    std::fs::write(dir.join(CACHE_FILE), &stale).unwrap();
    std::fs::remove_dir_all(&out).unwrap();
    let (code, err, _) = credit_run(tmp.path(), &yaml, &data);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        std::fs::read_to_string(dir.join(CACHE_FILE)).unwrap(),
        record
    );

    std::fs::remove_dir_all(&out).unwrap();
    flip_byte(&dir.join("data_batch_1.bin"), 5000, false);
    let (code, err, out) = credit_run(tmp.path(), &yaml, &data);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("data_batch_1.bin")
            && err.contains("corrupt")
            && err.contains("credit data fetch cifar10"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        !out.join("integrity").exists(),
        "a refused run wrote results"
    );
}

#[test]
fn an_mlp_run_refuses_mnist_that_fails_its_md5() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    // valid IDX files, but not the real MNIST: their md5 is not the official one
    mnist_folder(&data);
    let yaml = r#"
experiment: integrity-mlp
task: classify
data: { dataset: mnist, train_size: 5, test_size: 2 }
network: { sizes: [784, 10, 10], activations: [sigmoid, identity] }
training: { iterations: 4, batch_size: 2, log_every: 2, eval_every: 2, seeds: [0] }
runs:
  - { rule: bp, lr: 0.01 }
"#;
    let (code, err, out) = credit_run(tmp.path(), yaml, &data);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(&data.join("mnist").join(FILES[0]).display().to_string())
            && err.contains("6bbc9ace898e44ae57da46a324031adb")
            && err.contains("credit data fetch mnist"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        !out.join("integrity-mlp").join("summary.csv").exists()
            && !out.join("integrity-mlp").join("bp-seed0").exists(),
        "a refused run wrote results"
    );
    assert!(!data.join("mnist").join(CACHE_FILE).exists());
}

// ---------------------------------------------------------------- CNN sizes

#[test]
fn a_cnn_run_refuses_sizes_larger_than_the_data() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    fetched_cifar10(&data); // 120 training images: 80 after the 40 held out; 40 test images
    for (yaml, needle) in [
        (
            cnn_yaml(81, 32, 20),
            "train_images is 81, but the data hold 80 training images",
        ),
        (
            cnn_yaml(64, 65, 20),
            "rules.bp.batch is 65, larger than the 64 training images",
        ),
        (
            cnn_yaml(64, 32, 41),
            "test_images is 41, but the data hold 40 test images",
        ),
    ] {
        let (code, err, out) = credit_run(tmp.path(), &yaml, &data);
        assert_eq!(code, Some(1), "{err}");
        assert!(err.contains(needle), "expected '{needle}' in:\n{err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(
            !out.join("integrity").exists(),
            "a refused run wrote results"
        );
    }
    let (code, err, _) = credit_run(tmp.path(), &cnn_yaml(80, 80, 40), &data);
    assert_eq!(code, Some(0), "sizes equal to the data are fine: {err}");
}
