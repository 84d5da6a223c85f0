using System.Buffers.Binary;
using System.IO.Hashing;

namespace InfluxProxy.Host.Backlog;

/// <summary>
/// The consumer's committed position, in two slots of one preallocated file written in turn (FasterLog's commit record:
/// versioned and checksummed). A torn or failed write damages only the slot being written; the other still holds the
/// previous commit. Slots are overwritten in place, so committing needs no new disk blocks: a full disk cannot stop
/// the consumer from committing and so deleting segments (on copy-on-write filesystems it may still).
/// </summary>
internal sealed class CommitFile : IDisposable
{
    private const int SlotBytes = 36;
    private const int SlotStride = 512;
    private const uint Version = 1;
    private static ReadOnlySpan<byte> Magic => "IPXC"u8;

    private readonly FileStream _file;
    private readonly Action<BacklogIoStep, FileStream, ReadOnlyMemory<byte>>? _faults;
    private ulong _sequence;

    private CommitFile(FileStream file, ulong sequence, Action<BacklogIoStep, FileStream, ReadOnlyMemory<byte>>? faults)
    {
        _file = file;
        _sequence = sequence;
        _faults = faults;
    }

    /// <summary>
    /// Opens (creating and preallocating if needed) the commit file; the newest valid slot's position, or null when
    /// none was committed yet; <c>Unreadable</c> when slots hold bytes that are no valid commit.
    /// </summary>
    public static (CommitFile File, BacklogPosition? Position, bool Unreadable) Open(string dir, string fileName, Action<BacklogIoStep, FileStream, ReadOnlyMemory<byte>>? faults)
    {
        var path = Path.Combine(dir, fileName);
        var created = !File.Exists(path);
        var file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read, bufferSize: 0);
        var opened = false;
        try
        {
            if (file.Length < 2 * SlotStride)
            {
                Preallocate(file);
                if (created)
                    DirectorySync.Fsync(dir);
            }
            var best = (Sequence: 0UL, Position: (BacklogPosition?)null);
            var unreadable = false;
            var slot = new byte[SlotBytes];
            for (var i = 0; i < 2; i++)
            {
                RandomAccess.Read(file.SafeFileHandle, slot, i * SlotStride);
                if (Parse(slot) is { } parsed)
                {
                    if (best.Position is null || parsed.Sequence > best.Sequence)
                        best = parsed;
                }
                else if (slot.AsSpan().ContainsAnyExcept((byte)0))
                    unreadable = true;
            }
            opened = true;
            return (new CommitFile(file, best.Sequence, faults), best.Position, unreadable && best.Position is null);
        }
        finally
        {
            if (!opened)
                file.Dispose();
        }
    }

    /// <summary>Writes <paramref name="position"/> to the older slot and fsyncs; throws <see cref="IOException"/> when the disk refuses.</summary>
    public void Write(BacklogPosition position)
    {
        var sequence = _sequence + 1;
        var slot = new byte[SlotBytes];
        Magic.CopyTo(slot);
        BinaryPrimitives.WriteUInt32BigEndian(slot.AsSpan(4), Version);
        BinaryPrimitives.WriteUInt64BigEndian(slot.AsSpan(8), sequence);
        BinaryPrimitives.WriteInt64BigEndian(slot.AsSpan(16), position.Segment);
        BinaryPrimitives.WriteInt64BigEndian(slot.AsSpan(24), position.Offset);
        BinaryPrimitives.WriteUInt32BigEndian(slot.AsSpan(32), Crc32.HashToUInt32(slot.AsSpan(0, 32)));
        _file.Position = (long)(sequence % 2) * SlotStride;
        _faults?.Invoke(BacklogIoStep.CommitWrite, _file, slot);
        _file.Write(slot);
        _file.Flush(flushToDisk: true);
        _sequence = sequence;
    }

    /// <summary>
    /// Zeros written up to the full size (not a sparse extension, which would leave holes needing blocks later), so
    /// that every later commit overwrites allocated blocks.
    /// </summary>
    private static void Preallocate(FileStream file)
    {
        var length = file.Length;
        if (length < 2 * SlotStride)
            RandomAccess.Write(file.SafeFileHandle, new byte[2 * SlotStride - length], length);
        file.Flush(flushToDisk: true);
    }

    private static (ulong Sequence, BacklogPosition? Position)? Parse(ReadOnlySpan<byte> slot)
    {
        if (!slot[..4].SequenceEqual(Magic) || BinaryPrimitives.ReadUInt32BigEndian(slot[4..]) != Version
            || Crc32.HashToUInt32(slot[..32]) != BinaryPrimitives.ReadUInt32BigEndian(slot[32..]))
            return null;
        return (BinaryPrimitives.ReadUInt64BigEndian(slot[8..]),
            new BacklogPosition(BinaryPrimitives.ReadInt64BigEndian(slot[16..]), BinaryPrimitives.ReadInt64BigEndian(slot[24..])));
    }

    public void Dispose() => _file.Dispose();
}
