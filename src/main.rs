//! The `huella` binary: the command line of [`huella::cli`], on an allocator that gives
//! freed memory back to the system (a server's memory must come back after a burst of slow
//! readers; see `tests/hardening.rs`).

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    huella::cli::main()
}
