using System.Net;
using System.Security.Cryptography.X509Certificates;
using InfluxProxy.Core;
using InfluxProxy.Host.Backends;
using InfluxProxy.Host.Metrics;
using Prometheus;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace InfluxProxy.Host.Http;

/// <summary>Builds the Kestrel application for a validated config.</summary>
public static partial class ProxyServer
{
    public static WebApplication Build(ProxyConfig config)
    {
        // The proxy reads proxy.json only; ASP.NET Core's appsettings files would otherwise be watched for changes
        // with a recursive inotify watcher on the working folder, which then wakes on every write below it (our own
        // data_dir, or influxd's files when they live there).
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            Args = ["--hostBuilder:reloadConfigOnChange=false"],
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "yyyy-MM-dd HH:mm:ss.fff ";
        });
        builder.Logging.SetMinimumLevel(LogLevel.Information);
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        builder.WebHost.ConfigureKestrel(kestrel => Listen(kestrel, config));
        builder.Services.AddSingleton<IMemoryPoolFactory<byte>, ReceiveBlockPool.Factory>();
        builder.Services.AddSingleton(config);
        builder.Services.AddSingleton<Cluster>();
        builder.Services.AddSingleton<Authentication>();
        builder.Services.AddSingleton(s => new Migration.MigrationState(s.GetRequiredService<Cluster>().Circles.Count));
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<BackendSet>();
        builder.Services.AddHostedService(s => s.GetRequiredService<BackendSet>());
        builder.Services.AddSingleton<WritePipeline>();
        builder.Services.AddHostedService(s => s.GetRequiredService<WritePipeline>()); // after BackendSet: stops first
        builder.Services.AddSingleton<QueryRouter>();
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
        app.UseResponseCompression();
        app.UseStatusCodePages(c => Errors.FromStatusCode(c.HttpContext));
        app.UseHttpMetrics();
        Routes.Map(app);
        ProxyMetrics.Export(app.Services.GetRequiredService<BackendSet>(), app.Services.GetRequiredService<TimeProvider>());
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("InfluxProxy");
        var cluster = app.Services.GetRequiredService<Cluster>();
        app.Lifetime.ApplicationStarted.Register(() => LogStarted(logger, Config.BuildInfo.Version,
            $"{(config.HttpsEnabled ? "https" : "http")}://{config.ListenAddr.Host}:{config.ListenAddr.Port}",
            cluster.Circles.Count, cluster.Backends.Count, HashKeyModule.text(config.HashKey)));
        return app;
    }

    private static void Listen(KestrelServerOptions kestrel, ProxyConfig config)
    {
        kestrel.AddServerHeader = false;
        kestrel.Limits.KeepAliveTimeout = config.IdleTimeout;
        // /write bounds its body itself (max_body_size, also after gzip) and answers 413 without reading the rest;
        // a server-wide limit would instead reset such connections. Form bodies are bounded by the form reader.
        kestrel.Limits.MaxRequestBodySize = null;
        Action<ListenOptions> https = config.HttpsEnabled
            ? o => o.UseHttps(X509Certificate2.CreateFromPemFile(config.HttpsCert, config.HttpsKey))
            : _ => { };
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

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "influx-proxy {Version} listening on {Address}: {Circles} circles, {Backends} backends, hash key {HashKey}")]
    private static partial void LogStarted(ILogger logger, string version, string address, int circles, int backends, string hashKey);
}
