//! MNIST and Fashion-MNIST from IDX files, plain or gzipped (`NAME` or `NAME.gz`).
//!
//! Our own small reader rather than `tch::vision::mnist::load_dir`: that one reads plain
//! files only and does not check that the file length matches its header or that images
//! and labels agree in number. Both data sets share the file names and the format.
use super::Dataset;
use anyhow::{bail, ensure, Context, Result};
use flate2::read::GzDecoder;
use std::io::Read;
use std::path::{Path, PathBuf};
use tch::{Kind, Tensor};

/// The four IDX files, in the order train images, train labels, test images, test labels.
pub const FILES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

const ROWS: usize = 28;
const COLS: usize = 28;

/// The path of `name` in `dir`: the plain file if present, else `name.gz`, else `None`.
pub fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    let plain = dir.join(name);
    let gz = dir.join(format!("{name}.gz"));
    [plain, gz].into_iter().find(|p| p.is_file())
}

/// The uncompressed bytes of IDX file `name` in `dir` (gunzipped when it ends in `.gz`).
pub fn read_bytes(dir: &Path, name: &str, dataset: &str) -> Result<(PathBuf, Vec<u8>)> {
    let Some(path) = find_file(dir, name) else {
        bail!(
            "{} (or {name}.gz) is missing. Run `credit data fetch {dataset}`, or put the four \
             IDX files ({}) in {}.",
            dir.join(name).display(),
            FILES.join(", "),
            dir.display()
        );
    };
    let raw = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    if path.extension().is_some_and(|e| e == "gz") {
        let mut bytes = Vec::new();
        GzDecoder::new(&raw[..])
            .read_to_end(&mut bytes)
            .map_err(|e| {
                anyhow::anyhow!(
                    "{} is not a complete gzip file ({e}): it is truncated or corrupt. Delete \
                     it and run `credit data fetch {dataset}`.",
                    path.display()
                )
            })?;
        Ok((path, bytes))
    } else {
        Ok((path, raw))
    }
}

/// Parse an unsigned-byte IDX file with `ndims` dimensions; returns (dims, payload).
fn parse_idx<'a>(
    bytes: &'a [u8],
    ndims: usize,
    path: &Path,
    dataset: &str,
) -> Result<(Vec<usize>, &'a [u8])> {
    let fix = format!("Delete it and run `credit data fetch {dataset}`.");
    let magic = [0u8, 0, 0x08, ndims as u8];
    ensure!(
        bytes.len() < 4 || bytes[..4] == magic,
        "{} does not start with the IDX magic number {:02x?} of a {ndims}-dimensional \
         unsigned-byte file (found {:02x?}): it is not the expected IDX file or is corrupt. {fix}",
        path.display(),
        magic,
        &bytes[..4]
    );
    let header = 4 + 4 * ndims;
    ensure!(
        bytes.len() >= header,
        "{} holds {} bytes, fewer than an IDX header ({header} bytes): it is truncated. {fix}",
        path.display(),
        bytes.len()
    );
    let dims: Vec<usize> = (0..ndims)
        .map(|i| u32::from_be_bytes(bytes[4 + 4 * i..8 + 4 * i].try_into().unwrap()) as usize)
        .collect();
    let want = header + dims.iter().product::<usize>();
    ensure!(
        bytes.len() == want,
        "{}: its header promises dimensions {dims:?} ({want} bytes) but the file holds {} \
         bytes: it is truncated or corrupt. {fix}",
        path.display(),
        bytes.len()
    );
    Ok((dims, &bytes[header..]))
}

/// Images `[N, 784]` float32 in [0, 1] and labels `[N]` int64 from one images/labels pair.
fn load_pair(dir: &Path, images: &str, labels: &str, dataset: &str) -> Result<(Tensor, Tensor)> {
    let (img_path, img_bytes) = read_bytes(dir, images, dataset)?;
    let (dims, pixels) = parse_idx(&img_bytes, 3, &img_path, dataset)?;
    ensure!(
        dims[1] == ROWS && dims[2] == COLS,
        "{} holds {}×{} images; {dataset} images are 28×28. Delete it and run `credit data \
         fetch {dataset}`.",
        img_path.display(),
        dims[1],
        dims[2]
    );
    let (lab_path, lab_bytes) = read_bytes(dir, labels, dataset)?;
    let (ldims, y) = parse_idx(&lab_bytes, 1, &lab_path, dataset)?;
    ensure!(
        ldims[0] == dims[0],
        "{} holds {} labels but {} holds {} images: the files come from different sets. \
         Delete both and run `credit data fetch {dataset}`.",
        lab_path.display(),
        ldims[0],
        img_path.display(),
        dims[0]
    );
    if let Some(bad) = y.iter().find(|&&l| l >= 10) {
        bail!(
            "{} holds label {bad}; labels must be 0..9. Delete it and run `credit data fetch \
             {dataset}`.",
            lab_path.display()
        );
    }
    let n = dims[0] as i64;
    let x = Tensor::from_slice(pixels)
        .view([n, (ROWS * COLS) as i64])
        .to_kind(Kind::Float)
        / 255.0; // [N, 784]
    let y = Tensor::from_slice(y).to_kind(Kind::Int64); // [N]
    Ok((x, y))
}

/// Load MNIST or Fashion-MNIST (`dataset` names it in error messages) from `dir`, on CPU.
pub fn load_dir(dir: &Path, dataset: &str) -> Result<Dataset> {
    let (train_x, train_y) = load_pair(dir, FILES[0], FILES[1], dataset)?;
    let (test_x, test_y) = load_pair(dir, FILES[2], FILES[3], dataset)?;
    Ok(Dataset {
        train_x,
        train_y,
        test_x,
        test_y,
        classes: 10,
    })
}
