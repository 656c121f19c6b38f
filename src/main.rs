/// mimalloc: the gateway allocates many small objects per request from two threads,
/// which glibc's allocator serves with frequent consolidation of its free lists.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    // mimalloc asks for transparent huge pages on its arenas, and then every 2 MiB page
    // that a few live objects touch counts whole in resident memory: a gateway under
    // load held twice the memory it used. The process opts out before it allocates much.
    #[cfg(target_os = "linux")]
    // SAFETY: `PR_SET_THP_DISABLE` takes integers only and changes only this process's
    // paging policy; no memory is touched.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
    catalog::main()
}
