//! The per-step inputs of a batched program that are functions of (seed, step) alone: each
//! member's data order and its noise. Nothing here is state a checkpoint must keep.
use crate::rng::{derive, NoiseStream, SplitMix64, Stream};
use tch::{Device, Tensor};

/// Each member's own data order: a fresh permutation of the training set every epoch.
pub struct DataOrder {
    seeds: Vec<u64>,
    n: i64,
    batch: i64,
    device: Device,
    epoch: Option<(u64, Tensor)>, // (epoch, [M, N])
}

impl DataOrder {
    pub fn new(seeds: &[u64], n: i64, batch: i64, device: Device) -> Self {
        Self {
            seeds: seeds.to_vec(),
            n,
            batch,
            device,
            epoch: None,
        }
    }

    fn steps_per_epoch(&self) -> u64 {
        (self.n / self.batch) as u64
    }

    /// Indices of step `step`'s batch: [M, T].
    pub fn batch(&mut self, step: u64) -> Tensor {
        let epoch = step / self.steps_per_epoch();
        if self.epoch.as_ref().map(|(e, _)| *e) != Some(epoch) {
            let mut all = Vec::with_capacity(self.seeds.len() * self.n as usize);
            for &s in &self.seeds {
                all.extend(epoch_permutation(s, self.n as usize, epoch));
            }
            let perm = Tensor::from_slice(&all)
                .view([self.seeds.len() as i64, self.n])
                .to_device(self.device);
            self.epoch = Some((epoch, perm));
        }
        let (_, perm) = self.epoch.as_ref().expect("filled above");
        let pos = (step % self.steps_per_epoch()) as i64 * self.batch;
        perm.narrow(1, pos, self.batch)
    }
}

/// A member's order of the n training examples in `epoch` (both engines use it).
pub fn epoch_permutation(seed: u64, n: usize, epoch: u64) -> Vec<i64> {
    SplitMix64::new(derive(seed, Stream::DataOrder, epoch)).permutation(n)
}

/// Hidden-layer noise Ξ^i = σ · (unit normals), one draw per sample per step, laid out as
/// [M, Σ_i T·c_i] and cut per layer into [M, T, n_i+1] (the bias column is zero when the
/// bias unit is not perturbed).
pub struct HiddenNoise {
    stream: NoiseStream,
    cols: Vec<i64>,
    batch: i64,
    perturb_bias: bool,
}

impl HiddenNoise {
    pub fn new(
        seeds: &[u64],
        stream: Stream,
        sizes: &[i64],
        batch: i64,
        perturb_bias: bool,
        device: Device,
    ) -> Self {
        let cols: Vec<i64> = sizes[1..sizes.len() - 1]
            .iter()
            .map(|n| n + perturb_bias as i64)
            .collect();
        let per_step = cols.iter().sum::<i64>() * batch;
        Self {
            stream: NoiseStream::new(seeds, stream, per_step, device),
            cols,
            batch,
            perturb_bias,
        }
    }

    /// xi[i-1] = Ξ^i: [M, T, n_i+1], for hidden layers i = 1..N. std: [M, 1, 1].
    pub fn at(&mut self, step: u64, std: &Tensor) -> Vec<Option<Tensor>> {
        let z = self.stream.at(step);
        let m = z.size()[0];
        let mut offset = 0;
        self.cols
            .iter()
            .map(|&c| {
                let len = self.batch * c;
                let mut xi = z.narrow(1, offset, len).view([m, self.batch, c]) * std;
                offset += len;
                if !self.perturb_bias {
                    xi = xi.pad([0, 1], "constant", 0.0);
                }
                Some(xi)
            })
            .collect()
    }
}

/// One value per member, as a [M, 1, 1] tensor for broadcasting.
pub fn per_member(values: impl Iterator<Item = f64>, device: Device) -> Tensor {
    let v: Vec<f32> = values.map(|x| x as f32).collect();
    Tensor::from_slice(&v).view([-1, 1, 1]).to_device(device)
}
