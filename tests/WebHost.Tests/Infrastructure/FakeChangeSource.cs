using EpollTransport.WebHost.StaticFiles;

namespace EpollTransport.WebHost.Tests.Infrastructure;

/// <summary>A change source that is unavailable from the start, or fails when the test says so.</summary>
internal sealed class FakeChangeSource(bool failAtStart) : IFileChangeSource
{
    private Action<Exception>? _failed;
    private Action<string>? _changed;

    /// <summary>Reports a change of <paramref name="path"/> (a full path).</summary>
    public void Change(string path) => _changed!(path);

    /// <summary>Reports a failure, as inotify reaching its watch limit would.</summary>
    public void Fail() => _failed!(new IOException("The configured user limit on the number of inotify watches was reached (simulated)."));

    /// <inheritdoc />
    public void Start(string root, Action<string> changed, Action lost, Action<Exception> failed)
    {
        if (failAtStart)
        {
            throw new IOException("The configured user limit on the number of inotify instances was reached (simulated).");
        }

        _failed = failed;
        _changed = changed;
    }

    /// <inheritdoc />
    public void Dispose()
    {
    }
}
