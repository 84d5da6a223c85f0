namespace InfluxProxy.Host.Backends;

/// <summary>
/// The HTTP clients toward backends and HA peers: one whose certificate checks are the configured ones, one without
/// checks for the backends that turn them off, each over a handler from the same factory (same pooling and timeouts).
/// </summary>
public sealed class BackendClients : IDisposable
{
    private readonly BackendTls _tls;
    private readonly HttpClient _configured;
    private readonly HttpClient _unchecked;

    public BackendClients(BackendTls tls, Func<SocketsHttpHandler> handler, TimeSpan timeout)
    {
        _tls = tls;
        _configured = Client(handler, tls.Configured(), timeout);
        _unchecked = Client(handler, BackendTls.Unchecked(), timeout);
    }

    /// <summary>The client toward the backend, as its certificate is to be checked.</summary>
    public HttpClient For(BackendInfo backend) => _tls.Verifies(backend) ? _configured : _unchecked;

    /// <summary>The client toward the other proxies: only the global settings apply to them.</summary>
    public HttpClient Peers => _configured;

    public void Dispose()
    {
        _configured.Dispose();
        _unchecked.Dispose();
    }

    private static HttpClient Client(Func<SocketsHttpHandler> handler, System.Net.Security.SslClientAuthenticationOptions ssl, TimeSpan timeout)
    {
        var h = handler();
        h.SslOptions = ssl;
        return new HttpClient(h) { Timeout = timeout };
    }
}
