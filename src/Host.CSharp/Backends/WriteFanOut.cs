using InfluxProxy.Core;

namespace InfluxProxy.Host.Backends;

/// <summary>The lines of one /write body split by owner: chunks per backend, and the lines that did not parse.</summary>
public sealed class WriteFanOut
{
    /// <summary>InfluxDB lists every bad line; we list this many and count the rest.</summary>
    private const int ListedErrors = 10;

    private readonly Dictionary<int, List<LineChunk>> _chunks = [];
    private readonly List<string> _errors = [];

    public IEnumerable<(int BackendId, LineChunk Chunk)> Chunks =>
        _chunks.SelectMany(kv => kv.Value.Select(c => (kv.Key, c)));

    public int Points { get; private set; }
    public int Dropped { get; private set; }

    /// <summary>InfluxDB's text for the bad lines: <c>unable to parse '…': reason</c>, one per line.</summary>
    public string ParseErrors =>
        string.Join("\n", _errors) + (Dropped > _errors.Count ? $"\n(and {Dropped - _errors.Count} more)" : "");

    /// <summary>
    /// Scans the body once. Every point leaves with an explicit ns timestamp: its own, converted with overflow
    /// checks, or <paramref name="nowNs"/> truncated to the precision, the same for every circle.
    /// </summary>
    public static WriteFanOut Split(ReadOnlySpan<byte> body, Precision precision, long nowNs, string db, string rp, Cluster cluster, int flushSize)
    {
        var fanOut = new WriteFanOut();
        var defaultTime = PrecisionModule.truncate(precision, nowNs);
        var owners = new Dictionary<string, IReadOnlyList<BackendInfo>>();
        var lastMeasurement = ReadOnlySpan<byte>.Empty;
        IReadOnlyList<BackendInfo> lastOwners = [];
        var chunkHint = Math.Min(body.Length / Math.Max(1, cluster.Backends.Count / cluster.Circles.Count) + 1024, flushSize * 256);
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
            var measurement = body[line.Start..line.MeasurementEnd];
            if (!measurement.SequenceEqual(lastMeasurement))
            {
                var name = LineScanner.Measurement(measurement);
                if (!owners.TryGetValue(name, out lastOwners!))
                    owners[name] = lastOwners = cluster.Owners(db, name);
                lastMeasurement = measurement;
            }
            var point = body[line.Start..line.FieldsEnd];
            var timestamp = line.HasTimestamp ? line.Timestamp : defaultTime;
            foreach (var owner in lastOwners)
                fanOut.ChunkFor(owner.Id, db, rp, flushSize, chunkHint).Append(point, timestamp);
            fanOut.Points++;
        }
        return fanOut;
    }

    private void Reject(ReadOnlySpan<byte> line, string reason)
    {
        Dropped++;
        if (_errors.Count < ListedErrors)
            _errors.Add($"unable to parse '{System.Text.Encoding.UTF8.GetString(line)}': {reason}");
    }

    /// <summary>The backend's current chunk, a new one once it holds flush_size lines.</summary>
    private LineChunk ChunkFor(int backendId, string db, string rp, int flushSize, int capacityHint)
    {
        if (!_chunks.TryGetValue(backendId, out var list))
            _chunks[backendId] = list = [];
        if (list.Count == 0 || list[^1].Lines >= flushSize)
            list.Add(new LineChunk(db, rp, capacityHint));
        return list[^1];
    }
}
