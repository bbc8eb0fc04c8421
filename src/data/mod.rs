//! Data sets: MNIST and Fashion-MNIST (IDX), CIFAR-10/100 (binary batches), synthetic ones.
//!
//! Every loader returns a [`Dataset`] with images as float32 in [0, 1] and labels as int64,
//! on the device the caller names. Files live under the data folder ([`default_data_dir`]):
//! `<data>/mnist`, `<data>/fashion-mnist`, `<data>/cifar-10`, `<data>/cifar-100`.
pub mod cifar;
pub mod fetch;
pub mod mnist;
pub mod synthetic;
pub mod verify;

use anyhow::{bail, Result};
use std::path::{Path, PathBuf};
use tch::{Device, Tensor};

/// Train and test split of one data set.
///
/// MNIST-like: x is `[N, 784]`; CIFAR-like: x is `[N, 3, 32, 32]` (NCHW, planes R, G, B).
#[derive(Debug)]
pub struct Dataset {
    pub train_x: Tensor, // [N_train, ...] float32 in [0, 1]
    pub train_y: Tensor, // [N_train] int64 in [0, classes)
    pub test_x: Tensor,  // [N_test, ...] float32 in [0, 1]
    pub test_y: Tensor,  // [N_test] int64
    pub classes: i64,
}

impl Dataset {
    pub fn to_device(&self, device: Device) -> Dataset {
        Dataset {
            train_x: self.train_x.to_device(device),
            train_y: self.train_y.to_device(device),
            test_x: self.test_x.to_device(device),
            test_y: self.test_y.to_device(device),
            classes: self.classes,
        }
    }

    pub fn n_train(&self) -> i64 {
        self.train_x.size()[0]
    }

    pub fn n_test(&self) -> i64 {
        self.test_x.size()[0]
    }
}

/// `$CREDIT_DATA_DIR` when set, else `./data`.
pub fn default_data_dir() -> PathBuf {
    match std::env::var_os("CREDIT_DATA_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from("data"),
    }
}

/// The data sets `credit data fetch` knows, as (name on the command line, folder name).
pub const DATASETS: [(&str, &str); 4] = [
    ("mnist", "mnist"),
    ("fashion-mnist", "fashion-mnist"),
    ("cifar10", "cifar-10"),
    ("cifar100", "cifar-100"),
];

/// Folder of a data set inside the data folder; `name` as on the command line.
pub fn dataset_dir(name: &str, data_dir: &Path) -> Result<PathBuf> {
    match DATASETS.iter().find(|(n, _)| *n == name) {
        Some((_, folder)) => Ok(data_dir.join(folder)),
        None => bail!(
            "unknown data set '{name}': choose one of mnist, fashion-mnist, cifar10, cifar100"
        ),
    }
}

/// Load a data set by name (`mnist`, `fashion-mnist`, `cifar10`, `cifar100`) onto `device`,
/// after its md5 check ([`verify`]): corrupt data is refused with the file's name and
/// `credit data fetch NAME`.
pub fn load(name: &str, data_dir: &Path, device: Device) -> Result<Dataset> {
    load_with(name, data_dir, device, &fetch::FetchSpec::from_env())
}

/// [`load`] with explicit checksums (tests).
pub fn load_with(
    name: &str,
    data_dir: &Path,
    device: Device,
    spec: &fetch::FetchSpec,
) -> Result<Dataset> {
    let dir = dataset_dir(name, data_dir)?;
    verify::verify_with(name, data_dir, spec)?;
    let data = match name {
        "mnist" | "fashion-mnist" => mnist::load_dir(&dir, name)?,
        "cifar10" => cifar::load_dir(&dir, cifar::Variant::Cifar10)?,
        _ => cifar::load_dir(&dir, cifar::Variant::Cifar100)?,
    };
    Ok(data.to_device(device))
}
