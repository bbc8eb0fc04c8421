//! The data an MLP experiment trains on, on the device: inputs, targets and labels.
use super::config::{Experiment, Task};
use crate::rng::{randn, Stream};
use anyhow::{bail, Result};
use std::path::Path;
use tch::{Device, Kind, Tensor};

pub struct TaskData {
    /// [N, n_0]
    pub train_x: Tensor,
    /// [N, n_{N+1}]; None when the target is the input (autoencoder).
    pub train_y: Option<Tensor>,
    /// [N_test, n_0]
    pub test_x: Tensor,
    /// [N_test, n_{N+1}]; None for the autoencoder.
    pub test_y: Option<Tensor>,
    /// [N_test] class labels, where the data have them.
    pub test_labels: Option<Tensor>,
    /// The validation set held out of the training file (`data.validation`).
    pub val: Option<Split>,
}

/// A held-out set: inputs, targets (None for the autoencoder) and class labels.
pub struct Split {
    pub x: Tensor,
    pub y: Option<Tensor>,
    pub labels: Tensor,
}

impl TaskData {
    pub fn train_len(&self) -> i64 {
        self.train_x.size()[0]
    }

    /// Targets for a batch of inputs `x` gathered with `idx` from the training set.
    pub fn train_targets(&self, idx: &Tensor, x: &Tensor) -> Tensor {
        match &self.train_y {
            Some(y) => y
                .index_select(0, &idx.reshape([-1]))
                .view([x.size()[0], x.size()[1], -1]),
            None => x.shallow_clone(),
        }
    }
}

pub fn load(exp: &Experiment, data_dir: &Path, device: Device) -> Result<TaskData> {
    let n0 = exp.network.sizes[0];
    let n_out = *exp.network.sizes.last().expect("validated");
    let (train_x, train_labels, test_x, test_labels) = match exp.data.dataset.as_str() {
        "mnist" | "fashion-mnist" | "cifar10" => images(exp, data_dir)?,
        // The generated training file holds the validation images too, so that train_size
        // still counts the training images.
        "synthetic-mnist" => synthetic_mnist(
            exp.data.seed,
            exp.data.train_size.unwrap_or(2000) + exp.data.validation.unwrap_or(0),
            exp.data.test_size.unwrap_or(500),
            false,
        ),
        "synthetic-mnist-sparse" => synthetic_mnist(
            exp.data.seed,
            exp.data.train_size.unwrap_or(2000) + exp.data.validation.unwrap_or(0),
            exp.data.test_size.unwrap_or(500),
            true,
        ),
        "gaussian" => return teacher(exp, n0, n_out, device),
        other => bail!("data.dataset '{other}' is unknown"),
    };
    if train_x.size()[1] != n0 {
        bail!(
            "network.sizes[0] is {n0} but {} images have {} pixels",
            exp.data.dataset,
            train_x.size()[1]
        );
    }
    let (train_x, train_labels, val) = hold_out(train_x, train_labels, &exp.data)?;
    let train_x = take(&train_x, exp.data.train_size, "data.train_size")?;
    let train_labels = take(&train_labels, exp.data.train_size, "data.train_size")?;
    let test_x = take(&test_x, exp.data.test_size, "data.test_size")?;
    let test_labels = take(&test_labels, exp.data.test_size, "data.test_size")?;
    let (train_y, test_y) = match exp.task {
        Task::Classify => {
            if n_out != 10 {
                bail!(
                    "network.sizes ends in {n_out}, but classification of {} has 10 classes",
                    exp.data.dataset
                );
            }
            (
                Some(one_hot(&train_labels, n_out)),
                Some(one_hot(&test_labels, n_out)),
            )
        }
        Task::Autoencode => (None, None),
        Task::Teacher => bail!("task: teacher needs data.dataset: gaussian"),
    };
    let val = val.map(|(x, labels)| Split {
        y: (exp.task == Task::Classify).then(|| one_hot(&labels, n_out).to_device(device)),
        x: x.to_device(device),
        labels: labels.to_device(device),
    });
    Ok(TaskData {
        train_x: train_x.to_device(device),
        train_y: train_y.map(|y| y.to_device(device)),
        test_x: test_x.to_device(device),
        test_y: test_y.map(|y| y.to_device(device)),
        test_labels: Some(test_labels.to_device(device)),
        val,
    })
}

/// Split `data.validation` images off the training file (its first or last ones): the
/// training images and labels that remain, and the validation set.
#[allow(clippy::type_complexity)]
pub fn hold_out(
    x: Tensor,
    labels: Tensor,
    spec: &super::config::DataSpec,
) -> Result<(Tensor, Tensor, Option<(Tensor, Tensor)>)> {
    let Some(n) = spec.validation else {
        return Ok((x, labels, None));
    };
    let (have, n) = (x.size()[0], n as i64);
    if n >= have {
        bail!("data.validation is {n}, but the training file holds {have} images: nothing would be left to train on");
    }
    let (val_at, train_at) = match spec.holdout {
        super::config::Holdout::First => (0, n),
        super::config::Holdout::Last => (have - n, 0),
    };
    Ok((
        x.narrow(0, train_at, have - n),
        labels.narrow(0, train_at, have - n),
        Some((x.narrow(0, val_at, n), labels.narrow(0, val_at, n))),
    ))
}

fn take(t: &Tensor, n: Option<usize>, field: &str) -> Result<Tensor> {
    let have = t.size()[0];
    match n {
        None => Ok(t.shallow_clone()),
        Some(n) if n as i64 <= have && n > 0 => Ok(t.narrow(0, 0, n as i64)),
        Some(n) => bail!("{field} is {n}, but the data hold {have} examples"),
    }
}

fn one_hot(labels: &Tensor, classes: i64) -> Tensor {
    labels.one_hot(classes).to_kind(Kind::Float)
}

/// MNIST-format images from the data folder (md5-verified IDX): [N, 784] in [0, 1], labels [N].
/// A data set of images, each flattened to one row of pixels in [0, 1] (CIFAR-10's
/// [3, 32, 32] planes R, G, B to 3072 values, as Akrout et al.'s MLP benchmark).
fn images(exp: &Experiment, data_dir: &Path) -> Result<(Tensor, Tensor, Tensor, Tensor)> {
    let ds = crate::data::load(&exp.data.dataset, data_dir, Device::Cpu)?;
    let rows = |x: Tensor| x.flatten(1, -1);
    Ok((rows(ds.train_x), ds.train_y, rows(ds.test_x), ds.test_y))
}

/// Learnable MNIST-shaped data for tests and benchmarks (see data::synthetic).
fn synthetic_mnist(
    seed: u64,
    n_train: usize,
    n_test: usize,
    sparse: bool,
) -> (Tensor, Tensor, Tensor, Tensor) {
    let ds = if sparse {
        crate::data::synthetic::mnist_like_sparse(n_train, n_test, seed)
    } else {
        crate::data::synthetic::mnist_like(n_train, n_test, seed)
    };
    (ds.train_x, ds.train_y, ds.test_x, ds.test_y)
}

/// Gaussian inputs x ~ N(0, I) and a fixed random linear teacher y = x T, T ~ N(0, 1/n_0).
fn teacher(exp: &Experiment, n0: i64, n_out: i64, device: Device) -> Result<TaskData> {
    let seed = exp.data.seed;
    let n_train = exp.data.train_size.unwrap_or(10_000) as i64;
    let n_test = exp.data.test_size.unwrap_or(2_000) as i64;
    let t = randn(seed, Stream::Teacher, 0, &[n0, n_out], device) / (n0 as f64).sqrt();
    let train_x = randn(seed, Stream::Teacher, 1, &[n_train, n0], device);
    let test_x = randn(seed, Stream::Teacher, 2, &[n_test, n0], device);
    Ok(TaskData {
        train_y: Some(train_x.matmul(&t)),
        test_y: Some(test_x.matmul(&t)),
        train_x,
        test_x,
        test_labels: None,
        val: None,
    })
}
