using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using InfluxProxy.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace InfluxProxy.Host.Http;

/// <summary>The HTTPS listener: <c>https_cert</c> and <c>https_key</c>, with v2.5.12's <c>tls</c> versions and cipher suites.</summary>
public static class ListenerTlsOptions
{
    public static HttpsConnectionAdapterOptions From(ProxyConfig config)
    {
        var options = new HttpsConnectionAdapterOptions
        {
            ServerCertificate = X509Certificate2.CreateFromPemFile(config.HttpsCert, config.HttpsKey),
            SslProtocols = Protocols(config.Tls),
        };
        if (!config.Tls.Ciphers.IsEmpty && !OperatingSystem.IsWindows()) // Windows takes its suites from the system only
        {
            var policy = new CipherSuitesPolicy(config.Tls.Ciphers.Select(name => Enum.Parse<TlsCipherSuite>(name, ignoreCase: true)));
            options.OnAuthenticate = (_, ssl) => ssl.CipherSuitesPolicy = policy;
        }
        return options;
    }

    /// <summary>
    /// The versions from <c>min_version</c> (TLS 1.2 unless set, TLS 1.0 when only <c>max_version</c> is) to
    /// <c>max_version</c> (TLS 1.3 unless set); the system's choice when neither is set. SSL 3.0 is read as TLS 1.0,
    /// the oldest .NET offers. The config refuses a minimum above the maximum.
    /// </summary>
    private static SslProtocols Protocols(ListenerTls tls)
    {
        if (tls.MinVersion is null && tls.MaxVersion is null)
            return SslProtocols.None;
#pragma warning disable SYSLIB0039 // TLS 1.0 and 1.1: offered only when min_version asks for them
        (TlsVersion Version, SslProtocols Protocol)[] known =
            [(TlsVersion.Ssl30, SslProtocols.Tls), (TlsVersion.Tls10, SslProtocols.Tls), (TlsVersion.Tls11, SslProtocols.Tls11),
             (TlsVersion.Tls12, SslProtocols.Tls12), (TlsVersion.Tls13, SslProtocols.Tls13)];
#pragma warning restore SYSLIB0039
        var min = tls.MinVersion?.Value ?? (tls.MaxVersion is null ? TlsVersion.Tls12 : TlsVersion.Tls10);
        var max = tls.MaxVersion?.Value ?? TlsVersion.Tls13;
        return known.Where(k => k.Version.CompareTo(min) >= 0 && k.Version.CompareTo(max) <= 0)
            .Aggregate(SslProtocols.None, (all, k) => all | k.Protocol);
    }
}
