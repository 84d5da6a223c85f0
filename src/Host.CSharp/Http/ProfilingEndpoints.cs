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

    /// <summary>One session at a time: each holds a buffer of up to <see cref="BufferMb"/> MB for as long as it runs.</summary>
    private static readonly SemaphoreSlim OneAtATime = new(1);

    private const int BufferMb = 256;

    /// <summary>How long a stopping session may take to hand over what it buffered, and its rundown.</summary>
    private static readonly TimeSpan StopLimit = TimeSpan.FromSeconds(30);

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
        long lock_contentions);

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

    public static async Task Profile(HttpContext context, TimeProvider time)
    {
        var asked = context.Request.Query["seconds"].ToString();
        var seconds = asked.Length == 0 ? 30 : int.TryParse(asked, out var s) && s is > 0 and <= MostSeconds ? s : -1;
        if (seconds < 0)
        {
            await Errors.BadRequest(context, $"seconds must be a whole number from 1 to {MostSeconds}");
            return;
        }
        if (!OneAtATime.Wait(0))
        {
            await Errors.Write(context, StatusCodes.Status409Conflict, "a profile is being taken; ask again once it is done");
            return;
        }
        try
        {
            await TraceAsync(context, TimeSpan.FromSeconds(seconds), time);
        }
        finally
        {
            OneAtATime.Release();
        }
    }

    private static async Task TraceAsync(HttpContext context, TimeSpan duration, TimeProvider time)
    {
        EventPipeSession session;
        try
        {
            session = new DiagnosticsClient(Environment.ProcessId).StartEventPipeSession(CpuSampling, requestRundown: true, BufferMb);
        }
        catch (ServerNotAvailableException e)
        {
            await Errors.Write(context, StatusCodes.Status503ServiceUnavailable, $"the runtime's diagnostics channel is off (DOTNET_EnableDiagnostics=0?): {e.Message}");
            return;
        }
        using (session)
        {
            context.Response.ContentType = "application/octet-stream";
            context.Response.Headers.ContentDisposition = $"attachment; filename=\"influx-proxy-{time.GetUtcNow():yyyyMMdd-HHmmss}.nettrace\"";
            // The stream is read to its end whatever the client does: a session stops only once what it buffered is read.
            var copying = CopyAsync(session.EventStream, context.Response.Body, context.RequestAborted);
            try
            {
                await Task.Delay(duration, time, context.RequestAborted);
            }
            catch (OperationCanceledException)
            {
            }
            using var stopping = new CancellationTokenSource(StopLimit);
            await session.StopAsync(stopping.Token);
            await copying;
        }
    }

    /// <summary>Copies the trace to the client while it listens, then drains the rest.</summary>
    private static async Task CopyAsync(Stream trace, Stream client, CancellationToken clientGone)
    {
        try
        {
            await trace.CopyToAsync(client, clientGone);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException)
        {
            await trace.CopyToAsync(Stream.Null, CancellationToken.None);
        }
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

    /// <summary>How many threads there are and how busy the pool is; their stacks are in the profile.</summary>
    public static Task Threads(HttpContext context)
    {
        using var process = System.Diagnostics.Process.GetCurrentProcess();
        return JsonBody.Write(context, StatusCodes.Status200OK, new ThreadsView(process.Threads.Count,
            ThreadPool.ThreadCount, ThreadPool.PendingWorkItemCount, ThreadPool.CompletedWorkItemCount, Monitor.LockContentionCount));
    }

    /// <summary>Answers when profiling is not open to this request's kind of caller.</summary>
    public static Task Closed(HttpContext context) =>
        Errors.Write(context, StatusCodes.Status403Forbidden,
            "profiling is off: the proxy has no credentials and listens beyond loopback; set username and password, or pprof_enabled");
}
