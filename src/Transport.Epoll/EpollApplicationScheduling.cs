namespace EpollTransport;

/// <summary>Where Kestrel and the application run their continuations; see <see cref="EpollTransportOptions.ApplicationScheduling"/>.</summary>
public enum EpollApplicationScheduling
{
    /// <summary>
    /// On the epoll thread that served the socket, after the events it was woken for have been read.
    /// Application code that blocks longer than <see cref="EpollTransportOptions.InlineBudget"/> keeps
    /// only its own connection waiting: the thread's other connections are handed to another thread.
    /// This is the default.
    /// </summary>
    Inline = 0,

    /// <summary>
    /// On the thread pool: one thread hop for each read and each resumed response, and no application
    /// code on the epoll threads ever. For applications that block in most requests.
    /// </summary>
    ThreadPool = 1,
}
