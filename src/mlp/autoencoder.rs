//! Fig. 3's autoencoder outputs (docs/REPORTING.md, the format the report reads):
//!
//! - `latent.csv`: `iteration,test_index,label,z1,z2`: the bottleneck code H^b of the whole
//!   test set (b: the narrowest hidden layer, H^2 of 784-200-2-200-784), clean pass, at every
//!   iteration of `training.latent_at` and at the end. A bottleneck of width k writes z1..zk.
//! - `reconstructions.csv`: `test_index,label,source,p0,...,p783`: the first test image of
//!   each digit (`original`) and the network's clean output for it (`reconstruction`), at
//!   the end. The output is clamped to the pixel range [0, 1] (the relu output is unbounded).
//!
//! Both are per member and only for members that did not diverge: a member that diverges
//! leaves neither file at the end (and no `.tmp`; files of an earlier run in its folder are
//! removed). latent.csv is streamed to `latent.csv.tmp` and renamed into place at the end, so
//! a killed run never leaves a file that looks finished.
use super::config::{Experiment, Task};
use super::tasks::TaskData;
use crate::nets::mlp::{aug, Mlp};
use crate::output::{reopen, write_atomic};
use anyhow::{bail, Context, Result};
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use tch::{Kind, Tensor};

/// Test examples per forward chunk (bounds memory at [M, chunk, n_1]).
const CHUNK: i64 = 2048;

/// Paper index b of the bottleneck: the narrowest hidden layer (the first, on a tie).
pub fn bottleneck_layer(sizes: &[i64]) -> Option<usize> {
    let hidden = sizes.get(1..sizes.len().saturating_sub(1))?;
    let (k, _) = hidden.iter().enumerate().min_by_key(|(_, &n)| n)?;
    Some(k + 1)
}

/// H^b of the clean pass: x [M, T, n_0] → [M, T, n_b], computing only the layers up to b.
pub fn encode(net: &Mlp, x: &Tensor, b: usize) -> Tensor {
    let mut h = x.shallow_clone();
    for i in 1..=b {
        h = net.act[i - 1].forward(&aug(&h).bmm(&net.w[i - 1])); // H^i: [M, T, n_i]
    }
    h
}

/// Test indices of the reconstruction grid: the first test image of each label 0..=9
/// (labels that do not occur are skipped), in label order.
pub fn grid_indices(labels: &[i64]) -> Vec<(i64, i64)> {
    (0..10)
        .filter_map(|digit| {
            labels
                .iter()
                .position(|&l| l == digit)
                .map(|i| (i as i64, digit))
        })
        .collect()
}

/// One member's streamed latent.csv.
struct LatentFile {
    path: PathBuf,
    tmp: PathBuf,
    out: csv::Writer<fs::File>,
}

impl LatentFile {
    /// A new latent.csv.tmp with its header; files of an earlier run in the folder go.
    fn create(dir: &Path, width: i64) -> Result<Self> {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join("latent.csv");
        let tmp = dir.join("latent.csv.tmp");
        // Files of an earlier run into the same folder would outlive a member that diverges.
        for stale in [&path, &dir.join("reconstructions.csv")] {
            match fs::remove_file(stale) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(e).with_context(|| format!("removing {}", stale.display()))
                }
                _ => {}
            }
        }
        let file = fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        let mut out = csv::Writer::from_writer(file);
        let mut header = vec!["iteration".to_string(), "test_index".into(), "label".into()];
        header.extend((1..=width).map(|k| format!("z{k}")));
        out.write_record(&header)
            .with_context(|| format!("writing {}", tmp.display()))?;
        Ok(Self { path, tmp, out })
    }

    /// The first `bytes` of an interrupted run's latent file, open for appending.
    fn resume(dir: &Path, bytes: u64) -> Result<Self> {
        let path = dir.join("latent.csv");
        let out = csv::Writer::from_writer(reopen(&path, bytes)?);
        Ok(Self {
            tmp: dir.join("latent.csv.tmp"),
            path,
            out,
        })
    }
}

/// The autoencoder outputs of one group of members.
pub struct Outputs {
    /// Paper index of the bottleneck layer.
    b: usize,
    latent_at: BTreeSet<u64>,
    iterations: u64,
    /// Test labels: [N_test].
    labels: Vec<i64>,
    /// One per member; `None` once the member diverged (its file is removed).
    latent: Vec<Option<LatentFile>>,
    run_dirs: Vec<PathBuf>,
}

impl Outputs {
    /// `None` unless the experiment autoencodes. Opens `latent.csv.tmp` in every run folder:
    /// a new one, or with `resume` (from [`Outputs::save`]) the checkpointed part of the old.
    pub fn new(
        exp: &Experiment,
        sizes: &[i64],
        data: &TaskData,
        run_dirs: &[PathBuf],
        resume: Option<&[Option<u64>]>,
    ) -> Result<Option<Self>> {
        if exp.task != Task::Autoencode {
            return Ok(None);
        }
        let Some(b) = bottleneck_layer(sizes) else {
            bail!("an autoencoder needs a hidden layer to take its latent code from (sizes {sizes:?})");
        };
        let labels = data
            .test_labels
            .as_ref()
            .context("the autoencoder's latent code and reconstructions need test labels")?;
        let labels = Vec::<i64>::try_from(labels.to_kind(Kind::Int64).to_device(tch::Device::Cpu))?;
        let mut latent = Vec::with_capacity(run_dirs.len());
        for (m, dir) in run_dirs.iter().enumerate() {
            let file = match resume {
                Some(saved) => saved[m]
                    .map(|bytes| LatentFile::resume(dir, bytes))
                    .transpose()?,
                None => Some(LatentFile::create(dir, sizes[b])?),
            };
            latent.push(file);
        }
        Ok(Some(Self {
            b,
            latent_at: exp.training.latent_at.iter().copied().collect(),
            iterations: exp.training.iterations,
            labels,
            latent,
            run_dirs: run_dirs.to_vec(),
        }))
    }

    /// Flush every latent file and return its length (None: the member diverged), for a
    /// checkpoint.
    pub fn save(&mut self) -> Result<Vec<Option<u64>>> {
        self.latent
            .iter_mut()
            .map(|file| {
                file.as_mut()
                    .map(|f| -> Result<u64> {
                        f.out.flush()?;
                        Ok(f.out.get_ref().metadata()?.len())
                    })
                    .transpose()
            })
            .collect()
    }

    /// Call once per step, after that step's evaluation and before its update. `alive[m]`:
    /// member m has not diverged. Writes the latent code when `step` is in `latent_at` or is
    /// the last iteration, and forgets (deletes) the files of members that diverged.
    pub fn step(&mut self, net: &Mlp, data: &TaskData, step: u64, alive: &[bool]) -> Result<()> {
        self.drop_diverged(alive);
        if !(self.latent_at.contains(&step) || step == self.iterations) {
            return Ok(());
        }
        if self.latent.iter().all(Option::is_none) {
            return Ok(());
        }
        let z = self.test_codes(net, data)?; // [M, N_test, n_b]
        let (n_test, k) = (z.size()[1] as usize, z.size()[2] as usize);
        let values = Vec::<f32>::try_from(z.reshape([-1]))?;
        for (member, file) in self.latent.iter_mut().enumerate() {
            let Some(file) = file.as_mut() else { continue };
            let base = member * n_test * k;
            for t in 0..n_test {
                let mut row = vec![step.to_string(), t.to_string(), self.labels[t].to_string()];
                let z_t = &values[base + t * k..base + (t + 1) * k];
                row.extend(z_t.iter().map(|v| v.to_string()));
                file.out
                    .write_record(&row)
                    .with_context(|| format!("writing {}", file.tmp.display()))?;
            }
        }
        Ok(())
    }

    /// After training: move each surviving member's latent.csv into place and write its
    /// reconstructions.csv; members that diverged get neither.
    pub fn finish(mut self, net: &Mlp, data: &TaskData, alive: &[bool]) -> Result<()> {
        self.drop_diverged(alive);
        for (dir, file) in self.run_dirs.iter().zip(&self.latent) {
            let tmp = dir.join("latent.csv.tmp");
            if file.is_none() && tmp.exists() {
                fs::remove_file(&tmp).with_context(|| format!("removing {}", tmp.display()))?;
            }
        }
        if self.latent.iter().all(Option::is_none) {
            return Ok(());
        }
        let grid = grid_indices(&self.labels);
        let index = Tensor::from_slice(&grid.iter().map(|g| g.0).collect::<Vec<_>>())
            .to_device(data.test_x.device());
        let x = data.test_x.index_select(0, &index); // [G, n_0]
        let m = net.members();
        let xm = x.unsqueeze(0).expand([m, x.size()[0], x.size()[1]], false);
        let y_hat = net.forward(&xm, None).y_hat().clamp(0.0, 1.0); // [M, G, n_0]
        let originals =
            Vec::<Vec<f32>>::try_from(x.to_kind(Kind::Float).to_device(tch::Device::Cpu))?;
        for (member, file) in self.latent.into_iter().enumerate() {
            let Some(file) = file else { continue };
            let recon = Vec::<Vec<f32>>::try_from(
                y_hat
                    .get(member as i64)
                    .to_kind(Kind::Float)
                    .to_device(tch::Device::Cpu),
            )?;
            write_reconstructions(&self.run_dirs[member], &grid, &originals, &recon)?;
            let mut out = file.out;
            out.flush()
                .with_context(|| format!("writing {}", file.tmp.display()))?;
            fs::rename(&file.tmp, &file.path)
                .with_context(|| format!("renaming {} into place", file.tmp.display()))?;
        }
        Ok(())
    }

    /// Stop writing the latent code of members that diverged. Their files are removed in
    /// `finish`, not here: a checkpoint taken before the divergence still needs them.
    fn drop_diverged(&mut self, alive: &[bool]) {
        for (slot, &ok) in self.latent.iter_mut().zip(alive) {
            if !ok {
                slot.take();
            }
        }
    }

    /// H^b of every test image, clean pass: [M, N_test, n_b] on the CPU.
    fn test_codes(&self, net: &Mlp, data: &TaskData) -> Result<Tensor> {
        let n_test = data.test_x.size()[0];
        if n_test as usize != self.labels.len() {
            bail!(
                "the test set has {n_test} images but {} labels",
                self.labels.len()
            );
        }
        let m = net.members();
        let mut parts = Vec::new();
        let mut start = 0;
        while start < n_test {
            let len = CHUNK.min(n_test - start);
            let x = data.test_x.narrow(0, start, len);
            let xm = x.unsqueeze(0).expand([m, len, x.size()[1]], false);
            parts.push(encode(net, &xm, self.b).to_device(tch::Device::Cpu));
            start += len;
        }
        Ok(Tensor::cat(&parts, 1).to_kind(Kind::Float))
    }
}

/// `reconstructions.csv` of one member: for each grid image, its `original` row, then its
/// `reconstruction` row. grid: (test_index, label); originals, recon: [G][n_0].
fn write_reconstructions(
    run_dir: &Path,
    grid: &[(i64, i64)],
    originals: &[Vec<f32>],
    recon: &[Vec<f32>],
) -> Result<()> {
    let n0 = originals.first().map_or(0, Vec::len);
    let mut out = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["test_index".to_string(), "label".into(), "source".into()];
    header.extend((0..n0).map(|p| format!("p{p}")));
    out.write_record(&header)?;
    for (g, &(index, label)) in grid.iter().enumerate() {
        for (source, pixels) in [("original", &originals[g]), ("reconstruction", &recon[g])] {
            let mut row = vec![index.to_string(), label.to_string(), source.to_string()];
            row.extend(pixels.iter().map(|v| v.to_string()));
            out.write_record(&row)?;
        }
    }
    let bytes = out.into_inner().context("finishing reconstructions.csv")?;
    write_atomic(&run_dir.join("reconstructions.csv"), &bytes)
}
