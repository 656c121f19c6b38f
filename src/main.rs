/// mimalloc: the gateway allocates many small objects per request from two threads,
/// which glibc's allocator serves with frequent consolidation of its free lists.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    catalog::main()
}
