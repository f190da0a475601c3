//! The seeds' Lambda functions (`edalab::lambda`).

fn main() -> std::process::ExitCode {
    edalab::lambda::main()
}
