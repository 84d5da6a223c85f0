using System.Buffers.Binary;
using MessagePack;

namespace InfluxProxy.Host.Migration;

/// <summary>
/// The top-level MessagePack values of a stream (InfluxDB's chunks, one map each), each whole once its last byte has
/// arrived. MessagePack's own <c>MessagePackStreamReader</c> skips a value from its start again after every read, so
/// its cost grows with the square of the value's size (a 5,000-row chunk arrives in dozens of reads: 14% of the
/// proxy's CPU in a copy); this scan goes on from where the previous read left it.
/// </summary>
public sealed class MessagePackValues(Stream stream) : IDisposable
{
    private readonly StreamBuffer _read = new(stream);

    /// <summary>How many of the unread bytes the scan has passed.</summary>
    private int _scanned;

    /// <summary>Items still to pass before the value being scanned is whole: a container's header adds its items.</summary>
    private long _pending;

    /// <summary>The length of the value last returned, taken on the next call.</summary>
    private int _returned;

    /// <summary>
    /// The next whole value, valid until the next call; null once the stream has ended. Throws
    /// <see cref="EndOfStreamException"/> when the stream ends inside a value, <see cref="MessagePackSerializationException"/>
    /// on a byte no MessagePack value begins with.
    /// </summary>
    public async ValueTask<ReadOnlyMemory<byte>?> NextAsync(CancellationToken ct)
    {
        _read.Take(_returned);
        _returned = 0;
        while (!TryScan())
        {
            if (await _read.FillAsync(ct))
                continue;
            if (_read.Unread.IsEmpty)
                return null;
            throw new EndOfStreamException($"the stream ended inside a value, after {_read.Unread.Length} bytes of it");
        }
        (_returned, _scanned) = (_scanned, 0);
        return _read.Unread[.._returned];
    }

    /// <summary>Scans on from where the last scan stopped; true once the value is whole.</summary>
    private bool TryScan()
    {
        var unread = _read.Unread.Span;
        if (_pending == 0 && !unread.IsEmpty)
            _pending = 1;
        while (_pending > 0 && Item(unread[_scanned..]) is var (length, items) && length > 0)
        {
            _scanned += length;
            _pending += items - 1;
        }
        return _pending == 0 && _scanned > 0;
    }

    /// <summary>
    /// The item at the start of <paramref name="bytes"/>: its length (a container's header only) and how many items
    /// a container's header adds; a length of 0 while the item (or header) has not wholly arrived.
    /// </summary>
    private static (int Length, long Items) Item(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty)
            return (0, 0);
        var code = bytes[0];
        return code switch
        {
            <= 0x7f or >= 0xe0 or 0xc0 or 0xc2 or 0xc3 => (1, 0),
            <= 0x8f => (1, 2L * (code & 0x0f)),
            <= 0x9f => (1, code & 0x0f),
            <= 0xbf => Whole(bytes, 1 + (code & 0x1f)),
            0xc4 or 0xd9 => Sized(bytes, 1, 2),
            0xc5 or 0xda => Sized(bytes, 2, 3),
            0xc6 or 0xdb => Sized(bytes, 4, 5),
            0xc7 => Sized(bytes, 1, 3),
            0xc8 => Sized(bytes, 2, 4),
            0xc9 => Sized(bytes, 4, 6),
            0xca or 0xce or 0xd2 => Whole(bytes, 5),
            0xcb or 0xcf or 0xd3 => Whole(bytes, 9),
            0xcc or 0xd0 => Whole(bytes, 2),
            0xcd or 0xd1 => Whole(bytes, 3),
            0xd4 => Whole(bytes, 3),
            0xd5 => Whole(bytes, 4),
            0xd6 => Whole(bytes, 6),
            0xd7 => Whole(bytes, 10),
            0xd8 => Whole(bytes, 18),
            0xdc => Header(bytes, 2, 1),
            0xdd => Header(bytes, 4, 1),
            0xde => Header(bytes, 2, 2),
            0xdf => Header(bytes, 4, 2),
            _ => throw new MessagePackSerializationException($"0x{code:x2} begins no MessagePack value"),
        };
    }

    /// <summary>A scalar of <paramref name="length"/> bytes, once they have all arrived.</summary>
    private static (int, long) Whole(ReadOnlySpan<byte> bytes, long length) => (length <= bytes.Length ? (int)length : 0, 0);

    /// <summary>A string, binary or extension: <paramref name="before"/> bytes, then a payload as long as the size after the code says.</summary>
    private static (int, long) Sized(ReadOnlySpan<byte> bytes, int sizeWidth, int before) =>
        Size(bytes, sizeWidth) is var size and >= 0 ? Whole(bytes, before + size) : (0, 0);

    /// <summary>An array's or map's header: its items (<paramref name="perEntry"/> per entry) as the size after the code says.</summary>
    private static (int, long) Header(ReadOnlySpan<byte> bytes, int sizeWidth, int perEntry) =>
        Size(bytes, sizeWidth) is var size and >= 0 ? (1 + sizeWidth, perEntry * size) : (0, 0);

    /// <summary>The big-endian size after the code; -1 while it has not wholly arrived.</summary>
    private static long Size(ReadOnlySpan<byte> bytes, int width) =>
        bytes.Length <= width ? -1
        : width switch
        {
            1 => bytes[1],
            2 => BinaryPrimitives.ReadUInt16BigEndian(bytes[1..]),
            _ => BinaryPrimitives.ReadUInt32BigEndian(bytes[1..]),
        };

    public void Dispose() => _read.Dispose();
}
