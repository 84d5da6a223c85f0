namespace InfluxProxy.Host.Backends;

public enum DeliveryKind
{
    /// <summary>The owner stored the points.</summary>
    Delivered,
    /// <summary>The points are durably in the owner's on-disk backlog and will be replayed.</summary>
    Backlogged,
    /// <summary>The owner refused some points (e.g. a field type conflict); its error text is the reason.</summary>
    PartialWrite,
    /// <summary>Neither delivered nor persisted (backlog full or failing): the client must retry.</summary>
    Failed,
}

/// <summary>What became of one request's lines at one backend.</summary>
public readonly record struct Delivery(DeliveryKind Kind, string Reason)
{
    public static readonly Delivery Delivered = new(DeliveryKind.Delivered, "");
    public static readonly Delivery Backlogged = new(DeliveryKind.Backlogged, "");
}
