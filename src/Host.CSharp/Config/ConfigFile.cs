using InfluxProxy.Core;
using Microsoft.FSharp.Core;

namespace InfluxProxy.Host.Config;

/// <summary>Reads <c>proxy.json</c> and validates it with the core; every problem comes back as one line.</summary>
public static class ConfigFile
{
    public static (ProxyConfig? Config, IReadOnlyList<string> Errors) Load(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return (null, [$"{path}: cannot read: {e.Message}"]);
        }
        FSharpResult<ProxyConfig, Microsoft.FSharp.Collections.FSharpList<ConfigError>> result = ProxyConfigModule.parse(text);
        return result.IsOk
            ? (result.ResultValue, [])
            : (null, result.ErrorValue.Select(e => $"{path}: {ConfigErrorModule.format(e)}").ToList());
    }
}
