namespace EpollTransport.WebHost.StaticFiles;

/// <summary>Tells the file cache which paths under the web root changed.</summary>
/// <remarks>A seam: the host uses <see cref="InotifyChangeSource"/>; tests put in one that fails.</remarks>
internal interface IFileChangeSource : IDisposable
{
    /// <summary>Starts reporting. Throws when notifications are unavailable.</summary>
    /// <param name="root">The directory to watch, with everything below it.</param>
    /// <param name="changed">Called with the full path of each created, changed, deleted or renamed entry (both names of a rename).</param>
    /// <param name="lost">Called when events were lost but watching goes on (the kernel's queue overflowed).</param>
    /// <param name="failed">Called when watching stopped for good (e.g. the inotify watch limit was reached).</param>
    void Start(string root, Action<string> changed, Action lost, Action<Exception> failed);
}
