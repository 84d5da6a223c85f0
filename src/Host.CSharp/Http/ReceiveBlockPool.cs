using System.Buffers;
using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Microsoft.AspNetCore.Connections;

namespace InfluxProxy.Host.Http;

/// <summary>
/// The memory pool Kestrel's sockets read into, with 64 KB blocks instead of its 4 KB ones. A socket read fills at
/// most the rest of one block: with 4 KB blocks a /write body arrived 2 KB per recv call on average (measured), each
/// call a pipe wake-up and a read of the request body, so a 360 KB body took about 180 of them.
/// </summary>
public sealed class ReceiveBlockPool : MemoryPool<byte>
{
    public const int BlockSize = 64 * 1024;

    /// <summary>Free blocks kept for reuse; more than that are left to the GC (2 MB at most stay idle).</summary>
    public const int MaxRetained = 32;

    private readonly ConcurrentQueue<Block> _free = new();

    public override int MaxBufferSize => BlockSize;

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(minBufferSize, BlockSize);
        return _free.TryDequeue(out var block) ? block : new Block(this);
    }

    protected override void Dispose(bool disposing) => _free.Clear();

    private void Return(Block block)
    {
        if (_free.Count < MaxRetained)
            _free.Enqueue(block);
    }

    /// <summary>One pinned block: sockets read into it without pinning it again for every call.</summary>
    private sealed class Block(ReceiveBlockPool pool) : IMemoryOwner<byte>
    {
        public Memory<byte> Memory { get; } = MemoryMarshal.CreateFromPinnedArray(GC.AllocateUninitializedArray<byte>(BlockSize, pinned: true), 0, BlockSize);

        public void Dispose() => pool.Return(this);
    }

    /// <summary>Registered in DI, where Kestrel's socket transport takes its pool factory from.</summary>
    public sealed class Factory : IMemoryPoolFactory<byte>
    {
        public MemoryPool<byte> Create(MemoryPoolOptions? options = null) => new ReceiveBlockPool();
    }
}
