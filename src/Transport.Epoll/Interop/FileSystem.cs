namespace EpollTransport.Interop;

/// <summary>File type and identity checks .NET has no API for. statx(2) is used because, unlike stat(2),
/// its structure has one layout on every architecture.</summary>
internal static unsafe class FileSystem
{
    private const int AT_FDCWD = -100;
    private const int AT_SYMLINK_NOFOLLOW = 0x100;
    private const uint STATX_TYPE = 0x1;
    private const uint STATX_INO = 0x100;
    private const int StatxSize = 256;
    private const int StatxModeOffset = 28;
    private const int StatxInodeOffset = 32;
    private const int StatxDeviceMajorOffset = 136;
    private const int StatxDeviceMinorOffset = 140;
    private const int S_IFMT = 0xF000;
    private const int S_IFSOCK = 0xC000;

    /// <summary>Whether <paramref name="path"/> names a socket file (not following a symlink).</summary>
    public static bool IsSocket(string path)
    {
        byte* buffer = stackalloc byte[StatxSize];
        new Span<byte>(buffer, StatxSize).Clear();
        if (LibC.Statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_TYPE, buffer) != 0)
        {
            return false;
        }

        ushort mode = *(ushort*)(buffer + StatxModeOffset);
        return (mode & S_IFMT) == S_IFSOCK;
    }

    /// <summary>
    /// The device and inode of the file <paramref name="path"/> names (not following a symlink), which tell
    /// one file from another created later at the same path; <see langword="null"/> if there is none.
    /// </summary>
    public static FileIdentity? GetIdentity(string path)
    {
        byte* buffer = stackalloc byte[StatxSize];
        new Span<byte>(buffer, StatxSize).Clear();
        if (LibC.Statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_TYPE | STATX_INO, buffer) != 0)
        {
            return null;
        }

        return new FileIdentity(
            *(uint*)(buffer + StatxDeviceMajorOffset),
            *(uint*)(buffer + StatxDeviceMinorOffset),
            *(ulong*)(buffer + StatxInodeOffset));
    }

    /// <summary>A file's device (major, minor) and inode number.</summary>
    internal readonly record struct FileIdentity(uint DeviceMajor, uint DeviceMinor, ulong Inode);
}
