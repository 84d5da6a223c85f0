using InfluxProxy.Core;

namespace InfluxProxy.Host.Backends;

/// <summary>
/// The lines of one /write body split by owners: chunks per set of owners (one backend per circle, so one chunk
/// serves every circle), the lines that did not parse, and the points InfluxDB's storage would refuse.
/// </summary>
public sealed class WriteFanOut
{
    /// <summary>InfluxDB lists every bad line; we list this many and count the rest.</summary>
    private const int ListedErrors = 10;

    /// <summary>The chunks bound for one set of owners, the last one filling.</summary>
    private sealed record OwnerGroup(IReadOnlyList<BackendInfo> Owners, List<LineChunk> Chunks);

    /// <summary>By the shared owner lists of <see cref="OwnerCache"/>.</summary>
    private readonly Dictionary<IReadOnlyList<BackendInfo>, OwnerGroup> _groups = new(ReferenceEqualityComparer.Instance);
    private readonly List<string> _errors = [];
    private string? _firstTimeTag;
    private string? _firstOnlyTimeField;

    /// <summary>Every owner reports each of its chunks here; expect <see cref="Deliveries"/> reports.</summary>
    public DeliveryTally Tally { get; } = new();

    public IEnumerable<(IReadOnlyList<BackendInfo> Owners, LineChunk Chunk)> Chunks =>
        _groups.Values.SelectMany(g => g.Chunks.Select(c => (g.Owners, c)));

    /// <summary>One per chunk and owner.</summary>
    public int Deliveries => _groups.Values.Sum(g => g.Chunks.Count * g.Owners.Count);

    public int Points { get; private set; }
    public int Dropped { get; private set; }
    /// <summary>Well-formed lines InfluxDB's storage would refuse (<see cref="LineKind.TimeTag"/>, <see cref="LineKind.OnlyTimeField"/>).</summary>
    public int Refused { get; private set; }
    /// <summary>Well-formed lines older than the floor given to <see cref="Split"/>: beyond their retention policy.</summary>
    public int BeyondRetention { get; private set; }
    /// <summary>The oldest timestamp of a well-formed line, in ns; <see cref="long.MaxValue"/> when there is none.</summary>
    public long Oldest { get; private set; } = long.MaxValue;

    /// <summary>InfluxDB's text for the bad lines: <c>unable to parse '…': reason</c>, one per line.</summary>
    public string ParseErrors =>
        string.Join("\n", _errors) + (Dropped > _errors.Count ? $"\n(and {Dropped - _errors.Count} more)" : "");

    /// <summary>
    /// InfluxDB's storage answer for the refused lines, null when none: its first reason, tag keys checked first as
    /// it does, and their count; else the points beyond retention (the lines that did not parse are in neither, as
    /// in InfluxDB's answer).
    /// </summary>
    public string? StorageRefusal =>
        Refused > 0 ? $"partial write: {_firstTimeTag ?? _firstOnlyTimeField} dropped={Refused}"
        : BeyondRetention > 0 ? $"partial write: points beyond retention policy dropped={BeyondRetention}"
        : null;

    /// <summary>
    /// Scans the body once. Every point leaves with an explicit ns timestamp: its own, converted with overflow
    /// checks, or <paramref name="nowNs"/> truncated to the precision, the same for every circle.
    /// </summary>
    /// <param name="backendsPerCircle">About how many sets of owners the lines spread over: sizes the chunks' buffers.</param>
    /// <param name="retentionFloorNs">Points older than this are refused as beyond retention, before any other check.</param>
    public static WriteFanOut Split(ReadOnlySpan<byte> body, Precision precision, long nowNs, string db, string rp, OwnerCache.Database owners, int backendsPerCircle, int flushSize,
        long retentionFloorNs)
    {
        var fanOut = new WriteFanOut();
        var defaultTime = PrecisionModule.truncate(precision, nowNs);
        // In ns a line's own timestamp is already what the backends are sent: most lines go out byte for byte.
        var verbatim = precision.IsNanosecond;
        var lastMeasurement = ReadOnlySpan<byte>.Empty;
        OwnerGroup group = null!;
        var chunkHint = Math.Min(body.Length / backendsPerCircle + 1024, flushSize * 256);
        var offset = 0;
        while (offset < body.Length)
        {
            var line = LineScanner.Scan(body, offset, precision);
            offset = line.Next;
            if (line.Kind == LineKind.Blank)
                continue;
            if (line.Kind == LineKind.Malformed)
            {
                fanOut.Reject(body[line.Start..line.End], line.Error);
                continue;
            }
            var timestamp = line.HasTimestamp ? line.Timestamp : defaultTime;
            fanOut.Oldest = Math.Min(fanOut.Oldest, timestamp);
            if (timestamp < retentionFloorNs)
            {
                fanOut.BeyondRetention++;
                continue;
            }
            if (line.Kind != LineKind.Point)
            {
                fanOut.Refuse(line);
                continue;
            }
            var measurement = body[line.Start..line.MeasurementEnd];
            if (!measurement.SequenceEqual(lastMeasurement))
            {
                group = fanOut.GroupOf(owners.Of(measurement));
                lastMeasurement = measurement;
            }
            var chunk = fanOut.ChunkFor(group, db, rp, flushSize, chunkHint);
            if (verbatim && IsPointSpaceTimestamp(body, line))
                chunk.AppendVerbatim(body[line.Start..line.End]);
            else
                chunk.Append(body[line.Start..line.FieldsEnd], timestamp);
            fanOut.Points++;
        }
        return fanOut;
    }

    /// <summary>The line is <c>point ' ' timestamp</c> exactly: one space before the timestamp, nothing after it.</summary>
    private static bool IsPointSpaceTimestamp(ReadOnlySpan<byte> body, in ScannedLine line) =>
        line.HasTimestamp && body[line.FieldsEnd] == (byte)' ' && body[line.FieldsEnd + 1] is not ((byte)' ' or (byte)'\t' or 0)
        && body[line.End - 1] != (byte)' ';

    /// <summary>Gives every chunk's buffer back; for a split that is replaced before anything was sent.</summary>
    public void Discard()
    {
        foreach (var (_, chunk) in Chunks)
            chunk.Discard();
    }

    private void Reject(ReadOnlySpan<byte> line, string reason)
    {
        Dropped++;
        if (_errors.Count < ListedErrors)
            _errors.Add($"unable to parse '{System.Text.Encoding.UTF8.GetString(line)}': {reason}");
    }

    private void Refuse(in ScannedLine line)
    {
        Refused++;
        if (line.Kind == LineKind.TimeTag)
            _firstTimeTag ??= line.Error;
        else
            _firstOnlyTimeField ??= line.Error;
    }

    private OwnerGroup GroupOf(IReadOnlyList<BackendInfo> owners)
    {
        if (!_groups.TryGetValue(owners, out var group))
            _groups[owners] = group = new OwnerGroup(owners, []);
        return group;
    }

    /// <summary>The owners' current chunk, a new one once it holds flush_size lines.</summary>
    private LineChunk ChunkFor(OwnerGroup group, string db, string rp, int flushSize, int capacityHint)
    {
        var chunks = group.Chunks;
        if (chunks.Count == 0 || chunks[^1].Lines >= flushSize)
            chunks.Add(new LineChunk(db, rp, group.Owners.Count, Tally, capacityHint));
        return chunks[^1];
    }
}
