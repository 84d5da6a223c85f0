using System.Runtime.InteropServices;

namespace InfluxProxy.Host.Backlog;

/// <summary>
/// fsync of a directory, so that a file created (or renamed) in it survives a power cut, not only its contents.
/// .NET cannot open a directory as a file, hence libc. A no-op on Windows, where NTFS journals the metadata.
/// </summary>
internal static class DirectorySync
{
    private const int ReadOnly = 0; // O_RDONLY; a directory opens with it on every Unix (O_DIRECTORY differs by architecture)

    public static void Fsync(string dir)
    {
        if (OperatingSystem.IsWindows())
            return;
        var fd = Open(dir, ReadOnly);
        if (fd < 0)
            throw new IOException($"cannot open directory {dir} to fsync it (errno {Marshal.GetLastPInvokeError()})");
        try
        {
            if (FsyncFd(fd) != 0)
                throw new IOException($"fsync of directory {dir} failed (errno {Marshal.GetLastPInvokeError()})");
        }
        finally
        {
            _ = Close(fd);
        }
    }

    [DllImport("libc", EntryPoint = "open", SetLastError = true)]
    private static extern int Open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

    [DllImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static extern int FsyncFd(int fd);

    [DllImport("libc", EntryPoint = "close", SetLastError = true)]
    private static extern int Close(int fd);
}
