namespace InfluxProxy.Host.Backlog;

/// <summary>What became of an append.</summary>
public enum AppendOutcome
{
    /// <summary>Written and fsynced: it survives a crash.</summary>
    Appended,
    /// <summary>The size cap would be exceeded; nothing was written. Commits free space.</summary>
    Full,
    /// <summary>The disk refused (ENOSPC, EIO…); nothing of the record remains in the log. Later appends may succeed.</summary>
    IoError,
    /// <summary>The record exceeds the per-record cap (or db/rp their 64 KiB limit); it can never be stored.</summary>
    TooLarge,
}
