using System.Text.Json;

namespace InfluxProxy.Host.Backlog;

/// <summary>
/// Where one backend's quarantined backlog records go: <c>&lt;data_dir&gt;/quarantine/&lt;escaped backend name&gt;/</c>,
/// two files per record, named after when the record was appended and where it was in the backlog, so a record set
/// aside twice (a crash came before its commit) lands on the same names:
/// <code>
/// 20261206T051700123Z-1-4096.lp     its lines as they were sent to the backend (ns timestamps), ready to re-send
/// 20261206T051700123Z-1-4096.json   {"backend","url","db","rp","reason","appended_at","quarantined_at","lines","bytes"}
/// </code>
/// Both are fsynced before the record leaves the backlog. The operator reads them, mends or drops the lines that
/// cannot be stored, re-sends the rest and deletes both files (README, "Quarantine").
/// </summary>
public sealed class QuarantineFolder(string dataDir, string backendName)
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    private sealed record Description(
        string backend, string url, string db, string rp, string reason, DateTimeOffset appended_at, DateTimeOffset quarantined_at,
        int lines, int bytes);

    public string Path { get; } = System.IO.Path.Combine(dataDir, "quarantine", FolderName.Of(backendName));

    /// <summary>Records in the folder now (the operator deletes the ones dealt with).</summary>
    public int Count => Directory.Exists(Path) ? Directory.EnumerateFiles(Path, "*.lp").Count() : 0;

    /// <summary>
    /// Writes the record's lines and their description, durably; returns the path of the lines. Rare, so the fsyncs
    /// block the calling thread. Throws <see cref="IOException"/> when the disk refuses (the record then stays in the
    /// backlog).
    /// </summary>
    public string Put(BacklogRecord record, string reason, Uri url, DateTimeOffset now)
    {
        if (!Directory.Exists(Path))
        {
            Directory.CreateDirectory(Path);
            DirectorySync.Fsync(System.IO.Path.GetDirectoryName(Path)!);
            DirectorySync.Fsync(System.IO.Path.GetDirectoryName(System.IO.Path.GetDirectoryName(Path)!)!);
        }
        var name = $"{record.AppendedAt.UtcDateTime:yyyyMMdd'T'HHmmssfff'Z'}-{record.Position.Segment}-{record.Position.Offset}";
        var lines = System.IO.Path.Combine(Path, name + ".lp");
        var payload = record.Payload.Span;
        WriteDurably(lines, payload);
        var description = new Description(backendName, url.OriginalString.TrimEnd('/'), record.Db, record.Rp, reason, record.AppendedAt, now,
            payload.Count((byte)'\n'), payload.Length);
        WriteDurably(System.IO.Path.Combine(Path, name + ".json"), JsonSerializer.SerializeToUtf8Bytes(description, Indented));
        DirectorySync.Fsync(Path);
        return lines;
    }

    private static void WriteDurably(string path, ReadOnlySpan<byte> bytes)
    {
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, bufferSize: 0);
        file.Write(bytes);
        file.Flush(flushToDisk: true);
    }
}
