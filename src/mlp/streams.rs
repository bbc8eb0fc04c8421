//! The per-step inputs of a batched program that are functions of (seed, step) alone: each
//! member's data order and its noise. Nothing here is state a checkpoint must keep.
use crate::rng::{derive, NoiseStream, SplitMix64, Stream};
use serde::{Deserialize, Serialize};
use tch::{Device, Tensor};

/// How a member's batches walk the training set (`training.data_order`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataOrderKind {
    /// Each epoch a fresh permutation cut into ⌊n/T⌋ batches; its last n mod T examples
    /// are left out.
    #[default]
    Epochs,
    /// The epochs' permutations one after another, cut into batches with none left out: a
    /// batch may end one permutation and start the next, as TF's `next_batch` (the
    /// authors' code) does.
    Stream,
}

impl DataOrderKind {
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// One member's data order: the rows of the training set in each step's batch, a function
/// of (seed, step) alone. Both engines use it.
pub struct MemberOrder {
    kind: DataOrderKind,
    seed: u64,
    n: usize,
    batch: usize,
    /// The permutations of the (at most two) epochs the last batch touched.
    perms: Vec<(u64, Vec<i64>)>,
    rows: Vec<i64>,
}

impl MemberOrder {
    pub fn new(kind: DataOrderKind, seed: u64, n: usize, batch: usize) -> Self {
        Self {
            kind,
            seed,
            n,
            batch,
            perms: Vec::new(),
            rows: Vec::with_capacity(batch),
        }
    }

    /// The rows of step `step`'s batch: [T].
    pub fn rows(&mut self, step: u64) -> &[i64] {
        let (n, t) = (self.n, self.batch);
        let (epoch, start) = match self.kind {
            DataOrderKind::Epochs => {
                let per_epoch = (n / t) as u64;
                (step / per_epoch, (step % per_epoch) as usize * t)
            }
            DataOrderKind::Stream => {
                let pos = step * t as u64;
                (pos / n as u64, (pos % n as u64) as usize)
            }
        };
        let head = t.min(n - start);
        self.rows.clear();
        let k = self.cached(epoch);
        self.rows
            .extend_from_slice(&self.perms[k].1[start..start + head]);
        if head < t {
            let k = self.cached(epoch + 1);
            self.rows.extend_from_slice(&self.perms[k].1[..t - head]);
        }
        &self.rows
    }

    /// The index in `perms` of `epoch`'s permutation, drawn if it is not there (the older
    /// ones are dropped: batches only move forward).
    fn cached(&mut self, epoch: u64) -> usize {
        if let Some(k) = self.perms.iter().position(|(e, _)| *e == epoch) {
            return k;
        }
        self.perms.retain(|(e, _)| *e + 1 >= epoch);
        (self.perms).push((epoch, epoch_permutation(self.seed, self.n, epoch)));
        self.perms.len() - 1
    }
}

/// Steps of indices moved to the device at once: one copy per block, not per step.
const BLOCK: u64 = 64;

/// Every member's data order, as index tensors on the device.
pub struct DataOrder {
    members: Vec<MemberOrder>,
    device: Device,
    /// The block of steps holding the last batch: (its first step, [M, BLOCK, T]).
    block: Option<(u64, Tensor)>,
}

impl DataOrder {
    pub fn new(kind: DataOrderKind, seeds: &[u64], n: i64, batch: i64, device: Device) -> Self {
        let members = (seeds.iter())
            .map(|&s| MemberOrder::new(kind, s, n as usize, batch as usize))
            .collect();
        Self {
            members,
            device,
            block: None,
        }
    }

    /// Indices of step `step`'s batch: [M, T].
    pub fn batch(&mut self, step: u64) -> Tensor {
        let first = step - step % BLOCK;
        if self.block.as_ref().map(|(f, _)| *f) != Some(first) {
            let m = self.members.len() as i64;
            let mut all = Vec::new();
            for o in self.members.iter_mut() {
                (first..first + BLOCK).for_each(|k| all.extend_from_slice(o.rows(k)));
            }
            let block = Tensor::from_slice(&all).view([m, BLOCK as i64, -1]);
            self.block = Some((first, block.to_device(self.device)));
        }
        let (_, block) = self.block.as_ref().expect("filled above");
        block.select(1, (step - first) as i64)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_order_cuts_each_permutation_and_leaves_out_its_tail() {
        let (seed, n, t) = (5, 10, 4); // 2 batches per epoch, 2 examples left out
        let mut o = MemberOrder::new(DataOrderKind::Epochs, seed, n, t);
        let (p0, p1) = (epoch_permutation(seed, n, 0), epoch_permutation(seed, n, 1));
        assert_eq!(o.rows(0), &p0[0..4]);
        assert_eq!(o.rows(1), &p0[4..8]);
        assert_eq!(o.rows(2), &p1[0..4], "step 2 starts epoch 1");
        assert_eq!(o.rows(3), &p1[4..8]);
    }

    #[test]
    fn stream_order_is_the_permutations_end_to_end_as_tf_next_batch() {
        let (seed, n, t) = (9, 10, 4);
        let mut o = MemberOrder::new(DataOrderKind::Stream, seed, n, t);
        let stream: Vec<i64> = (0..4).flat_map(|e| epoch_permutation(seed, n, e)).collect();
        let got: Vec<i64> = (0..10).flat_map(|k| o.rows(k).to_vec()).collect();
        assert_eq!(
            got,
            stream[..40],
            "steps 0..10 are the first 40 of the stream"
        );
        // Step 2 takes the last 2 of epoch 0 and the first 2 of epoch 1.
        let mut fresh = MemberOrder::new(DataOrderKind::Stream, seed, n, t);
        assert_eq!(
            fresh.rows(2),
            &stream[8..12],
            "a resumed order needs no earlier step"
        );
        // Every example once per epoch: none is left out.
        let mut seen: Vec<i64> = got[..n].to_vec();
        seen.sort();
        assert_eq!(seen, (0..n as i64).collect::<Vec<_>>());
    }
}
