//! `log` records to Envoy's log through the ABI, ignoring a refused write (the SDK's
//! logger unwraps it). A panic — which should never happen — is logged before the VM
//! traps, so the operator sees where (`failure_policy` then reloads the VM).

use crate::abi;

struct HostLogger;

static LOGGER: HostLogger = HostLogger;

/// ABI log levels.
const TRACE: u32 = 0;
const DEBUG: u32 = 1;
const INFO: u32 = 2;
const WARN: u32 = 3;
const ERROR: u32 = 4;
const CRITICAL: u32 = 5;

pub fn install(level: log::LevelFilter) {
    // Fails only if a logger is already set (a second `_initialize`): keep that one.
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(level);
    std::panic::set_hook(Box::new(|info| {
        abi::log(CRITICAL, &format!("meshgate: filter panicked: {info}"));
    }));
}

impl log::Log for HostLogger {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let level = match record.level() {
            log::Level::Trace => TRACE,
            log::Level::Debug => DEBUG,
            log::Level::Info => INFO,
            log::Level::Warn => WARN,
            log::Level::Error => ERROR,
        };
        abi::log(level, &record.args().to_string());
    }

    fn flush(&self) {}
}
