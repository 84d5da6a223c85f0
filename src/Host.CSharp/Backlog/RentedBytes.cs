using System.Buffers;

namespace InfluxProxy.Host.Backlog;

/// <summary>
/// Byte arrays for records and the payloads read back from them: rented from the shared pool up to
/// <see cref="PooledMax"/>, allocated beyond it. The shared pool keeps what it is given back, arrays up to a gigabyte
/// included, so records of a few tens of MB (large requests, or batches backlogged during an outage) would stay
/// resident long after; those are left to the GC instead.
/// </summary>
public static class RentedBytes
{
    public const int PooledMax = 4 * 1024 * 1024;

    /// <summary>An array of at least <paramref name="length"/> bytes; give it back with <see cref="Return"/>.</summary>
    public static byte[] Rent(int length) =>
        length <= PooledMax ? ArrayPool<byte>.Shared.Rent(length) : GC.AllocateUninitializedArray<byte>(length);

    public static void Return(byte[] array)
    {
        if (array.Length <= PooledMax)
            ArrayPool<byte>.Shared.Return(array);
    }
}
