using System.Diagnostics.Tracing;
using Microsoft.Diagnostics.NETCore.Client;

namespace InfluxProxy.Host.Http;

/// <summary>
/// <c>/debug/pprof/</c>, what it is to the Go proxy, from inside the process: a CPU sample trace of the proxy over
/// EventPipe (the <c>.nettrace</c> that <c>dotnet-trace</c> writes, which it converts to speedscope and PerfView
/// opens), the managed heap by generation, and the threads. Open as <see cref="Core.ProxyConfigModule.profilingOpen"/> says.
/// </summary>
public static class ProfilingEndpoints
{
    private const int MostSeconds = 300;

    /// <summary>dotnet-trace's cpu-sampling profile: stacks sampled every millisecond, and the runtime's default events to resolve them.</summary>
    private static readonly EventPipeProvider[] CpuSampling =
    [
        new("Microsoft-DotNETCore-SampleProfiler", EventLevel.Informational),
        new("Microsoft-Windows-DotNETRuntime", EventLevel.Informational, 0x14C14FCCBD),
    ];

    private sealed record GenerationView(string generation, long size_before_bytes, long size_after_bytes, long fragmented_after_bytes, int collections);

    /// <summary>The heap now, and as the last collection (number <c>last_gc</c>, 0 before the first) left each generation.</summary>
    private sealed record HeapView(long heap_bytes, long total_allocated_bytes, long last_gc, long committed_bytes, long fragmented_bytes,
        long memory_load_bytes, double pause_time_percentage, IReadOnlyList<GenerationView> generations);

    private sealed record ThreadsView(int threads, int thread_pool_threads, long thread_pool_queued_items, long thread_pool_completed_items,
        long lock_contentions, string stacks);

    public static Task Index(HttpContext context)
    {
        context.Response.ContentType = "text/plain; charset=utf-8";
        return context.Response.WriteAsync(
            """
            /debug/pprof/profile?seconds=30   CPU sample trace of the proxy (.nettrace; dotnet-trace convert --format speedscope, or PerfView)
            /debug/pprof/heap                 managed heap by generation, allocations, GC pauses (JSON)
            /debug/pprof/threads              threads and the thread pool (JSON); their stacks are in the profile

            """, context.RequestAborted);
    }

    public static async Task Profile(HttpContext context)
    {
        var asked = context.Request.Query["seconds"].ToString();
        var seconds = asked.Length == 0 ? 30 : int.TryParse(asked, out var s) && s is > 0 and <= MostSeconds ? s : -1;
        if (seconds < 0)
        {
            await Errors.BadRequest(context, $"seconds must be a whole number from 1 to {MostSeconds}");
            return;
        }
        using var session = new DiagnosticsClient(Environment.ProcessId).StartEventPipeSession(CpuSampling, requestRundown: true, circularBufferMB: 256);
        context.Response.ContentType = "application/octet-stream";
        context.Response.Headers.ContentDisposition = $"attachment; filename=\"influx-proxy-{DateTime.UtcNow:yyyyMMdd-HHmmss}.nettrace\"";
        var copying = session.EventStream.CopyToAsync(context.Response.Body, context.RequestAborted);
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(seconds), context.RequestAborted);
        }
        finally
        {
            await session.StopAsync(CancellationToken.None);
        }
        await copying;
    }

    public static Task Heap(HttpContext context)
    {
        var info = GC.GetGCMemoryInfo();
        var generations = info.GenerationInfo.ToArray()
            .Select((g, i) => new GenerationView(i switch { 3 => "loh", 4 => "poh", _ => $"gen{i}" }, g.SizeBeforeBytes, g.SizeAfterBytes,
                g.FragmentationAfterBytes, i <= GC.MaxGeneration ? GC.CollectionCount(i) : 0))
            .ToList();
        return JsonBody.Write(context, StatusCodes.Status200OK, new HeapView(GC.GetTotalMemory(forceFullCollection: false), GC.GetTotalAllocatedBytes(),
            info.Index, info.TotalCommittedBytes, info.FragmentedBytes, info.MemoryLoadBytes, info.PauseTimePercentage, generations));
    }

    public static Task Threads(HttpContext context) =>
        JsonBody.Write(context, StatusCodes.Status200OK, new ThreadsView(System.Diagnostics.Process.GetCurrentProcess().Threads.Count,
            ThreadPool.ThreadCount, ThreadPool.PendingWorkItemCount, ThreadPool.CompletedWorkItemCount, Monitor.LockContentionCount,
            "/debug/pprof/profile"));

    /// <summary>Answers when profiling is not open to this request's kind of caller.</summary>
    public static Task Closed(HttpContext context) =>
        Errors.Write(context, StatusCodes.Status403Forbidden,
            "profiling is off: the proxy has no credentials and listens beyond loopback; set username and password, or pprof_enabled");
}
