using InfluxProxy.Core;

namespace InfluxProxy.Host.Migration;

/// <summary>The migration flags (<see cref="MigrationFlags"/>), replaced whole on every change.</summary>
public sealed class MigrationState(int circles)
{
    private MigrationFlags _current = MigrationFlagsModule.none(circles);

    public MigrationFlags Current => Volatile.Read(ref _current);

    /// <summary>Applies both changes of <paramref name="update"/> together; the flags after.</summary>
    public MigrationFlags Update(MigrationUpdate update)
    {
        while (true)
        {
            var before = Current;
            var after = MigrationFlagsModule.apply(update, before);
            if (ReferenceEquals(Interlocked.CompareExchange(ref _current, after, before), before))
                return after;
        }
    }
}
