namespace EpollTransport.WebHost.StaticFiles;

/// <summary>
/// Change notifications through <see cref="FileSystemWatcher"/>, which on Linux is one inotify instance
/// with a watch on every directory of the tree, added as directories appear.
/// </summary>
internal sealed class InotifyChangeSource : IFileChangeSource
{
    private FileSystemWatcher? _watcher;

    /// <inheritdoc />
    public void Start(string root, Action<string> changed, Action lost, Action<Exception> failed)
    {
        var watcher = new FileSystemWatcher(root)
        {
            IncludeSubdirectories = true,
            NotifyFilter = NotifyFilters.FileName | NotifyFilters.DirectoryName | NotifyFilters.LastWrite |
                NotifyFilters.Size | NotifyFilters.Attributes | NotifyFilters.CreationTime | NotifyFilters.Security,
        };
        FileSystemEventHandler onChange = (_, e) => changed(e.FullPath);
        watcher.Changed += onChange;
        watcher.Created += onChange;
        watcher.Deleted += onChange;
        watcher.Renamed += (_, e) =>
        {
            changed(e.OldFullPath);
            changed(e.FullPath);
        };
        watcher.Error += (_, e) =>
        {
            if (e.GetException() is InternalBufferOverflowException)
            {
                lost();
            }
            else
            {
                failed(e.GetException());
            }
        };

        // Throws (IOException) when the inotify instance or watch limit is already reached.
        watcher.EnableRaisingEvents = true;
        _watcher = watcher;
    }

    /// <inheritdoc />
    public void Dispose() => _watcher?.Dispose();
}
