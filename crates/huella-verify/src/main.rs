fn main() -> std::process::ExitCode {
    huella_verify::cli::main()
}
