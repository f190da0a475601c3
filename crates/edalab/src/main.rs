//! The `edalab` binary: everything is in the library ([`edalab::main`]).

fn main() -> std::process::ExitCode {
    edalab::main()
}
