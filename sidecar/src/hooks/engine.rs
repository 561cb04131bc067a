//! The wasmtime side of hooks: one engine per process, modules compiled once (cached by
//! the SHA-256 of their bytes, so reloading a document or the database does not
//! recompile), and one invocation = a fresh instance from a pre-linked
//! [`InstancePre`] in a store of its own with the hook's fuel and memory limits.
//!
//! A fresh instance per call (no pool of live instances) means nothing a hook keeps in
//! its memory survives into another principal's call; instantiating from an
//! `InstancePre` into a slot of wasmtime's pooling allocator costs a few microseconds
//! (docs/benchmarks.md, "Custom hooks").
//!
//! Hooks get no host functions: every import a module declares (WASI's, AssemblyScript's
//! `env.abort`) links to a function that traps when called. So a hook cannot block, do
//! I/O or reach the gateway; fuel bounds how long it runs, the limiter how much memory
//! it takes.

use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use wasmtime::{
    Config, Enabled, Engine, Extern, InstanceAllocationStrategy, InstancePre, Linker, Module,
    ModuleExport, PoolingAllocationConfig, ResourceLimiter, Store, Trap, Val, ValType,
};

use super::abi::ABI_VERSION;
use super::error::{HookFault, LoadError};
use meshgate_policy::hooks::{HookEvent, MAX_MEMORY_BYTES};

/// The exports of ABI v1 (docs/hooks.md).
const MEMORY: &str = "memory";
const ALLOC: &str = "alloc";
const ABI_EXPORT: &str = "meshgate_hook_abi_version";
/// WASI reactors (e.g. Rust `cdylib`s for wasm32-wasip1) initialise through it.
const INITIALIZE: &str = "_initialize";
/// Largest answer read back from a guest.
const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;
/// Most table elements a hook may grow its tables to.
const MAX_TABLE_ELEMENTS: usize = 100_000;
/// Instances that can exist at once (the pooling allocator's slots).
const POOL_SLOTS: u32 = 128;
/// Bytes of each slot's memory kept resident between instances: a released slot's dirty
/// pages within it are reset in place (found with Linux's PAGEMAP_SCAN where the kernel
/// has it, ≥ 6.7) instead of being unmapped and faulted in again by the next call.
const KEEP_RESIDENT_BYTES: usize = 1024 * 1024;
/// Fuel a module gets to answer `meshgate_hook_abi_version` at load.
const LOAD_FUEL: u64 = 10_000_000;

/// The process's hook engine and its compiled-module cache.
pub struct HookEngine {
    engine: Engine,
    cache: Mutex<HashMap<[u8; 32], Arc<Compiled>>>,
}

/// One module, compiled and linked, with its exports looked up once.
pub struct Compiled {
    pre: InstancePre<Limits>,
    memory: ModuleExport,
    alloc: ModuleExport,
    initialize: Option<ModuleExport>,
    pre_call: Option<ModuleExport>,
    post_call: Option<ModuleExport>,
}

/// A store's data: the memory limit and whether it was hit.
pub struct Limits {
    max_memory: usize,
    hit_memory_limit: bool,
}

impl ResourceLimiter for Limits {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_memory {
            // An error (not `false`) traps at the `memory.grow`, so the failure is named
            // for what it is instead of whatever the guest does with a failed grow.
            self.hit_memory_limit = true;
            return Err(wasmtime::format_err!("memory limit reached"));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

impl HookEngine {
    /// The process's engine (made on first use, so a gateway without hooks never
    /// builds one).
    pub fn shared() -> Result<Arc<HookEngine>, String> {
        static SHARED: std::sync::OnceLock<Result<Arc<HookEngine>, String>> =
            std::sync::OnceLock::new();
        SHARED
            .get_or_init(|| HookEngine::new().map(Arc::new))
            .clone()
    }

    fn new() -> Result<HookEngine, String> {
        let mut config = Config::new();
        config.consume_fuel(true);
        // Instances come from a pool of pre-reserved slots (memories reset on release):
        // half the cost of mapping a fresh memory per call (docs/benchmarks.md). At most
        // POOL_SLOTS hooks run at once — more than the threads that can run one.
        let mut pool = PoolingAllocationConfig::default();
        pool.total_core_instances(POOL_SLOTS)
            .total_memories(POOL_SLOTS)
            .total_tables(POOL_SLOTS)
            .max_memory_size(usize::try_from(MAX_MEMORY_BYTES).unwrap_or(usize::MAX))
            .linear_memory_keep_resident(KEEP_RESIDENT_BYTES)
            .table_keep_resident(64 * 1024)
            .pagemap_scan(Enabled::Auto);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&config).map_err(|e| format!("wasmtime: {e}"))?;
        Ok(HookEngine {
            engine,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// Compiles (or finds in the cache) a module and checks it offers ABI v1 with the
    /// exports `events` need, and that it instantiates within `max_memory` bytes.
    pub fn load(
        &self,
        bytes: &[u8],
        events: &[HookEvent],
        max_memory: usize,
    ) -> Result<Arc<Compiled>, LoadError> {
        if !bytes.starts_with(b"\0asm") {
            return Err(LoadError::NotWasm);
        }
        let digest: [u8; 32] = Sha256::digest(bytes).into();
        let cached = self.cache.lock().ok().and_then(|c| c.get(&digest).cloned());
        let compiled = match cached {
            Some(c) => c,
            None => {
                let c = Arc::new(self.compile(bytes)?);
                if let Ok(mut cache) = self.cache.lock() {
                    cache.insert(digest, Arc::clone(&c));
                }
                c
            }
        };
        for event in events {
            if compiled.export(*event).is_none() {
                return Err(LoadError::MissingExport {
                    export: event.export().to_string(),
                    why: format!(
                        "(func (param i32 i32) (result i64)), which `{}` in `events` needs",
                        event.export()
                    ),
                });
            }
        }
        self.check_version(&compiled, max_memory)?;
        Ok(compiled)
    }

    fn compile(&self, bytes: &[u8]) -> Result<Compiled, LoadError> {
        let module = Module::from_binary(&self.engine, bytes)
            .map_err(|e| LoadError::Invalid(format!("{e:#}")))?;
        let mut linker: Linker<Limits> = Linker::new(&self.engine);
        linker
            .define_unknown_imports_as_traps(&module)
            .map_err(|e| LoadError::Invalid(format!("{e:#}")))?;
        let pre = linker
            .instantiate_pre(&module)
            .map_err(|e| LoadError::Invalid(format!("{e:#}")))?;
        let memory = export_of(&module, MEMORY, ExportKind::Memory)?
            .ok_or_else(|| missing(MEMORY, "(the guest's linear memory)"))?;
        let alloc = export_of(
            &module,
            ALLOC,
            ExportKind::Func(&[ValType::I32], &[ValType::I32]),
        )?
        .ok_or_else(|| missing(ALLOC, "(func (param i32) (result i32))"))?;
        export_of(&module, ABI_EXPORT, ExportKind::Func(&[], &[ValType::I32]))?
            .ok_or_else(|| missing(ABI_EXPORT, "(func (result i32)) returning the ABI version"))?;
        let initialize = export_of(&module, INITIALIZE, ExportKind::Func(&[], &[]))?;
        let call = ExportKind::Func(&[ValType::I32, ValType::I32], &[ValType::I64]);
        Ok(Compiled {
            pre,
            memory,
            alloc,
            initialize,
            pre_call: export_of(&module, HookEvent::PreCall.export(), call)?,
            post_call: export_of(&module, HookEvent::PostCall.export(), call)?,
        })
    }

    fn check_version(&self, compiled: &Compiled, max_memory: usize) -> Result<(), LoadError> {
        let mut store = self.store(max_memory, LOAD_FUEL);
        let start = |e: wasmtime::Error, store: &Store<Limits>| {
            LoadError::Start(classify(e, store).to_string())
        };
        let instance = compiled
            .pre
            .instantiate(&mut store)
            .map_err(|e| start(e, &store))?;
        let func = |store: &mut Store<Limits>, export: &ModuleExport| {
            instance
                .get_module_export(&mut *store, export)
                .and_then(Extern::into_func)
        };
        if let Some(init) = compiled
            .initialize
            .as_ref()
            .and_then(|e| func(&mut store, e))
        {
            init.call(&mut store, &[], &mut [])
                .map_err(|e| start(e, &store))?;
        }
        let version = instance
            .get_func(&mut store, ABI_EXPORT)
            .ok_or_else(|| missing(ABI_EXPORT, ""))?;
        let mut out = [Val::I32(0)];
        version
            .call(&mut store, &[], &mut out)
            .map_err(|e| start(e, &store))?;
        let found = out[0].i32().unwrap_or(0);
        if found != ABI_VERSION {
            return Err(LoadError::AbiVersion {
                found,
                wanted: ABI_VERSION,
            });
        }
        Ok(())
    }

    fn store(&self, max_memory: usize, fuel: u64) -> Store<Limits> {
        let mut store = Store::new(
            &self.engine,
            Limits {
                max_memory,
                hit_memory_limit: false,
            },
        );
        store.limiter(|l| l);
        // Fuel is enabled on the engine, so setting it cannot fail.
        let _ = store.set_fuel(fuel);
        store
    }

    /// Runs one event of a hook on `input`; the answer's bytes (empty: no change).
    pub fn invoke(
        &self,
        compiled: &Compiled,
        event: HookEvent,
        input: &[u8],
        fuel: u64,
        max_memory: usize,
    ) -> Result<Vec<u8>, HookFault> {
        let mut store = self.store(max_memory, fuel);
        let instance =
            compiled
                .pre
                .instantiate(&mut store)
                .map_err(|e| match classify(e, &store) {
                    HookFault::Trap(why) => HookFault::Instantiate(why),
                    other => other,
                })?;
        let get = |store: &mut Store<Limits>, export: &ModuleExport| {
            instance.get_module_export(&mut *store, export)
        };
        if let Some(init) = compiled
            .initialize
            .as_ref()
            .and_then(|e| get(&mut store, e))
            .and_then(Extern::into_func)
        {
            init.call(&mut store, &[], &mut [])
                .map_err(|e| classify(e, &store))?;
        }
        let garbage = |why: &str| HookFault::Garbage(why.to_string());
        let memory = get(&mut store, &compiled.memory)
            .and_then(Extern::into_memory)
            .ok_or_else(|| garbage("no memory export"))?;
        let alloc = get(&mut store, &compiled.alloc)
            .and_then(Extern::into_func)
            .and_then(|f| f.typed::<i32, i32>(&store).ok())
            .ok_or_else(|| garbage("no alloc export"))?;
        let export = compiled
            .export(event)
            .ok_or_else(|| garbage("no export for this event"))?;
        let call = get(&mut store, export)
            .and_then(Extern::into_func)
            .and_then(|f| f.typed::<(i32, i32), i64>(&store).ok())
            .ok_or_else(|| garbage("no export for this event"))?;
        let len = i32::try_from(input.len())
            .map_err(|_| garbage("the input is larger than a guest can address"))?;
        let ptr = alloc
            .call(&mut store, len)
            .map_err(|e| classify(e, &store))?;
        memory
            .write(&mut store, ptr as u32 as usize, input)
            .map_err(|_| {
                HookFault::Garbage(format!(
                    "`alloc({len})` returned {ptr}, which is outside its memory"
                ))
            })?;
        let packed = call
            .call(&mut store, (ptr, len))
            .map_err(|e| classify(e, &store))?;
        let (at, len) = ((packed as u64 >> 32) as usize, packed as u32 as usize);
        if len == 0 {
            return Ok(Vec::new());
        }
        if len > MAX_ANSWER_BYTES {
            return Err(HookFault::Garbage(format!(
                "the answer's length {len} is over {MAX_ANSWER_BYTES} bytes"
            )));
        }
        memory
            .data(&store)
            .get(at..at.saturating_add(len))
            .map(<[u8]>::to_vec)
            .ok_or_else(|| {
                HookFault::Garbage(format!(
                    "the answer ({len} bytes at {at}) lies outside its memory"
                ))
            })
    }
}

impl Compiled {
    fn export(&self, event: HookEvent) -> Option<&ModuleExport> {
        match event {
            HookEvent::PreCall => self.pre_call.as_ref(),
            HookEvent::PostCall => self.post_call.as_ref(),
        }
    }
}

/// What a failed wasm call was.
fn classify(e: wasmtime::Error, store: &Store<Limits>) -> HookFault {
    if store.data().hit_memory_limit {
        return HookFault::OutOfMemory;
    }
    match e.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => HookFault::OutOfFuel,
        Some(trap) => HookFault::Trap(trap.to_string()),
        None => HookFault::Trap(format!("{e:#}")),
    }
}

#[derive(Clone, Copy)]
enum ExportKind<'a> {
    Memory,
    Func(&'a [ValType], &'a [ValType]),
}

/// The export `name` when the module has it with the expected type; a wrong type is an
/// error, a missing one None.
fn export_of(
    module: &Module,
    name: &str,
    kind: ExportKind<'_>,
) -> Result<Option<ModuleExport>, LoadError> {
    let Some(ty) = module.get_export(name) else {
        return Ok(None);
    };
    let wrong = |why: String| LoadError::WrongExport {
        export: name.to_string(),
        why,
    };
    match kind {
        ExportKind::Memory if ty.memory().is_none() => {
            return Err(wrong("expected a memory".into()))
        }
        ExportKind::Memory => {}
        ExportKind::Func(params, results) => {
            let Some(f) = ty.func() else {
                return Err(wrong("expected a function".into()));
            };
            let same = |a: &mut dyn ExactSizeIterator<Item = ValType>, b: &[ValType]| {
                a.len() == b.len() && a.zip(b).all(|(x, y)| ValType::eq(&x, y))
            };
            if !same(&mut f.params(), params) || !same(&mut f.results(), results) {
                return Err(wrong(format!(
                    "expected (func (param {}) (result {}))",
                    names(params),
                    names(results)
                )));
            }
        }
    }
    Ok(module.get_export_index(name))
}

fn names(types: &[ValType]) -> String {
    types
        .iter()
        .map(|t| t.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

fn missing(export: &str, why: &str) -> LoadError {
    LoadError::MissingExport {
        export: export.to_string(),
        why: why.to_string(),
    }
}
