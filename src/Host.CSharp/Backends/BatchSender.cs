namespace InfluxProxy.Host.Backends;

/// <summary>
/// Sends a batch, halving it on 413 until the backend takes the pieces; a single line the backend still refuses
/// as too large is reported as a partial write. Used by live flushes and backlog replay alike.
/// </summary>
public static class BatchSender
{
    public static async Task<WriteOutcome> SendAsync(BackendClient client, string db, string rp, IReadOnlyList<BatchPart> parts, CancellationToken ct)
    {
        var outcome = await client.WriteAsync(db, rp, parts, ct);
        if (outcome.Kind != WriteOutcomeKind.TooLarge)
            return outcome;
        if (Halve(parts) is not var (first, second))
            return new(WriteOutcomeKind.PartialWrite, $"line too large for the backend: {outcome.Reason}");
        var a = await SendAsync(client, db, rp, first, ct);
        if (a.Kind != WriteOutcomeKind.Delivered && a.Kind != WriteOutcomeKind.PartialWrite)
            return a; // retry everything later; the backend may store the first half twice, which is idempotent
        var b = await SendAsync(client, db, rp, second, ct);
        return b.Kind == WriteOutcomeKind.Delivered ? a : b;
    }

    /// <summary>
    /// Splits at the part boundary or the newline nearest the middle (the halves of a part are compressed again when
    /// sent); null when only one line is left.
    /// </summary>
    private static (IReadOnlyList<BatchPart>, IReadOnlyList<BatchPart>)? Halve(IReadOnlyList<BatchPart> parts)
    {
        if (parts.Count > 1)
            return (parts.Take(parts.Count / 2).ToList(), parts.Skip(parts.Count / 2).ToList());
        var bytes = parts[0].Text;
        var span = bytes.Span;
        var middle = span.Length / 2;
        var cut = span[..middle].LastIndexOf((byte)'\n') + 1;
        if (cut <= 0)
        {
            var after = span[middle..].IndexOf((byte)'\n');
            cut = after < 0 ? span.Length : middle + after + 1;
        }
        return cut >= span.Length ? null : ([BatchPart.Uncompressed(bytes[..cut])], [BatchPart.Uncompressed(bytes[cut..])]);
    }
}
