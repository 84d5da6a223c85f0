using InfluxProxy.Host.Hosting;

namespace InfluxProxy.Host.Backends;

public sealed partial class BackendTls
{
    [LoggerMessage(EventId = EventIds.CertificateUnchecked, Level = LogLevel.Warning, Message = "{Target}: certificate not verified ({Key} is true)")]
    private static partial void LogUnchecked(ILogger logger, string target, string key);
}
