//! Sign symmetry on the fused engine (rules/usf.rs, brsf.rs, frsf.rs): before each step,
//! B^i = s_i · sign(W^i) (usf) or |M^i| ∘ sign(W^i) (brsf: M drawn for this step; frsf: M
//! drawn once), for i = 2..N+1 over the whole augmented matrix, bias row included. sign(0) = 0, as libtorch's.
use super::member::Plan;
use crate::rules::{brsf, usf, Rule};

/// Where B^i's magnitude comes from.
#[derive(Clone, Copy)]
pub enum Magnitude<'a> {
    /// uSF's constant s_i = √(2/(n_{i-1} + n_i)).
    Scale,
    /// frSF's fixed |M^i|: m_abs[i-2], shaped like W^i.
    Fixed(&'a [Vec<f32>]),
    /// brSF's |M^i| of this step, the layers back to back (`magnitudes`).
    Drawn(&'a [f32]),
}

/// b[i-2] = B^i from w[i-1] = W^i, for i = 2..N+1.
pub fn feedback(p: &Plan, w: &[Vec<f32>], magnitude: Magnitude, b: &mut [Vec<f32>]) {
    let mut drawn: &[f32] = match magnitude {
        Magnitude::Drawn(m) => m,
        _ => &[],
    };
    for i in 2..=p.depth() {
        let (w_i, b_i) = (&w[i - 1], &mut b[i - 2]);
        match magnitude {
            Magnitude::Scale => {
                let s = usf::scale(p.sizes[i - 1] as i64, p.sizes[i] as i64) as f32;
                b_i.iter_mut().zip(w_i).for_each(|(b, &w)| *b = sign(w) * s);
            }
            Magnitude::Fixed(m_abs) => times_sign(&m_abs[i - 2], w_i, b_i),
            Magnitude::Drawn(_) => {
                let (m, rest) = drawn.split_at(b_i.len());
                drawn = rest;
                times_sign(m, w_i, b_i);
            }
        }
    }
}

/// b = m ∘ sign(w), element-wise.
fn times_sign(m: &[f32], w: &[f32], b: &mut [f32]) {
    b.iter_mut()
        .zip(m.iter().zip(w))
        .for_each(|(b, (&m, &w))| *b = m * sign(w));
}

/// U[0, 1) draws u → brSF's |M^i| = |a_i (2u − 1)|, a_i = √(6/(n_{i-1} + n_i)), in place; the
/// layers i = 2..N+1 back to back, each (n_{i-1}+1) × n_i (the torch engine's layout).
pub fn magnitudes(p: &Plan, u: &mut [f32]) {
    let mut rest = u;
    for i in 2..=p.depth() {
        let a = brsf::bound(p.sizes[i - 1] as i64, p.sizes[i] as i64) as f32;
        let (layer, tail) =
            std::mem::take(&mut rest).split_at_mut((p.sizes[i - 1] + 1) * p.sizes[i]);
        layer
            .iter_mut()
            .for_each(|u| *u = ((*u * 2.0 - 1.0) * a).abs());
        rest = tail;
    }
}

/// brSF's draws per step: Σ_i (n_{i-1}+1) n_i for i = 2..N+1 (none for the other rules).
pub fn draws_per_step(p: &Plan) -> usize {
    if p.rule != Rule::Brsf {
        return 0;
    }
    (2..=p.depth())
        .map(|i| (p.sizes[i - 1] + 1) * p.sizes[i])
        .sum()
}

/// sign(x) as libtorch's: 0 at ±0 and at NaN (`f32::signum` gives ±1 at ±0 and NaN at NaN).
fn sign(x: f32) -> f32 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::sign;

    #[test]
    fn sign_is_libtorchs_at_zero_and_nan() {
        let xs = [2.5f32, -0.1, 0.0, -0.0, f32::NAN];
        let torch = tch::Tensor::from_slice(&xs).sign();
        let want = Vec::<f32>::try_from(torch).unwrap();
        for (x, w) in xs.iter().zip(want) {
            let got = sign(*x);
            assert!(
                got == w || (got.is_nan() && w.is_nan()),
                "sign({x}) = {got}, not {w}"
            );
        }
    }
}
