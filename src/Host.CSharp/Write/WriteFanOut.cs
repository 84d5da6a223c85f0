using InfluxProxy.Core;
using InfluxProxy.Host.Backends;
using Microsoft.FSharp.Collections;
using Microsoft.FSharp.Core;

namespace InfluxProxy.Host.Write;

/// <summary>
/// The lines of one /write body split by owners: chunks per set of owners (one backend per circle, so one chunk
/// serves every circle), and the counts of what the lines are (<see cref="LineCounts"/>).
/// </summary>
public sealed class WriteFanOut
{
    /// <summary>The chunks bound for one set of owners, the last one filling.</summary>
    private sealed record OwnerGroup(IReadOnlyList<BackendInfo> Owners, List<LineChunk> Chunks);

    /// <summary>By the shared owner lists of <see cref="Cluster.OwnersIn"/>.</summary>
    private readonly Dictionary<IReadOnlyList<BackendInfo>, OwnerGroup> _groups = new(ReferenceEqualityComparer.Instance);
    private readonly List<(string, LineError)> _listed = [];
    private int _unparsed;
    private int _refused;
    private int _beyondRetention;
    private LineError? _firstTimeTag;
    private LineError? _firstOnlyTimeField;

    /// <summary>Every owner reports each of its chunks here; expect <see cref="Deliveries"/> reports.</summary>
    public DeliveryTally Tally { get; } = new();

    public IEnumerable<(IReadOnlyList<BackendInfo> Owners, LineChunk Chunk)> Chunks =>
        _groups.Values.SelectMany(g => g.Chunks.Select(c => (g.Owners, c)));

    /// <summary>One per chunk and owner.</summary>
    public int Deliveries => _groups.Values.Sum(g => g.Chunks.Count * g.Owners.Count);

    public int Points { get; private set; }

    /// <summary>The oldest timestamp of a well-formed line, in ns; <see cref="long.MaxValue"/> when there is none.</summary>
    public long Oldest { get; private set; } = long.MaxValue;

    /// <summary>What the lines are, for the answer (<see cref="WriteAnswerModule"/>).</summary>
    public LineCounts Counts => new(
        Points, _unparsed, ListModule.OfSeq(_listed.Select(l => Tuple.Create(l.Item1, l.Item2))), _refused,
        _firstTimeTag is null ? FSharpOption<LineError>.None : FSharpOption<LineError>.Some(_firstTimeTag),
        _firstOnlyTimeField is null ? FSharpOption<LineError>.None : FSharpOption<LineError>.Some(_firstOnlyTimeField),
        _beyondRetention);

    /// <summary>
    /// Scans the body once. Every point leaves with an explicit ns timestamp: its own, converted with overflow
    /// checks, or <paramref name="nowNs"/> truncated to the precision, the same for every circle.
    /// </summary>
    /// <param name="backendsPerCircle">About how many sets of owners the lines spread over: sizes the chunks' buffers.</param>
    /// <param name="retentionFloorNs">Points older than this are refused as beyond retention, before any other check.</param>
    public static WriteFanOut Split(ReadOnlySpan<byte> body, Precision precision, long nowNs, string db, string rp, Cluster.Database owners, int backendsPerCircle, int flushSize,
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
                fanOut.Reject(body[line.Start..line.End], line.Error.Value);
                continue;
            }
            var timestamp = line.HasTimestamp ? line.Timestamp : defaultTime;
            fanOut.Oldest = Math.Min(fanOut.Oldest, timestamp);
            if (timestamp < retentionFloorNs)
            {
                fanOut._beyondRetention++;
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

    private void Reject(ReadOnlySpan<byte> line, LineError error)
    {
        _unparsed++;
        if (_listed.Count < LineCountsModule.listedMost)
            _listed.Add((System.Text.Encoding.UTF8.GetString(line), error));
    }

    private void Refuse(in ScannedLine line)
    {
        _refused++;
        if (line.Kind == LineKind.TimeTag)
            _firstTimeTag ??= line.Error.Value;
        else
            _firstOnlyTimeField ??= line.Error.Value;
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
