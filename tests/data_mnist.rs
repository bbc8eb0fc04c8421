//! IDX reading: plain and gzipped files, and clear errors for every kind of bad file.
use credit_assign::data::mnist::{load_dir, FILES};
use flate2::{write::GzEncoder, Compression};
use std::io::Write;
use std::path::Path;

fn idx(dims: &[u32], payload: &[u8]) -> Vec<u8> {
    let mut b = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        b.extend_from_slice(&d.to_be_bytes());
    }
    b.extend_from_slice(payload);
    b
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// Four IDX files of `n_train` and `n_test` images; pixel i of image k is (k + i) % 256,
/// label k is k % 10.
fn write_set(dir: &Path, n_train: u32, n_test: u32, gzipped: bool) {
    for (images, labels, n) in [(FILES[0], FILES[1], n_train), (FILES[2], FILES[3], n_test)] {
        let px: Vec<u8> = (0..n as usize * 784)
            .map(|j| ((j / 784 + j % 784) % 256) as u8)
            .collect();
        let y: Vec<u8> = (0..n).map(|k| (k % 10) as u8).collect();
        for (name, bytes) in [(images, idx(&[n, 28, 28], &px)), (labels, idx(&[n], &y))] {
            if gzipped {
                std::fs::write(dir.join(format!("{name}.gz")), gz(&bytes)).unwrap();
            } else {
                std::fs::write(dir.join(name), bytes).unwrap();
            }
        }
    }
}

fn err_of(dir: &Path) -> String {
    format!("{:#}", load_dir(dir, "mnist").unwrap_err())
}

#[test]
fn plain_and_gzipped_files_give_the_same_tensors() {
    for gzipped in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        write_set(dir.path(), 12, 5, gzipped);
        let d = load_dir(dir.path(), "mnist").unwrap();
        assert_eq!(d.train_x.size(), [12, 784]);
        assert_eq!(d.test_y.size(), [5]);
        assert_eq!(d.classes, 10);
        assert_eq!(d.train_x.kind(), tch::Kind::Float);
        assert_eq!(d.train_y.kind(), tch::Kind::Int64);
        // image 3, pixel 100 holds (3 + 100) % 256
        let v = d.train_x.double_value(&[3, 100]);
        assert!((v - 103.0 / 255.0).abs() < 1e-7, "{v}");
        assert_eq!(d.train_y.int64_value(&[11]), 1);
        assert_eq!(d.test_y.int64_value(&[4]), 4);
    }
}

#[test]
fn missing_file_names_it_and_the_fetch_command() {
    let dir = tempfile::tempdir().unwrap();
    write_set(dir.path(), 4, 2, false);
    std::fs::remove_file(dir.path().join(FILES[3])).unwrap();
    let e = err_of(dir.path());
    assert!(
        e.contains("t10k-labels-idx1-ubyte") && e.contains("is missing"),
        "{e}"
    );
    assert!(e.contains("credit data fetch mnist"), "{e}");
}

#[test]
fn truncated_file_is_reported_with_its_sizes() {
    let dir = tempfile::tempdir().unwrap();
    write_set(dir.path(), 4, 2, false);
    let p = dir.path().join(FILES[0]);
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() - 100]).unwrap();
    let e = err_of(dir.path());
    assert!(
        e.contains("train-images-idx3-ubyte") && e.contains("truncated"),
        "{e}"
    );
    assert!(e.contains(&format!("{}", bytes.len())), "{e}");
    assert!(e.contains("credit data fetch mnist"), "{e}");
}

#[test]
fn wrong_magic_number_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    write_set(dir.path(), 4, 2, false);
    // a labels file where an images file belongs
    std::fs::copy(dir.path().join(FILES[1]), dir.path().join(FILES[0])).unwrap();
    let e = err_of(dir.path());
    assert!(
        e.contains("magic number") && e.contains("train-images"),
        "{e}"
    );
}

#[test]
fn images_and_labels_must_agree_in_number() {
    let dir = tempfile::tempdir().unwrap();
    write_set(dir.path(), 4, 2, false);
    std::fs::write(dir.path().join(FILES[1]), idx(&[3], &[1, 2, 3])).unwrap();
    let e = err_of(dir.path());
    assert!(e.contains("3 labels") && e.contains("4 images"), "{e}");
}

#[test]
fn corrupt_gzip_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    write_set(dir.path(), 4, 2, true);
    let p = dir.path().join(format!("{}.gz", FILES[2]));
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    let e = err_of(dir.path());
    assert!(
        e.contains("t10k-images-idx3-ubyte.gz") && e.contains("gzip"),
        "{e}"
    );
}

#[test]
fn out_of_range_label_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    write_set(dir.path(), 4, 2, false);
    std::fs::write(dir.path().join(FILES[3]), idx(&[2], &[1, 12])).unwrap();
    let e = err_of(dir.path());
    assert!(e.contains("label 12"), "{e}");
}
