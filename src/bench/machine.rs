//! What machine, and in what state, a measurement came from: the CPU's name, the kernel tier the
//! runtime picked, and the load average (a busy shared host slows every figure).

use serde::Serialize;

/// The machine a measurement ran on.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Machine {
    /// The CPU's model name (`/proc/cpuinfo`), or the architecture when it is not known.
    pub cpu: String,
    /// Logical CPUs this process may run on.
    pub logical_cpus: usize,
    /// The kernel tier in use (`RETORT_CPU_TIER` may cap it).
    pub tier: String,
    /// One-minute load average when the reading was taken (`None` without `/proc/loadavg`).
    pub load_avg_1m: Option<f64>,
}

impl Machine {
    /// Reads the machine's description now.
    pub fn now() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let loadavg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        Machine {
            cpu: cpu_name(&cpuinfo).unwrap_or_else(|| std::env::consts::ARCH.to_owned()),
            logical_cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            tier: retort_kernels::ops::active_tier().name().to_owned(),
            load_avg_1m: loadavg
                .split_whitespace()
                .next()
                .and_then(|w| w.parse().ok()),
        }
    }
}

/// The first `model name` (x86) or `Model` (some ARM kernels) line of a cpuinfo text.
fn cpu_name(cpuinfo: &str) -> Option<String> {
    cpuinfo.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        let key = key.trim();
        (key == "model name" || key == "Model")
            .then(|| value.trim().to_owned())
            .filter(|v| !v.is_empty())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_names_from_x86_and_arm_cpuinfo() {
        let x86 = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B12\n";
        assert_eq!(cpu_name(x86).as_deref(), Some("AMD EPYC 7B12"));
        let arm = "processor\t: 0\nBogoMIPS\t: 108.00\n\nHardware\t: BCM2835\nModel\t\t: Raspberry Pi 5 Model B Rev 1.0\n";
        assert_eq!(
            cpu_name(arm).as_deref(),
            Some("Raspberry Pi 5 Model B Rev 1.0")
        );
        assert_eq!(cpu_name("processor : 0\n"), None);
    }

    #[test]
    fn this_machine_is_described() {
        let m = Machine::now();
        assert!(m.logical_cpus >= 1);
        assert!(!m.cpu.is_empty() && !m.tier.is_empty());
    }
}
