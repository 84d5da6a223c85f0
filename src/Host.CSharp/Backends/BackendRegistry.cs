using System.Collections;
using System.Net;
using InfluxProxy.Host.Backlog;
using InfluxProxy.Host.Hosting;
using InfluxProxy.Host.Query;
using InfluxProxy.Host.Schema;
using Prometheus;

namespace InfluxProxy.Host.Backends;

/// <summary>
/// Every backend's parts, built once at start-up and never changed, indexed like <see cref="Cluster.Backends"/>.
/// Building it opens (and recovers) every backlog. Its background work: the writers' loops (stopping drains them:
/// each queued batch is sent or backlogged), the replayers' loops, and closing the backlogs when nothing uses them.
/// </summary>
public sealed class BackendRegistry : IReadOnlyList<Backend>
{
    private readonly Backend[] _backends;
    private readonly BackendClients _http;

    private BackendRegistry(Backend[] backends, BackendClients http)
    {
        _backends = backends;
        _http = http;
        Writers = new WriterWork(this);
        Replayers = new ReplayerWork(this);
        Closing = new ClosingWork(this);
    }

    public Backend this[int index] => _backends[index];
    public Backend this[BackendInfo info] => _backends[info.Id];
    public int Count => _backends.Length;
    public IEnumerator<Backend> GetEnumerator() => ((IEnumerable<Backend>)_backends).GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>The writers' loops; stopping drains what is queued.</summary>
    public IBackgroundWork Writers { get; }

    /// <summary>The replayers' loops.</summary>
    public IBackgroundWork Replayers { get; }

    /// <summary>Opens every backend's backlog and builds its parts; throws when a backlog cannot be opened.</summary>
    public static async Task<BackendRegistry> OpenAsync(Cluster cluster, BackendOptions options, BackendTls tls, Histogram flushSeconds, TimeProvider time,
        ILoggerFactory loggers)
    {
        var http = new BackendClients(tls, () => new SocketsHttpHandler
        {
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(60),
            ConnectTimeout = options.WriteTimeout,
            MaxConnectionsPerServer = 64,
            AutomaticDecompression = DecompressionMethods.None,
        }, options.WriteTimeout);
        var backlogOptions = new BacklogOptions(MaxBytes: options.BacklogMaxSize);
        var backends = new List<Backend>();
        try
        {
            foreach (var info in cluster.Backends)
            {
                var backlog = await FileBacklog.OpenAsync(options.DataDir, info.Name, backlogOptions, time, loggers.CreateLogger<FileBacklog>(), CancellationToken.None);
                var connection = new BackendConnection(info, http.For(info));
                var writes = new WriteClient(connection, options.GzipLevel);
                var queries = new QueryRelay(connection);
                var health = new BackendHealth();
                var stats = new BackendStats();
                var histories = new RecordHistories();
                var quarantine = new QuarantineFolder(options.DataDir, info.Name);
                var replayer = new BacklogReplayer(writes, health, backlog.Reader, histories, quarantine, stats, new RetryLoop(options.RewriteInterval, time), time,
                    loggers.CreateLogger<BacklogReplayer>());
                var writer = new BackendWriter(writes, health, backlog, histories, stats, options.FlushSize, flushSeconds, time, replayer.Wake,
                    loggers.CreateLogger<BackendWriter>());
                backends.Add(new Backend(info, writes, queries, new SchemaQueries(queries), health, stats, backlog, quarantine, writer, replayer));
            }
        }
        catch
        {
            foreach (var opened in backends)
                await opened.Backlog.DisposeAsync();
            http.Dispose();
            throw;
        }
        return new BackendRegistry([.. backends], http);
    }

    private sealed class WriterWork(BackendRegistry registry) : IBackgroundWork
    {
        private Task[] _loops = [];

        public void Start() => _loops = [.. registry._backends.Select(b => Task.Run(b.Writer.RunAsync))];

        public async Task StopAsync()
        {
            foreach (var backend in registry._backends)
                backend.Writer.Complete();
            await Task.WhenAll(_loops);
        }
    }

    private sealed class ReplayerWork(BackendRegistry registry) : IBackgroundWork
    {
        private readonly CancellationTokenSource _stopping = new();
        private Task[] _loops = [];

        public void Start() => _loops = [.. registry._backends.Select(b => Task.Run(() => b.Replayer.RunAsync(_stopping.Token)))];

        public async Task StopAsync()
        {
            await _stopping.CancelAsync();
            await Task.WhenAll(_loops);
        }
    }

    /// <summary>Closes the backlogs and the HTTP clients, once nothing uses them: to be stopped last.</summary>
    public IBackgroundWork Closing { get; }

    private sealed class ClosingWork(BackendRegistry registry) : IBackgroundWork
    {
        public void Start() { }

        public async Task StopAsync()
        {
            foreach (var backend in registry._backends)
                await backend.Backlog.DisposeAsync();
            registry._http.Dispose();
        }
    }
}
