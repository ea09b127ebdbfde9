fn main() -> std::process::ExitCode {
    huella::cli::main()
}
