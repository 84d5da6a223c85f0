using System.Runtime.InteropServices;

namespace InfluxProxy.Host.Backlog;

/// <summary>
/// fsync of a directory, so a file just created or renamed in it survives a power cut (POSIX makes the entry
/// durable only then). .NET has no API for it; elsewhere than Linux this does nothing.
/// </summary>
internal static class DirectorySync
{
    [DllImport("libc", SetLastError = true)]
    private static extern int open(string path, int flags);

    [DllImport("libc", SetLastError = true)]
    private static extern int fsync(int fd);

    [DllImport("libc")]
    private static extern int close(int fd);

    public static void Sync(string directory)
    {
        if (!OperatingSystem.IsLinux())
            return;
        var fd = open(directory, 0 /* O_RDONLY */);
        if (fd < 0)
            throw new IOException($"cannot open {directory} to sync it (errno {Marshal.GetLastPInvokeError()})");
        try
        {
            if (fsync(fd) != 0)
                throw new IOException($"fsync of {directory} failed (errno {Marshal.GetLastPInvokeError()})");
        }
        finally
        {
            close(fd);
        }
    }
}
