using System.Net;
using InfluxProxy.Core;
using InfluxProxy.Host.Backlog;

namespace InfluxProxy.Host.Backends;

/// <summary>
/// Starts and stops everything that serves the backends: a writer, a backlog and its replayer per backend, the
/// health monitor, and the write journal (<c>write_ack: journaled</c>). Stopping drains every writer (each queued batch
/// is sent or backlogged) before closing the journal and the backlogs.
/// </summary>
public sealed partial class BackendSet : IHostedService
{
    private readonly ProxyConfig _config;
    private readonly Cluster _cluster;
    private readonly TimeProvider _time;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<Task> _loops = [];
    private readonly List<Task> _writers = [];
    private readonly HttpClient _http;
    private Backend[] _backends = [];

    public BackendSet(ProxyConfig config, Cluster cluster, TimeProvider time, ILoggerFactory loggers)
    {
        _config = config;
        _cluster = cluster;
        _time = time;
        _loggers = loggers;
        _logger = loggers.CreateLogger<BackendSet>();
        _http = new HttpClient(new SocketsHttpHandler
        {
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(60),
            ConnectTimeout = config.WriteTimeout,
            MaxConnectionsPerServer = 64,
            AutomaticDecompression = DecompressionMethods.None,
            SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true },
        })
        { Timeout = config.WriteTimeout };
    }

    /// <summary>Every backend, indexed like <see cref="Cluster.Backends"/>.</summary>
    public IReadOnlyList<Backend> Backends => _backends;

    public Backend this[BackendInfo info] => _backends[info.Id];

    public DatabaseCatalog Databases { get; private set; } = null!;

    /// <summary>Null when <c>write_ack</c> is <c>stored</c>.</summary>
    public WriteJournal? Journal { get; private set; }

    public async Task StartAsync(CancellationToken ct)
    {
        var options = new BacklogOptions(MaxBytes: _config.BacklogMaxSize);
        var backends = new List<Backend>();
        foreach (var info in _cluster.Backends)
        {
            var backlog = await FileBacklog.OpenAsync(_config.DataDir, info.Name, options, _time, _loggers.CreateLogger<FileBacklog>(), ct);
            var client = new BackendClient(info, _http, _config.WriteCompression);
            var health = new BackendHealth();
            var stats = new BackendStats();
            var histories = new RecordHistories();
            var quarantine = new QuarantineFolder(_config.DataDir, info.Name);
            var replayer = new BacklogReplayer(client, health, backlog, histories, quarantine, stats, _config.RewriteInterval, _time,
                _loggers.CreateLogger<BacklogReplayer>());
            var writer = new BackendWriter(client, health, backlog, histories, stats, _config.FlushSize, _time, replayer.Wake,
                _loggers.CreateLogger<BackendWriter>());
            backends.Add(new Backend(info, client, health, backlog, quarantine, writer, replayer));
        }
        _backends = [.. backends];
        if (_config.WriteAck.IsJournaled)
            Journal = await WriteJournal.OpenAsync(_config.DataDir, _time, _loggers, ct);
        Databases = new DatabaseCatalog(_backends.Select(b => b.Client).ToList(), _time);
        var monitor = new HealthMonitor(_backends, _config.CheckInterval, _time, _loggers.CreateLogger<HealthMonitor>());
        _loops.Add(Task.Run(() => monitor.RunAsync(_stopping.Token), CancellationToken.None));
        foreach (var backend in _backends)
        {
            _writers.Add(Task.Run(backend.Writer.RunAsync, CancellationToken.None));
            _loops.Add(Task.Run(() => backend.Replayer.RunAsync(_stopping.Token), CancellationToken.None));
        }
    }

    public async Task StopAsync(CancellationToken ct)
    {
        foreach (var backend in _backends)
            backend.Writer.Complete();
        await Task.WhenAll(_writers);
        if (Journal is not null)
            await Journal.DisposeAsync();
        await _stopping.CancelAsync();
        await Task.WhenAll(_loops);
        foreach (var backend in _backends)
            await backend.Backlog.DisposeAsync();
        LogStopped(_backends.Length);
        _http.Dispose();
    }
}
