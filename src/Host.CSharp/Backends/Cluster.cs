using InfluxProxy.Core;

namespace InfluxProxy.Host.Backends;

/// <summary>One configured InfluxDB server: its id (position in <see cref="Cluster.Backends"/>), where it sits (circle, index) and how to reach it.</summary>
public sealed record BackendInfo(int Id, int Circle, int Index, string Name, Uri Url, string Username, string Password);

public sealed record CircleInfo(int Id, string Name, IReadOnlyList<BackendInfo> Backends);

/// <summary>The circles, their backends and the placement built from the config; immutable after start.</summary>
public sealed class Cluster
{
    private readonly Placement _placement;

    public Cluster(ProxyConfig config)
    {
        _placement = ProxyConfigModule.placement(config);
        // With auth_secure the file holds ciphertext; backends are sent the plaintext.
        string Plain(string credential) => config.AuthSecure ? Cipher.decrypt(credential) : credential;
        var id = 0;
        Circles = config.Circles
            .Select((c, ci) => new CircleInfo(ci, c.Name, c.Backends
                .Select((b, bi) => new BackendInfo(id++, ci, bi, b.Name, new Uri(b.Url), Plain(b.Username), Plain(b.Password)))
                .ToList()))
            .ToList();
        Backends = Circles.SelectMany(c => c.Backends).ToList();
    }

    public IReadOnlyList<CircleInfo> Circles { get; }

    /// <summary>Every backend of every circle, circle by circle.</summary>
    public IReadOnlyList<BackendInfo> Backends { get; }

    /// <summary>The owner of (db, measurement) in each circle, in circle order.</summary>
    public IReadOnlyList<BackendInfo> Owners(string db, string measurement) =>
        PlacementModule.owners(db, measurement, _placement)
            .Select((index, circle) => Circles[circle].Backends[index])
            .ToList();
}
