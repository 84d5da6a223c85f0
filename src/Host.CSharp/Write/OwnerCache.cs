using System.Collections.Concurrent;
using InfluxProxy.Core;
using InfluxProxy.Host.Backends;

namespace InfluxProxy.Host.Write;

/// <summary>
/// <see cref="Cluster.Owners"/> remembered for /write, where every line names its measurement: looked up by the
/// measurement's bytes as the line writes them (escapes included), so a line costs neither a decoded name nor a ring
/// lookup. Each distinct set of owners is one shared list, so a request can group its lines by reference.
/// </summary>
public sealed class OwnerCache(Cluster cluster)
{
    /// <summary>Names remembered per database; past it they are forgotten, so a flood of names costs bounded memory.</summary>
    private const int Capacity = 100_000;

    private readonly ConcurrentDictionary<string, Database> _databases = new();
    private readonly ConcurrentDictionary<string, IReadOnlyList<BackendInfo>> _ownerSets = new();

    public Database For(string db) => _databases.GetOrAdd(db, name => new Database(this, name));

    /// <summary>The ring's owners of the measurement, as the one shared list for that set of owners.</summary>
    private IReadOnlyList<BackendInfo> SharedOwners(string db, ReadOnlySpan<byte> escapedName)
    {
        var owners = cluster.Owners(db, LineScanner.Measurement(escapedName));
        return _ownerSets.GetOrAdd(string.Join(',', owners.Select(o => o.Id)), owners);
    }

    /// <summary>The owners of one database's measurements.</summary>
    public sealed class Database
    {
        private readonly OwnerCache _cache;
        private readonly string _db;
        private readonly ConcurrentDictionary<byte[], IReadOnlyList<BackendInfo>> _byName = new(ByteKeys.Instance);
        private readonly ConcurrentDictionary<byte[], IReadOnlyList<BackendInfo>>.AlternateLookup<ReadOnlySpan<byte>> _byBytes;

        internal Database(OwnerCache cache, string db)
        {
            _cache = cache;
            _db = db;
            _byBytes = _byName.GetAlternateLookup<ReadOnlySpan<byte>>();
        }

        /// <summary>The owner in each circle, in circle order, of the measurement written as <paramref name="escapedName"/>.</summary>
        public IReadOnlyList<BackendInfo> Of(ReadOnlySpan<byte> escapedName)
        {
            if (_byBytes.TryGetValue(escapedName, out var owners))
                return owners;
            if (_byName.Count >= Capacity)
                _byName.Clear();
            owners = _cache.SharedOwners(_db, escapedName);
            _byBytes.TryAdd(escapedName, owners);
            return owners;
        }
    }

    /// <summary>Byte-array keys compared by content, looked up by span without allocating.</summary>
    private sealed class ByteKeys : IEqualityComparer<byte[]>, IAlternateEqualityComparer<ReadOnlySpan<byte>, byte[]>
    {
        public static readonly ByteKeys Instance = new();

        public bool Equals(byte[]? x, byte[]? y) => x.AsSpan().SequenceEqual(y);
        public int GetHashCode(byte[] key) => GetHashCode(key.AsSpan());
        public bool Equals(ReadOnlySpan<byte> alternate, byte[] other) => alternate.SequenceEqual(other);
        public byte[] Create(ReadOnlySpan<byte> alternate) => alternate.ToArray();

        /// <summary>Seeded per process (<see cref="HashCode"/>), so names cannot be chosen to collide.</summary>
        public int GetHashCode(ReadOnlySpan<byte> alternate)
        {
            var hash = new HashCode();
            hash.AddBytes(alternate);
            return hash.ToHashCode();
        }
    }
}
