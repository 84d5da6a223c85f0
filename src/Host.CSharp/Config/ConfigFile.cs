using System.Text.Json;
using InfluxProxy.Core;
using Microsoft.FSharp.Core;
using Tomlyn;
using YamlDotNet.Core;
using YamlDotNet.Serialization;

namespace InfluxProxy.Host.Config;

/// <summary>
/// Reads the config file and validates it with the core; every problem comes back as one line. A <c>.toml</c>,
/// <c>.yaml</c> or <c>.yml</c> file (v2.5.12's other formats) is turned into the JSON it stands for first, so the same
/// keys, types and checks apply to all three.
/// </summary>
public static class ConfigFile
{
    public static (ProxyConfig? Config, IReadOnlyList<string> Errors) Load(string path)
    {
        string json;
        try
        {
            json = AsJson(path, File.ReadAllText(path));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return (null, [$"{path}: cannot read: {e.Message}"]);
        }
        catch (Exception e) when (e is TomlException or YamlException)
        {
            return (null, [$"{path}: invalid {Path.GetExtension(path).TrimStart('.').ToUpperInvariant()}: {e.Message}"]);
        }
        FSharpResult<ProxyConfig, Microsoft.FSharp.Collections.FSharpList<ConfigError>> result = ProxyConfigModule.parse(json);
        return result.IsOk
            ? (result.ResultValue, [])
            : (null, result.ErrorValue.Select(e => $"{path}: {ConfigErrorModule.format(e)}").ToList());
    }

    private static string AsJson(string path, string text) => Path.GetExtension(path).ToLowerInvariant() switch
    {
        ".toml" => JsonSerializer.Serialize(TomlSerializer.Deserialize<object>(text, new TomlSerializerOptions())),
        // Unquoted scalars take their YAML types (10 a number, true a boolean); quoted ones stay strings.
        ".yaml" or ".yml" => new SerializerBuilder().JsonCompatible().Build()
            .Serialize(new DeserializerBuilder().WithAttemptingUnquotedStringTypeDeserialization().Build().Deserialize<object>(text) ?? new Dictionary<string, object>()),
        _ => text,
    };
}
