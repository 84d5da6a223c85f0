using System.Collections.Concurrent;
using InfluxProxy.Core;

namespace InfluxProxy.Host.Backends;

/// <summary>
/// One configured InfluxDB server: its id (position in <see cref="Cluster.Backends"/>), where it sits (circle, index)
/// and how to reach it (<paramref name="TlsInsecureSkipVerify"/>: its own setting, not the global one).
/// </summary>
public sealed record BackendInfo(int Id, int Circle, int Index, string Name, Uri Url, string Username, string Password, bool TlsInsecureSkipVerify,
    bool WriteOnly = false);

public sealed record CircleInfo(int Id, string Name, IReadOnlyList<BackendInfo> Backends);

/// <summary>
/// The circles, their backends and who owns what: the placement built from the config, immutable after start, and
/// a memo of it for the write path.
/// </summary>
public sealed class Cluster
{
    public Cluster(ProxyConfig config)
    {
        Placement = ProxyConfigModule.placement(config);
        // With auth_secure (or a backend's auth_encrypt) the file holds ciphertext; backends are sent the plaintext.
        string Plain(BackendConfig b, string credential) => ProxyConfigModule.backendCredentialsEncrypted(config, b) ? Cipher.decrypt(credential) : credential;
        var id = 0;
        Circles = config.Circles
            .Select((c, ci) => new CircleInfo(ci, c.Name, c.Backends
                .Select((b, bi) => new BackendInfo(id++, ci, bi, b.Name, new Uri(b.Url), Plain(b, b.Username), Plain(b, b.Password),
                    b.TlsInsecureSkipVerify, b.WriteOnly))
                .ToList()))
            .ToList();
        Backends = Circles.SelectMany(c => c.Backends).ToList();
    }

    public IReadOnlyList<CircleInfo> Circles { get; }

    /// <summary>The rings of the circles and the shard key.</summary>
    public Placement Placement { get; }

    /// <summary>Every backend of every circle, circle by circle.</summary>
    public IReadOnlyList<BackendInfo> Backends { get; }

    /// <summary>The owner of (db, measurement) in each circle, in circle order.</summary>
    public IReadOnlyList<BackendInfo> Owners(string db, string measurement) =>
        PlacementModule.owners(db, measurement, Placement)
            .Select((index, circle) => Circles[circle].Backends[index])
            .ToList();

    /// <summary>Names remembered per database; past it they are forgotten, so a flood of names costs bounded memory.</summary>
    private const int Capacity = 100_000;

    /// <summary>Databases remembered; past it they are forgotten too (a write to a missing database is accepted while a backend cannot say).</summary>
    private const int DatabaseCapacity = 10_000;

    private readonly ConcurrentDictionary<string, Database> _databases = new();
    private int _databaseCount;
    private readonly ConcurrentDictionary<string, IReadOnlyList<BackendInfo>> _ownerSets = new();

    /// <summary>
    /// The owners of one database's measurements, remembered for /write, where every line names its measurement:
    /// looked up by the measurement's bytes as the line writes them (escapes included), so a line costs neither a
    /// decoded name nor a ring lookup. Each distinct set of owners is one shared list, so a request can group its
    /// lines by reference.
    /// </summary>
    public Database OwnersIn(string db)
    {
        if (_databases.TryGetValue(db, out var known))
            return known;
        Forget(_databases, ref _databaseCount, DatabaseCapacity);
        var added = new Database(this, db);
        var remembered = _databases.GetOrAdd(db, added);
        if (ReferenceEquals(remembered, added))
            Interlocked.Increment(ref _databaseCount);
        return remembered;
    }

    /// <summary>How many databases, and measurement names over all of them, the owner cache holds (counted as it goes).</summary>
    public (int Databases, long Names) Remembered =>
        (Volatile.Read(ref _databaseCount), _databases.Values.Sum(d => (long)d.Count));

    /// <summary>
    /// Empties <paramref name="entries"/> once it holds <paramref name="capacity"/> of them, counted by the caller:
    /// a <see cref="ConcurrentDictionary{TKey,TValue}"/>'s own Count takes every one of its locks, which cost 21 µs a
    /// miss at 100,000 names and held up every other request's lookups (measured: p50 355 ms with new names).
    /// </summary>
    private static void Forget<TKey, TValue>(ConcurrentDictionary<TKey, TValue> entries, ref int count, int capacity) where TKey : notnull
    {
        if (Volatile.Read(ref count) < capacity)
            return;
        entries.Clear();
        Volatile.Write(ref count, 0);
    }

    /// <summary>The ring's owners of the measurement, as the one shared list for that set of owners.</summary>
    private IReadOnlyList<BackendInfo> SharedOwners(string db, ReadOnlySpan<byte> escapedName)
    {
        var owners = Owners(db, LineScanner.Measurement(escapedName));
        return _ownerSets.GetOrAdd(string.Join(',', owners.Select(o => o.Id)), owners);
    }

    /// <summary>The owners of one database's measurements.</summary>
    public sealed class Database
    {
        private readonly Cluster _cache;
        private readonly string _db;
        private readonly ConcurrentDictionary<byte[], IReadOnlyList<BackendInfo>> _byName = new(ByteKeys.Instance);
        private readonly ConcurrentDictionary<byte[], IReadOnlyList<BackendInfo>>.AlternateLookup<ReadOnlySpan<byte>> _byBytes;
        private int _count;

        internal Database(Cluster cache, string db)
        {
            _cache = cache;
            _db = db;
            _byBytes = _byName.GetAlternateLookup<ReadOnlySpan<byte>>();
        }

        /// <summary>Names remembered, as counted (it may lag a concurrent add or forget by a few).</summary>
        public int Count => Volatile.Read(ref _count);

        /// <summary>The owner in each circle, in circle order, of the measurement written as <paramref name="escapedName"/>.</summary>
        public IReadOnlyList<BackendInfo> Of(ReadOnlySpan<byte> escapedName)
        {
            if (_byBytes.TryGetValue(escapedName, out var owners))
                return owners;
            Forget(_byName, ref _count, Capacity);
            owners = _cache.SharedOwners(_db, escapedName);
            if (_byBytes.TryAdd(escapedName, owners))
                Interlocked.Increment(ref _count);
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
