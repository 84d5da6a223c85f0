using System.Net;
using InfluxProxy.Core;
using InfluxProxy.Host.Backends;
using InfluxProxy.Host.Backlog;
using InfluxProxy.Host.Hosting;
using InfluxProxy.Host.Metrics;
using InfluxProxy.Host.Query;
using InfluxProxy.Host.Schema;
using InfluxProxy.Host.Write;
using Prometheus;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace InfluxProxy.Host.Http;

/// <summary>The composition root: builds the Kestrel application and everything it serves for a validated config.</summary>
public static partial class ProxyServer
{
    /// <summary>Opens the backlogs and the write journal (recovering them), then builds the application.</summary>
    public static async Task<WebApplication> BuildAsync(ProxyConfig config)
    {
        // The proxy reads proxy.json only; ASP.NET Core's appsettings files would otherwise be watched for changes
        // with a recursive inotify watcher on the working folder, which then wakes on every write below it (our own
        // data_dir, or influxd's files when they live there).
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            Args = ["--hostBuilder:reloadConfigOnChange=false"],
            ContentRootPath = AppContext.BaseDirectory,
        });
        // One logger factory for the parts opened before the application is built and for the framework alike.
        var loggers = LoggerFactory.Create(ConfigureLogging);
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(loggers);
        builder.WebHost.ConfigureKestrel(kestrel => Listen(kestrel, config));
        builder.Services.AddSingleton<IMemoryPoolFactory<byte>, ReceiveBlockPool.Factory>();
        var time = TimeProvider.System;
        var cluster = new Cluster(config);
        var tls = BackendTls.From(config);
        tls.WarnUnchecked(cluster.Backends, config.HttpsEnabled, loggers.CreateLogger<BackendTls>());
        var backends = await BackendRegistry.OpenAsync(cluster, BackendOptions.From(config), tls, ProxyMetrics.FlushSeconds, time, loggers);
        var journal = config.WriteAck.IsJournaled ? await WriteJournal.OpenAsync(config.DataDir, time, loggers, CancellationToken.None) : null;
        var schemas = backends.Select(b => b.Schema).ToList();
        var retentionFloors = new RetentionFloors(schemas, time);
        var compressor = Gzip.Level(ProxyConfigModule.compression(config)) is { } level ? new ChunkCompressor(level) : null;
        var monitor = new HealthMonitor(backends, new RetryLoop(config.CheckInterval, time), loggers.CreateLogger<HealthMonitor>());
        var clientWrites = new ClientWrites(time);
        var pipeline = new WritePipeline(cluster, backends, journal, retentionFloors, compressor, clientWrites, WriteOptions.From(config), time,
            loggers.CreateLogger<WritePipeline>());
        builder.Services.AddSingleton(time);
        builder.Services.AddSingleton(cluster);
        builder.Services.AddSingleton(backends);
        builder.Services.AddSingleton(new DatabaseCatalog(schemas, retentionFloors, time));
        builder.Services.AddSingleton(pipeline);
        builder.Services.AddSingleton(new Authentication(config.Username, config.Password, ProxyConfigModule.proxyCredentialsEncrypted(config)));
        builder.Services.AddSingleton(EndpointOptions.From(config));
        var migrationState = new Migration.MigrationState(cluster.Circles.Count, time);
        builder.Services.AddSingleton(migrationState);
        var migration = MigrationRunner(config, cluster, tls, backends, migrationState, clientWrites, time, loggers);
        builder.Services.AddSingleton(migration);
        builder.Services.AddSingleton<QueryRouter>();
        // Started in this order, stopped in the reverse one, after the server has stopped taking requests: the
        // migration jobs first (they submit to the writers; their unfinished steps are done again at the next start),
        // the journal replay and redeliveries (they submit to the writers), then the pings, the replayers, the writers
        // (drained: every queued batch is sent or backlogged; they read journaled chunks back), the journal (settled
        // records committed), the compressor threads, and last the backlogs.
        IBackgroundWork?[] inOrder = [backends.Closing, compressor, journal, backends.Writers, backends.Replayers, monitor, pipeline, migration];
        builder.Services.AddHostedService(s => new BackgroundWork([.. inOrder.OfType<IBackgroundWork>()], s.GetRequiredService<ILogger<BackgroundWork>>()));
        // Answers are gzip-compressed only for clients that ask (Accept-Encoding), as InfluxDB does.
        builder.Services.AddResponseCompression(o =>
        {
            o.EnableForHttps = true;
            o.MimeTypes = ["application/json", "application/csv", "text/plain"];
        });
        // Stopping waits for requests, which wait for their batches: a send is bounded by write_timeout.
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = config.WriteTimeout * 3 + TimeSpan.FromSeconds(5));

        var app = builder.Build();
        if (config.LogEnabled)
            app.Use(RequestLog.Middleware(app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("InfluxProxy.Requests")));
        app.Use(ProxyHeaders.Add);
        app.Use(Errors.Unhandled);
        app.Use(ClientBody.Guard);
        app.UseResponseCompression();
        app.UseStatusCodePages(c => Errors.FromStatusCode(c.HttpContext));
        app.UseHttpMetrics();
        app.UseRouting();
        if (config.PingAuthEnabled)
            app.Use(app.Services.GetRequiredService<Authentication>().Guarding(["/ping", "/metrics"]));
        Routes.Map(app);
        ProxyMetrics.Export(cluster, backends, journal, pipeline.InProgress, time);
        app.Lifetime.ApplicationStopped.Register(loggers.Dispose); // flushes the console
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("InfluxProxy");
        app.Lifetime.ApplicationStarted.Register(() => LogStarted(logger, Config.BuildInfo.Version,
            $"{(config.HttpsEnabled ? "https" : "http")}://{config.ListenAddr.Host}:{config.ListenAddr.Port}",
            cluster.Circles.Count, cluster.Backends.Count, HashKeyModule.text(config.HashKey)));
        if (!config.Inert.IsEmpty)
            LogInertKeys(logger, string.Join(", ", config.Inert));
        return app;
    }

    /// <summary>The migration jobs' runner, with HTTP clients of its own: its answers stream for as long as they take.</summary>
    private static Migration.MigrationRunner MigrationRunner(ProxyConfig config, Cluster cluster, BackendTls tls, BackendRegistry backends,
        Migration.MigrationState state, ClientWrites clientWrites, TimeProvider time, ILoggerFactory loggers)
    {
        var http = new BackendClients(tls, () => new SocketsHttpHandler
        {
            ConnectTimeout = config.WriteTimeout,
            AutomaticDecompression = DecompressionMethods.None,
        }, Timeout.InfiniteTimeSpan);
        string Plain(string credential) => ProxyConfigModule.proxyCredentialsEncrypted(config) ? Cipher.decrypt(credential) : credential;
        var options = Migration.MigrationOptions.From(config);
        return new Migration.MigrationRunner(cluster, new Migration.MigrationBackends(cluster, http), backends, new Migration.JobStore(config.DataDir), state,
            new Migration.PeerFlags(http.Peers, Plain(config.Username), Plain(config.Password), config.HttpsEnabled, loggers.CreateLogger<Migration.PeerFlags>()),
            new Migration.MigrationLog(options.LogDir, time, loggers.CreateLogger<Migration.MigrationLog>()), options, clientWrites, time,
            loggers.CreateLogger<Migration.MigrationRunner>());
    }

    private static void ConfigureLogging(ILoggingBuilder logging) =>
        logging
            .AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "yyyy-MM-dd HH:mm:ss.fff ";
            })
            .SetMinimumLevel(LogLevel.Information)
            .AddFilter("Microsoft", LogLevel.Warning);

    private static void Listen(KestrelServerOptions kestrel, ProxyConfig config)
    {
        kestrel.AddServerHeader = false;
        kestrel.ResponseHeaderEncodingSelector = ErrorHeader.EncodingOf;
        kestrel.Limits.KeepAliveTimeout = config.IdleTimeout;
        // /write bounds its body itself (max_body_size, also after gzip) and answers 413 without reading the rest;
        // a server-wide limit would instead reset such connections. Form bodies are bounded by the form reader.
        kestrel.Limits.MaxRequestBodySize = null;
        Action<ListenOptions> https = config.HttpsEnabled ? o => o.UseHttps(ListenerTlsOptions.From(config)) : _ => { };
        var address = config.ListenAddr;
        switch (address.Host)
        {
            case "" or "0.0.0.0" or "::":
                kestrel.ListenAnyIP(address.Port, https);
                break;
            case "localhost":
                kestrel.ListenLocalhost(address.Port, https);
                break;
            default:
                var ip = IPAddress.TryParse(address.Host, out var parsed)
                    ? parsed
                    : Dns.GetHostAddresses(address.Host).First();
                kestrel.Listen(ip, address.Port, https);
                break;
        }
    }

    [LoggerMessage(EventId = EventIds.Started, Level = LogLevel.Information, Message = "influx-proxy {Version} listening on {Address}: {Circles} circles, {Backends} backends, hash key {HashKey}")]
    private static partial void LogStarted(ILogger logger, string version, string address, int circles, int backends, string hashKey);

    [LoggerMessage(EventId = EventIds.InertKeys, Level = LogLevel.Warning, Message = "proxy.json keys of v2.5.12 that have no effect here: {Keys}")]
    private static partial void LogInertKeys(ILogger logger, string keys);
}
