using System.Collections.Immutable;

namespace InfluxProxy.Host.Migration;

/// <summary>An immutable snapshot: which circles are migrating (not read from) and whether a resync runs.</summary>
public sealed record MigrationSnapshot(bool Resyncing, ImmutableArray<bool> Migrating)
{
    /// <summary>A circle that may serve reads.</summary>
    public bool Readable(int circle) => !Migrating[circle];
}

/// <summary>The migration flags, replaced whole on every change so readers always see a consistent snapshot.</summary>
public sealed class MigrationState
{
    private MigrationSnapshot _current;

    public MigrationState(int circles) => _current = new(false, [.. new bool[circles]]);

    public MigrationSnapshot Current => Volatile.Read(ref _current);

    /// <summary>Applies both changes together, or neither (the original applied <c>resyncing</c> even when the rest failed).</summary>
    public MigrationSnapshot Update(bool? resyncing, (int Circle, bool Migrating)? circle)
    {
        while (true)
        {
            var before = Current;
            var after = new MigrationSnapshot(
                resyncing ?? before.Resyncing,
                circle is var (id, migrating) ? before.Migrating.SetItem(id, migrating) : before.Migrating);
            if (Interlocked.CompareExchange(ref _current, after, before) == before)
                return after;
        }
    }
}
