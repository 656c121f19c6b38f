fn main() -> std::process::ExitCode {
    catalog::main()
}
