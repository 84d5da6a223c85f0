using System.Text;

namespace InfluxProxy.Host.Http;

/// <summary>
/// <c>X-Influxdb-Error</c>, which carries an error's text as InfluxDB writes it: in UTF-8, whatever the language of the
/// database or measurement it names. Only control characters, which no header value may hold, become spaces.
/// </summary>
public static class ErrorHeader
{
    public const string Name = "X-Influxdb-Error";

    /// <summary>For Kestrel: this header's value goes out in UTF-8; the others stay ASCII.</summary>
    public static Encoding? EncodingOf(string headerName) =>
        string.Equals(headerName, Name, StringComparison.OrdinalIgnoreCase) ? Encoding.UTF8 : null;

    /// <summary>The header value for an error text.</summary>
    public static string Value(string message) =>
        message.Any(char.IsControl) ? string.Concat(message.Select(c => char.IsControl(c) ? ' ' : c)) : message;

    /// <summary>A backend's header, which HttpClient decodes byte by byte (Latin-1), read back as the UTF-8 it is.</summary>
    public static string FromBackend(string decoded) => Value(Encoding.UTF8.GetString(Encoding.Latin1.GetBytes(decoded)));
}
