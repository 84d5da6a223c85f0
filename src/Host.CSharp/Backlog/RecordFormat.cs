using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace InfluxProxy.Host.Backlog;

/// <summary>
/// Bytes of segments and records (drawn in <see cref="FileBacklog"/>'s header comment): encoding, validated reads,
/// and the resynchronising scan that steps over damage. Every read is bounded by a limit the caller trusts.
/// </summary>
internal static class RecordFormat
{
    public const uint Marker = 0x1B0C5EED;
    public const int RecordHeader = 12;
    public const int SegmentHeader = 8;
    public const uint Version = 1;
    /// <summary>Cap on a record body: a garbage length can never make us allocate more than this.</summary>
    public const int MaxBody = 256 * 1024 * 1024;
    public const int MaxName = ushort.MaxValue;

    public static ReadOnlySpan<byte> SegmentMagic => "IPXB"u8;

    public static byte[] SegmentHeaderBytes()
    {
        var header = new byte[SegmentHeader];
        SegmentMagic.CopyTo(header);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(4), Version);
        return header;
    }

    /// <summary>
    /// The whole record (header and body), its first <c>Length</c> bytes of a buffer from <see cref="RentedBytes"/> (the
    /// caller gives it back); an error when db, rp or the body exceed their caps.
    /// </summary>
    public static (byte[]? Rented, int Length, string? Error) Encode(string db, string rp, long appendedMs, IReadOnlyList<ReadOnlyMemory<byte>> payload)
    {
        var payloadLength = payload.Sum(p => (long)p.Length);
        var dbBytes = Encoding.UTF8.GetBytes(db);
        var rpBytes = Encoding.UTF8.GetBytes(rp);
        if (dbBytes.Length > MaxName || rpBytes.Length > MaxName)
            return (null, 0, $"db or rp name longer than {MaxName} bytes");
        var bodyLength = 2L + dbBytes.Length + 2 + rpBytes.Length + 8 + payloadLength;
        if (bodyLength > MaxBody)
            return (null, 0, $"a record of {bodyLength} bytes exceeds the backlog's {MaxBody} byte record cap");
        var length = (int)(RecordHeader + bodyLength);
        var rented = RentedBytes.Rent(length);
        var record = rented.AsSpan(0, length); // every byte is written below
        var body = record[RecordHeader..];
        BinaryPrimitives.WriteUInt16BigEndian(body, (ushort)dbBytes.Length);
        dbBytes.CopyTo(body[2..]);
        var at = 2 + dbBytes.Length;
        BinaryPrimitives.WriteUInt16BigEndian(body[at..], (ushort)rpBytes.Length);
        rpBytes.CopyTo(body[(at + 2)..]);
        at += 2 + rpBytes.Length;
        BinaryPrimitives.WriteInt64BigEndian(body[at..], appendedMs);
        at += 8;
        foreach (var piece in payload)
        {
            piece.Span.CopyTo(body[at..]);
            at += piece.Length;
        }
        BinaryPrimitives.WriteUInt32BigEndian(record, Marker);
        BinaryPrimitives.WriteUInt32BigEndian(record[4..], (uint)bodyLength);
        BinaryPrimitives.WriteUInt32BigEndian(record[8..], Crc32.HashToUInt32(body));
        return (rented, length, null);
    }

    /// <summary>The appended-at time of an encoded record (for the oldest-pending metric).</summary>
    public static DateTimeOffset AppendedAtOf(ReadOnlySpan<byte> record)
    {
        var body = record[RecordHeader..];
        var dbLength = BinaryPrimitives.ReadUInt16BigEndian(body);
        var rpLength = BinaryPrimitives.ReadUInt16BigEndian(body[(2 + dbLength)..]);
        return DateTimeOffset.FromUnixTimeMilliseconds(BinaryPrimitives.ReadInt64BigEndian(body[(4 + dbLength + rpLength)..]));
    }

    /// <summary>
    /// The record at <paramref name="offset"/> when its marker, length and CRC are valid, its body decodes and it
    /// ends at or before <paramref name="limit"/>; null otherwise (nothing larger than <see cref="MaxBody"/> is read).
    /// </summary>
    public static BacklogRecord? TryRead(SafeFileHandle file, long segment, long offset, long limit)
    {
        Span<byte> header = stackalloc byte[RecordHeader];
        if (limit - offset < RecordHeader || RandomAccess.Read(file, header, offset) < RecordHeader)
            return null;
        var length = BinaryPrimitives.ReadUInt32BigEndian(header[4..]);
        if (BinaryPrimitives.ReadUInt32BigEndian(header) != Marker || length > MaxBody || offset + RecordHeader + length > limit)
            return null;
        var body = new byte[length];
        if (RandomAccess.Read(file, body, offset + RecordHeader) < length
            || Crc32.HashToUInt32(body) != BinaryPrimitives.ReadUInt32BigEndian(header[8..]))
            return null;
        return Decode(body, new BacklogPosition(segment, offset), new BacklogPosition(segment, offset + RecordHeader + length));
    }

    private static BacklogRecord? Decode(byte[] body, BacklogPosition position, BacklogPosition next)
    {
        var span = body.AsSpan();
        if (span.Length < 12)
            return null;
        var dbLength = BinaryPrimitives.ReadUInt16BigEndian(span);
        if (span.Length < 2 + dbLength + 2 + 8)
            return null;
        var rpLength = BinaryPrimitives.ReadUInt16BigEndian(span[(2 + dbLength)..]);
        var at = 4 + dbLength + rpLength;
        if (span.Length < at + 8)
            return null;
        var appendedMs = BinaryPrimitives.ReadInt64BigEndian(span[at..]);
        if (appendedMs < DateTimeOffset.MinValue.ToUnixTimeMilliseconds() || appendedMs > DateTimeOffset.MaxValue.ToUnixTimeMilliseconds())
            return null;
        return new BacklogRecord(
            position,
            Encoding.UTF8.GetString(span.Slice(2, dbLength)),
            Encoding.UTF8.GetString(span.Slice(4 + dbLength, rpLength)),
            body.AsMemory(at + 8),
            DateTimeOffset.FromUnixTimeMilliseconds(appendedMs),
            next,
            RecordHeader + body.Length);
    }

    /// <summary>
    /// The first valid record at or after <paramref name="offset"/> and before <paramref name="limit"/>, stepping over
    /// damage by searching for the next marker whose record checks out; also how many damaged spots were stepped over
    /// and where they began. Null record: none left before the limit.
    /// </summary>
    public static (BacklogRecord? Record, int Skipped, long FirstBad) ReadValid(SafeFileHandle file, long segment, long offset, long limit)
    {
        var skipped = 0;
        var firstBad = -1L;
        while (offset < limit)
        {
            if (TryRead(file, segment, offset, limit) is { } record)
                return (record, skipped, firstBad);
            if (skipped++ == 0)
                firstBad = offset;
            // Step over the marker-looking spots that do not start a valid record: one bad spot counts once.
            offset = FindMarker(file, offset + 1, limit);
            while (offset < limit && TryRead(file, segment, offset, limit) is null)
                offset = FindMarker(file, offset + 1, limit);
        }
        return (null, skipped, firstBad);
    }

    /// <summary>The next offset in [from, limit) holding the record marker, or <paramref name="limit"/>.</summary>
    private static long FindMarker(SafeFileHandle file, long from, long limit)
    {
        Span<byte> marker = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(marker, Marker);
        var buffer = new byte[64 * 1024];
        for (var at = from; at < limit; at += buffer.Length - (marker.Length - 1))
        {
            var read = RandomAccess.Read(file, buffer.AsSpan(0, (int)Math.Min(buffer.Length, limit - at)), at);
            var found = buffer.AsSpan(0, read).IndexOf(marker);
            if (found >= 0)
                return at + found;
            if (at + read >= limit || read < buffer.Length)
                break;
        }
        return limit;
    }
}
