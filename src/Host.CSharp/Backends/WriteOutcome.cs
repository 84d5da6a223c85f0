namespace InfluxProxy.Host.Backends;

/// <summary>What a backend's answer to a batch means for the proxy; a closed set, decided in one place.</summary>
public enum WriteOutcomeKind
{
    /// <summary>2xx: stored.</summary>
    Delivered,
    /// <summary>Worth retrying later from the backlog: 5xx, or 404 database not found while it is being created.</summary>
    Transient,
    /// <summary>No answer: refused connection, timeout. The backend is taken as down until a ping says otherwise.</summary>
    Unreachable,
    /// <summary>
    /// The connection closed mid-request without an answer: the backend went away while it had the batch (its process
    /// died or restarted). Down as <see cref="Unreachable"/>, and the batch is suspected of having killed it.
    /// </summary>
    Died,
    /// <summary>401/403: retried from the backlog, and the backend is reported as misconfigured.</summary>
    Unauthorized,
    /// <summary>400: the backend stored the valid points and refused the rest; never retried.</summary>
    PartialWrite,
    /// <summary>413: the batch must be split.</summary>
    TooLarge,
}

/// <summary>A backend's answer to one batch, with the reason text for logs and clients.</summary>
public readonly record struct WriteOutcome(WriteOutcomeKind Kind, string Reason)
{
    public static readonly WriteOutcome Delivered = new(WriteOutcomeKind.Delivered, "");

    /// <summary>Classifies an HTTP answer; <paramref name="body"/> is InfluxDB's error text, if any.</summary>
    public static WriteOutcome FromStatus(int status, string body) => status switch
    {
        >= 200 and < 300 => Delivered,
        400 => new(WriteOutcomeKind.PartialWrite, body),
        401 or 403 => new(WriteOutcomeKind.Unauthorized, $"status {status}: {body}"),
        413 => new(WriteOutcomeKind.TooLarge, body),
        _ => new(WriteOutcomeKind.Transient, $"status {status}: {body}"),
    };
}
