// Memory per idle connection and allocations per request: the epoll transport vs Kestrel's Sockets
// transport, in-process on 127.0.0.1. See docs/MEMORY.md for a run and what it means.
//
// Method
// ------
// Every scenario runs in a fresh child process (this program started again with --child), so that
// what one scenario leaves behind — GC regions, native heap, thread-pool threads, tiered code, pools —
// cannot inflate or hide what the next one adds. The parent runs them one after the other and
// collects each child's one-line JSON result.
//
// Idle memory (N connections, default 5,000):
//   idle-raw        baseline: the client against an accept4/recv/send server that keeps nothing but
//                   descriptors. The client itself is raw libc sockets with int descriptors (no managed
//                   Socket objects), so it costs ~0 per connection; this run measures that, and it is
//                   subtracted from the two below.
//   idle-transport  the transport's IConnectionListenerFactory, no Kestrel: accept, hold the
//                   ConnectionContext, one 64-byte echo through Transport.Input/Output, then idle (no
//                   read pending).
//   idle-kestrel    a minimal Kestrel app on the transport: one GET /plaintext per keep-alive
//                   connection, then idle (Kestrel keeps a read pending, as in production).
// Each: warm-up connections (kept open), settle 1 s, snapshot, open N connections, settle 1 s,
// snapshot. A snapshot is GC.Collect + WaitForPendingFinalizers + Collect + an aggressive compacting
// collection (which returns free GC memory to the OS), then GC.GetTotalMemory(true) and VmRSS.
// Per connection = (after - before) / N, minus idle-raw's. Kestrel's own share = kestrel - transport.
// Then N / 2 more connections are opened with an EventListener on the runtime's GCAllocationTick
// events, naming what a connection allocates (see AllocationSampler; the repeats' samples are pooled).
// The managed heap figures repeat to the byte; RSS moves by up to ~1 KiB/conn between runs (native
// allocations, thread stacks, what the aggressive collection manages to return), so each idle
// scenario runs --repeat times (default 3), interleaved, and the report takes the medians.
//
// Allocations (K keep-alive connections, default 64; about R exchanges, default 200,000):
//   load-raw-echo / load-raw-http  the same client against the raw responder (the client's own allocations)
//   load-transport                 64-byte echo round trips through the transport, no Kestrel
//   load-kestrel                   GET /plaintext through Kestrel on the transport
// After a warm-up, GC.GetTotalAllocatedBytes(precise: true) before and after, for the whole process,
// divided by the number of exchanges, minus the matching raw baseline. Then a second pass with an
// EventListener on the runtime's GCAllocationTick events names the allocated types (sampled).
//
// Usage: dotnet run -c Release --project bench/memory -- [--connections N] [--requests N]
//          [--load-connections K] [--repeat R] [--only Epoll|Sockets] [--no-types] [--markdown path] [--json path]
// Needs 2 × (N + 300 + N / 2) + 256 open descriptors (soft limit: ulimit -n; the hard limit, ulimit -Hn,
// is as far as a user can raise it).

using EpollTransport.MemoryBench;

return await Cli.MainAsync(args).ConfigureAwait(false);
