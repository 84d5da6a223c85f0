using System.Security.Cryptography;
using System.Text;

namespace InfluxProxy.Host.Backlog;

/// <summary>How a backend's name becomes the name of a folder of its own under data_dir.</summary>
public static class FolderName
{
    /// <summary>
    /// The name's UTF-8 bytes, each outside <c>[A-Za-z0-9._-]</c> escaped as <c>%XX</c> (so distinct names give
    /// distinct folders, and none leaves its parent). Very long names are shortened and suffixed with a hash of the
    /// whole name.
    /// </summary>
    public static string Of(string backendName)
    {
        var bytes = Encoding.UTF8.GetBytes(backendName);
        var safe = new StringBuilder();
        foreach (var b in bytes)
            safe.Append(char.IsAsciiLetterOrDigit((char)b) || b is (byte)'.' or (byte)'_' or (byte)'-' ? (char)b : $"%{b:X2}");
        return safe.Length <= 200 ? safe.ToString()
            : $"{safe.ToString(0, 180)}~{Convert.ToHexString(SHA256.HashData(bytes))[..16]}";
    }
}
