using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using InfluxProxy.Core;

namespace InfluxProxy.Host.Backends;

/// <summary>
/// How the certificates of https backends and HA peers are checked: against the system trust store, or against the
/// CAs of <c>backend_tls_ca_file</c> alone; host names always. <c>backend_tls_insecure_skip_verify</c> turns the checks
/// off for all of them, a backend's <c>tls_insecure_skip_verify</c> for that backend.
/// </summary>
public sealed partial class BackendTls
{
    private const string CaFileKey = "backend_tls_ca_file";
    private const string SkipAllKey = "backend_tls_insecure_skip_verify";

    private readonly X509Certificate2Collection? _roots;
    private readonly bool _skipAll;

    private BackendTls(X509Certificate2Collection? roots, bool skipAll)
    {
        _roots = roots;
        _skipAll = skipAll;
    }

    /// <summary>
    /// Reads the CA bundle, if any: throws <see cref="IOException"/> when it cannot be read, and
    /// <see cref="CryptographicException"/> when it holds no certificate or a corrupt one.
    /// </summary>
    public static BackendTls From(ProxyConfig config) =>
        new(config.BackendTlsCaFile.Length > 0 ? ReadRoots(config.BackendTlsCaFile) : null, config.BackendTlsInsecureSkipVerify);

    /// <summary>Whether the backend's certificate is checked.</summary>
    public bool Verifies(BackendInfo backend) => !_skipAll && !backend.TlsInsecureSkipVerify;

    /// <summary>Options for connections checked as configured: the ones to HA peers, and to backends that <see cref="Verifies"/>.</summary>
    public SslClientAuthenticationOptions Configured() =>
        _skipAll ? Unchecked() : new SslClientAuthenticationOptions { CertificateChainPolicy = _roots is null ? null : TrustingOnly(_roots) };

    /// <summary>Options for connections whose certificate is not checked at all.</summary>
    public static SslClientAuthenticationOptions Unchecked() =>
        new() { RemoteCertificateValidationCallback = (_, _, _, _) => true };

    /// <summary>Warns of every https backend, and of the HA peers when they are spoken to over https, whose certificate is not checked.</summary>
    public void WarnUnchecked(IEnumerable<BackendInfo> backends, bool httpsPeers, ILogger logger)
    {
        foreach (var backend in backends.Where(b => b.Url.Scheme == Uri.UriSchemeHttps && !Verifies(b)))
            LogUnchecked(logger, $"backend {backend.Name}",
                _skipAll ? SkipAllKey : $"circles[{backend.Circle}].backends[{backend.Index}].tls_insecure_skip_verify");
        if (_skipAll && httpsPeers)
            LogUnchecked(logger, "HA peers", SkipAllKey);
    }

    /// <summary>A chain policy that trusts <paramref name="roots"/> instead of the system store.</summary>
    private static X509ChainPolicy TrustingOnly(X509Certificate2Collection roots)
    {
        var policy = new X509ChainPolicy
        {
            TrustMode = X509ChainTrustMode.CustomRootTrust,
            // As without a chain policy (CertificateRevocationCheckMode's default): a private CA rarely publishes a CRL.
            RevocationMode = X509RevocationMode.NoCheck,
        };
        policy.CustomTrustStore.AddRange(roots);
        return policy;
    }

    private static X509Certificate2Collection ReadRoots(string path)
    {
        string pem;
        try
        {
            pem = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"{CaFileKey} {path}: {e.Message}", e);
        }
        var roots = new X509Certificate2Collection();
        try
        {
            roots.ImportFromPem(pem);
        }
        catch (CryptographicException e)
        {
            throw new CryptographicException($"{CaFileKey} {path}: {e.Message}", e);
        }
        return roots.Count > 0 ? roots : throw new CryptographicException($"{CaFileKey} {path}: no PEM certificate in it");
    }
}
