namespace EpollTransport.WebHost.StaticFiles;

/// <summary>The cache's upkeep: dropping what a change touches, and what the budget cannot hold.</summary>
internal sealed partial class FileCache
{
    private void OnChanged(string path)
    {
        // At once: no load that started before this change may insert its entry now.
        Interlocked.Increment(ref _generation);
        _changed.Enqueue(path);
        if (Interlocked.Exchange(ref _draining, 1) == 0)
        {
            ThreadPool.UnsafeQueueUserWorkItem(static cache => cache.DrainChanges(), this, preferLocal: false);
        }
    }

    private void DrainChanges()
    {
        do
        {
            var paths = new HashSet<string>(StringComparer.Ordinal);
            while (_changed.TryDequeue(out var path))
            {
                paths.Add(path);
            }

            DropWhere(_files, paths);
            DropWhere(_directories, paths);
            Volatile.Write(ref _draining, 0);
        }
        while (!_changed.IsEmpty && Interlocked.Exchange(ref _draining, 1) == 0);
    }

    private void DropWhere(System.Collections.Concurrent.ConcurrentDictionary<string, CacheEntry> entries, HashSet<string> paths)
    {
        foreach (var (_, entry) in entries)
        {
            foreach (var path in paths)
            {
                if (entry.DependsOn(path))
                {
                    Remove(entries, entry);
                    break;
                }
            }
        }
    }

    private void OnLost()
    {
        Interlocked.Increment(ref _generation);
        ChangesLost(_logger, _contained.Root);
        Clear();
    }

    private void OnFailed(Exception exception)
    {
        // From now on every lookup goes to the disk: a cache that hears no changes could serve old files forever.
        _active = false;
        Interlocked.Increment(ref _generation);
        Clear();
        if (Interlocked.Exchange(ref _warned, 1) == 0)
        {
            NotificationsUnavailable(_logger, _contained.Root, exception.Message);
        }
    }

    private void Clear()
    {
        foreach (var (_, entry) in _files)
        {
            Remove(_files, entry);
        }

        foreach (var (_, entry) in _directories)
        {
            Remove(_directories, entry);
        }
    }

    private void EvictIfOverBudget()
    {
        if (Interlocked.Read(ref _size) <= _options.SizeLimit)
        {
            return;
        }

        lock (_evictionLock)
        {
            if (Interlocked.Read(ref _size) <= _options.SizeLimit)
            {
                return;
            }

            // Down to three quarters, so that the sort is paid once per many insertions, not on each.
            var target = _options.SizeLimit / 4 * 3;
            var candidates = _files.Values.Select(entry => (entry, files: true))
                .Concat(_directories.Values.Select(entry => (entry, files: false)))
                .OrderBy(candidate => candidate.entry.LastUsed)
                .ToList();
            foreach (var (entry, files) in candidates)
            {
                if (Interlocked.Read(ref _size) <= target)
                {
                    break;
                }

                Remove(files ? _files : _directories, entry);
            }
        }
    }

    [LoggerMessage(EventId = 20, Level = LogLevel.Warning, EventName = "FileChangeNotificationsUnavailable",
        Message = "File change notifications for {Root} are unavailable ({Reason}); static files are served without the file cache, from the disk on every request.")]
    private static partial void NotificationsUnavailable(ILogger logger, string root, string reason);

    [LoggerMessage(EventId = 21, Level = LogLevel.Warning, EventName = "FileChangeNotificationsLost",
        Message = "File change notifications for {Root} were lost (the queue overflowed); the file cache was emptied.")]
    private static partial void ChangesLost(ILogger logger, string root);
}
