//! `--shard i/N`: a deterministic partition of an experiment's programs into N shards,
//! balanced by estimated cost (FLOPs × iterations); and the order in which `--queue`'s
//! workers take them. Programs stay whole, so members are
//! batched exactly as in one process, and the union of the shards is the experiment.
use super::config::Experiment;
use super::sweep::Group;
use anyhow::{bail, Result};
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 0-based, below `count`.
    pub index: usize,
    pub count: usize,
}

impl FromStr for Shard {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self> {
        let parsed = s
            .split_once('/')
            .and_then(|(i, n)| Some((i.trim().parse().ok()?, n.trim().parse().ok()?)));
        let Some((index, count)) = parsed else {
            bail!("--shard '{s}': write it as i/N, e.g. 0/4 for the first of four shards")
        };
        if count == 0 {
            bail!("--shard {s}: N must be at least 1");
        }
        if index >= count {
            bail!(
                "--shard {s}: the index runs from 0 to {} for {count} shards",
                count - 1
            );
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The shard of each program: longest first, each to the least loaded shard (ties to the
/// lower index), so the result depends on the config and N alone.
pub fn assign(exp: &Experiment, programs: &[Group], count: usize) -> Result<Vec<usize>> {
    if count > programs.len() {
        bail!(
            "{} has {} batched program(s), so at most {} shard(s); set `training.max_members` \
             to split programs into more",
            exp.experiment,
            programs.len(),
            programs.len()
        );
    }
    let cost: Vec<f64> = programs.iter().map(|g| g.cost(exp)).collect();
    Ok(longest_first(&cost, count))
}

/// Every program, costliest first (ties in config order): the order a queue's workers take
/// them in, longest-processing-time-first without a fixed partition.
pub fn costliest_first<'a>(exp: &Experiment, programs: &'a [Group]) -> Vec<&'a Group> {
    let mut order: Vec<&Group> = programs.iter().collect();
    order.sort_by(|a, b| {
        b.cost(exp)
            .total_cmp(&a.cost(exp))
            .then(a.index.cmp(&b.index))
    });
    order
}

/// Longest-processing-time-first: each job, costliest first, to the least loaded of `count`
/// shards (ties to the lower index). Returns each job's shard.
pub fn longest_first(cost: &[f64], count: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..cost.len()).collect();
    order.sort_by(|&a, &b| cost[b].total_cmp(&cost[a]).then(a.cmp(&b)));
    let mut load = vec![0.0f64; count];
    let mut shard_of = vec![0; cost.len()];
    for p in order {
        let lightest = (0..count)
            .min_by(|&a, &b| load[a].total_cmp(&load[b]).then(a.cmp(&b)))
            .expect("count ≥ 1");
        load[lightest] += cost[p];
        shard_of[p] = lightest;
    }
    shard_of
}
