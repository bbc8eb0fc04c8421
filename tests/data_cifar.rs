//! CIFAR binary batches: layout (NCHW, R G B planes), labels, bad files, preprocessing, and
//! the real CIFAR-10 subset when it and `xz` are present.
use credit_assign::data::cifar::{
    channel_stats, load_dir, per_image_standardize, read_batch, Variant,
};
use credit_assign::data::synthetic::write_cifar_dir;
use std::path::Path;
use tch::{Kind, Tensor};

/// One record whose pixel at (plane p, row r, col c) is `(40 p + r + c) % 256`.
fn record(labels: &[u8]) -> Vec<u8> {
    let mut r = labels.to_vec();
    for p in 0..3 {
        for row in 0..32 {
            for col in 0..32 {
                r.push(((40 * p + row + col) % 256) as u8);
            }
        }
    }
    r
}

fn msg<T: std::fmt::Debug>(r: anyhow::Result<T>) -> String {
    format!("{:#}", r.unwrap_err())
}

#[test]
fn records_become_nchw_images_with_rgb_planes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.bin");
    let bytes: Vec<u8> = [record(&[7]), record(&[2])].concat();
    std::fs::write(&path, bytes).unwrap();
    let (x, y) = read_batch(&path, Variant::Cifar10).unwrap();
    assert_eq!(x.size(), [2, 3, 32, 32]);
    assert_eq!(Vec::<i64>::try_from(&y).unwrap(), [7, 2]);
    for (p, r, c) in [(0, 0, 0), (0, 5, 9), (1, 0, 0), (2, 31, 1), (2, 3, 30)] {
        let want = (40 * p + r + c) % 256;
        assert_eq!(x.int64_value(&[1, p, r, c]), want, "plane {p} ({r},{c})");
    }
}

#[test]
fn cifar100_uses_the_fine_label() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("train.bin");
    std::fs::write(&path, [record(&[3, 71]), record(&[19, 99])].concat()).unwrap();
    let (x, y) = read_batch(&path, Variant::Cifar100).unwrap();
    assert_eq!(Vec::<i64>::try_from(&y).unwrap(), [71, 99]);
    assert_eq!(x.int64_value(&[0, 1, 2, 3]), 45);
}

#[test]
fn truncated_batch_names_the_file_and_record_count() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data_batch_1.bin");
    let bytes: Vec<u8> = [record(&[1]), record(&[2]), record(&[3])].concat();
    std::fs::write(&path, &bytes[..bytes.len() - 10]).unwrap();
    let e = msg(read_batch(&path, Variant::Cifar10));
    assert!(e.contains("data_batch_1.bin"), "{e}");
    assert!(
        e.contains("2 complete records") && e.contains("truncated"),
        "{e}"
    );
    assert!(e.contains("credit data fetch cifar10"), "{e}");
}

#[test]
fn cifar100_file_read_as_cifar10_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test_batch.bin");
    std::fs::write(&path, [record(&[3, 71]), record(&[1, 9])].concat()).unwrap();
    let e = msg(read_batch(&path, Variant::Cifar10));
    assert!(
        e.contains("test_batch.bin") && e.contains("not a cifar10"),
        "{e}"
    );
}

#[test]
fn out_of_range_label_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test_batch.bin");
    std::fs::write(&path, [record(&[4]), record(&[200])].concat()).unwrap();
    let e = msg(read_batch(&path, Variant::Cifar10));
    assert!(e.contains("record 1") && e.contains("200"), "{e}");
}

#[test]
fn empty_file_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test_batch.bin");
    std::fs::write(&path, []).unwrap();
    let e = msg(read_batch(&path, Variant::Cifar10));
    assert!(e.contains("0 complete records"), "{e}");
}

#[test]
fn missing_data_and_pickle_version_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let e = msg(load_dir(dir.path(), Variant::Cifar10));
    assert!(
        e.contains("test_batch.bin") && e.contains("credit data fetch cifar10"),
        "{e}"
    );
    std::fs::write(dir.path().join("data_batch_1"), b"pickle").unwrap();
    let e = msg(load_dir(dir.path(), Variant::Cifar10));
    assert!(e.contains("Python (pickle) version"), "{e}");
}

#[test]
fn a_subset_of_training_batches_loads_and_the_archive_folder_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("cifar-10-batches-bin");
    write_cifar_dir(&nested, Variant::Cifar10, 30, 7, 2, 1).unwrap();
    let d = load_dir(dir.path(), Variant::Cifar10).unwrap();
    assert_eq!(d.train_x.size(), [30, 3, 32, 32]);
    assert_eq!(d.test_y.size(), [7]);
    let max = d.train_x.max().double_value(&[]);
    let min = d.train_x.min().double_value(&[]);
    assert!(
        (0.0..=1.0).contains(&min) && max <= 1.0 && max > 0.5,
        "{min} {max}"
    );

    let d100 = tempfile::tempdir().unwrap();
    write_cifar_dir(d100.path(), Variant::Cifar100, 20, 5, 1, 2).unwrap();
    let d = load_dir(d100.path(), Variant::Cifar100).unwrap();
    assert_eq!((d.n_train(), d.n_test(), d.classes), (20, 5, 100));
}

#[test]
fn per_image_standardisation_matches_a_direct_computation() {
    let x = Tensor::rand([3, 3, 32, 32], (Kind::Float, tch::Device::Cpu));
    // the third image is constant: std 0, so the 1/sqrt(3072) floor applies
    let _ = x.get(2).fill_(0.5);
    let z = per_image_standardize(&x);
    let xs = Vec::<f32>::try_from(x.reshape([-1])).unwrap();
    let zs = Vec::<f32>::try_from(z.reshape([-1])).unwrap();
    for i in 0..3 {
        let img: Vec<f64> = xs[i * 3072..(i + 1) * 3072]
            .iter()
            .map(|&v| v as f64 * 255.0)
            .collect();
        let mean = img.iter().sum::<f64>() / 3072.0;
        let var = img.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 3072.0;
        let denom = var.sqrt().max(1.0 / 3072f64.sqrt());
        for j in [0, 17, 3071] {
            let want = (img[j] - mean) / denom;
            let got = zs[i * 3072 + j] as f64;
            assert!(
                (got - want).abs() < 1e-3,
                "image {i} pixel {j}: {got} vs {want}"
            );
        }
    }
}

/// The real 10k-image subset, when the shared folder and `xz` are there.
#[test]
fn real_cifar10_subset_has_the_published_statistics() {
    // Beside the checkout (../shared), never by an absolute path.
    let src = &Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/cifar-10-subset");
    if !src.join("test_batch.bin.xz").exists() {
        eprintln!("note: {} absent; real-data check skipped", src.display());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for f in ["data_batch_1.bin", "test_batch.bin"] {
        let out = std::process::Command::new("xz")
            .args(["-dc"])
            .arg(src.join(format!("{f}.xz")))
            .output();
        match out {
            Ok(o) if o.status.success() => std::fs::write(dir.path().join(f), o.stdout).unwrap(),
            _ => {
                eprintln!("note: `xz` unavailable; real-data check skipped");
                return;
            }
        }
    }
    let d = load_dir(dir.path(), Variant::Cifar10).unwrap();
    assert_eq!((d.n_train(), d.n_test()), (10_000, 10_000));
    assert_eq!(d.test_y.int64_value(&[0]), 3, "first test image is a cat");
    let (mean, _) = channel_stats(&d.train_x);
    let mean = Vec::<f32>::try_from(mean * 255.0).unwrap();
    eprintln!("train channel means (0..255): {mean:?}");
    for (got, want) in mean.iter().zip([125.31, 122.95, 113.87]) {
        // the published means are over all 50k images; batch 1 alone is within ~0.5
        assert!((*got as f64 - want).abs() < 1.0, "channel means {mean:?}");
    }
}
