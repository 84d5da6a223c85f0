using InfluxProxy.Core;

namespace InfluxProxy.Host.Migration;

/// <summary>
/// The migration flags (<see cref="MigrationFlags"/>), replaced whole on every change. A flag set with a lease (a
/// peer's job, <see cref="PeerFlags"/>) clears itself once the lease runs out unless it is renewed; a flag set
/// without one (this proxy's own job, an operator) holds until cleared.
/// </summary>
public sealed class MigrationState(int circles, TimeProvider time)
{
    private readonly Lock _lock = new();
    private MigrationFlags _current = MigrationFlagsModule.none(circles);
    /// <summary>Expiry by flag: a circle id, or <see cref="Resyncing"/>. Guarded by <see cref="_lock"/>.</summary>
    private readonly Dictionary<int, DateTimeOffset> _leases = [];
    /// <summary>The earliest expiry, in UTC ticks, read without the lock.</summary>
    private long _firstExpiry = long.MaxValue;

    private const int Resyncing = -1;

    public MigrationFlags Current
    {
        get
        {
            if (time.GetUtcNow().UtcTicks >= Interlocked.Read(ref _firstExpiry))
                Expire();
            return Volatile.Read(ref _current);
        }
    }

    /// <summary>Applies both changes of <paramref name="update"/> together; the flags after.</summary>
    /// <param name="lease">How long a flag it sets holds unless set again; null: until cleared.</param>
    public MigrationFlags Update(MigrationUpdate update, TimeSpan? lease = null)
    {
        lock (_lock)
        {
            var changed = new List<int>();
            if (update.Resyncing is not null)
                changed.Add(Resyncing);
            if (update.Circle is { } circle)
                changed.Add(circle.Value.Item1);
            foreach (var flag in changed)
                if (lease is { } held)
                    _leases[flag] = time.GetUtcNow() + held;
                else
                    _leases.Remove(flag);
            Interlocked.Exchange(ref _firstExpiry, _leases.Count > 0 ? _leases.Values.Min().UtcTicks : long.MaxValue);
            var after = MigrationFlagsModule.apply(update, _current);
            Volatile.Write(ref _current, after);
            return after;
        }
    }

    private void Expire()
    {
        lock (_lock)
        {
            var now = time.GetUtcNow();
            foreach (var (flag, until) in _leases.Where(l => l.Value <= now).ToList())
            {
                _leases.Remove(flag);
                var clear = flag == Resyncing
                    ? new MigrationUpdate(Microsoft.FSharp.Core.FSharpOption<bool>.Some(false), null)
                    : new MigrationUpdate(null, Microsoft.FSharp.Core.FSharpOption<Tuple<int, bool>>.Some(Tuple.Create(flag, false)));
                Volatile.Write(ref _current, MigrationFlagsModule.apply(clear, _current));
            }
            Interlocked.Exchange(ref _firstExpiry, _leases.Count > 0 ? _leases.Values.Min().UtcTicks : long.MaxValue);
        }
    }
}
