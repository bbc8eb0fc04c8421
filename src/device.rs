//! `--device auto|cpu|cuda|cuda:N` → a tch Device, with a clear error when CUDA is absent.
//!
//! The binary links libtorch_cpu only (the linker drops libtorch_cuda as unused), so CPU runs
//! do not pay for loading the CUDA libraries. A CUDA device loads libtorch_cuda at run time.
use anyhow::{bail, Result};
use std::sync::atomic::{AtomicI32, Ordering};
use tch::Device;

/// Threads asked for with --threads (0: choose per program).
static USER_THREADS: AtomicI32 = AtomicI32::new(0);

/// Fix libtorch's CPU threads for the whole process (the --threads option).
pub fn set_threads(n: i32) {
    USER_THREADS.store(n, Ordering::Relaxed);
    tch::set_num_threads(n);
}

/// Below this much work per step, one CPU thread beats several: libtorch's parallel regions
/// cost more than they save (measured in docs/PERFORMANCE.md: 3.4× at M = 1 on fig2).
const PARALLEL_FLOPS: f64 = 40e6;

/// Choose libtorch's CPU threads for a program doing `flops_per_step`, unless --threads fixed
/// them: one thread for small programs, one per core for large ones.
pub fn threads_for(device: Device, flops_per_step: f64) {
    if device != Device::Cpu || USER_THREADS.load(Ordering::Relaxed) > 0 {
        return;
    }
    let cores = std::thread::available_parallelism()
        .map(|n| n.get() as i32)
        .unwrap_or(1);
    tch::set_num_threads(if flops_per_step < PARALLEL_FLOPS {
        1
    } else {
        cores
    });
}

/// Threads for the fused engine's program of `members` runs: --threads if given, else one
/// per core, never more than the members (each member stays on one thread).
pub fn cpu_threads_for(members: usize) -> usize {
    let user = USER_THREADS.load(Ordering::Relaxed);
    let want = if user > 0 {
        user as usize
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    };
    want.clamp(1, members.max(1))
}

pub fn parse_device(s: &str) -> Result<Device> {
    let s = s.trim();
    match s {
        "auto" => Ok(
            if nvidia_driver_present() && load_cuda() && tch::Cuda::is_available() {
                Device::Cuda(0)
            } else {
                Device::Cpu
            },
        ),
        "cpu" => Ok(Device::Cpu),
        "cuda" => cuda(0),
        _ => match s.strip_prefix("cuda:").map(str::parse::<usize>) {
            Some(Ok(n)) => cuda(n),
            _ => bail!("--device '{s}' is not understood: use auto, cpu, cuda or cuda:N"),
        },
    }
}

fn cuda(n: usize) -> Result<Device> {
    if let Err(why) = load_cuda_or_why() {
        bail!(
            "--device cuda:{n}: no CUDA: libtorch_cuda.so could not be loaded ({why}). This \
             libtorch has no CUDA, or its CUDA libraries are missing (on a GPU machine, point \
             LD_LIBRARY_PATH at a CUDA torch's lib folder). Use --device cpu"
        );
    }
    let count = tch::Cuda::device_count().max(0) as usize;
    if count == 0 {
        if nvidia_driver_present() {
            bail!(
                "--device cuda:{n}: no CUDA device found (the NVIDIA driver is there but \
                 libtorch sees no GPU: check nvidia-smi and CUDA_VISIBLE_DEVICES). Use --device \
                 cpu"
            );
        }
        bail!(
            "--device cuda:{n}: no CUDA device found (no NVIDIA driver on this machine). Use \
             --device cpu"
        );
    }
    if n >= count {
        bail!(
            "--device cuda:{n}: libtorch sees {count} CUDA device(s), cuda:0 to cuda:{}; use \
             one of them or --device cpu",
            count - 1
        );
    }
    Ok(Device::Cuda(n))
}

/// dlopen libtorch_cuda.so (found through the binary's rpath or LD_LIBRARY_PATH) so its
/// CUDA hooks register.
fn load_cuda() -> bool {
    load_cuda_or_why().is_ok()
}

/// [`load_cuda`], with dlerror's reason when it fails.
fn load_cuda_or_why() -> std::result::Result<(), String> {
    let name = c"libtorch_cuda.so";
    // SAFETY: dlopen with a valid NUL-terminated name; the handle is intentionally leaked so
    // the library stays loaded for the life of the process. dlerror returns NULL or a valid
    // C string, copied before any other dl call.
    unsafe {
        let handle = libc::dlopen(name.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL);
        if !handle.is_null() {
            return Ok(());
        }
        let err = libc::dlerror();
        if err.is_null() {
            Err("dlopen failed".into())
        } else {
            Err(std::ffi::CStr::from_ptr(err).to_string_lossy().into_owned())
        }
    }
}

/// Loading the CUDA libraries costs seconds; skip it where no NVIDIA driver is installed.
fn nvidia_driver_present() -> bool {
    std::path::Path::new("/proc/driver/nvidia/version").exists()
        || std::path::Path::new("/dev/nvidiactl").exists()
}

/// Wait for queued work on a CUDA device (a no-op on the CPU), before reading a clock.
pub fn synchronize(device: Device) {
    if let Device::Cuda(i) = device {
        tch::Cuda::synchronize(i as i64);
    }
}

/// A device as summary.csv names it: `cpu`, `cuda:0`.
pub fn name(device: Device) -> String {
    match device {
        Device::Cuda(i) => format!("cuda:{i}"),
        Device::Mps => "mps".into(),
        Device::Vulkan => "vulkan".into(),
        Device::Cpu => "cpu".into(),
    }
}
