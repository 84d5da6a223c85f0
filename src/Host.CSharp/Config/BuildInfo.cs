using System.Reflection;
using System.Runtime.InteropServices;

namespace InfluxProxy.Host.Config;

/// <summary>What <c>-version</c>, <c>/ping?verbose=true</c> and the response headers say about this build.</summary>
public static class BuildInfo
{
    private static readonly Assembly Self = typeof(BuildInfo).Assembly;

    private static readonly string Informational =
        Self.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    public static string Version { get; } = Informational.Split('+')[0];

    public static string Commit { get; } =
        Informational.Contains('+') ? Informational.Split('+')[1] is var c && c.Length > 7 ? c[..7] : Informational.Split('+')[1] : "unknown";

    public static string BuildTime { get; } =
        Self.GetCustomAttributes<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == "BuildTime")?.Value ?? "unknown";

    /// <summary>
    /// The <c>X-Influxdb-Version</c> we answer with: an InfluxDB 1.x version, so version-sniffing clients
    /// keep speaking the 1.x API (the original's own "2.4.7" makes some of them switch to 2.x).
    /// </summary>
    public const string InfluxCompatibleVersion = "1.8.10";

    /// <summary>The <c>X-Influxdb-Build</c> header: tells an operator which proxy answered.</summary>
    public static string BuildHeader { get; } = $"InfluxProxy {Version}";

    /// <summary>The <c>-version</c> text, labels padded to column 13 like the original.</summary>
    public static string Describe() =>
        $"Version:    {Version}\n" +
        $"Git commit: {Commit}\n" +
        $"Build time: {BuildTime}\n" +
        $".NET:       {RuntimeInformation.FrameworkDescription}\n" +
        $"OS/Arch:    {RuntimeInformation.RuntimeIdentifier}\n";
}
