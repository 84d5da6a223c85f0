using InfluxProxy.Core;
using InfluxProxy.Host.Write;

namespace InfluxProxy.Host.Backends;

/// <summary>
/// Lines of a batch body, or, when they were compressed ahead of sending, the same lines as one gzip member (then
/// only the member is kept).
/// Gzip members concatenated form one valid gzip stream (RFC 1952 §2.2), so a batch of parts compressed once can be
/// sent to every circle without compressing it again.
/// </summary>
public readonly record struct BatchPart(ReadOnlyMemory<byte> Lines, ReadOnlyMemory<byte> Gzip)
{
    public static BatchPart Uncompressed(ReadOnlyMemory<byte> lines) => new(lines, ReadOnlyMemory<byte>.Empty);

    public bool IsCompressed => !Gzip.IsEmpty;

    /// <summary>The lines, decompressed when only the member is kept (a 413 split, a backlog record).</summary>
    public ReadOnlyMemory<byte> Text => IsCompressed && Lines.IsEmpty ? Write.Gzip.Inflate(Gzip.Span) : Lines;

    /// <summary>
    /// A batch in two: at the part boundary nearest its middle, else where <see cref="Halving.cut"/> cuts its one part
    /// (the halves of a part are compressed again when sent); null when only one line is left.
    /// </summary>
    public static (IReadOnlyList<BatchPart>, IReadOnlyList<BatchPart>)? Halve(IReadOnlyList<BatchPart> parts)
    {
        if (parts.Count > 1)
            return (parts.Take(parts.Count / 2).ToList(), parts.Skip(parts.Count / 2).ToList());
        var lines = parts[0].Text;
        return Halving.cut(lines.Span) is { IsSome: true } cut
            ? ([Uncompressed(lines[..cut.Value])], [Uncompressed(lines[cut.Value..])])
            : null;
    }
}
